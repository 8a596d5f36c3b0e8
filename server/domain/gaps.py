"""Gap analysis: an indicator's value against its standard, a severity comparable across
indicators, and a rank: the one verdict and the one ranking that the dashboard, the JSON API
and the draft DMIP all use.

The relative gap is the shortfall as a share of the standard: a pupil-teacher ratio of 80 against
a standard of 53 is (80 - 53) / 53 = 0.51; teacher presence of 60% against 90% is
(90 - 60) / 90 = 0.33. Dividing by the standard is what makes a ratio and a percentage
comparable. Severity levels come from thresholds on the relative gap (the catalog sets them per
indicator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from server.domain.catalog import Indicator
from server.domain.indicator_values import REASONS, Value, indicator_value, round_fraction
from server.domain.partials import Partial


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class Severity(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


DEFAULT_THRESHOLDS = (0.10, 0.25, 0.50)  # low, medium, high; at least twice "high" is critical
# Value and standard are compared at the precision of the stored aggregates (millionths), so a
# score of 6/9 meets a benchmark of 2/3 whatever the float rounding, and every reader of a
# value reaches the same verdict.
PLACES = 6


@dataclass(frozen=True)
class Gap:
    key: str
    value: float
    standard: float
    gap: float  # shortfall in the indicator's unit, 0 when the standard is met
    relative: float  # shortfall / standard
    severity: Severity
    reach: float = 0.0  # people affected, for ranking ties


def gap(
    key: str,
    value: float,
    standard: float,
    direction: Direction | str,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    reach: float = 0.0,
) -> Gap:
    value, standard = round(value, PLACES), round(standard, PLACES)
    if standard <= 0:
        raise ValueError(f"{key}: a standard must be positive to measure a gap, got {standard}")
    direction = Direction(direction)
    shortfall = standard - value if direction is Direction.higher_is_better else value - standard
    shortfall = max(0.0, shortfall)
    relative = shortfall / standard
    return Gap(key, value, standard, shortfall, relative, severity_of(relative, thresholds), reach)


def severity_of(relative: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> Severity:
    low, medium, high = thresholds
    if not low < medium < high:
        raise ValueError(f"severity thresholds must increase, got {tuple(thresholds)}")
    if relative <= 0:
        return Severity.none
    if relative >= 2 * high:
        return Severity.critical
    if relative >= high:
        return Severity.high
    if relative >= medium:
        return Severity.medium
    if relative >= low:
        return Severity.low
    return Severity.none


def rank(gaps: Sequence[Gap]) -> list[Gap]:
    """Largest relative gap first; more people affected breaks a tie; then the key, for a
    stable order."""
    return sorted(gaps, key=lambda g: (-g.relative, -g.reach, g.key))


# --- A unit's gap table ---------------------------------------------------------------------


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
