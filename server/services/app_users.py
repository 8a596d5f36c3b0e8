"""App users (ODK Central's "field keys"): a phone's identity, signed in by the token in its
Collect URL (/v1/key/<token>/projects/1/...), never by a password.

An app user is a `User` with `app_user` set, so it has a role and org-unit scopes like any
enumerator and everything that limits an enumerator limits it; its `AppUserKey` holds the
nonce its token is made from (server/auth/app_user_keys.py). As on Central, an app user fills
only the forms assigned to it (server/auth/form_access.py): a new one fills nothing until a
form is assigned.

Who manages them: an admin, every app user; a coordinator, the app users whose areas all lie
inside their own districts (they create them there, as Central's project managers do). Anyone
else may not; an app user outside the caller's reach is "not found", as an unknown id.

Defaults of a new app user: the enumerator role; the creator's own areas, or for an admin
(who has none) the register's root unit(s), so it may report for any place. Both can be
narrowed at creation (`role`, `scope_codes`).

Revoking and deleting them: server/services/app_user_access.py.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain.app_user_tokens import new_nonce, token_for, token_sha256
from server.domain.problems import bad_request, forbidden, not_found
from server.domain.roles import Role
from server.models import (
    AppUserKey,
    AuditEvent,
    OrgUnit,
    Submission,
    User,
    UserScope,
)
from server.models.org import unit_by_code
from server.services.users import set_password

# The roles an app user may have: what a phone does is fill forms, and an admin's rights in a
# URL would be anyone's who sees the QR code.
APP_USER_ROLES = (Role.enumerator, Role.subcounty_staff, Role.coordinator)
MAX_DISPLAY_NAME = 255
# "app-<n>-<slug>" stays within the 64 characters of a username.
_SLUG_LENGTH = 40
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class AppUserEntry:
    """An app user as the API and the admin page show it."""

    user: User
    # None once its access was revoked.
    token: str | None
    key_created_at: dt.datetime | None
    created_by: User | None
    # The last submission it sent, when asked for (`with_usage`).
    last_used: dt.datetime | None = None


def may_manage(actor: User) -> bool:
    """Whether `actor` may create, list and revoke app users at all."""
    return actor.active and not actor.app_user and actor.role in (Role.admin, Role.coordinator)


def require_manager(actor: User) -> None:
    if not may_manage(actor):
        raise forbidden(
            "app_user.forbidden",
            "Only an administrator, or a coordinator for their districts, manages app users.",
        )


def within_reach(actor: User, app_user: User) -> bool:
    """An admin reaches every app user; a coordinator those whose areas all lie inside theirs."""
    if actor.role is Role.admin:
        return True
    paths = [s.org_unit.path for s in app_user.scopes]
    return bool(paths) and all(actor.scope.covers(p) for p in paths)


def clean_display_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(
            "central.missing_parameter",
            f"Required parameters missing. Expected (displayName), got (displayName: {value!r}).",
            expected=["displayName"],
        )
    name = value.strip()
    if "\x00" in name:
        raise bad_request("app_user.bad_name", "The display name may not contain a NUL byte.")
    if len(name) > MAX_DISPLAY_NAME:
        raise bad_request(
            "app_user.bad_name",
            f"The display name is longer than {MAX_DISPLAY_NAME} characters.",
        )
    return name


def _slug(display_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    slug = _SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug[:_SLUG_LENGTH].strip("-") or "phone"


def _new_username(session: Session, display_name: str) -> str:
    count = session.scalar(select(func.count(User.id)).where(User.app_user.is_(True))) or 0
    slug = _slug(display_name)
    number = count + 1
    while True:
        username = f"app-{number}-{slug}"
        if session.scalar(select(User.id).where(User.username == username)) is None:
            return username
        number += 1


def _role(value: Role | str | None) -> Role:
    if value is None:
        return Role.enumerator
    try:
        role = Role(value)
    except ValueError:
        role = None
    if role not in APP_USER_ROLES:
        allowed = ", ".join(r.value for r in APP_USER_ROLES)
        raise bad_request(
            "app_user.bad_role",
            f"An app user's role is one of: {allowed}; not {value!r}.",
            role=str(value),
        )
    return role


def _scope_units(session: Session, actor: User, codes: list[str] | None) -> list[OrgUnit]:
    if codes is None:
        if actor.role is not Role.admin:
            return list(actor.scope_units)
        roots = list(
            session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id))
        )
        if not roots:
            raise bad_request(
                "app_user.no_org_units",
                "The register has no org units yet, so an app user could report for no place. "
                "Import the org units first.",
            )
        return roots
    if not codes:
        raise bad_request(
            "app_user.no_scopes", "An app user needs at least one area (an org unit code)."
        )
    units: list[OrgUnit] = []
    for code in codes:
        unit = unit_by_code(session, code) if "\x00" not in code and len(code) <= 64 else None
        if unit is None:
            raise bad_request(
                "app_user.unknown_org_unit",
                f"No org unit has the code {code[:64]!r}.",
                org_unit=code[:64],
            )
        if not actor.scope.covers(unit.path):
            raise forbidden(
                "app_user.out_of_scope",
                f"{unit.name} ({unit.code}) is outside your areas; an app user you create "
                "works inside them.",
                org_unit=unit.code,
            )
        if unit not in units:
            units.append(unit)
    return units


def create_app_user(
    session: Session,
    actor: User,
    display_name: str,
    *,
    secret_key: str,
    realm: str,
    role: Role | str | None = None,
    scope_codes: list[str] | None = None,
) -> AppUserEntry:
    """A new app user with its key; the caller commits."""
    require_manager(actor)
    name = clean_display_name(display_name)
    user = User(
        username=_new_username(session, name),
        display_name=name,
        role=_role(role),
        app_user=True,
        active=True,
    )
    # A random password no one ever learns: no Basic, Digest or web sign-in can work.
    set_password(user, secrets.token_urlsafe(48), realm)
    user.scopes = [UserScope(org_unit=u) for u in _scope_units(session, actor, scope_codes)]
    session.add(user)
    session.flush()
    nonce = new_nonce()
    token = token_for(secret_key, nonce)
    key = AppUserKey(
        user_id=user.id, nonce=nonce, token_sha256=token_sha256(token), created_by=actor.id
    )
    session.add(key)
    session.flush()
    audit(
        session,
        actor,
        "field_key.create",
        user,
        {"role": user.role.value, "scopes": [s.org_unit.code for s in user.scopes]},
    )
    return AppUserEntry(user, token, key.created_at, actor)


def list_app_users(
    session: Session, actor: User, *, secret_key: str, with_usage: bool = False
) -> list[AppUserEntry]:
    """The app users `actor` reaches that are not deleted: those with a key first, newest
    first, as Central lists them."""
    require_manager(actor)
    rows = session.execute(
        select(User, AppUserKey)
        .outerjoin(AppUserKey, AppUserKey.user_id == User.id)
        .where(User.app_user.is_(True), User.active.is_(True))
        .order_by(AppUserKey.user_id.is_(None), User.id.desc())
    ).all()
    users = [(u, k) for u, k in rows if within_reach(actor, u)]
    creators = _users(session, {k.created_by for _, k in users if k and k.created_by})
    last_used: dict[int, dt.datetime] = {}
    if with_usage and users:
        last_used = dict(
            session.execute(
                select(Submission.submitter_id, func.max(Submission.received_at))
                .where(Submission.submitter_id.in_([u.id for u, _ in users]))
                .group_by(Submission.submitter_id)
            ).all()
        )
    return [
        AppUserEntry(
            user,
            token_for(secret_key, key.nonce) if key is not None else None,
            key.created_at if key is not None else None,
            creators.get(key.created_by) if key is not None and key.created_by else None,
            last_used.get(user.id),
        )
        for user, key in users
    ]


def _users(session: Session, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


def find_app_user(session: Session, actor: User, user_id: int) -> User:
    """The (not deleted) app user of this id within `actor`'s reach, or a 404."""
    require_manager(actor)
    user = session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None or not user.app_user or not user.active or not within_reach(actor, user):
        raise not_found("app_user.not_found", "Could not find the resource you were looking for.")
    return user


def audit(
    session: Session, actor: User, action: str, app_user: User, details: dict[str, object]
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor.id,
            action=action,
            target_type="field_key",
            target_id=app_user.username,
            details={"id": app_user.id, "displayName": app_user.display_name, **details},
        )
    )
    session.flush()
