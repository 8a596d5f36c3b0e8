"""App users' keys: the token in a phone's URL, /v1/key/<token>/projects/<id>/..., that signs
the phone in with no password (ODK Central's app users, "field keys").

A token is an HMAC of a random nonce under the server's secret key (server/models/central.py
says why); a request's token is found by its SHA-256, so the look-up is one indexed read and
comparing tokens never leaks timing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import AppUserKey, User

# Where a key route leaves the token of its URL for authentication to find.
KEY_ENVIRON = "dmip.app_user_token"
# Central's tokens are 64 characters; ours are 64 of the URL-safe base64 alphabet.
TOKEN_LENGTH = 64


def new_nonce() -> str:
    return secrets.token_hex(32)


def token_for(secret_key: str, nonce: str) -> str:
    digest = hmac.new(secret_key.encode(), b"app-user-key:" + nonce.encode(), hashlib.sha384)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:TOKEN_LENGTH]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
