"""Form pages: list, upload an XLSForm (problems shown by sheet and row, nothing stored on
error), drafts, opening a draft, versions, media files, closing a form."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.domain.roles import Role
from server.domain.xform.xlsform import Issue
from server.models import Form, FormVersion
from server.services.form_states import FormStateError, close_form, open_version
from server.services.forms import PublishError, publish_xlsform
from server.storage.blobs import BlobStore
from server.web.permissions import require_user, roles_required

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/forms")

ISSUE_ORDER = {"error": 0, "warning": 1}


def _blobs() -> BlobStore:
    return BlobStore(state().settings.attachments_dir)


def _form_or_404(form_id: int) -> Form:
    form = db_session().get(Form, form_id)
    if form is None:
        abort(404)
    return form


def _version_or_404(form: Form, version_id: int) -> FormVersion:
    version = db_session().get(FormVersion, version_id)
    if version is None or version.form_id != form.id:
        abort(404)
    return version


def sorted_issues(issues: list[Issue]) -> list[Issue]:
    """Errors first, then by sheet and row, so the author can work down the workbook."""
    return sorted(
        issues,
        key=lambda i: (ISSUE_ORDER.get(i.severity, 2), i.sheet or "", i.row or 0, i.message),
    )


@bp.get("")
@roles_required(Role.admin)
def index() -> str:
    forms = db_session().scalars(
        select(Form).options(selectinload(Form.versions)).order_by(Form.title)
    )
    return render_template("forms/list.html", forms=forms.all())


@bp.route("/upload", methods=["GET", "POST"])
@roles_required(Role.admin)
def upload() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("forms/upload.html", issues=[])
    xlsform = request.files.get("xlsform")
    if xlsform is None or not xlsform.filename:
        issues = [Issue("error", "Choose an XLSForm file (.xlsx) to upload.")]
        return render_template("forms/upload.html", issues=issues), 400
    media = {
        f.filename: f.read()
        for f in request.files.getlist("media")
        if f.filename  # an empty file input still sends one nameless part
    }
    session = db_session()
    try:
        result = publish_xlsform(
            session,
            _blobs(),
            xlsform.read(),
            xlsform.filename,
            media,
            actor=require_user(),
            draft=True,
        )
    except PublishError as exc:
        session.rollback()
        issues = sorted_issues(exc.issues + exc.warnings)
        body = render_template("forms/upload.html", issues=issues, filename=xlsform.filename)
        return body, 422
    session.commit()
    version = result.version
    if result.media_updated:
        flash(
            f"Version {version.version} keeps its form; media files updated: "
            f"{', '.join(result.media_updated)}. Phones fetch them on their next update.",
            "success",
        )
    elif result.status == "unchanged":
        flash(f"{xlsform.filename} is the same as version {version.version}: nothing changed.")
    else:
        flash(
            f"Version {version.version} of {result.form.title} is stored as a draft. Check it, "
            "then open it for ODK Collect.",
            "success",
        )
    for warning in sorted_issues(result.warnings):
        flash(f"Warning, {warning}", "warning")
    return redirect(url_for("forms_admin.detail", form_id=result.form.id))


@bp.get("/<int:form_id>")
@roles_required(Role.admin)
def detail(form_id: int) -> str:
    form = _form_or_404(form_id)
    return render_template("forms/detail.html", form=form, versions=list(reversed(form.versions)))


@bp.post("/<int:form_id>/versions/<int:version_id>/open")
@roles_required(Role.admin)
def open_(form_id: int, version_id: int) -> Response | tuple[str, int]:
    form = _form_or_404(form_id)
    version = _version_or_404(form, version_id)
    try:
        open_version(db_session(), _blobs(), version, require_user())
    except FormStateError as exc:
        db_session().rollback()
        return _detail_error(form, str(exc))
    db_session().commit()
    flash(f"Version {version.version} is open: ODK Collect can download it now.", "success")
    return redirect(url_for("forms_admin.detail", form_id=form.id))


@bp.post("/<int:form_id>/close")
@roles_required(Role.admin)
def close(form_id: int) -> Response | tuple[str, int]:
    form = _form_or_404(form_id)
    try:
        close_form(db_session(), form, require_user())
    except FormStateError as exc:
        db_session().rollback()
        return _detail_error(form, str(exc))
    db_session().commit()
    flash(f"{form.title} is closed: phones no longer list it and it takes no submissions.")
    return redirect(url_for("forms_admin.detail", form_id=form.id))


def _detail_error(form: Form, message: str) -> tuple[str, int]:
    body = render_template(
        "forms/detail.html", form=form, versions=list(reversed(form.versions)), error=message
    )
    return body, 409


@bp.get("/<int:form_id>/versions/<int:version_id>/xlsform")
@roles_required(Role.admin)
def download_xlsform(form_id: int, version_id: int) -> Response:
    version = _version_or_404(_form_or_404(form_id), version_id)
    if version.xlsform is None:
        abort(404)
    return _attachment(version.xlsform, version.xlsform_filename or "form.xlsx")


@bp.get("/<int:form_id>/versions/<int:version_id>/media/<path:filename>")
@roles_required(Role.admin)
def download_media(form_id: int, version_id: int, filename: str) -> Response:
    version = _version_or_404(_form_or_404(form_id), version_id)
    media = next((m for m in version.media if m.filename == filename), None)
    if media is None:
        abort(404)
    path = _blobs().path(media.sha256)
    return send_file(path, mimetype=media.content_type, as_attachment=True, download_name=filename)


def _attachment(data: bytes, filename: str) -> Response:
    return send_file(io.BytesIO(data), as_attachment=True, download_name=filename)
