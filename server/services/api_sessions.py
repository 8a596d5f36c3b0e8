"""Bearer-token sessions of the Central API (POST /v1/sessions), as plain functions.

A token is 64 random URL-safe characters; the table keeps only its SHA-256. A session is good
until it expires, is deleted, or its user's credentials version moves (a password change or a
deactivation bumps it), whichever comes first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import ApiSession, User

# Central's sessions last a day.
SESSION_LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: dt.datetime
    created_at: dt.datetime


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, user: User, lifetime: dt.timedelta = SESSION_LIFETIME
) -> IssuedSession:
    token = secrets.token_urlsafe(48)
    now = utcnow()
    row = ApiSession(
        token_sha256=_sha256(token),
        user_id=user.id,
        credentials_version=user.credentials_version,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    # Expired sessions of this user go as a new one starts: the table stays small with no
    # sweeper of its own.
    session.execute(
        delete(ApiSession).where(ApiSession.user_id == user.id, ApiSession.expires_at <= now)
    )
    return IssuedSession(token, row.expires_at, now)


def find_session(session: Session, token: str) -> ApiSession | None:
    """The live session of a token, or None (unknown, expired, or its user's credentials
    changed since, or its user is no longer active)."""
    if not token or len(token) > 256:
        return None
    row = session.scalar(select(ApiSession).where(ApiSession.token_sha256 == _sha256(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = row.user
    if not user.active or user.credentials_version != row.credentials_version:
        return None
    return row


def session_username(session: Session, token: str) -> str | None:
    """The username of a token's live session, in one query (the submission path's: it reads
    the user from the receiver's cache of snapshots, not the row)."""
    if not token or len(token) > 256:
        return None
    found: str | None = session.scalar(
        select(User.username)
        .join(ApiSession, ApiSession.user_id == User.id)
        .where(
            ApiSession.token_sha256 == _sha256(token),
            ApiSession.expires_at > utcnow(),
            ApiSession.credentials_version == User.credentials_version,
            User.active.is_(True),
        )
    )
    return found


def close_session(session: Session, token: str) -> bool:
    """Delete the session of `token`; whether there was one."""
    result = session.execute(delete(ApiSession).where(ApiSession.token_sha256 == _sha256(token)))
    return bool(getattr(result, "rowcount", 0))
