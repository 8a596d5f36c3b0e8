"""Our roles in Central's terms: what X-Extended-Metadata's `verbs` lists for a caller.

Central's roles are per project (administrator, project manager, data collector, ...); ours are
per server with an org-unit scope, so each of ours maps to the Central role it works like:

    admin            Central administrator     everything
    coordinator      project manager           forms read, submissions read and reviewed,
                                               app users of their districts
    subcounty_staff  data collector + viewer   forms read, submissions created and read
    enumerator       data collector            forms read, submissions created

The verbs only describe; every route checks the role and scope itself.
"""

from __future__ import annotations

from server.domain.roles import Role

_COLLECT = ["project.read", "form.list", "form.read", "submission.create"]
_READ = ["submission.read", "submission.list"]
_REVIEW = ["submission.update", "submission.comment"]
# App users and their form assignments: an admin's, and a coordinator's for their districts
# (server/central/app_users.py).
_APP_USERS = [
    "field_key.create",
    "field_key.list",
    "field_key.delete",
    "assignment.create",
    "assignment.delete",
    "assignment.list",
    "session.end",
]
_ADMIN = [
    "project.update",
    "form.create",
    "form.update",
    "form.delete",
    "audit.read",
    "user.read",
]

VERBS: dict[Role, list[str]] = {
    Role.admin: _COLLECT + _READ + _REVIEW + _APP_USERS + _ADMIN,
    Role.coordinator: _COLLECT + _READ + _REVIEW + _APP_USERS,
    Role.subcounty_staff: _COLLECT + _READ,
    Role.enumerator: _COLLECT,
}


def verbs_for(role: Role) -> list[str]:
    return list(VERBS[role])
