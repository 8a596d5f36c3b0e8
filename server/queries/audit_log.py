"""Reading the audit log: newest first, filtered by action (or its category), time and page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.models import AuditEvent

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditQuery:
    # An action ("form.publish") or a category, the part before the first dot ("form").
    action: str | None = None
    start: dt.datetime | None = None  # inclusive
    end: dt.datetime | None = None  # exclusive
    limit: int | None = None
    offset: int = 0


def read_audits(session: Session, query: AuditQuery) -> Sequence[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if query.action:
        statement = statement.where(
            or_(AuditEvent.action == query.action, AuditEvent.action.startswith(query.action + "."))
        )
    if query.start is not None:
        statement = statement.where(AuditEvent.at >= query.start)
    if query.end is not None:
        statement = statement.where(AuditEvent.at < query.end)
    limit = MAX_LIMIT if query.limit is None else min(query.limit, MAX_LIMIT)
    return session.scalars(statement.offset(query.offset).limit(limit)).all()
