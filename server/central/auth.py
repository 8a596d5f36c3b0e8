"""Who is calling the Central API: a bearer token from POST /v1/sessions, HTTP Basic, or (for
reading only) the signed-in browser of the web app. App users' keys are in their URL and found
by server/auth (the key routes, server/central/key_routes.py).
"""

from __future__ import annotations

from flask import request

from server.app_state import db_session
from server.auth.http import authenticate, principal_cache, require_principal
from server.auth.principal import Principal, load_principal
from server.domain.problems import Problem
from server.models import User
from server.services.api_sessions import find_session, session_username

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def current_actor() -> User | None:
    token = _bearer_token()
    if token is not None:
        found = find_session(db_session(), token)
        return found.user if found is not None else None
    if request.authorization is None and request.method not in SAFE_METHODS:
        # A browser's session cookie may read, never write: a write needs a token or a
        # password in the request itself, which another site's page cannot forge.
        return None
    user = authenticate(request)
    if user is not None and user.app_user:
        return None  # an app user signs in by its key route only
    return user


def require_actor() -> User:
    """The caller, or a 401 in Central's shape."""
    user = current_actor()
    if user is not None:
        return user
    if _bearer_token() is not None:
        message = "Your session has expired or was ended; sign in again (POST /v1/sessions)."
    elif request.authorization is not None:
        message = "Could not authenticate with the provided credentials."
    else:
        message = "Please sign in: a bearer token from POST /v1/sessions, or Basic auth."
    raise Problem(401, "auth.required", message)


def require_submitter(fresh: bool = False) -> Principal:
    """The caller as the submission receiver knows it (a snapshot, server/auth/principal.py),
    for the API's submission writes: a bearer token's user, or Basic credentials checked as
    POST /submission checks them. Never a browser's session; 401 otherwise. `fresh` skips the
    cached snapshot (after the write found it out of date)."""
    token = _bearer_token()
    if token is None:
        if request.authorization is None:
            raise Problem(
                401,
                "auth.required",
                "Please sign in: a bearer token from POST /v1/sessions, or Basic auth.",
            )
        return require_principal(fresh=fresh)
    session = db_session()
    username = session_username(session, token)
    cache = principal_cache()
    principal = None if username is None or fresh else cache.get(username)
    if principal is None and username is not None:
        principal = load_principal(session, username)
        if principal is not None:
            cache.put(username, principal)
    if principal is None or not principal.active:
        raise Problem(
            401,
            "auth.required",
            "Your session has expired or was ended; sign in again (POST /v1/sessions).",
        )
    return principal
