"""Gap analysis read from the stored aggregates: each unit's gap table
(server/domain/gaps.py `gap_table`) from one read of its values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from server.aggregation import reading
from server.domain.catalog import Indicator
from server.domain.gaps import GapRow, gap_table


def gap_analysis(
    session: Session, units: Sequence[reading.Unit], cycle: str, indicators: Mapping[str, Indicator]
) -> dict[int, list[GapRow]]:
    """Gap tables for these units in one cycle, from one read of their aggregates."""
    stored = reading.values_by_unit(session, [u.id for u in units], cycle)
    return {u.id: gap_table(stored[u.id], indicators) for u in units}
