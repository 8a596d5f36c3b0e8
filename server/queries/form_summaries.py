"""What a list of forms says about each beyond its definition: its submissions (as many as the
reader may see), who created it and when it last changed. One query each for any number of
forms, so a list costs the same for seven forms as for one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import AuditEvent, OrgUnit, Submission, User
from server.models.org import under
from server.models.submissions import ReviewState


@dataclass
class SubmissionSummary:
    count: int = 0
    last: dt.datetime | None = None
    by_review_state: dict[ReviewState, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FormHistory:
    """The first and last recorded change of a form (its audit events)."""

    created_by: User | None
    changes: int
    last_change: dt.datetime | None


def submission_summaries(
    session: Session,
    form_ids: Collection[int],
    scope_paths: tuple[str, ...] | None,
    submitter_id: int | None = None,
) -> dict[int, SubmissionSummary]:
    """By form id: the current, undeleted submissions within `scope_paths` (None: everywhere),
    only `submitter_id`'s when given, counted by review state, with the latest's time."""
    if not form_ids:
        return {}
    query = (
        select(
            Submission.form_id,
            Submission.review_state,
            func.count(Submission.id),
            func.max(Submission.received_at),
        )
        .where(
            Submission.form_id.in_(list(form_ids)),
            Submission.current.is_(True),
            Submission.deleted_at.is_(None),
        )
        .group_by(Submission.form_id, Submission.review_state)
    )
    if scope_paths is not None:
        query = query.join(OrgUnit, OrgUnit.id == Submission.org_unit_id).where(
            under(OrgUnit.path, scope_paths)
        )
    if submitter_id is not None:
        query = query.where(Submission.submitter_id == submitter_id)
    summaries: dict[int, SubmissionSummary] = {i: SubmissionSummary() for i in form_ids}
    for form_id, state, count, last in session.execute(query):
        summary = summaries[form_id]
        summary.count += count
        summary.by_review_state[state] = count
        if last is not None and (summary.last is None or last > summary.last):
            summary.last = last
    return summaries


def form_histories(session: Session, xml_form_ids: Collection[str]) -> dict[str, FormHistory]:
    """By xmlFormId: who made the form's first recorded change (None for a form the server
    published by itself), how many changes it has had, and when the last was."""
    if not xml_form_ids:
        return {}
    ids = list(xml_form_ids)
    per_form = (
        select(
            AuditEvent.target_id,
            func.min(AuditEvent.id).label("first_id"),
            func.count(AuditEvent.id).label("changes"),
            func.max(AuditEvent.at).label("last_at"),
        )
        .where(AuditEvent.target_type == "form", AuditEvent.target_id.in_(ids))
        .group_by(AuditEvent.target_id)
        .subquery()
    )
    rows = session.execute(
        select(per_form.c.target_id, per_form.c.changes, per_form.c.last_at, User)
        .join(AuditEvent, AuditEvent.id == per_form.c.first_id)
        .outerjoin(User, User.id == AuditEvent.actor_id)
    )
    return {
        target: FormHistory(created_by=user, changes=changes, last_change=last_at)
        for target, changes, last_at, user in rows
    }
