"""Sessions and the current user.

    POST   /v1/sessions            {"email", "password"} -> {"token", "expiresAt", "createdAt"}
    DELETE /v1/sessions/<token>    sign out (a user may end their own sessions only), or, with
                                   an app user's token, revoke that app user (its manager
                                   only: server/central/app_users.py)
    GET    /v1/users/current       who the credentials belong to

Central signs in by email; here the `email` field holds the username (an email address is a
valid username, so a user may be named by one).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select
from werkzeug.security import check_password_hash

from server.app_state import db_session
from server.auth.guessing import guess_limiter
from server.auth.http import too_many_failures
from server.central.auth import require_actor
from server.central.render import extended, iso, json_response, success, user_json
from server.central.roles import verbs_for
from server.domain.guessing import Attempt
from server.domain.problems import Problem
from server.models import AuditEvent, User
from server.services.api_sessions import close_session, find_session, open_session
from server.services.app_user_access import app_user_of_token, revoke_access
from server.services.app_users import may_manage, within_reach


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/sessions", "sessions", create_session, methods=["POST"])
    bp.add_url_rule("/sessions/<token>", "session", delete_session, methods=["DELETE"])
    bp.add_url_rule("/sessions/restore", "session_restore", restore_session, methods=["GET"])
    bp.add_url_rule("/users/current", "current_user", current_user, methods=["GET"])


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 in Central's terms."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(
            400,
            "central.unparseable",
            "Could not parse the given data: send a JSON object (Content-Type: application/json).",
        )
    return body


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Problem(
            400,
            "central.missing_parameter",
            f"Required parameters missing. Expected ({name}), got ({name}: {value!r}).",
            {"expected": [name], "got": {name: value if isinstance(value, str) else None}},
        )
    return value


def create_session() -> Response:
    body = json_body()
    username = _text_field(body, "email").strip()
    password = _text_field(body, "password")
    limiter = guess_limiter()
    attempt = Attempt.of(username, request.remote_addr, "api")
    check = limiter.check(attempt)
    if check.wait:
        raise too_many_failures(check.wait)
    session = db_session()
    user = session.scalar(select(User).where(User.username == username))
    if (
        user is None
        or not user.active
        or user.app_user
        or not check_password_hash(user.password_hash, password)
    ):
        wait = limiter.failed(attempt)
        if wait:
            raise too_many_failures(wait)
        raise Problem(401, "auth.failed", "Could not authenticate with the provided credentials.")
    limiter.succeeded(attempt, check)
    issued = open_session(session, user)
    session.add(
        AuditEvent(
            actor_id=user.id,
            action="user.session.create",
            target_type="user",
            target_id=str(user.id),
            details={"address": request.remote_addr or ""},
        )
    )
    session.commit()
    return json_response(
        {
            "token": issued.token,
            "expiresAt": iso(issued.expires_at),
            "createdAt": iso(issued.created_at),
        }
    )


def delete_session(token: str) -> Response:
    actor = require_actor()
    session = db_session()
    found = find_session(session, token)
    if found is None:
        # Central's way to revoke an app user: DELETE its token as a session.
        app_user = app_user_of_token(session, token)
        if app_user is not None and may_manage(actor) and within_reach(actor, app_user):
            revoke_access(session, actor, app_user)
            session.commit()
            return success()
    if found is None or found.user_id != actor.id:
        raise Problem(404, "central.not_found", "Could not find the resource you were looking for.")
    close_session(session, token)
    session.commit()
    return success()


def restore_session() -> Response:
    """Central's way for a browser to learn its session; there is none for API clients here."""
    raise Problem(404, "central.not_found", "Could not find the resource you were looking for.")


def current_user() -> Response:
    actor = require_actor()
    body = user_json(actor)
    if extended():
        body["verbs"] = verbs_for(actor.role)
    return json_response(body)
