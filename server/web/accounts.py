"""Account changes an admin makes from the web: scopes, activation. Plain functions on a
session; the caller commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.roles import Role
from server.models import AuditEvent, OrgUnit, User, UserScope
from server.services.users import UserError


def parse_codes(text: str) -> list[str]:
    """Org-unit codes typed as a list separated by commas, spaces or new lines."""
    codes = [c.strip().upper() for c in text.replace(",", " ").split()]
    return list(dict.fromkeys(c for c in codes if c))


def set_scopes(session: Session, user: User, codes: list[str], actor: User | None) -> None:
    units = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}
    unknown = [c for c in codes if c not in units]
    if unknown:
        raise UserError(f"No org unit has the code {', '.join(unknown)}.")
    if user.role is not Role.admin and not codes:
        raise UserError(f"A {user.role.value} needs at least one area (an org unit code).")
    user.scopes = [UserScope(org_unit=units[c]) for c in codes]
    _audit(session, actor, "user.scopes", user, {"scopes": codes})


def set_active(session: Session, user: User, active: bool, actor: User | None) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise UserError("You cannot deactivate your own account.")
    user.active = active
    # Ends the user's web sessions and cached Collect credentials at once.
    user.credentials_version += 1
    _audit(session, actor, "user.activate" if active else "user.deactivate", user, {})


def _audit(
    session: Session, actor: User | None, action: str, user: User, details: dict[str, object]
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor.id if actor else None,
            action=action,
            target_type="user",
            target_id=user.username,
            details=details,
        )
    )
    session.flush()


def audit_password_reset(session: Session, user: User, actor: User | None) -> None:
    _audit(session, actor, "user.password_reset", user, {})
