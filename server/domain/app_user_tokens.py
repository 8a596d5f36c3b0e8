"""App users' tokens, as pure functions: a token is an HMAC of a random nonce under the
server's secret key (server/models/central.py says why), found again by its SHA-256
(server/auth/app_user_keys.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Central's tokens are 64 characters; ours are 64 of the URL-safe base64 alphabet.
TOKEN_LENGTH = 64


def new_nonce() -> str:
    return secrets.token_hex(32)


def token_for(secret_key: str, nonce: str) -> str:
    digest = hmac.new(secret_key.encode(), b"app-user-key:" + nonce.encode(), hashlib.sha384)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:TOKEN_LENGTH]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
