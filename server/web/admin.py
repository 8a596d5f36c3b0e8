"""Admin pages: users (create, scope, reset password, (de)activate, Collect QR code) and the
org hierarchy (browse by level, CSV import with its report). App users (phones signed in by a
key) have pages of their own: server/web/app_users_admin.py."""

from __future__ import annotations

import csv

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.domain.roles import Role
from server.models import OrgUnit, User
from server.models.org import LEVEL_ORDER, OrgLevel, unit_by_code
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import OrgFileError, import_org_units, parse_org_csv
from server.services.users import UserError, create_user, set_password
from server.storage.blobs import BlobStore
from server.web import accounts, collect_qr
from server.web.permissions import require_user, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {
    Role.admin: "Administrator",
    Role.coordinator: "Coordinator (districts)",
    Role.subcounty_staff: "Sub-county staff",
    Role.enumerator: "Enumerator (ODK Collect)",
}
PROJECT_NAME = "DMIP"


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None or user.app_user:
        # App users have pages of their own (server/web/app_users_admin.py).
        abort(404)
    return user


@bp.get("/users")
@roles_required(Role.admin)
def users() -> str:
    rows = (
        db_session()
        .scalars(select(User).where(User.app_user.is_(False)).order_by(User.role, User.username))
        .all()
    )
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.admin)
def user_new() -> str | Response | tuple[str, int]:
    form = request.form
    if request.method == "GET":
        return render_template("admin/user_new.html", role_labels=ROLE_LABELS, form={})
    session = db_session()
    try:
        user = create_user(
            session,
            username=form.get("username", "").strip(),
            password=form.get("password", ""),
            role=form.get("role", ""),
            realm=state().settings.auth_realm,
            scope_codes=accounts.parse_codes(form.get("scopes", "")),
            display_name=form.get("display_name", "").strip(),
        )
    except UserError as exc:
        session.rollback()
        body = render_template(
            "admin/user_new.html", role_labels=ROLE_LABELS, form=form, error=str(exc)
        )
        return body, 400
    session.commit()
    flash(f"User {user.username} created.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.get("/users/<int:user_id>")
@roles_required(Role.admin)
def user_detail(user_id: int) -> str:
    user = _user_or_404(user_id)
    return render_template("admin/user_detail.html", user=user, role_labels=ROLE_LABELS)


def _user_action_failed(user: User, message: str) -> tuple[str, int]:
    db_session().rollback()
    body = render_template(
        "admin/user_detail.html", user=user, role_labels=ROLE_LABELS, error=message
    )
    return body, 400


@bp.post("/users/<int:user_id>/scopes")
@roles_required(Role.admin)
def user_scopes(user_id: int) -> Response | tuple[str, int]:
    user = _user_or_404(user_id)
    try:
        accounts.set_scopes(
            db_session(), user, accounts.parse_codes(request.form.get("scopes", "")), require_user()
        )
    except UserError as exc:
        return _user_action_failed(user, str(exc))
    db_session().commit()
    flash(f"Areas of {user.username} saved.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.admin)
def user_password(user_id: int) -> Response | tuple[str, int]:
    user = _user_or_404(user_id)
    try:
        set_password(user, request.form.get("password", ""), state().settings.auth_realm)
    except UserError as exc:
        return _user_action_failed(user, str(exc))
    accounts.audit_password_reset(db_session(), user, require_user())
    db_session().commit()
    flash(
        f"Password of {user.username} reset; their phones and browsers must sign in again.",
        "success",
    )
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.admin)
def user_active(user_id: int) -> Response | tuple[str, int]:
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(db_session(), user, active, require_user())
    except UserError as exc:
        return _user_action_failed(user, str(exc))
    db_session().commit()
    flash(f"{user.username} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _server_url() -> str:
    # The address this admin reached us at is the one phones on the same network use.
    return request.host_url.rstrip("/") + request.script_root


@bp.get("/users/<int:user_id>/collect")
@roles_required(Role.admin)
def user_collect(user_id: int) -> str:
    user = _user_or_404(user_id)
    return render_template("admin/collect.html", user=user, server_url=_server_url())


@bp.get("/users/<int:user_id>/collect.svg")
@roles_required(Role.admin)
def user_collect_svg(user_id: int) -> Response:
    user = _user_or_404(user_id)
    settings = collect_qr.collect_settings(_server_url(), user.username, PROJECT_NAME)
    svg = collect_qr.qr_svg(collect_qr.encode_settings(settings))
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orgunits")
@roles_required(Role.admin)
def orgunits() -> str:
    return _orgunits_page()


def _orgunits_page(report: object = None, file_error: str | None = None) -> str:
    session = db_session()
    parent_code = request.args.get("parent", "").strip()
    parent = None
    if parent_code:
        parent = unit_by_code(session, parent_code)
        if parent is None:
            abort(404)
    query = select(OrgUnit).order_by(OrgUnit.name)
    if parent is not None:
        query = query.where(OrgUnit.parent_id == parent.id)
    else:
        level = request.args.get("level") or OrgLevel.region.value
        if level not in {lv.value for lv in OrgLevel}:
            abort(404)
        query = query.where(OrgUnit.level == level)
    units = session.scalars(query).all()
    child_counts = dict(
        session.execute(
            select(OrgUnit.parent_id, func.count())
            .where(OrgUnit.parent_id.in_([u.id for u in units]))
            .group_by(OrgUnit.parent_id)
        ).all()
    )
    counts = dict(
        session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all()
    )
    chain = []
    node = parent
    while node is not None:
        chain.append(node)
        node = node.parent
    return render_template(
        "admin/orgunits.html",
        units=units,
        parent=parent,
        chain=list(reversed(chain)),
        child_counts=child_counts,
        level_counts=[(lv, counts.get(lv, 0)) for lv in LEVEL_ORDER],
        level=request.args.get("level") or OrgLevel.region.value,
        report=report,
        file_error=file_error,
    )


@bp.post("/orgunits/import")
@roles_required(Role.admin)
def orgunits_import() -> str | tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _orgunits_page(file_error="Choose a CSV file to import."), 400
    try:
        text = upload.read().decode("utf-8-sig")
        rows = parse_org_csv(text)
    except UnicodeDecodeError:
        return _orgunits_page(file_error="The file is not UTF-8 text; save it as CSV UTF-8."), 400
    except (OrgFileError, ValueError, csv.Error) as exc:
        return _orgunits_page(file_error=str(exc)), 400
    session = db_session()
    report = import_org_units(session, rows, actor=require_user())
    refresh_orgunit_media(session, BlobStore(state().settings.attachments_dir))
    session.commit()
    return _orgunits_page(report=report)
