"""A per-process snapshot of what the submission receiver needs to know about a user.

Loading the user, their areas and their form assignments costs three queries per request; at
hundreds of submissions a second that is most of the receiver's work, for an answer that
changes a few times a year. A `Principal` holds those facts and a `TtlCache` keeps it
for a few seconds (the same 5 s as the form cache).

What may not lag is the credentials: a changed password or a deactivation must refuse the very
next submission. The snapshot therefore carries `credentials_version`, and the receiver's
INSERT only succeeds while the user row still has that version and is active (see
`server.services.ingest`); when it does not, the receiver drops the snapshot and starts over
from the database. Areas and assignments may lag by the TTL: an admin narrowing someone's
area takes effect within seconds in every web process, with no cross-process signal needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.cache import TtlCache
from server.domain.roles import Role
from server.domain.scope import Scope
from server.models import FormAssignment, OrgUnit, User, UserScope

DEFAULT_TTL = 5.0


@dataclass(frozen=True)
class Principal:
    """The user facts authentication and the access rules read (a User row has them all but
    `scope_paths` and `assigned_form_ids`)."""

    id: int
    username: str
    role: Role
    active: bool
    credentials_version: int
    password_hash: str
    digest_ha1: str
    # Materialised paths of the user's areas: a place is in scope when its path starts with one.
    scope_paths: tuple[str, ...]
    # The forms the user is limited to, or None when no assignment limits them (an app user
    # is always limited: server/auth/form_access.py `assigned_form_ids`).
    assigned_form_ids: frozenset[int] | None

    @property
    def scope(self) -> Scope:
        return Scope.of(self.role, self.scope_paths)


def load_principal(session: Session, username: str) -> Principal | None:
    user = session.execute(
        select(
            User.id,
            User.role,
            User.active,
            User.credentials_version,
            User.password_hash,
            User.digest_ha1,
            User.app_user,
        ).where(User.username == username)
    ).first()
    if user is None:
        return None
    user_id, role, active, credentials_version, password_hash, digest_ha1, app_user = user
    paths = session.scalars(
        select(OrgUnit.path)
        .join(UserScope, UserScope.org_unit_id == OrgUnit.id)
        .where(UserScope.user_id == user_id)
    )
    assigned: frozenset[int] | None = None
    if app_user or role is Role.enumerator:
        rows = session.scalars(
            select(FormAssignment.form_id).where(FormAssignment.user_id == user_id)
        )
        assigned = limited_to(app_user, rows)
    return Principal(
        id=user_id,
        username=username,
        role=role,
        active=active,
        credentials_version=credentials_version,
        password_hash=password_hash,
        digest_ha1=digest_ha1,
        scope_paths=tuple(paths),
        assigned_form_ids=assigned,
    )


def limited_to(app_user: bool, assigned: Iterable[int]) -> frozenset[int] | None:
    """Form assignments as a limit: an app user's always (none assigned: no form, as on ODK
    Central); anyone else's only when there is an assignment."""
    ids = frozenset(assigned)
    return ids if app_user or ids else None


def principal_cache(ttl: float = DEFAULT_TTL) -> TtlCache[str, Principal]:
    """A cache of principals by username."""
    return TtlCache(ttl)
