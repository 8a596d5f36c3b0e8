"""The review workflow of draft DMIPs: who may do what, state changes, edits, comments, history,
and the version frozen at approval.

    draft --submit--> in_review --request changes--> changes_requested --submit--> in_review
                      in_review --approve--> approved --reopen--> draft

Sections move through these states one by one; the plan moves too, and may be approved only
when every section is. Approving the plan freezes a PlanVersion: later data changes the draft,
never an approved version. Every change is a PlanEvent (who, when, from, to, note).

Functions take a session and the acting user and raise WorkflowError with a sentence for the
user when something is not allowed; the caller commits. No Flask here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.domain.roles import Role
from server.models import OrgUnit, User
from server.models.plans import (
    DmipPlan,
    PlanComment,
    PlanEvent,
    PlanSection,
    PlanState,
    PlanVersion,
)

# (from, to) -> the verb shown to users and written in the history.
TRANSITIONS: dict[tuple[PlanState, PlanState], str] = {
    (PlanState.draft, PlanState.in_review): "submitted for review",
    (PlanState.changes_requested, PlanState.in_review): "submitted for review",
    (PlanState.in_review, PlanState.changes_requested): "asked for changes",
    (PlanState.in_review, PlanState.approved): "approved",
    (PlanState.approved, PlanState.draft): "reopened",
}

MAX_TEXT = 50_000
MAX_COMMENT = 5_000


class WorkflowError(Exception):
    """Not allowed; `status` is the HTTP status an API would answer (403, 404, 409, 400)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- Permissions ------------------------------------------------------------------------------


def can_read(user: User, district: OrgUnit) -> bool:
    """Admins read every plan; coordinators those of districts in their scope; sub-county
    staff the plan of the district their sub-county is in."""
    if user.role == Role.admin:
        return True
    if user.role == Role.coordinator:
        return user.scope.covers(district.path)
    if user.role == Role.subcounty_staff:
        return user.scope.reaches(district.path)
    return False


def can_act(user: User, district: OrgUnit) -> bool:
    """Edit, comment, change state: admins, and coordinators of the district."""
    if user.role == Role.admin:
        return True
    return user.role == Role.coordinator and user.scope.covers(district.path)


def _require_act(session: Session, user: User, plan: DmipPlan) -> None:
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    if not can_act(user, district):
        raise WorkflowError(
            f"You may not change the plan of {district.name}: it is not in your area.", 403
        )


# --- Changes ----------------------------------------------------------------------------------


def _event(
    session: Session,
    plan: DmipPlan,
    kind: str,
    actor: User | None,
    section: PlanSection | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
) -> PlanEvent:
    event = PlanEvent(
        plan_id=plan.id,
        section_id=section.id if section is not None else None,
        actor_id=actor.id if actor is not None else None,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )
    session.add(event)
    plan.updated_at = utcnow()
    return event


def _check_transition(current: PlanState, target: PlanState, what: str) -> None:
    if (current, target) not in TRANSITIONS:
        raise WorkflowError(
            f"{what} is {_phrase(current)}; it cannot go to {_phrase(target)} from there."
        )


def _phrase(state: PlanState) -> str:
    return state.value.replace("_", " ")


def change_section_state(
    session: Session,
    section: PlanSection,
    target: PlanState,
    actor: User,
    note: str | None = None,
) -> None:
    plan = section.plan
    _require_act(session, actor, plan)
    if plan.state == PlanState.approved:
        raise WorkflowError("The plan is approved and frozen; reopen it to change a section.")
    _check_transition(section.state, target, f"The section '{section.title}'")
    if target == PlanState.changes_requested and not (note or "").strip():
        raise WorkflowError("Say what should change: a request for changes needs a note.", 400)
    previous = section.state
    section.state = target
    if target in {PlanState.approved, PlanState.changes_requested}:
        section.reviewed_text = section.text
    section.updated_at = utcnow()
    _event(session, plan, "state", actor, section, previous.value, target.value, note)


def change_plan_state(
    session: Session, plan: DmipPlan, target: PlanState, actor: User, note: str | None = None
) -> PlanVersion | None:
    """Change the whole plan's state; approving freezes and returns a PlanVersion."""
    _require_act(session, actor, plan)
    _check_transition(plan.state, target, "The plan")
    if target == PlanState.changes_requested and not (note or "").strip():
        raise WorkflowError("Say what should change: a request for changes needs a note.", 400)
    version = None
    if target == PlanState.approved:
        pending = [s.title for s in plan.sections if s.state != PlanState.approved]
        if pending:
            raise WorkflowError(
                "Approve every section first; not yet approved: " + ", ".join(pending) + "."
            )
        version = _freeze(session, plan, actor)
    if target == PlanState.draft:  # reopening: the sections become drafts again
        for section in plan.sections:
            section.state = PlanState.draft
    elif target == PlanState.in_review:
        for section in plan.sections:
            if section.state in {PlanState.draft, PlanState.changes_requested}:
                section.state = PlanState.in_review
    previous = plan.state
    plan.state = target
    _event(session, plan, "state", actor, None, previous.value, target.value, note)
    return version


def _freeze(session: Session, plan: DmipPlan, actor: User) -> PlanVersion:
    number = (
        session.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.plan_id == plan.id))
        or 0
    ) + 1
    version = PlanVersion(
        plan_id=plan.id,
        number=number,
        content={"sections": [snapshot(s) for s in plan.sections], "cycle": plan.cycle},
        approved_by_id=actor.id,
    )
    session.add(version)
    return version


def snapshot(section: PlanSection) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "text": section.text,
        "edited": section.edited_text is not None,
        "content": section.generated,
    }


def edit_section(session: Session, section: PlanSection, text: str, actor: User) -> None:
    """Replace the section's narrative with the coordinator's text; kept across regenerations."""
    plan = section.plan
    _require_act(session, actor, plan)
    if plan.state == PlanState.approved or section.state == PlanState.approved:
        raise WorkflowError(
            "This section is approved and frozen; reopen the plan (or ask for changes) to edit it."
        )
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise WorkflowError("The text is empty; to go back to the generated text, revert.", 400)
    if len(text) > MAX_TEXT:
        raise WorkflowError(f"The text is too long (at most {MAX_TEXT:,} characters).", 400)
    if text == section.text:
        return
    section.edited_text = text
    section.edit_base = section.generated_text
    section.edited_by_id = actor.id
    section.edited_at = utcnow()
    section.updated_at = section.edited_at
    _event(session, plan, "edit", actor, section)


def revert_edit(session: Session, section: PlanSection, actor: User) -> None:
    plan = section.plan
    _require_act(session, actor, plan)
    if section.state == PlanState.approved or plan.state == PlanState.approved:
        raise WorkflowError("This section is approved and frozen.")
    if section.edited_text is None:
        return
    section.edited_text = None
    section.edit_base = None
    section.edited_by_id = None
    section.edited_at = None
    _event(session, plan, "revert", actor, section)


def comment(
    session: Session,
    plan: DmipPlan,
    author: User,
    body: str,
    section: PlanSection | None = None,
) -> PlanComment:
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    if not can_read(author, district) or author.role == Role.enumerator:
        raise WorkflowError("You may not comment on this plan.", 403)
    body = body.strip()
    if not body:
        raise WorkflowError("The comment is empty.", 400)
    if len(body) > MAX_COMMENT:
        raise WorkflowError(f"The comment is too long (at most {MAX_COMMENT:,} characters).", 400)
    note = PlanComment(
        plan_id=plan.id,
        section_id=section.id if section is not None else None,
        author_id=author.id,
        body=body,
    )
    session.add(note)
    _event(session, plan, "comment", author, section, note=body[:200])
    return note


# --- Regeneration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedSection:
    key: str
    title: str
    content: dict[str, Any]  # the drafted Section as JSON
    text: str  # its narrative as plain text, what a coordinator edits


def apply_generated(
    session: Session, plan: DmipPlan, generated: Sequence[GeneratedSection]
) -> list[str]:
    """Put freshly generated sections into the plan, keeping every coordinator edit; returns
    the keys of edited sections whose data changed under the edit."""
    existing = {s.key: s for s in plan.sections}
    flagged = []
    now = utcnow()
    for position, new in enumerate(generated):
        section = existing.pop(new.key, None)
        if section is None:
            section = PlanSection(plan=plan, key=new.key, state=PlanState.draft)
            session.add(section)
        section.position = position
        section.title = new.title
        if section.generated != new.content or section.generated_text != new.text:
            section.generated = new.content
            section.generated_text = new.text
            section.updated_at = now
        if section.data_changed_since_edit:
            flagged.append(new.key)
    for gone in existing.values():
        session.delete(gone)
    plan.stale = False
    plan.generated_at = now
    _event(
        session,
        plan,
        "regenerated",
        None,
        note=("data changed under edited sections: " + ", ".join(flagged)) if flagged else None,
    )
    return flagged


# --- Reading ----------------------------------------------------------------------------------


def diff_lines(before: str | None, after: str) -> list[tuple[str, str]]:
    """(kind, line) with kind "same", "added" or "removed", word-wrapped by sentence so a
    changed number shows as one changed sentence rather than a changed paragraph."""
    old = _sentences(before or "")
    new = _sentences(after)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(("same", line) for line in old[i1:i2])
            continue
        out.extend(("removed", line) for line in old[i1:i2])
        out.extend(("added", line) for line in new[j1:j2])
    return out


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if s]


def history(session: Session, plan: DmipPlan) -> list[PlanEvent]:
    return list(
        session.scalars(
            select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)
        )
    )


def comments(session: Session, plan: DmipPlan) -> list[PlanComment]:
    return list(
        session.scalars(
            select(PlanComment).where(PlanComment.plan_id == plan.id).order_by(PlanComment.id)
        )
    )


def plans_for(session: Session, user: User, cycle: str | None = None) -> Iterable[DmipPlan]:
    query = select(DmipPlan).join(OrgUnit, OrgUnit.id == DmipPlan.district_id)
    if cycle is not None:
        query = query.where(DmipPlan.cycle == cycle)
    for plan in session.scalars(query.order_by(OrgUnit.code, DmipPlan.cycle)):
        district = session.get(OrgUnit, plan.district_id)
        if district is not None and can_read(user, district):
            yield plan
