"""The document routes of the plans API (server/api/plans.py has the rest, and its blueprint):
a district plan's DMIP and the cross-district synthesis as DOCX or PDF, made by the worker.

    POST   /api/v1/plans/<id>/documents                     {"format": "docx"|"pdf"} -> 202
    POST   /api/v1/documents                                {"cycle", "format"}: the synthesis
    GET    /api/v1/documents/<job>                          progress; `file` link when done
    GET    /api/v1/documents/<job>/file

A synthesis shows the districts with a plan in the cycle that its requester's area covers (all
of them for an admin); a coordinator may fetch another's only while their area covers all of
those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, jsonify, send_file, url_for

from server.api.plans import bp, changeable_plan, json_body, readable_plan, reader, writer
from server.app_state import db_session, state
from server.domain.cycles import is_cycle
from server.domain.problems import bad_request, forbidden, not_found
from server.domain.roles import Role
from server.models import DocumentJob, User
from server.plans import workflow
from server.plans.documents import EVERYWHERE, FORMATS, synthesis_districts
from server.task_queue import EXPORT_DOCUMENT


def _synthesis_of(user: User, cycle: str) -> None:
    """404 when no district of the user's area has a plan in `cycle`: a synthesis of nothing."""
    if not synthesis_districts(db_session(), cycle, user.scope):
        raise not_found(
            "plans.synthesis_empty",
            f"No district in the area you work in has a plan for {cycle}.",
        )


def _synthesis_open_to(user: User, job: DocumentJob) -> None:
    """A synthesis job shows its requester's districts (server/plans/documents.py): readable by
    the requester and by those whose area covers all of them; others get 403 naming the
    districts outside their area."""
    if job.requested_by_id == user.id or user.scope.everywhere:
        return
    requester = db_session().get(User, job.requested_by_id) if job.requested_by_id else None
    scope = requester.scope if requester is not None else EVERYWHERE
    outside = [
        d for d in synthesis_districts(db_session(), job.cycle, scope)
        if not workflow.can_act(user, d)
    ]  # fmt: skip
    if outside:
        names = ", ".join(f"{d.name} ({d.code})" for d in outside)
        raise forbidden(
            "plans.synthesis_out_of_scope",
            f"This synthesis of {job.cycle} includes districts outside the area you work in: "
            f"{names}.",
            districts=[d.code for d in outside],
        )


def _format(body: dict[str, Any]) -> str:
    fmt = body.get("format")
    if fmt not in FORMATS:
        raise bad_request("plans.format", "format must be 'docx' or 'pdf'.")
    return str(fmt)


def _start(job: DocumentJob) -> Response:
    session = db_session()
    session.add(job)
    session.commit()
    # Committed first: the worker reads the job row. If the broker is away the job waits
    # `queued`; asking again makes a new one.
    state().tasks.send(EXPORT_DOCUMENT, job.id)
    response = jsonify(_job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("plans_api.document", job_id=job.id)
    return response


@bp.post("/plans/<int:plan_id>/documents")
def plan_document(plan_id: int) -> Response:
    user = writer()
    plan, _ = changeable_plan(plan_id, user)
    fmt = _format(json_body())
    return _start(
        DocumentJob(plan_id=plan.id, cycle=plan.cycle, format=fmt, requested_by_id=user.id)
    )


@bp.post("/documents")
def synthesis_document() -> Response:
    user = writer()
    if user.role not in {Role.admin, Role.coordinator}:
        raise forbidden("plans.role", "The synthesis report is for coordinators and admins.")
    body = json_body()
    cycle = body.get("cycle")
    if not isinstance(cycle, str) or not is_cycle(cycle):
        raise bad_request("plans.cycle", 'Send {"cycle": "2025/26", "format": "docx"}.')
    fmt = _format(body)
    _synthesis_of(user, cycle)
    return _start(DocumentJob(plan_id=None, cycle=cycle, format=fmt, requested_by_id=user.id))


def _job(job_id: int, user: User) -> DocumentJob:
    job = db_session().get(DocumentJob, job_id)
    if job is None:
        raise not_found("plans.no_document", f"There is no document job {job_id}.")
    if job.plan_id is not None:
        readable_plan(job.plan_id, user)
    elif user.role not in {Role.admin, Role.coordinator}:
        raise not_found("plans.no_document", f"There is no document job {job_id}.")
    else:
        _synthesis_open_to(user, job)
    return job


def _job_json(job: DocumentJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "plan_id": job.plan_id,
        "cycle": job.cycle,
        "format": job.format,
        "state": job.state,
        "progress": round(job.progress, 3),
        "error": job.error,
        "url": url_for("plans_api.document", job_id=job.id),
    }
    if job.state == "done":
        out["file"] = url_for("plans_api.document_file", job_id=job.id)
    return out


@bp.get("/documents/<int:job_id>")
def document(job_id: int) -> Response:
    return jsonify(_job_json(_job(job_id, reader())))


@bp.get("/documents/<int:job_id>/file")
def document_file(job_id: int) -> Response:
    job = _job(job_id, reader())
    if job.state != "done" or not job.file_path or not Path(job.file_path).is_file():
        raise not_found("plans.not_ready", "The document is not ready yet.")
    kind = (
        "pdf"
        if job.format == "pdf"
        else "vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    return send_file(
        job.file_path,
        mimetype=f"application/{kind}",
        as_attachment=True,
        download_name=Path(job.file_path).name,
    )
