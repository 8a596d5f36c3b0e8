"""DMIP documents and the cross-district synthesis, on the plans blueprint.

    /plans/<id>/documents                      make a plan's DOCX or PDF (POST)
    /plans/synthesis, /plans/synthesis/documents  the synthesis page, and its document (POST)
    /plans/documents/<job>, /status, /file     a document job: progress page, JSON, download

The worker makes the document (server/plans/documents.py); these pages start the job, show its
progress and serve the file to those who may read the plan it exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from server.app_state import db_session, state
from server.models import DmipPlan, DocumentJob, OrgUnit
from server.plans.documents import FORMATS
from server.task_queue import EXPORT_DOCUMENT
from server.web.indicators import cycle_arg, refuse
from server.web.permissions import require_user, roles_required
from server.web.plans import READERS, STATE_WORDS, SYNTHESIS_ROLES, bp, readable_plan


def _format() -> str:
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        refuse(400, f"Choose DOCX or PDF; {fmt!r} is not a document format.")
    return fmt


def _start(plan_id: int | None, cycle: str, fmt: str) -> Response:
    session = db_session()
    job = DocumentJob(plan_id=plan_id, cycle=cycle, format=fmt, requested_by_id=require_user().id)
    session.add(job)
    session.commit()
    # After the commit: the worker must find the row. A broker that is down leaves the job
    # queued; its page says it is waiting.
    state().tasks.send(EXPORT_DOCUMENT, job.id)
    return redirect(url_for("plans.document", job_id=job.id), 303)


@bp.post("/<int:plan_id>/documents")
@roles_required(*READERS)
def plan_document(plan_id: int) -> Response:
    plan, _ = readable_plan(db_session(), plan_id)
    return _start(plan.id, plan.cycle, _format())


@bp.get("/synthesis")
@roles_required(*SYNTHESIS_ROLES)
def synthesis() -> str:
    session = db_session()
    cycles = sorted(set(session.scalars(select(DmipPlan.cycle).distinct())), reverse=True)
    cycle = cycle_arg() or (cycles[0] if cycles else None)
    plans = []
    if cycle is not None:
        plans = list(
            session.execute(
                select(DmipPlan, OrgUnit)
                .join(OrgUnit, OrgUnit.id == DmipPlan.district_id)
                .where(DmipPlan.cycle == cycle)
                .order_by(OrgUnit.code)
            )
        )
    return render_template(
        "plans/synthesis.html",
        cycle=cycle,
        cycles=cycles,
        plans=plans,
        words=STATE_WORDS,
        formats=FORMATS,
    )


@bp.post("/synthesis/documents")
@roles_required(*SYNTHESIS_ROLES)
def synthesis_document() -> Response:
    cycle = request.form.get("cycle", "")
    session = db_session()
    if not session.scalar(select(DmipPlan.id).where(DmipPlan.cycle == cycle).limit(1)):
        refuse(400, f"No district has a DMIP draft for the cycle {cycle!r}.")
    return _start(None, cycle, _format())


def _job(job_id: int) -> tuple[DocumentJob, str]:
    """The job, if the user may read what it exports; and a name for its file."""
    session = db_session()
    job = session.get(DocumentJob, job_id)
    if job is None:
        refuse(404, "There is no such document.")
    if job.plan_id is None:
        if require_user().role not in SYNTHESIS_ROLES:
            refuse(403, "The cross-district synthesis is for administrators.")
        return job, f"DMIP-synthesis-{job.cycle.replace('/', '-')}.{job.format}"
    _, district = readable_plan(session, job.plan_id)
    return job, f"DMIP-{district.code}-{job.cycle.replace('/', '-')}.{job.format}"


def job_status(job: DocumentJob) -> dict[str, Any]:
    done = job.state == "done"
    return {
        "id": job.id,
        "state": job.state,
        "progress": round(job.progress * 100),
        "message": _job_message(job),
        "download": url_for("plans.document_file", job_id=job.id) if done else None,
    }


def _job_message(job: DocumentJob) -> str:
    fmt = job.format.upper()
    if job.state == "done":
        return f"The {fmt} document is ready."
    if job.state == "failed":
        return f"The {fmt} document could not be made: {job.error or 'no reason recorded'}."
    if job.state == "running":
        return f"Making the {fmt} document: {round(job.progress * 100)}% done."
    if job.state == "expired":
        days = state().settings.job_file_retention_days
        return f"The {fmt} document was deleted {days} days after it was made; make it again."
    return f"The {fmt} document is waiting for a worker to start it."


@bp.get("/documents/<int:job_id>")
@roles_required(*READERS)
def document(job_id: int) -> str:
    job, name = _job(job_id)
    back = (
        url_for("plans.show", plan_id=job.plan_id)
        if job.plan_id is not None
        else url_for("plans.synthesis", cycle=job.cycle)
    )
    return render_template(
        "plans/document.html", job=job, status=job_status(job), name=name, back=back
    )


@bp.get("/documents/<int:job_id>/status")
@roles_required(*READERS)
def document_status(job_id: int) -> Response:
    job, _ = _job(job_id)
    response = jsonify(job_status(job))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/documents/<int:job_id>/file")
@roles_required(*READERS)
def document_file(job_id: int) -> Response:
    job, name = _job(job_id)
    folder = (state().settings.data_dir / "documents").resolve()
    path = Path(job.file_path).resolve() if job.file_path else None
    if job.state != "done" or path is None or not path.is_file():
        refuse(404, "This document is not ready, or it has been removed; make it again.")
    if not path.is_relative_to(folder):
        refuse(404, "This document is not where documents are kept.")
    return send_file(path, as_attachment=True, download_name=name, max_age=0)
