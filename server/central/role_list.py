"""Central's roles, as GET /v1/roles lists them (no sign-in needed, as on Central).

    GET /v1/roles            every role
    GET /v1/roles/<id>       one, by number or by system name ("app-user")

Central's roles are per project; ours are per server with an org-unit scope
(server/central/roles.py maps them). The list holds the Central roles that mean something
here: `admin` (1) and `app-user` (2) have those numbers on every Central server, and pyodk
relies on 2; `manager`, `viewer` and `formfill` carry the numbers Central's migrations give
them in order, which a given Central may not share, so look them up by system name, as
Central's documentation advises. Only `app-user` can be assigned to a form here
(server/central/assignments.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response

from server.central.render import json_response
from server.central.roles import verbs_for
from server.domain.problems import Problem
from server.domain.roles import Role

# When the roles came to be here: they are built in, as on Central.
ROLES_CREATED_AT = "2025-07-01T00:00:00.000Z"
APP_USER_ROLE_ID = 2


@dataclass(frozen=True)
class CentralRole:
    id: int
    name: str
    system: str
    verbs: tuple[str, ...]


ROLES = (
    CentralRole(1, "Administrator", "admin", tuple(verbs_for(Role.admin))),
    CentralRole(APP_USER_ROLE_ID, "App User", "app-user", ("form.read", "submission.create")),
    CentralRole(5, "Project Manager", "manager", tuple(verbs_for(Role.coordinator))),
    CentralRole(6, "Project Viewer", "viewer", tuple(verbs_for(Role.subcounty_staff))),
    CentralRole(8, "Data Collector", "formfill", tuple(verbs_for(Role.enumerator))),
)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/roles", "roles", list_roles, methods=["GET"])
    bp.add_url_rule("/roles/<role>", "role", get_role, methods=["GET"])


def find_role(param: str) -> CentralRole:
    """A role by its number or system name (Central reads a name when the text has a
    lower-case letter), or a 404."""
    for role in ROLES:
        if param == role.system or (param.isascii() and param.isdigit() and int(param) == role.id):
            return role
    raise Problem(404, "central.not_found", "Could not find the resource you were looking for.")


def role_json(role: CentralRole) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "system": role.system,
        "createdAt": ROLES_CREATED_AT,
        "updatedAt": None,
        "verbs": list(role.verbs),
    }


def list_roles() -> Response:
    return json_response([role_json(r) for r in ROLES])


def get_role(role: str) -> Response:
    return json_response(role_json(find_role(role)))
