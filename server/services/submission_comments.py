"""Comments on a submission (Central's /comments): a conversation beside its review state.

A comment belongs to the submission as a whole, through its first version's row, so the
conversation stays one across edits. Who may comment is the caller's to check (those who may
review it); the caller commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import SubmissionComment, User

BODY_MAX = 10_000


class CommentError(ValueError):
    """A comment that cannot be kept; the message says why."""


def add_comment(session: Session, root_id: int, actor: User, body: str) -> SubmissionComment:
    text = body.strip()
    if not text:
        raise CommentError("The comment is empty: write something in its body.")
    if len(text) > BODY_MAX:
        raise CommentError(f"The comment is too long (at most {BODY_MAX} characters).")
    comment = SubmissionComment(
        submission_id=root_id, actor_id=actor.id, body=text, created_at=utcnow()
    )
    session.add(comment)
    session.flush()
    return comment


def comments(session: Session, root_id: int) -> list[SubmissionComment]:
    """The submission's comments, newest first (as Central lists them)."""
    return list(
        session.scalars(
            select(SubmissionComment)
            .where(SubmissionComment.submission_id == root_id)
            .order_by(SubmissionComment.created_at.desc(), SubmissionComment.id.desc())
        )
    )
