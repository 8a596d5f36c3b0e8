"""App users, as Central has them (server/services/app_users.py says what one is here).

    GET    /v1/projects/1/app-users          the app users the caller manages (X-Extended-
                                             Metadata adds createdBy and lastUsed)
    POST   /v1/projects/1/app-users          {"displayName"} -> the new app user with its token
    DELETE /v1/projects/1/app-users/<id>     delete it: its key stops working at once
    DELETE /v1/sessions/<token>              Central's "revoke": with an app user's token, the
                                             key stops working and the app user stays listed
                                             with "token": null (server/central/sessions.py)

Beyond Central, POST takes two fields of ours: "role" (enumerator, the default;
subcounty_staff; coordinator) and "scopes" (org-unit codes, e.g. ["D1"]; by default the
creator's own areas, or for an admin the register's root units). An unknown code is a 400
naming it; a code outside a coordinator's districts a 403.

Who may: an admin, for every app user; a coordinator, for the app users whose areas lie inside
their districts (as Central's project managers manage their project's app users). Others get a
403; an app user outside the caller's reach is a 404, as an unknown id, so its existence is not
revealed. The answers carry the token, as Central's do, and no QR code: the admin page has that
(server/web/app_users_admin.py).

Form assignments and roles are in server/central/assignments.py and
server/central/role_list.py, registered from here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from server.app_state import db_session, state
from server.central import assignments, role_list
from server.central.auth import require_actor
from server.central.render import PROJECT_ID, actor_json, extended, iso, json_response, success
from server.central.sessions import json_body
from server.domain.problems import bad_request
from server.services.app_user_access import delete_app_user
from server.services.app_users import (
    AppUserEntry,
    create_app_user,
    find_app_user,
    list_app_users,
    require_manager,
)


def register(bp: Blueprint) -> None:
    bp.add_url_rule(
        "/projects/<int:project_id>/app-users", "app_users", list_users, methods=["GET"]
    )
    bp.add_url_rule(
        "/projects/<int:project_id>/app-users", "app_user_create", create_user, methods=["POST"]
    )
    bp.add_url_rule(
        "/projects/<int:project_id>/app-users/<int:user_id>",
        "app_user_delete",
        delete_user,
        methods=["DELETE"],
    )
    assignments.register(bp)
    role_list.register(bp)


def app_user_json(entry: AppUserEntry, extended_fields: bool = False) -> dict[str, Any]:
    user = entry.user
    body: dict[str, Any] = {
        "projectId": PROJECT_ID,
        **actor_json(user),
        "token": entry.token,
    }
    if extended_fields:
        body["createdBy"] = actor_json(entry.created_by) if entry.created_by else None
        # The last submission it sent: reading the form list is not recorded here.
        body["lastUsed"] = iso(entry.last_used)
    return body


def list_users() -> Response:
    actor = require_actor()
    wide = extended()
    entries = list_app_users(
        db_session(), actor, secret_key=state().settings.secret_key, with_usage=wide
    )
    return json_response([app_user_json(e, wide) for e in entries])


def _codes(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise bad_request(
            "central.unexpected_value",
            'The field "scopes" is a list of org-unit codes, e.g. ["D1"].',
            field="scopes",
        )
    return [c.strip() for c in value]


def _role(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise bad_request(
        "central.unexpected_value",
        'The field "role" is a role name, e.g. "enumerator".',
        field="role",
    )


def create_user() -> Response:
    actor = require_actor()
    require_manager(actor)
    body = json_body()
    session = db_session()
    settings = state().settings
    entry = create_app_user(
        session,
        actor,
        body.get("displayName"),  # type: ignore[arg-type]  # checked by the service
        secret_key=settings.secret_key,
        realm=settings.auth_realm,
        role=_role(body.get("role")),
        scope_codes=_codes(body.get("scopes")),
    )
    session.commit()
    return json_response(app_user_json(entry, extended()))


def delete_user(user_id: int) -> Response:
    actor = require_actor()
    session = db_session()
    delete_app_user(session, actor, find_app_user(session, actor, user_id))
    session.commit()
    return success()
