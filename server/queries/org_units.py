"""The org units a user's scope shows: all of them by level (the districts a coordinator may
pick from), and the top ones (where a dashboard or a report starts)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import reading
from server.domain.scope import Scope
from server.models import OrgUnit
from server.models.org import OrgLevel, in_scope


def visible_units(session: Session, scope: Scope, level: OrgLevel | None = None) -> list[OrgUnit]:
    """The org units inside the scope (of one level), ordered by name."""
    query = select(OrgUnit).where(in_scope(scope)).order_by(OrgUnit.name)
    if level is not None:
        query = query.where(OrgUnit.level == level)
    return list(session.scalars(query))


def scope_tops(session: Session, scope: Scope) -> list[reading.Unit]:
    """The top units of the scope (for an administrator, the roots of the hierarchy)."""
    query = select(OrgUnit).order_by(OrgUnit.id)
    if scope.everywhere:
        query = query.where(OrgUnit.parent_id.is_(None))
    else:
        query = query.where(OrgUnit.path.in_(scope.tops))
    return [reading.unit_of(u) for u in session.scalars(query)]
