"""Limits on failed web sign-ins, counted in the database.

Counting in the database means every gunicorn worker and the embedded SQLite mode see the same
count with no extra service. A username is locked after USERNAME_LIMIT failures within WINDOW;
a client address after ADDRESS_LIMIT (higher, because a whole district office may share one
address behind NAT). The lock lifts when the oldest counted failure leaves the window.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models import LoginFailure

WINDOW = dt.timedelta(minutes=15)
USERNAME_LIMIT = 5
ADDRESS_LIMIT = 20


def _key(username: str) -> str:
    return username.strip().lower()[:64]


def _wait(session: Session, column: object, value: str, limit: int, now: dt.datetime) -> int:
    since = now - WINDOW
    # The limit-th most recent failure: once it leaves the window, fewer than `limit` remain.
    pivot = session.scalar(
        select(LoginFailure.at)
        .where(column == value, LoginFailure.at > since)  # type: ignore[operator]
        .order_by(LoginFailure.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if pivot is None:
        return 0
    return max(1, math.ceil((pivot + WINDOW - now).total_seconds()))


def seconds_locked(session: Session, username: str, address: str, now: dt.datetime) -> int:
    """How long sign-in stays refused for this username or address (0: not locked)."""
    return max(
        _wait(session, LoginFailure.username, _key(username), USERNAME_LIMIT, now),
        _wait(session, LoginFailure.address, address[:64], ADDRESS_LIMIT, now),
    )


def record_failure(session: Session, username: str, address: str, now: dt.datetime) -> None:
    # Old rows are dropped as new ones come, so the table stays the size of one window.
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    session.add(LoginFailure(at=now, username=_key(username), address=address[:64]))
    session.flush()


def clear_failures(session: Session, username: str) -> None:
    """A correct password forgives the username's earlier failures (not the address's)."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username)))
