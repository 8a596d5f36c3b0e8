"""Who may read the API, and where.

Administrators read everything. Coordinators and sub-county staff read the org units inside
their scope (a unit and everything under it), never the aggregates of units above it: a
coordinator of one district does not see the region's total. Enumerators submit in Collect and
read nothing here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import reading
from server.auth.http import require_user
from server.models import OrgUnit, User
from server.models.users import Role
from server.problems import forbidden, not_found
from server.web.permissions import scope

READERS = {Role.admin, Role.coordinator, Role.subcounty_staff}


def api_user() -> User:
    """The signed-in reader of this request; 401 without credentials, 403 for enumerators."""
    user = require_user()
    if user.role not in READERS:
        raise forbidden(
            "api.role",
            "Enumerators send data from ODK Collect; reading indicators and data quality is for "
            "coordinators, sub-county staff and administrators.",
        )
    return user


def areas(user: User) -> list[str] | None:
    """The paths the user may read under (the web app's scope rule); None: everywhere."""
    where = scope(user)
    return None if where.everywhere else list(where.paths)


def unit_in_scope(session: Session, code: str, paths: list[str] | None) -> reading.Unit:
    """The org unit with this code; 404 when there is none, 403 when outside the scope."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise not_found("api.unknown_org_unit", f"There is no org unit with code {code!r}.")
    if paths is not None and not any(unit.path.startswith(p) for p in paths):
        raise forbidden(
            "api.out_of_scope",
            f"Org unit {code!r} is outside the area you work in.",
            org_unit=code,
        )
    return reading.unit_of(unit)


def scope_units(session: Session, paths: list[str] | None) -> list[reading.Unit]:
    """The top units of the user's scope (for an administrator, the roots of the hierarchy)."""
    query = select(OrgUnit).order_by(OrgUnit.id)
    if paths is None:
        query = query.where(OrgUnit.parent_id.is_(None))
    else:
        query = query.where(OrgUnit.path.in_(paths))
    units = [reading.unit_of(u) for u in session.scalars(query)]
    # A scope inside another scope adds nothing.
    return [u for u in units if not any(o.id != u.id and u.path.startswith(o.path) for o in units)]
