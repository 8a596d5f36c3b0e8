"""Who may see which web page, and which places they may see on it.

Every web route uses these; pages added later (submissions, indicators, DMIP drafts) should too:

    from server.web.permissions import current_user, login_required, roles_required, scope

    @bp.get("/districts/<code>")
    @roles_required(Role.admin, Role.coordinator)     # implies login_required
    def district(code: str):
        unit = get_unit_or_404(code)
        require_in_scope(unit)                         # 403 outside the user's areas
        ...

    @bp.get("/submissions")
    @login_required
    def submissions():
        rows = db_session().scalars(
            select(Submission).join(OrgUnit).where(scope(current_user()).clause(OrgUnit.path))
        )

- `login_required`: anonymous visitors are sent to the sign-in page (GET) or refused with 401
  (other methods), never shown the page.
- `roles_required(*roles)`: signed in and one of the roles, else 403.
- `scope(user)`: a `Scope` saying where the user works. Admins see everything
  (`Scope.everywhere`); everyone else sees the org units they are scoped to and everything under
  them, matched by path prefix, so a coordinator of two districts sees both districts and their
  sub-counties and parishes, and a sub-county officer sees only that sub-county.
  `Scope.clause(OrgUnit.path)` filters any query joined to org units; `Scope.units(session,
  level)` lists the visible units of one level (the districts a coordinator may pick from);
  `Scope.contains(unit)` checks one unit.
- `require_in_scope(unit)` aborts with 403 for a unit outside the current user's scope.

The signed-in user comes from Flask's signed session cookie (see server/web/sessions.py): a
session dies when its user's credentials_version changes (password reset, deactivation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, redirect, request, url_for
from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from server.models import OrgUnit, User
from server.models.org import OrgLevel
from server.models.users import Role
from server.web.sessions import current_user

__all__ = [
    "Scope",
    "current_user",
    "login_required",
    "require_in_scope",
    "require_user",
    "roles_required",
    "scope",
]

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Scope:
    """The org-unit paths a user may see; `everywhere` for admins."""

    everywhere: bool
    paths: tuple[str, ...] = ()

    def contains(self, unit: OrgUnit) -> bool:
        return self.everywhere or any(unit.path.startswith(p) for p in self.paths)

    def clause(self, path_column: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose org-unit path lies inside the scope."""
        if self.everywhere:
            return true()
        if not self.paths:
            return false()
        return or_(*(path_column.startswith(p, autoescape=True) for p in self.paths))

    def units(self, session: Session, level: OrgLevel | None = None) -> list[OrgUnit]:
        """The visible org units (of one level), ordered by name."""
        query = select(OrgUnit).where(self.clause(OrgUnit.path)).order_by(OrgUnit.name)
        if level is not None:
            query = query.where(OrgUnit.level == level)
        return list(session.scalars(query))


def scope(user: User) -> Scope:
    if user.role is Role.admin:
        return Scope(everywhere=True)
    return Scope(everywhere=False, paths=tuple(sorted(s.org_unit.path for s in user.scopes)))


def require_user() -> User:
    """The signed-in user; for code that runs under `login_required`."""
    user = current_user()
    if user is None:
        abort(401)
    return user


def login_required(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        return view(*args, **kwargs)

    return cast(View, wrapper)


def roles_required(*roles: Role) -> Callable[[View], View]:
    allowed: Sequence[Role] = roles

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is not None and user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return login_required(cast(View, wrapper))

    return decorate


def require_in_scope(unit: OrgUnit) -> None:
    if not scope(require_user()).contains(unit):
        abort(403)
