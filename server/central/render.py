"""JSON as Central writes it: camelCase fields, timestamps in UTC with milliseconds and "Z"."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from server.domain.odata.values import timestamp
from server.models import User

# The one project (server/central/projects.py says why there is one).
PROJECT_ID = 1


# Central's timestamps (UTC, milliseconds, "Z"), written the same in the OData feed.
iso = timestamp


def extended() -> bool:
    """Whether the client asked for Central's extended metadata (X-Extended-Metadata: true)."""
    return request.headers.get("X-Extended-Metadata", "").strip().lower() == "true"


def json_response(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def success() -> Response:
    """Central's answer to an action with nothing to return."""
    return json_response({"success": True})


def actor_json(user: User) -> dict[str, Any]:
    """An actor as Central shows it: a person ("user") or an app user ("field_key")."""
    return {
        "id": user.id,
        "type": "field_key" if user.app_user else "user",
        "displayName": user.display_name or user.username,
        "createdAt": iso(user.created_at),
        "updatedAt": None,
        "deletedAt": None,
    }


def user_json(user: User) -> dict[str, Any]:
    """A person as GET /v1/users/current answers: Central's email is our username."""
    body = actor_json(user)
    body["email"] = user.username
    return body
