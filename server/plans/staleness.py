"""Marking district plans stale when their data changes.

Called by the aggregation code in the transaction that changed the aggregates, with the org units
whose aggregates changed; a plan is created on the first data of its district and cycle. The
worker regenerates stale plans a few seconds after their last change (server/plans/regenerate.py),
so a burst of submissions costs one regeneration, not one per submission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import OrgUnit
from server.models.org import OrgLevel
from server.models.plans import DmipPlan


def mark_stale(session: Session, changed: Iterable[tuple[int, str]]) -> int:
    """`changed`: (org unit id, cycle) pairs whose aggregates changed; the districts among
    them get their plan marked stale. Returns how many plans were marked."""
    pairs = set(changed)
    if not pairs:
        return 0
    districts = _districts(session, {unit for unit, _ in pairs})
    rows = sorted((unit, cycle) for unit, cycle in pairs if unit in districts)
    if not rows:
        return 0
    now = utcnow()
    values = [
        {
            "district_id": unit,
            "cycle": cycle,
            "stale": True,
            "data_changed_at": now,
            "created_at": now,
            "updated_at": now,
            "state": "draft",
        }
        for unit, cycle in rows
    ]
    insert = _UPSERT_PG if session.get_bind().dialect.name == "postgresql" else _UPSERT_SQLITE
    session.connection().execute(insert, values)
    return len(rows)


def _districts(session: Session, units: set[int]) -> set[int]:
    return set(
        session.scalars(
            select(OrgUnit.id).where(OrgUnit.id.in_(units), OrgUnit.level == OrgLevel.district)
        )
    )


def _upsert(insert: Any) -> Any:
    stmt = insert(DmipPlan)
    return stmt.on_conflict_do_update(
        index_elements=["district_id", "cycle"],
        set_={"stale": True, "data_changed_at": stmt.excluded.data_changed_at},
    )


_UPSERT_PG = _upsert(pg_insert)
_UPSERT_SQLITE = _upsert(sqlite_insert)
