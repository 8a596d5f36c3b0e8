"""Admin pages for app users (phones signed in by a key in their URL, as ODK Central's):
create one with its forms, list them, show a phone's QR code, change its forms, revoke it.

The QR code carries the key URL, <server>/v1/key/<token>/projects/1, and no username or
password, as Central's does: scanning it is all a phone needs. Revoking deletes the key and
deactivates the app user, and the phone's next request is refused
(server/services/app_users.py). Admins only, like every admin page.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.domain.problems import Problem
from server.domain.roles import Role
from server.models import Form, User
from server.services.app_user_access import delete_app_user, token_of
from server.services.app_user_forms import assigned_forms, set_assigned_forms
from server.services.app_users import (
    APP_USER_ROLES,
    AppUserEntry,
    create_app_user,
    find_app_user,
    list_app_users,
)
from server.web import accounts, collect_qr
from server.web.permissions import require_user, roles_required

bp = Blueprint("app_users_admin", __name__, url_prefix="/admin/app-users")

PROJECT_NAME = "DMIP"
# The one project of the Central API (server/central/projects.py says why there is one).
PROJECT_ID = 1
ROLE_LABELS = {
    Role.enumerator: "Enumerator",
    Role.subcounty_staff: "Sub-county staff",
    Role.coordinator: "Coordinator",
}


def _server_url() -> str:
    # The address this admin reached us at is the one phones on the same network use.
    return request.host_url.rstrip("/") + request.script_root


def key_url(token: str) -> str:
    return f"{_server_url()}/v1/key/{token}/projects/{PROJECT_ID}"


def _forms() -> list[Form]:
    return list(db_session().scalars(select(Form).order_by(Form.xml_form_id)))


def _entries() -> list[AppUserEntry]:
    return list_app_users(db_session(), require_user(), secret_key=state().settings.secret_key)


def _list_page(form: dict[str, object] | None = None, error: str | None = None) -> str:
    return render_template(
        "admin/app_users.html",
        entries=_entries(),
        forms=_forms(),
        role_labels=ROLE_LABELS,
        roles=APP_USER_ROLES,
        form=form or {},
        error=error,
    )


@bp.get("")
@roles_required(Role.admin)
def index() -> str:
    return _list_page()


def _chosen_forms(ids: list[str]) -> list[Form]:
    wanted = {int(i) for i in ids if i.isascii() and i.isdigit() and len(i) < 12}
    return [f for f in _forms() if f.id in wanted]


@bp.post("")
@roles_required(Role.admin)
def create() -> Response | tuple[str, int]:
    session = db_session()
    settings = state().settings
    codes = accounts.parse_codes(request.form.get("scopes", ""))
    try:
        entry = create_app_user(
            session,
            require_user(),
            request.form.get("display_name", ""),
            secret_key=settings.secret_key,
            realm=settings.auth_realm,
            role=request.form.get("role") or None,
            scope_codes=codes or None,
        )
        set_assigned_forms(
            session, require_user(), entry.user, _chosen_forms(request.form.getlist("forms"))
        )
    except Problem as problem:
        session.rollback()
        typed = {
            "display_name": request.form.get("display_name", ""),
            "role": request.form.get("role", ""),
            "scopes": request.form.get("scopes", ""),
            "forms": request.form.getlist("forms"),
        }
        return _list_page(typed, problem.message), 400
    session.commit()
    flash(
        f"App user {entry.user.display_name} created; scan its QR code with the phone.", "success"
    )
    return redirect(url_for("app_users_admin.detail", user_id=entry.user.id))


def _app_user_or_404(user_id: int) -> User:
    try:
        return find_app_user(db_session(), require_user(), user_id)
    except Problem:
        abort(404)


def _token(user: User) -> str | None:
    return token_of(db_session(), user, state().settings.secret_key)


def _detail_page(user: User, error: str | None = None) -> str:
    token = _token(user)
    return render_template(
        "admin/app_user_detail.html",
        user=user,
        role_labels=ROLE_LABELS,
        has_key=token is not None,
        forms=_forms(),
        assigned={f.id for f in assigned_forms(db_session(), user)},
        error=error,
    )


@bp.get("/<int:user_id>")
@roles_required(Role.admin)
def detail(user_id: int) -> str:
    return _detail_page(_app_user_or_404(user_id))


@bp.get("/<int:user_id>/qr.svg")
@roles_required(Role.admin)
def qr(user_id: int) -> Response:
    token = _token(_app_user_or_404(user_id))
    if token is None:
        abort(404)
    settings = collect_qr.app_user_settings(key_url(token), PROJECT_NAME)
    svg = collect_qr.qr_svg(collect_qr.encode_settings(settings))
    response = Response(svg, mimetype="image/svg+xml")
    # The code is a credential: no cache keeps it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:user_id>/forms")
@roles_required(Role.admin)
def forms(user_id: int) -> Response | tuple[str, int]:
    user = _app_user_or_404(user_id)
    session = db_session()
    try:
        set_assigned_forms(
            session, require_user(), user, _chosen_forms(request.form.getlist("forms"))
        )
    except Problem as problem:
        session.rollback()
        return _detail_page(user, problem.message), 400
    session.commit()
    flash(
        f"Forms of {user.display_name} saved; the phone sees them at its next refresh.", "success"
    )
    return redirect(url_for("app_users_admin.detail", user_id=user.id))


@bp.post("/<int:user_id>/revoke")
@roles_required(Role.admin)
def revoke(user_id: int) -> Response:
    user = _app_user_or_404(user_id)
    session = db_session()
    delete_app_user(session, require_user(), user)
    session.commit()
    flash(
        f"App user {user.display_name} revoked: its phone can no longer download forms or "
        "send data.",
        "success",
    )
    return redirect(url_for("app_users_admin.index"))
