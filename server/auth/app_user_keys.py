"""App users' keys: the token in a phone's URL, /v1/key/<token>/projects/<id>/..., that signs
the phone in with no password (ODK Central's app users, "field keys").

A token is an HMAC of a random nonce under the server's secret key (server/models/central.py
says why); a request's token is found by its SHA-256, so the look-up is one indexed read and
comparing tokens never leaks timing.
"""

from __future__ import annotations

from flask import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.app_user_tokens import TOKEN_LENGTH, new_nonce, token_for, token_sha256
from server.models import AppUserKey, User

# Made in server/domain (the services make keys too); their home for everyone else is here.
__all__ = [
    "KEY_ENVIRON",
    "TOKEN_LENGTH",
    "key_username",
    "new_nonce",
    "request_key",
    "token_for",
    "token_sha256",
]

# Where a key route leaves the token of its URL for authentication to find.
KEY_ENVIRON = "dmip.app_user_token"


def request_key(request: Request) -> str | None:
    """The app-user token of the request's URL, or None when its URL has none."""
    token: str | None = request.environ.get(KEY_ENVIRON)
    return token


def key_username(session: Session, token: str) -> str | None:
    """The username of the active app user whose token this is, or None."""
    if len(token) != TOKEN_LENGTH:
        return None
    found: str | None = session.scalar(
        select(User.username)
        .join(AppUserKey, AppUserKey.user_id == User.id)
        .where(AppUserKey.token_sha256 == token_sha256(token), User.active.is_(True))
    )
    return found
