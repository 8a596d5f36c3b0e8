"""Which forms an app user fills: Central's form assignments (role "app-user"), kept in our
`FormAssignment` table. An app user with none fills no form (server/auth/form_access.py).

Managed by whoever manages the app user (server/services/app_users.py): an admin, or a
coordinator for app users inside their districts. Assigning twice is a 409 and removing what
is not there a 404, as Central answers.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.problems import conflict, not_found
from server.models import Form, FormAssignment, User
from server.services.app_users import audit, require_manager, within_reach


def assigned_app_users(session: Session, actor: User, form: Form) -> list[User]:
    """The app users within `actor`'s reach assigned to `form`."""
    require_manager(actor)
    users = session.scalars(
        select(User)
        .join(FormAssignment, FormAssignment.user_id == User.id)
        .where(FormAssignment.form_id == form.id, User.app_user.is_(True), User.active.is_(True))
        .order_by(User.id)
    ).all()
    return [u for u in users if within_reach(actor, u)]


def assigned_forms(session: Session, app_user: User) -> list[Form]:
    return list(
        session.scalars(
            select(Form)
            .join(FormAssignment, FormAssignment.form_id == Form.id)
            .where(FormAssignment.user_id == app_user.id)
            .order_by(Form.xml_form_id)
        )
    )


def assign_form(session: Session, actor: User, app_user: User, form: Form) -> None:
    """Let `app_user` fill `form`; a 409 when it already may, as Central answers."""
    require_manager(actor)
    existing = session.get(FormAssignment, {"form_id": form.id, "user_id": app_user.id})
    if existing is not None:
        raise conflict(
            "app_user.already_assigned",
            f"{app_user.display_name} is already assigned to form {form.xml_form_id!r}.",
        )
    session.add(FormAssignment(form_id=form.id, user_id=app_user.id))
    session.flush()
    audit(session, actor, "field_key.assignment.create", app_user, {"form": form.xml_form_id})


def unassign_form(session: Session, actor: User, app_user: User, form: Form) -> None:
    require_manager(actor)
    existing = session.get(FormAssignment, {"form_id": form.id, "user_id": app_user.id})
    if existing is None:
        raise not_found(
            "app_user.not_assigned",
            f"{app_user.display_name} is not assigned to form {form.xml_form_id!r}.",
        )
    session.delete(existing)
    session.flush()
    audit(session, actor, "field_key.assignment.delete", app_user, {"form": form.xml_form_id})


def set_assigned_forms(session: Session, actor: User, app_user: User, forms: list[Form]) -> None:
    """Make `forms` exactly the forms `app_user` fills (the admin page's form list)."""
    current = {f.id: f for f in assigned_forms(session, app_user)}
    wanted = {f.id: f for f in forms}
    for form_id, form in wanted.items():
        if form_id not in current:
            assign_form(session, actor, app_user, form)
    for form_id, form in current.items():
        if form_id not in wanted:
            unassign_form(session, actor, app_user, form)
