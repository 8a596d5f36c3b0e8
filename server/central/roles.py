"""Our roles in Central's terms: what X-Extended-Metadata's `verbs` lists for a caller.

Central's roles are per project (administrator, project manager, data collector, ...); ours are
per server with an org-unit scope, so each of ours maps to the Central role it works like:

    admin            Central administrator     everything
    coordinator      project manager           forms read, submissions read and reviewed
    subcounty_staff  data collector + viewer   forms read, submissions created and read
    enumerator       data collector            forms read, submissions created

The verbs only describe; every route checks the role and scope itself.
"""

from __future__ import annotations

from server.domain.roles import Role

_COLLECT = ["project.read", "form.list", "form.read", "submission.create"]
_READ = ["submission.read", "submission.list"]
_REVIEW = ["submission.update", "submission.comment"]
_ADMIN = [
    "project.update",
    "form.create",
    "form.update",
    "form.delete",
    "field_key.create",
    "field_key.list",
    "field_key.delete",
    "assignment.create",
    "assignment.delete",
    "assignment.list",
    "audit.read",
    "user.read",
]

VERBS: dict[Role, list[str]] = {
    Role.admin: _COLLECT + _READ + _REVIEW + _ADMIN,
    Role.coordinator: _COLLECT + _READ + _REVIEW,
    Role.subcounty_staff: _COLLECT + _READ,
    Role.enumerator: _COLLECT,
}


def verbs_for(role: Role) -> list[str]:
    return list(VERBS[role])
