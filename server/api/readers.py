"""Who may read the API, and where.

Administrators read everything. Coordinators and sub-county staff read the org units inside
their scope (a unit and everything under it), never the aggregates of units above it: a
coordinator of one district does not see the region's total. Enumerators submit in Collect and
read nothing here.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.aggregation import reading
from server.auth.http import require_user
from server.domain.problems import forbidden, not_found
from server.domain.roles import READERS
from server.domain.scope import Scope
from server.models import User
from server.models.org import unit_by_code


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


def unit_in_scope(session: Session, code: str, scope: Scope) -> reading.Unit:
    """The org unit with this code; 404 when there is none, 403 when outside the scope."""
    unit = unit_by_code(session, code)
    if unit is None:
        raise not_found("api.unknown_org_unit", f"There is no org unit with code {code!r}.")
    if not scope.covers(unit.path):
        raise forbidden(
            "api.out_of_scope",
            f"Org unit {code!r} is outside the area you work in.",
            org_unit=code,
        )
    return reading.unit_of(unit)
