"""Reviewing submissions: approve, mark as having issues, reject, and soft-delete.

Each decision is a `SubmissionReview` row (the history) and the submission's `review_state`
(the latest). Rejection and deletion change whether a submission counts in the indicator
aggregates, so both bring the aggregates in line in the caller's transaction: the caller
commits once, and either everything happened or nothing did.

Who may: coordinators and admins. Enumerators and sub-county staff may not review or delete.
Scope (a coordinator reviews only submissions in their districts) is checked by the caller,
which already filters what the user can see; this module checks role and state only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import store as aggregation_store
from server.db import utcnow
from server.domain.roles import Role
from server.models import Submission, SubmissionReview, User
from server.models.submissions import ReviewState
from server.plans import staleness

REVIEWER_ROLES = frozenset({Role.admin, Role.coordinator})
# "received" is where every submission starts; a reviewer cannot send one back there.
REVIEW_STATES = (ReviewState.approved, ReviewState.has_issues, ReviewState.rejected)
COMMENT_MAX = 4000


class ReviewError(ValueError):
    """A review that may not be made; the message is a sentence for the reviewer."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # True when the user's role may not do this at all (HTTP 403), else bad input (400).
        self.forbidden = forbidden


def can_review(user: User) -> bool:
    return user.role in REVIEWER_ROLES


def parse_state(value: str | None) -> ReviewState:
    """The review state a form field names, or ReviewError."""
    for state in REVIEW_STATES:
        if value == state.value:
            return state
    names = ", ".join(s.value for s in REVIEW_STATES)
    raise ReviewError(f"Choose a review state: one of {names}.")


def _check(user: User, comment: str | None) -> str | None:
    if not can_review(user):
        raise ReviewError("Only coordinators and admins may review submissions.", forbidden=True)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise ReviewError(f"The comment is too long (at most {COMMENT_MAX} characters).")
    return comment


def _load(session: Session, submission_ids: Iterable[int]) -> list[Submission]:
    ids = sorted({int(i) for i in submission_ids})
    if not ids:
        raise ReviewError("Select at least one submission.")
    # Locked in id order, so two reviewers of overlapping selections cannot deadlock and the
    # history rows follow the state each one actually saw.
    rows = list(
        session.scalars(
            select(Submission)
            .where(Submission.id.in_(ids))
            .order_by(Submission.id)
            .with_for_update()
        )
    )
    missing = set(ids) - {s.id for s in rows}
    if missing:
        raise ReviewError(f"No such submission: {', '.join(map(str, sorted(missing)))}.")
    return rows


def set_review_state(
    session: Session,
    submission_ids: Sequence[int],
    state: ReviewState,
    comment: str | None,
    reviewer: User,
    reason_required: bool = True,
) -> list[SubmissionReview]:
    """Give these submissions `state`, with `comment`; one history row each. The caller has
    checked that they lie in the reviewer's scope, and commits. Without `reason_required` a
    "has issues" may come without a comment, when the caller's protocol sends the reason
    separately (Central's clients comment after the review: `explain_issue`)."""
    comment = _check(reviewer, comment)
    if state not in REVIEW_STATES:
        raise ReviewError(f"A submission cannot be set back to {state.value!r}.")
    if state is ReviewState.has_issues and comment is None and reason_required:
        # The enumerator reads this on a phone to know what to fix.
        raise ReviewError("Say what the issue is: a comment is required for “has issues”.")
    submissions = _load(session, submission_ids)
    for sub in submissions:
        if sub.deleted_at is not None:
            raise ReviewError(f"Submission {sub.instance_id} is deleted; it cannot be reviewed.")
        if not sub.current:
            raise ReviewError(
                f"Submission {sub.instance_id} was replaced by an edit; review the edit instead."
            )
    now = utcnow()
    reviews = [
        SubmissionReview(
            submission_id=sub.id,
            state=state,
            comment=comment,
            reviewer_id=reviewer.id,
            created_at=now,
        )
        for sub in submissions
    ]
    session.add_all(reviews)
    for sub in submissions:
        sub.review_state = state
        sub.updated_at = now
    session.flush()
    _recount(session, submissions)
    return reviews


def explain_issue(session: Session, submission_id: int, text: str) -> bool:
    """Give a "has issues" that came without a reason the text of a comment that follows it,
    so the enumerator reads why on the issues page; whether one was explained."""
    latest = session.scalar(
        select(SubmissionReview)
        .where(SubmissionReview.submission_id == submission_id)
        .order_by(SubmissionReview.created_at.desc(), SubmissionReview.id.desc())
        .limit(1)
    )
    if latest is None or latest.state is not ReviewState.has_issues or latest.comment:
        return False
    latest.comment = text.strip()[:COMMENT_MAX]
    return True


def soft_delete(
    session: Session, submission_ids: Sequence[int], reviewer: User, comment: str | None = None
) -> list[Submission]:
    """Mark submissions deleted (rows and files stay); they stop counting at once. Deleting a
    deleted submission changes nothing. The caller checks scope and commits."""
    comment = _check(reviewer, comment)
    submissions = _load(session, submission_ids)
    now = utcnow()
    for sub in submissions:
        if sub.deleted_at is None:
            sub.deleted_at = now
            sub.updated_at = now
    session.flush()
    _recount(session, submissions)
    return submissions


def _recount(session: Session, submissions: Sequence[Submission]) -> None:
    """Add or retract what the review changed, and mark the plans it moves stale."""
    moved = aggregation_store.refresh(session, [s.id for s in submissions]).moved
    staleness.mark_stale(session, moved)


def history(session: Session, submission_id: int) -> list[SubmissionReview]:
    """A submission's review decisions, oldest first."""
    return list(
        session.scalars(
            select(SubmissionReview)
            .where(SubmissionReview.submission_id == submission_id)
            .order_by(SubmissionReview.created_at, SubmissionReview.id)
        )
    )
