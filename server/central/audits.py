"""The audit log, for admins.

    GET /v1/audits[?action=&start=&end=&limit=&offset=]

Each row as Central writes it: actorId, action, acteeId, details, loggedAt; with
X-Extended-Metadata the actor too. Our actions already read like Central's ("form.publish",
"user.session.create"); `action` matches one, or a category ("form", "user"), as Central's
does. `start` and `end` are dates (YYYY-MM-DD, the whole day) or ISO timestamps; `end` is
included when a date. Rows come newest first, at most 1,000 a page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.render import actor_json, extended, iso, json_response
from server.domain.problems import Problem
from server.domain.roles import Role
from server.models import AuditEvent, User
from server.queries.audit_log import AuditQuery, read_audits


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/audits", "audits", list_audits, methods=["GET"])


def _moment(name: str, end_of_day: bool) -> dt.datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time(), dt.UTC)
            return moment + dt.timedelta(days=1) if end_of_day else moment
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _unexpected(name, raw, "a date (2026-12-08) or an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _count(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise _unexpected(name, raw, "a whole number, 0 or more")
    return int(raw)


def _unexpected(name: str, value: str, expected: str) -> Problem:
    return Problem(
        400,
        "central.unexpected_value",
        f"Unexpected {name} value {value[:80]!r}; expected {expected}.",
        {"field": name, "value": value[:80]},
    )


def list_audits() -> Response:
    actor = require_actor()
    if actor.role is not Role.admin:
        raise Problem(403, "central.forbidden", "Only an administrator may read the audit log.")
    query = AuditQuery(
        action=request.args.get("action") or None,
        start=_moment("start", end_of_day=False),
        end=_moment("end", end_of_day=True),
        limit=_count("limit"),
        offset=_count("offset") or 0,
    )
    session = db_session()
    events = read_audits(session, query)
    actors: dict[int, User] = {}
    if extended():
        ids = {e.actor_id for e in events if e.actor_id is not None}
        actors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return json_response([_event_json(e, actors) for e in events])


def _event_json(event: AuditEvent, actors: dict[int, User]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actorId": event.actor_id,
        "action": event.action,
        "acteeId": f"{event.target_type}:{event.target_id}",
        "details": event.details,
        "loggedAt": iso(event.at),
    }
    if actors or extended():
        actor = actors.get(event.actor_id) if event.actor_id is not None else None
        body["actor"] = actor_json(actor) if actor is not None else None
    return body
