"""Who may see which web page, and which places they may see on it.

Every web route uses these:

    from server.web.permissions import login_required, require_in_scope, roles_required

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
            select(Submission).join(OrgUnit).where(in_scope(require_user().scope))
        )

- `login_required`: anonymous visitors are sent to the sign-in page (GET) or refused with 401
  (other methods), never shown the page.
- `roles_required(*roles)`: signed in and one of the roles, else 403.
- `require_in_scope(unit)` aborts with 403 for a unit outside the current user's scope.

Where a user works is `user.scope` (server/domain/scope.py); its SQL form is
server/models/org.py `in_scope`, and the units it shows are server/queries/org_units.py.

The signed-in user comes from Flask's signed session cookie (see server/web/sessions.py): a
session dies when its user's credentials_version changes (password reset, deactivation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, redirect, request, url_for

from server.domain.roles import Role
from server.models import OrgUnit, User
from server.web.sessions import current_user

__all__ = [
    "current_user",
    "login_required",
    "require_in_scope",
    "require_user",
    "roles_required",
]

View = TypeVar("View", bound=Callable[..., Any])


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
    if not require_user().scope.covers(unit.path):
        abort(403)
