"""Authentication (HTTP Digest and Basic, web-session hook) and access rules."""

from server.auth.access import can_fill, in_scope
from server.auth.http import (
    authenticate,
    challenge_headers,
    require_user,
    set_session_user_loader,
)

__all__ = [
    "authenticate",
    "can_fill",
    "challenge_headers",
    "in_scope",
    "require_user",
    "set_session_user_loader",
]
