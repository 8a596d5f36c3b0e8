"""Gap analysis: an indicator's value against its standard, a severity comparable across
indicators, and a rank.

The relative gap is the shortfall as a share of the standard: a pupil-teacher ratio of 80 against
a standard of 53 is (80 - 53) / 53 = 0.51; teacher presence of 60% against 90% is
(90 - 60) / 90 = 0.33. Dividing by the standard is what makes a ratio and a percentage
comparable. Severity levels come from thresholds on the relative gap (the catalog sets them per
indicator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


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
