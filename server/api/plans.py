"""The JSON API of draft DMIPs, under /api/v1/plans and /api/v1/documents.

    GET    /api/v1/plans[?cycle=&district=]                 plans the user may read
    GET    /api/v1/plans/<id>                               sections (content with references
                                                            to aggregates), comments, versions
    GET    /api/v1/plans/<id>/history                       every change, who and when
    GET    /api/v1/plans/<id>/sections/<key>/changes?since=edit|review
    PUT    /api/v1/plans/<id>/sections/<key>/text           {"text"}: a coordinator's narrative
    DELETE /api/v1/plans/<id>/sections/<key>/text           back to the generated narrative
    POST   /api/v1/plans/<id>/sections/<key>/state          {"state", "note"}
    POST   /api/v1/plans/<id>/state                         {"state", "note"}; approval freezes
    POST   /api/v1/plans/<id>/comments                      {"body", "section"?}
    GET    /api/v1/plans/<id>/versions/<n>                  an approved version, frozen
    POST   /api/v1/plans/<id>/documents                     {"format": "docx"|"pdf"} -> 202
    POST   /api/v1/documents                                {"cycle", "format"}: the synthesis
    GET    /api/v1/documents/<job>                          progress; `file` link when done
    GET    /api/v1/documents/<job>/file

Reading follows workflow.can_read, acting workflow.can_act (a coordinator acts only on the
districts in scope). A plan outside the user's area reads as absent (404); a write to it is
refused with 403 naming its district. A synthesis shows the districts with a plan in the cycle
that its requester's area covers (all of them for an admin); a coordinator may fetch another's
only while their area covers all of those.
Credentials: Basic or Digest on each request, or the web session; a write
made with the session cookie must carry the page's CSRF token in X-CSRFToken, so another site
cannot make a signed-in browser change a plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from server.api.blueprint import http_problem, problem_response
from server.app_state import db_session, state
from server.auth.http import require_user
from server.domain.cycles import is_cycle
from server.domain.problems import Problem, bad_request, forbidden, not_found
from server.domain.roles import Role
from server.models import DmipPlan, DocumentJob, OrgUnit, PlanSection, PlanState, PlanVersion, User
from server.plans import workflow
from server.plans.documents import EVERYWHERE, FORMATS, synthesis_districts
from server.plans.workflow import WorkflowError
from server.task_queue import EXPORT_DOCUMENT

bp = Blueprint("plans_api", __name__, url_prefix="/api/v1")


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return problem_response(problem)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return http_problem(exc)


@bp.errorhandler(WorkflowError)
def _workflow(exc: WorkflowError) -> Response:
    return problem_response(Problem(exc.status, "plans.workflow", exc.message))


# --- Helpers ----------------------------------------------------------------------------------


def _reader() -> User:
    user = require_user()
    if user.role == Role.enumerator:
        raise forbidden(
            "plans.role",
            "Enumerators send data from ODK Collect; plans are for "
            "coordinators, sub-county staff and administrators.",
        )
    return user


def _writer() -> User:
    user = _reader()
    if request.authorization is None:
        # Signed in through the browser session: the request must come from our own page.
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (CSRFError, Exception) as exc:
            raise forbidden(
                "plans.csrf",
                "This change did not come from a page of this site (missing or expired "
                "X-CSRFToken); reload the page and try again.",
            ) from exc
    return user


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad_request("plans.body", "Send a JSON object as the request body.")
    return data


def _plan(plan_id: int, user: User) -> tuple[DmipPlan, OrgUnit]:
    session = db_session()
    plan = session.get(DmipPlan, plan_id)
    district = session.get(OrgUnit, plan.district_id) if plan is not None else None
    if plan is None or district is None or not workflow.can_read(user, district):
        # Out of scope reads as absent: the API does not confirm which plans exist elsewhere.
        raise not_found("plans.not_found", f"There is no plan {plan_id} you may read.")
    return plan, district


def _plan_to_change(plan_id: int, user: User) -> tuple[DmipPlan, OrgUnit]:
    """The plan a write names; 404 when there is none, 403 naming its district when it lies
    outside the user's area (the workflow then decides what a reader of it may change)."""
    session = db_session()
    plan = session.get(DmipPlan, plan_id)
    district = session.get(OrgUnit, plan.district_id) if plan is not None else None
    if plan is None or district is None:
        raise not_found("plans.not_found", f"There is no plan {plan_id}.")
    if not workflow.can_read(user, district):
        raise forbidden(
            "plans.out_of_scope",
            f"You may not change plan {plan_id}: its district, {district.name} "
            f"({district.code}), is outside the area you work in.",
            plan_id=plan_id,
            district=district.code,
        )
    return plan, district


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


def _section(plan: DmipPlan, key: str) -> PlanSection:
    for section in plan.sections:
        if section.key == key:
            return section
    raise not_found("plans.no_section", f"The plan has no section {key!r}.")


def _state(value: Any) -> PlanState:
    try:
        return PlanState(str(value))
    except ValueError:
        names = ", ".join(s.value for s in PlanState)
        raise bad_request("plans.state", f"Unknown state {value!r} (one of {names}).") from None


def _summary(plan: DmipPlan, district: OrgUnit) -> dict[str, Any]:
    return {
        "id": plan.id,
        "district": {"code": district.code, "name": district.name},
        "cycle": plan.cycle,
        "state": plan.state.value,
        "stale": plan.stale,
        "generated_at": plan.generated_at.isoformat() if plan.generated_at else None,
        "updated_at": plan.updated_at.isoformat(),
        "url": url_for("plans_api.plan", plan_id=plan.id),
    }


def _section_json(section: PlanSection) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "state": section.state.value,
        "text": section.text,
        "generated_text": section.generated_text,
        "edited": section.edited_text is not None,
        "edited_at": section.edited_at.isoformat() if section.edited_at else None,
        "data_changed_since_edit": section.data_changed_since_edit,
        "content": section.generated,
    }


def _commit() -> None:
    db_session().commit()


# --- Reading ----------------------------------------------------------------------------------


@bp.get("/plans")
def plans() -> Response:
    user = _reader()
    cycle = request.args.get("cycle")
    if cycle is not None and not is_cycle(cycle):
        raise bad_request("plans.cycle", f"{cycle!r} is not a planning cycle (e.g. 2025/26).")
    district_code = request.args.get("district")
    session = db_session()
    out = []
    for plan in workflow.plans_for(session, user, cycle):
        district = session.get(OrgUnit, plan.district_id)
        assert district is not None
        if district_code is None or district.code == district_code:
            out.append(_summary(plan, district))
    return jsonify({"plans": out})


@bp.get("/plans/<int:plan_id>")
def plan(plan_id: int) -> Response:
    user = _reader()
    plan, district = _plan(plan_id, user)
    session = db_session()
    versions = session.scalars(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.number)
    )
    keys = {s.id: s.key for s in plan.sections}
    return jsonify(
        {
            **_summary(plan, district),
            "may_act": workflow.can_act(user, district),
            "sections": [_section_json(s) for s in plan.sections],
            "comments": [
                {
                    "id": c.id,
                    "section": keys.get(c.section_id) if c.section_id else None,
                    "author_id": c.author_id,
                    "body": c.body,
                    "created_at": c.created_at.isoformat(),
                }
                for c in workflow.comments(session, plan)
            ],
            "versions": [
                {
                    "number": v.number,
                    "approved_at": v.approved_at.isoformat(),
                    "url": url_for("plans_api.version", plan_id=plan.id, number=v.number),
                }
                for v in versions
            ],
        }
    )


@bp.get("/plans/<int:plan_id>/history")
def history(plan_id: int) -> Response:
    plan, _ = _plan(plan_id, _reader())
    keys = {s.id: s.key for s in plan.sections}
    return jsonify(
        {
            "events": [
                {
                    "kind": e.kind,
                    "section": keys.get(e.section_id) if e.section_id else None,
                    "actor_id": e.actor_id,
                    "from": e.from_state,
                    "to": e.to_state,
                    "note": e.note,
                    "at": e.created_at.isoformat(),
                }
                for e in workflow.history(db_session(), plan)
            ]
        }
    )


@bp.get("/plans/<int:plan_id>/sections/<key>/changes")
def changes(plan_id: int, key: str) -> Response:
    plan, _ = _plan(plan_id, _reader())
    section = _section(plan, key)
    since = request.args.get("since", "edit")
    if since == "edit":
        before, after = section.edit_base, section.generated_text
    elif since == "review":
        before, after = section.reviewed_text, section.text
    else:
        raise bad_request("plans.since", "since must be 'edit' or 'review'.")
    lines = workflow.diff_lines(before, after) if before is not None else []
    return jsonify({"since": since, "changed": any(k != "same" for k, _ in lines), "lines": lines})


# A version's number is an INTEGER column: beyond its range is no version at all.
@bp.get("/plans/<int:plan_id>/versions/<int(max=2147483647):number>")
def version(plan_id: int, number: int) -> Response:
    plan, _ = _plan(plan_id, _reader())
    frozen = db_session().scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.number == number)
    )
    if frozen is None:
        raise not_found("plans.no_version", f"The plan has no approved version {number}.")
    return jsonify(
        {
            "number": frozen.number,
            "approved_at": frozen.approved_at.isoformat(),
            "approved_by_id": frozen.approved_by_id,
            **frozen.content,
        }
    )


# --- Changing ---------------------------------------------------------------------------------


@bp.put("/plans/<int:plan_id>/sections/<key>/text")
def edit(plan_id: int, key: str) -> Response:
    user = _writer()
    plan, _ = _plan_to_change(plan_id, user)
    text = _body().get("text")
    if not isinstance(text, str):
        raise bad_request("plans.text", 'Send {"text": "..."} with the new narrative.')
    section = _section(plan, key)
    workflow.edit_section(db_session(), section, text, user)
    _commit()
    return jsonify(_section_json(section))


@bp.delete("/plans/<int:plan_id>/sections/<key>/text")
def revert(plan_id: int, key: str) -> Response:
    user = _writer()
    plan, _ = _plan_to_change(plan_id, user)
    section = _section(plan, key)
    workflow.revert_edit(db_session(), section, user)
    _commit()
    return jsonify(_section_json(section))


@bp.post("/plans/<int:plan_id>/sections/<key>/state")
def section_state(plan_id: int, key: str) -> Response:
    user = _writer()
    plan, _ = _plan_to_change(plan_id, user)
    body = _body()
    section = _section(plan, key)
    workflow.change_section_state(
        db_session(), section, _state(body.get("state")), user, body.get("note")
    )
    _commit()
    return jsonify(_section_json(section))


@bp.post("/plans/<int:plan_id>/state")
def plan_state(plan_id: int) -> Response:
    user = _writer()
    plan, district = _plan_to_change(plan_id, user)
    body = _body()
    frozen = workflow.change_plan_state(
        db_session(), plan, _state(body.get("state")), user, body.get("note")
    )
    _commit()
    out = _summary(plan, district)
    if frozen is not None:
        out["version"] = frozen.number
    return jsonify(out)


@bp.post("/plans/<int:plan_id>/comments")
def add_comment(plan_id: int) -> Response:
    user = _writer()
    plan, _ = _plan_to_change(plan_id, user)
    body = _body()
    section = _section(plan, str(body["section"])) if body.get("section") else None
    note = workflow.comment(db_session(), plan, user, str(body.get("body") or ""), section)
    _commit()
    response = jsonify({"id": note.id, "body": note.body, "section": body.get("section")})
    response.status_code = 201
    return response


# --- Documents --------------------------------------------------------------------------------


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
    user = _writer()
    plan, _ = _plan_to_change(plan_id, user)
    fmt = _format(_body())
    return _start(
        DocumentJob(plan_id=plan.id, cycle=plan.cycle, format=fmt, requested_by_id=user.id)
    )


@bp.post("/documents")
def synthesis_document() -> Response:
    user = _writer()
    if user.role not in {Role.admin, Role.coordinator}:
        raise forbidden("plans.role", "The synthesis report is for coordinators and admins.")
    body = _body()
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
        _plan(job.plan_id, user)
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
    return jsonify(_job_json(_job(job_id, _reader())))


@bp.get("/documents/<int:job_id>/file")
def document_file(job_id: int) -> Response:
    job = _job(job_id, _reader())
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
