"""Export pages: start an export of a form's filtered submissions, watch its progress, download
the file. Small exports without attachments are built in the request; the rest go to the
worker (task dmip.export) and the page shows a progress bar.

Only the user who asked for an export (or an admin) sees its page and file: the job's filters
carry that user's scope, so the file holds nothing they could not see themselves.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.domain.roles import Role
from server.exports import submissions as submission_export
from server.models import ExportJob, Form
from server.storage.blobs import BlobStore
from server.task_queue import EXPORT_TASK
from server.web.indicators import refuse
from server.web.permissions import require_user, roles_required
from server.web.submissions import form_or_404, user_filter

bp = Blueprint("exports", __name__, url_prefix="/exports")

EXPORTERS = (Role.admin, Role.coordinator, Role.subcounty_staff)


def exports_dir() -> Path:
    return state().settings.data_dir / "exports"


def job_or_404(job_id: int) -> ExportJob:
    job = db_session().get(ExportJob, job_id)
    if job is None:
        refuse(404, f"There is no export with the number {job_id}.")
    user = require_user()
    if job.requested_by != user.id and user.role is not Role.admin:
        abort(403)
    return job


@bp.post("/forms/<int:form_id>")
@roles_required(*EXPORTERS)
def start(form_id: int) -> Response:
    form = form_or_404(form_id)
    fmt = request.form.get("format", "")
    if fmt not in submission_export.FORMATS:
        refuse(400, f"Choose CSV or XLSX; {fmt!r} is not an export format.")
    filters = user_filter(form.id, request.form)
    with_attachments = request.form.get("with_attachments") == "1"
    session = db_session()
    job = ExportJob(
        form_id=form.id,
        requested_by=require_user().id,
        format=fmt,
        with_attachments=with_attachments,
        filters=filters.to_json(),
    )
    session.add(job)
    small = (
        not with_attachments
        and submission_export.count(session, filters) <= submission_export.INLINE_LIMIT
    )
    session.commit()
    settings = state().settings
    if small:
        submission_export.run_job(
            state().db, job.id, exports_dir(), BlobStore(settings.attachments_dir)
        )
    else:
        # Sent after the commit: the worker must find the row. If the broker is away the job
        # stays queued and the page says so.
        state().tasks.send(EXPORT_TASK, job.id)
    return redirect(url_for(".job", job_id=job.id))


@bp.get("/<int:job_id>")
@roles_required(*EXPORTERS)
def job(job_id: int) -> str:
    found = job_or_404(job_id)
    form = db_session().get(Form, found.form_id)
    return render_template(
        "exports/job.html",
        job=found,
        form=form,
        retention_days=state().settings.job_file_retention_days,
    )


@bp.get("/<int:job_id>/status")
@roles_required(*EXPORTERS)
def status(job_id: int) -> Response:
    found = job_or_404(job_id)
    return jsonify(
        state=found.state,
        progress=round(found.progress, 3),
        error=found.error,
        download=url_for(".download", job_id=found.id) if found.state == "done" else None,
    )


@bp.get("/<int:job_id>/download")
@roles_required(*EXPORTERS)
def download(job_id: int) -> Response:
    found = job_or_404(job_id)
    path = Path(found.file_path) if found.file_path else None
    if found.state != "done" or path is None or not path.is_file():
        refuse(409, "This export is not ready yet; its page shows its progress.")
    form = db_session().get(Form, found.form_id)
    assert form is not None
    name, content_type = submission_export.export_filename(
        form, found.format, found.with_attachments
    )
    return send_file(path, mimetype=content_type, as_attachment=True, download_name=name)


@bp.get("/progress.js")
def progress_script() -> Response:
    """The progress poll, served from a template so it stays with the export pages (the
    pages' Content-Security-Policy allows scripts from this server only, never inline)."""
    response = Response(
        render_template("exports/progress.js"), mimetype="text/javascript; charset=utf-8"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
