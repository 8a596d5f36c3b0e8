"""Gap analysis for a district or sub-county and a cycle: each indicator's stored value against
its national standard, the gap in the indicator's unit, the relative gap (the shortfall as a
share of the standard, which makes a ratio and a percentage comparable), the severity from the
indicator's thresholds on the relative gap, and a rank within the unit (largest relative gap
first; workers/aggregate/gaps.py has the arithmetic).

Indicators with a stored aggregate at the unit are listed; those without a standard say so
("no national standard configured") and are not ranked, nor are values that cannot be computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy.orm import Session

from server.aggregation import reading
from server.catalog import Indicator
from workers.aggregate.gaps import Gap, gap, rank
from workers.aggregate.partials import Partial
from workers.aggregate.values import REASONS, Value, indicator_value, round_fraction

NO_STANDARD = "no national standard configured"


@dataclass(frozen=True)
class GapRow:
    indicator_id: str
    name: str
    sector: str
    unit: str
    direction: str
    status: str  # gap, met, no_standard, no_value
    value: float | None
    standard: float | None
    gap: float | None
    relative_gap: float | None
    severity: str | None
    rank: int | None
    n: int
    note: str = ""


def value_of(indicator: Indicator, partial: Partial) -> Value:
    return indicator_value(
        partial,
        indicator.aggregation,
        indicator.multiplier,
        has_denominator=indicator.formula.denominator is not None,
        unit=indicator.unit,
    )


def gap_table(partials: Mapping[str, Partial], indicators: Mapping[str, Indicator]) -> list[GapRow]:
    """The gap analysis of one unit from its stored partials: ranked rows first, then the
    unranked ones by indicator id."""
    unranked: list[GapRow] = []
    measured: list[Gap] = []
    values: dict[str, Value] = {}
    for indicator_id in sorted(partials):
        indicator = indicators.get(indicator_id)
        if indicator is None:
            continue  # no longer in the catalog
        value = values[indicator_id] = value_of(indicator, partials[indicator_id])
        standard = indicator.standard.value
        if value.exact is not None and standard is not None:
            measured.append(
                gap(
                    indicator_id,
                    float(value.exact),
                    standard,
                    indicator.direction,
                    indicator.severity,
                )
            )
            continue
        if value.exact is None:
            note = REASONS[value.reason or "no_data"]
            if standard is None:
                note = f"{note} ({NO_STANDARD})"
            status = "no_value"
        else:
            note, status = NO_STANDARD, "no_standard"
        unranked.append(_row(indicator, value, partials[indicator_id].n, status, note=note))
    ranked = [
        _row(
            indicators[g.key],
            values[g.key],
            partials[g.key].n,
            "gap" if g.gap > 0 else "met",
            measured=g,
            rank=position,
        )
        for position, g in enumerate(rank(measured), start=1)
    ]
    return ranked + unranked


def _row(
    indicator: Indicator,
    value: Value,
    n: int,
    status: str,
    *,
    measured: Gap | None = None,
    rank: int | None = None,
    note: str = "",
) -> GapRow:
    return GapRow(
        indicator_id=indicator.id,
        name=indicator.name,
        sector=indicator.sector,
        unit=indicator.unit,
        direction=indicator.direction,
        status=status,
        value=value.as_float(),
        standard=indicator.standard.value,
        gap=None if measured is None else _rounded(measured.gap, value.places),
        relative_gap=None if measured is None else _rounded(measured.relative, 4),
        severity=None if measured is None else str(measured.severity),
        rank=rank,
        n=n,
        note=note,
    )


def _rounded(value: float, places: int) -> float:
    return float(round_fraction(Fraction(value), places))


def gap_analysis(
    session: Session, units: Sequence[reading.Unit], cycle: str, indicators: Mapping[str, Indicator]
) -> dict[int, list[GapRow]]:
    """Gap tables for these units in one cycle, from one read of their aggregates."""
    stored = reading.values_by_unit(session, [u.id for u in units], cycle)
    return {u.id: gap_table(stored[u.id], indicators) for u in units}
