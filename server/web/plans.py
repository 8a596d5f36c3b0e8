"""DMIP draft pages: the plans a user may read, a plan section by section with its review
actions, the cross-district synthesis, and DOCX/PDF documents made by the worker.

    /plans                                   plans list (?cycle=)
    /plans/<id>                              the plan: sections, actions, history, comments
    /plans/<id>/state, /comments, /documents                   plan-level forms (POST)
    /plans/<id>/sections/<sid>/text, /revert, /state, /comments section forms (POST)
    /plans/synthesis, /plans/synthesis/documents               the cross-district synthesis
    /plans/documents/<job>, /status, /file    a document job: progress page, JSON, download

Every change goes through server/plans/workflow.py, which decides who may do what; a refusal
(WorkflowError) is shown on the plan page in words with its status, never as a 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.access import READERS
from server.app import db_session, state
from server.models import DmipPlan, DocumentJob, OrgUnit, PlanSection, PlanState, User
from server.models.users import Role
from server.plans import content, workflow
from server.plans.documents import FORMATS
from server.plans.workflow import TRANSITIONS, WorkflowError
from server.task_queue import EXPORT_DOCUMENT
from server.web import dashboard, svg
from server.web.indicators import cycle_arg, refuse
from server.web.permissions import require_user, roles_required, scope

bp = Blueprint("plans", __name__, url_prefix="/plans")

READER_ROLES = tuple(READERS)
# The synthesis names every district's gaps side by side: for those who see every district.
SYNTHESIS_ROLES = (Role.admin,)
BUTTONS = {
    PlanState.in_review: "Submit for review",
    PlanState.changes_requested: "Ask for changes",
    PlanState.approved: "Approve",
    PlanState.draft: "Reopen",
}
PLAN_BUTTONS = {
    PlanState.in_review.value: "Submit the plan for review",
    PlanState.changes_requested.value: "Ask for changes to the plan",
    PlanState.approved.value: "Approve the plan",
    PlanState.draft.value: "Reopen the plan",
}
STATE_WORDS = {
    PlanState.draft: "draft",
    PlanState.in_review: "in review",
    PlanState.changes_requested: "changes requested",
    PlanState.approved: "approved",
}


# --- Loading and permission -------------------------------------------------------------------


def _plan(session: Session, plan_id: int) -> tuple[DmipPlan, OrgUnit]:
    plan = session.get(DmipPlan, plan_id)
    if plan is None:
        refuse(404, "There is no DMIP draft at this address.")
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    if not workflow.can_read(require_user(), district):
        refuse(403, f"The DMIP of {district.name} is not in your area.")
    return plan, district


def _section(plan: DmipPlan, section_id: int) -> PlanSection:
    section = next((s for s in plan.sections if s.id == section_id), None)
    if section is None:
        refuse(404, "This plan has no such section.")
    return section


def targets(current: PlanState) -> list[tuple[str, str]]:
    """(target state, button label) the workflow allows from `current`."""
    return [(to.value, BUTTONS[to]) for (frm, to) in TRANSITIONS if frm == current]


def _target(value: str | None) -> PlanState:
    try:
        return PlanState(value or "")
    except ValueError:
        refuse(400, f"{value!r} is not a state a plan or section can take.")


# --- Reading ----------------------------------------------------------------------------------


def ref_url(ref: dict[str, Any] | None) -> str | None:
    """Where a number in a drafted table comes from: its indicator page (the first ref of a
    derived number that names an indicator)."""
    queue = [ref] if ref else []
    while queue:
        current = queue.pop(0)
        if current.get("indicator_id"):
            return url_for(
                "indicators.value",
                code=current["org_unit"],
                indicator_id=current["indicator_id"],
                cycle=current["cycle"],
            )
        queue.extend(current.get("derived_from") or [])
    return None


def section_blocks(section: PlanSection) -> list[dict[str, Any]]:
    """The section as a reader sees it (edited narrative in place), blocks as JSON, each chart
    drawn as SVG and each table cell with the link to its indicator."""
    if not section.generated:
        return [{"kind": "paragraph", "text": p} for p in section.text.split("\n\n") if p]
    shown = content.with_text(content.section_from(section.generated), section.edited_text)
    blocks = []
    for block in shown.blocks:
        data = content.block_json(block)
        if data["kind"] == "chart":
            data["svg"] = svg.chart_block(data)
        elif data["kind"] == "table":
            for row in data["rows"]:
                for cell in row:
                    cell["url"] = ref_url(cell.get("ref"))
        blocks.append(data)
    return blocks


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        u.id: u.display_name or u.username
        for u in session.scalars(select(User).where(User.id.in_(wanted)))
    }


def _show(
    plan: DmipPlan,
    district: OrgUnit,
    error: str | None = None,
    status: int = 200,
    typed: dict[int, str] | None = None,
) -> tuple[str, int]:
    session = db_session()
    user = require_user()
    events = workflow.history(session, plan)
    notes = workflow.comments(session, plan)
    names = _names(
        session,
        {e.actor_id for e in events} | {c.author_id for c in notes},
    )
    titles = {s.id: s.title for s in plan.sections}
    acts = workflow.can_act(user, district)
    sections = []
    for s in plan.sections:
        since_review = (
            workflow.diff_lines(s.reviewed_text, s.text)
            if s.reviewed_text is not None and s.reviewed_text != s.text
            else None
        )
        sections.append(
            {
                "row": s,
                "blocks": section_blocks(s),
                "targets": targets(s.state) if acts and plan.state != PlanState.approved else [],
                "data_changed": s.data_changed_since_edit,
                "since_edit": workflow.diff_lines(s.edit_base, s.generated_text)
                if s.data_changed_since_edit
                else None,
                "since_review": since_review,
                "typed": (typed or {}).get(s.id),
                "comments": [c for c in notes if c.section_id == s.id],
            }
        )
    body = render_template(
        "plans/plan.html",
        plan=plan,
        district=district,
        sections=sections,
        acts=acts,
        may_comment=user.role != Role.enumerator,
        plan_targets=targets(plan.state) if acts else [],
        plan_labels=PLAN_BUTTONS,
        events=events,
        notes=[c for c in notes if c.section_id is None],
        names=names,
        titles=titles,
        words=STATE_WORDS,
        formats=FORMATS,
        error=error,
    )
    return body, status


@bp.get("")
@roles_required(*READER_ROLES)
def index() -> str:
    session = db_session()
    user = require_user()
    where = scope(user)
    cycle = cycle_arg()
    plans = list(workflow.plans_for(session, user, cycle))
    districts = (
        {
            u.id: u
            for u in session.scalars(
                select(OrgUnit).where(OrgUnit.id.in_({p.district_id for p in plans}))
            )
        }
        if plans
        else {}
    )
    cycles = dashboard.cycles(session, None if where.everywhere else list(where.paths))
    return render_template(
        "plans/index.html",
        plans=plans,
        districts=districts,
        cycle=cycle,
        cycles=sorted({*cycles, *(p.cycle for p in plans)}, reverse=True),
        words=STATE_WORDS,
        synthesis=user.role in SYNTHESIS_ROLES,
    )


@bp.get("/<int:plan_id>")
@roles_required(*READER_ROLES)
def show(plan_id: int) -> tuple[str, int]:
    plan, district = _plan(db_session(), plan_id)
    return _show(plan, district)


# --- Changes ----------------------------------------------------------------------------------


def _done(plan: DmipPlan, message: str, anchor: str = "") -> Response:
    flash(message, "success")
    return redirect(url_for("plans.show", plan_id=plan.id, _anchor=anchor or None), 303)


def _refused(
    plan: DmipPlan, district: OrgUnit, exc: WorkflowError, typed: dict[int, str] | None = None
) -> tuple[str, int]:
    db_session().rollback()
    if exc.status == 403:
        refuse(403, exc.message)
    return _show(plan, district, exc.message, exc.status, typed)


@bp.post("/<int:plan_id>/state")
@roles_required(*READER_ROLES)
def plan_state(plan_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    target = _target(request.form.get("target"))
    try:
        workflow.change_plan_state(
            session, plan, target, require_user(), request.form.get("note") or None
        )
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, f"The plan is now {STATE_WORDS[target]}.")


@bp.post("/<int:plan_id>/comments")
@roles_required(*READER_ROLES)
def plan_comment(plan_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    try:
        workflow.comment(session, plan, require_user(), request.form.get("body", ""))
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, "Your comment is added.", "comments")


@bp.post("/<int:plan_id>/sections/<int:section_id>/text")
@roles_required(*READER_ROLES)
def section_text(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    section = _section(plan, section_id)
    text = request.form.get("text", "")
    try:
        workflow.edit_section(session, section, text, require_user())
    except WorkflowError as exc:
        return _refused(plan, district, exc, {section.id: text})
    session.commit()
    return _done(plan, f"Your text for '{section.title}' is saved.", f"section-{section.key}")


@bp.post("/<int:plan_id>/sections/<int:section_id>/revert")
@roles_required(*READER_ROLES)
def section_revert(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    section = _section(plan, section_id)
    try:
        workflow.revert_edit(session, section, require_user())
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(
        plan, f"'{section.title}' shows the generated text again.", f"section-{section.key}"
    )


@bp.post("/<int:plan_id>/sections/<int:section_id>/state")
@roles_required(*READER_ROLES)
def section_state(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    section = _section(plan, section_id)
    target = _target(request.form.get("target"))
    try:
        workflow.change_section_state(
            session, section, target, require_user(), request.form.get("note") or None
        )
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, f"'{section.title}' is now {STATE_WORDS[target]}.", f"section-{section.key}")


@bp.post("/<int:plan_id>/sections/<int:section_id>/comments")
@roles_required(*READER_ROLES)
def section_comment(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = _plan(session, plan_id)
    section = _section(plan, section_id)
    try:
        workflow.comment(session, plan, require_user(), request.form.get("body", ""), section)
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, "Your comment is added.", f"section-{section.key}")


# --- Documents --------------------------------------------------------------------------------


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
@roles_required(*READER_ROLES)
def plan_document(plan_id: int) -> Response:
    plan, _ = _plan(db_session(), plan_id)
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
    _, district = _plan(session, job.plan_id)
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
@roles_required(*READER_ROLES)
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
@roles_required(*READER_ROLES)
def document_status(job_id: int) -> Response:
    job, _ = _job(job_id)
    response = jsonify(job_status(job))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/documents/<int:job_id>/file")
@roles_required(*READER_ROLES)
def document_file(job_id: int) -> Response:
    job, name = _job(job_id)
    folder = (state().settings.data_dir / "documents").resolve()
    path = Path(job.file_path).resolve() if job.file_path else None
    if job.state != "done" or path is None or not path.is_file():
        refuse(404, "This document is not ready, or it has been removed; make it again.")
    if not path.is_relative_to(folder):
        refuse(404, "This document is not where documents are kept.")
    return send_file(path, as_attachment=True, download_name=name, max_age=0)
