"""DMIP draft pages: the plans a user may read, a plan section by section with its review
actions. The cross-district synthesis and the documents are in server/web/plan_documents.py,
on the same blueprint.

    /plans                                   plans list (?cycle=)
    /plans/<id>                              the plan: sections, actions, history, comments
    /plans/<id>/state, /comments                                plan-level forms (POST)
    /plans/<id>/sections/<sid>/text, /revert, /state, /comments section forms (POST)

Every change goes through server/plans/workflow.py, which decides who may do what; a refusal
(WorkflowError) is shown on the plan page in words with its status, never as a 500.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.app_state import db_session
from server.domain.roles import READERS, Role
from server.models import DmipPlan, OrgUnit, PlanSection, PlanState, User
from server.plans import content, workflow
from server.plans.documents import FORMATS
from server.plans.workflow import TRANSITIONS, WorkflowError
from server.web import dashboard, svg
from server.web.indicators import cycle_arg, refuse
from server.web.permissions import require_user, roles_required

bp = Blueprint("plans", __name__, url_prefix="/plans")


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


def readable_plan(session: Session, plan_id: int) -> tuple[DmipPlan, OrgUnit]:
    """The plan and its district, or a 404 or 403 page for this user."""
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
@roles_required(*READERS)
def index() -> str:
    session = db_session()
    user = require_user()
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
    cycles = dashboard.cycles(session, user.scope)
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
@roles_required(*READERS)
def show(plan_id: int) -> tuple[str, int]:
    plan, district = readable_plan(db_session(), plan_id)
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
@roles_required(*READERS)
def plan_state(plan_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
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
@roles_required(*READERS)
def plan_comment(plan_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
    try:
        workflow.comment(session, plan, require_user(), request.form.get("body", ""))
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, "Your comment is added.", "comments")


@bp.post("/<int:plan_id>/sections/<int:section_id>/text")
@roles_required(*READERS)
def section_text(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
    section = _section(plan, section_id)
    text = request.form.get("text", "")
    try:
        workflow.edit_section(session, section, text, require_user())
    except WorkflowError as exc:
        return _refused(plan, district, exc, {section.id: text})
    session.commit()
    return _done(plan, f"Your text for '{section.title}' is saved.", f"section-{section.key}")


@bp.post("/<int:plan_id>/sections/<int:section_id>/revert")
@roles_required(*READERS)
def section_revert(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
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
@roles_required(*READERS)
def section_state(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
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
@roles_required(*READERS)
def section_comment(plan_id: int, section_id: int) -> Response | tuple[str, int]:
    session = db_session()
    plan, district = readable_plan(session, plan_id)
    section = _section(plan, section_id)
    try:
        workflow.comment(session, plan, require_user(), request.form.get("body", ""), section)
    except WorkflowError as exc:
        return _refused(plan, district, exc)
    session.commit()
    return _done(plan, "Your comment is added.", f"section-{section.key}")
