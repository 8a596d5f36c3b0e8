"""Form assignments, as Central has them for app users (role 2, "app-user"): which forms an
app user may list, download and fill. An app user with none fills no form.

    GET    /v1/projects/1/forms/<f>/assignments                    [{"actorId", "roleId"}]
    GET    /v1/projects/1/forms/<f>/assignments/<role>             the actors assigned
    POST   /v1/projects/1/forms/<f>/assignments/<role>/<actorId>   assign
    DELETE /v1/projects/1/forms/<f>/assignments/<role>/<actorId>   unassign
    GET    /v1/projects/1/assignments/forms[/<role>]               every form's, with xmlFormId

`<role>` is a number or a system name (server/central/role_list.py). Only "app-user" is
assigned per form here: the other roles are our server-wide ones, so a form assignment of one
is a 400, and listing one finds nobody. The actor must be an app user (a person's forms follow
from their role); assigning twice is a 409 and removing what is not there a 404, as Central
answers. With X-Extended-Metadata the lists carry each actor in full, as Central's do.

Who may: whoever manages the app user (server/services/app_users.py): an admin, or a
coordinator for app users inside their districts. App users out of reach are left out of the
lists and are a 404 when named; anyone else is refused with a 403.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.render import actor_json, extended, json_response, success
from server.central.role_list import APP_USER_ROLE_ID, CentralRole, find_role
from server.domain.problems import Problem, bad_request
from server.models import Form, FormAssignment, User
from server.services.app_user_forms import assign_form, assigned_app_users, unassign_form
from server.services.app_users import find_app_user, require_manager, within_reach

_FORM = "/projects/<int:project_id>/forms/<xml_form_id>/assignments"


def register(bp: Blueprint) -> None:
    bp.add_url_rule(_FORM, "form_assignments", list_form_assignments, methods=["GET"])
    bp.add_url_rule(f"{_FORM}/<role>", "form_role_assignments", list_role_actors, methods=["GET"])
    bp.add_url_rule(f"{_FORM}/<role>/<int:actor_id>", "form_assign", assign, methods=["POST"])
    bp.add_url_rule(f"{_FORM}/<role>/<int:actor_id>", "form_unassign", unassign, methods=["DELETE"])
    bp.add_url_rule(
        "/projects/<int:project_id>/assignments/forms",
        "project_form_assignments",
        list_project_form_assignments,
        methods=["GET"],
        defaults={"role": None},
    )
    bp.add_url_rule(
        "/projects/<int:project_id>/assignments/forms/<role>",
        "project_form_role_assignments",
        list_project_form_assignments,
        methods=["GET"],
    )


def _form(xml_form_id: str) -> Form:
    form = None
    if "\x00" not in xml_form_id and len(xml_form_id) <= 255:
        form = db_session().scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise Problem(404, "central.not_found", "Could not find the resource you were looking for.")
    return form


def _entry(user: User, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    who = {"actor": actor_json(user)} if extended() else {"actorId": user.id}
    return {**who, **(extra or {}), "roleId": APP_USER_ROLE_ID}


def _assignable(role: CentralRole) -> None:
    if role.id != APP_USER_ROLE_ID:
        raise bad_request(
            "assignment.role_not_assignable",
            f"Only the app-user role is assigned per form here; {role.system!r} is a role "
            "people have on the whole server.",
            role=role.system,
        )


def list_form_assignments(xml_form_id: str) -> Response:
    actor = require_actor()
    require_manager(actor)
    form = _form(xml_form_id)
    return json_response([_entry(u) for u in assigned_app_users(db_session(), actor, form)])


def list_role_actors(xml_form_id: str, role: str) -> Response:
    actor = require_actor()
    require_manager(actor)
    form = _form(xml_form_id)
    found = find_role(role)
    if found.id != APP_USER_ROLE_ID:
        return json_response([])
    return json_response([actor_json(u) for u in assigned_app_users(db_session(), actor, form)])


def _app_user(actor: User, actor_id: int) -> User:
    session = db_session()
    target = session.get(User, actor_id) if 0 < actor_id < 2**31 else None
    if target is not None and not target.app_user:
        raise bad_request(
            "assignment.not_app_user",
            f"Actor {actor_id} is a person, not an app user: a person's forms follow from "
            "their role.",
            actor_id=actor_id,
        )
    return find_app_user(session, actor, actor_id)


def assign(xml_form_id: str, role: str, actor_id: int) -> Response:
    actor = require_actor()
    require_manager(actor)
    form = _form(xml_form_id)
    _assignable(find_role(role))
    session = db_session()
    assign_form(session, actor, _app_user(actor, actor_id), form)
    session.commit()
    return success()


def unassign(xml_form_id: str, role: str, actor_id: int) -> Response:
    actor = require_actor()
    require_manager(actor)
    form = _form(xml_form_id)
    _assignable(find_role(role))
    session = db_session()
    unassign_form(session, actor, _app_user(actor, actor_id), form)
    session.commit()
    return success()


def list_project_form_assignments(role: str | None) -> Response:
    actor = require_actor()
    require_manager(actor)
    if role is not None and find_role(role).id != APP_USER_ROLE_ID:
        return json_response([])
    rows = (
        db_session()
        .execute(
            select(User, Form.xml_form_id)
            .join(FormAssignment, FormAssignment.user_id == User.id)
            .join(Form, Form.id == FormAssignment.form_id)
            .where(User.app_user.is_(True), User.active.is_(True))
            .order_by(Form.xml_form_id, User.id)
        )
        .all()
    )
    return json_response(
        [_entry(user, {"xmlFormId": xml_id}) for user, xml_id in rows if within_reach(actor, user)]
    )
