"""The data-quality screens as plain functions: rows in, flags out.

Kinds of flag:
- incomplete: fewer submissions than expected for a form and org unit;
- duplicate: more than the exact number expected (two district profiles for one cycle);
- late: received after the cycle's data-collection deadline (the first version of an edited
  submission decides: correcting data later is not lateness);
- outlier: a sub-county's value against the other sub-counties of its district, or a district's
  against the other districts, with |modified z-score| > 3.5;
- impossible: one submission's numerator above its denominator in a proportion, a negative
  numerator or denominator, or a value above the indicator's plausible maximum;
- failed: a submission the worker could not process, with its reason.

Nothing here imports Flask, SQLAlchemy or Celery.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import median
from typing import Any

from server.domain.indicator_values import contribution_value, round_fraction
from server.domain.outliers import THRESHOLD, modified_z_scores
from server.domain.partials import SCALE
from server.domain.quality.expectations import Expectation

KINDS = ("incomplete", "duplicate", "late", "outlier", "impossible", "failed")

# Uganda keeps East Africa Time all year (UTC+3, no daylight saving): a deadline day ends at
# midnight there.
UGANDA = dt.timezone(dt.timedelta(hours=3), "EAT")


@dataclass(frozen=True)
class Flag:
    kind: str
    org_unit_id: int | None
    cycle: str | None
    message: str
    submission_ids: tuple[int, ...] = ()
    form_id: str | None = None
    indicator_id: str | None = None
    rule: str = ""  # which check of its kind: "count", "negative", "above_max", ...
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, str, str, str, int]:
        """Unique per flag and stable while the data stands: the order pages follow."""
        return (
            self.kind,
            self.org_unit_id or 0,
            self.form_id or "",
            self.indicator_id or "",
            self.rule,
            self.submission_ids[0] if self.submission_ids else 0,
        )


# --- Completeness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRef:
    id: int
    path: str
    level: str


@dataclass(frozen=True)
class CompletenessRow:
    form_id: str
    org_unit_id: int
    rule: str  # count, at_least, from_profile
    located: str
    expected: int | None  # None: unknown (no district profile to count from)
    received: int
    submission_ids: tuple[int, ...]
    failed_ids: tuple[int, ...] = ()

    @property
    def status(self) -> str:
        if self.expected is None:
            return "unknown"
        if self.received < self.expected:
            return "incomplete"
        if self.rule == "count" and self.received > self.expected:
            return "duplicate"
        return "complete"


def _rule(expectation: Expectation) -> str:
    if expectation.count is not None:
        return "count"
    if expectation.at_least is not None:
        return "at_least"
    return "from_profile"


def _owners(path: str, units: Mapping[str, UnitRef], located: str) -> Iterable[UnitRef]:
    """The units among `units` (by path) that a submission located at `path` counts for."""
    if located == "at":
        unit = units.get(path)
        return [unit] if unit is not None else []
    codes = [c for c in path.strip("/").split("/") if c]
    prefixes = ("/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes)))
    return [units[p] for p in prefixes if p in units]


def completeness(
    expectation: Expectation,
    units: Sequence[UnitRef],
    received: Sequence[tuple[int, str]],
    failed: Sequence[tuple[int, str]] = (),
    profile_counts: Mapping[int, int | None] | None = None,
) -> list[CompletenessRow]:
    """One row per unit at the expectation's level. `received`: (submission id, org unit path)
    of the counted submissions of the form; `failed`: the same for failed ones;
    `profile_counts`: the expected count per district for `from_profile` expectations."""
    at_level = {u.path: u for u in units if u.level == expectation.level}
    got: dict[int, list[int]] = defaultdict(list)
    lost: dict[int, list[int]] = defaultdict(list)
    for target, rows in ((got, received), (lost, failed)):
        for sid, path in rows:
            for unit in _owners(path, at_level, expectation.located):
                target[unit.id].append(sid)
    rule = _rule(expectation)
    out = []
    for unit in sorted(at_level.values(), key=lambda u: u.id):
        if rule == "from_profile":
            expected = (profile_counts or {}).get(unit.id)
        else:
            expected = expectation.count or expectation.at_least
        ids = tuple(sorted(got[unit.id]))
        out.append(
            CompletenessRow(
                expectation.form,
                unit.id,
                rule,
                expectation.located,
                expected,
                len(ids),
                ids,
                tuple(sorted(lost[unit.id])),
            )
        )
    return out


def completeness_flags(rows: Iterable[CompletenessRow], cycle: str) -> list[Flag]:
    flags = []
    for row in rows:
        status = row.status
        if status == "incomplete":
            message = f"{row.received} of {row.expected} expected {row.form_id} submissions."
        elif status == "duplicate":
            message = (
                f"{row.received} {row.form_id} submissions where exactly {row.expected} "
                "is expected: keep one and reject the others."
            )
        else:
            continue
        flags.append(
            Flag(
                status,
                row.org_unit_id,
                cycle,
                message,
                row.submission_ids,
                form_id=row.form_id,
                rule=row.rule,
                details={
                    "expected": row.expected,
                    "received": row.received,
                    "failed": len(row.failed_ids),
                    "located": row.located,
                },
            )
        )
    return flags


def profile_count(answers: Mapping[str, Any], questions: Sequence[str]) -> int | None:
    """The sum of these answers of a district profile; None when none is answered."""
    numbers = [answers.get(q) for q in questions]
    known = [n for n in numbers if isinstance(n, int | float) and not isinstance(n, bool)]
    return int(sum(known)) if known else None


# --- Timeliness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    submission_id: int
    org_unit_id: int
    form_id: str
    cycle: str
    first_received_at: dt.datetime  # of the first version, for an edited submission


def late_flags(rows: Iterable[Received], deadline: Callable[[str], dt.date]) -> list[Flag]:
    flags = []
    for row in rows:
        due = deadline(row.cycle)
        day = row.first_received_at.astimezone(UGANDA).date()
        if day <= due:
            continue
        days = (day - due).days
        flags.append(
            Flag(
                "late",
                row.org_unit_id,
                row.cycle,
                f"Received {day.isoformat()}, {days} day{'s' if days != 1 else ''} after the "
                f"deadline of {due.isoformat()}.",
                (row.submission_id,),
                form_id=row.form_id,
                rule="after_deadline",
                details={"received": day.isoformat(), "deadline": due.isoformat(), "days": days},
            )
        )
    return flags


# --- Outliers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerValue:
    indicator_id: str
    org_unit_id: int
    group: tuple[str, int]  # (level, parent id) for sub-counties; (level, 0) for districts
    value: Fraction


@dataclass(frozen=True)
class Outlier:
    indicator_id: str
    org_unit_id: int
    value: Fraction
    score: float
    median: float
    peers: int


def outliers(values: Iterable[PeerValue], threshold: float = THRESHOLD) -> list[Outlier]:
    """Each value scored among its group (same indicator and group); |score| > threshold."""
    groups: dict[tuple[str, tuple[str, int]], list[PeerValue]] = defaultdict(list)
    for v in values:
        groups[(v.indicator_id, v.group)].append(v)
    found = []
    for (_indicator, _group), members in sorted(groups.items()):
        scores = modified_z_scores({str(m.org_unit_id): float(m.value) for m in members})
        med = median(float(m.value) for m in members)
        for m in members:
            score = scores[str(m.org_unit_id)]
            if score is not None and abs(score) > threshold:
                found.append(
                    Outlier(m.indicator_id, m.org_unit_id, m.value, score, med, len(members))
                )
    return sorted(found, key=lambda o: (o.indicator_id, o.org_unit_id))


def outlier_flag(outlier: Outlier, cycle: str, submission_ids: Sequence[int]) -> Flag:
    value = float(round_fraction(outlier.value, 2))
    direction = "above" if outlier.score > 0 else "below"
    return Flag(
        "outlier",
        outlier.org_unit_id,
        cycle,
        f"{outlier.indicator_id} = {value:g} is far {direction} its {outlier.peers - 1} peers "
        f"(median {outlier.median:.4g}, modified z-score {outlier.score:.2f}).",
        tuple(sorted(submission_ids)),
        indicator_id=outlier.indicator_id,
        rule="modified_z",
        details={
            "value": value,
            "median": outlier.median,
            "score": round(outlier.score, 3),
            "peers": outlier.peers,
        },
    )


# --- Impossible values -------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorShape:
    id: str
    form: str
    aggregation: str
    multiplier: int
    has_denominator: bool
    plausible_max: float | None = None


@dataclass(frozen=True)
class Screened:
    """One submission's contribution to one indicator (millionths, as the query gives)."""

    submission_id: int
    org_unit_id: int
    cycle: str
    indicator_id: str
    value: int | None
    numerator: int | None
    denominator: int | None


def impossible_flags(rows: Iterable[Screened], shapes: Mapping[str, IndicatorShape]) -> list[Flag]:
    flags = []
    limits = {i: value_limit(shape) for i, shape in shapes.items()}
    for row in rows:
        shape = shapes.get(row.indicator_id)
        if shape is None or not may_be_impossible(row, shape, limits[row.indicator_id]):
            continue
        found: list[tuple[str, str, dict[str, Any]]] = []
        num = None if row.numerator is None else Fraction(row.numerator, SCALE)
        den = None if row.denominator is None else Fraction(row.denominator, SCALE)
        if (num is not None and num < 0) or (den is not None and den < 0):
            found.append(
                (
                    "negative",
                    "A negative numerator or denominator: counts and amounts cannot be below zero.",
                    {"numerator": _num(num), "denominator": _num(den)},
                )
            )
        if shape.aggregation == "proportion" and num is not None and den is not None and num > den:
            found.append(
                (
                    "numerator_above_denominator",
                    f"{_num(num):g} counted out of {_num(den):g}: a part cannot exceed its whole.",
                    {"numerator": _num(num), "denominator": _num(den)},
                )
            )
        own = contribution_value(
            row.value, shape.aggregation, shape.multiplier, has_denominator=shape.has_denominator
        )
        if shape.plausible_max is not None and own is not None and own > shape.plausible_max:
            found.append(
                (
                    "above_max",
                    f"Value {_num(own):g} is above the plausible maximum of "
                    f"{shape.plausible_max:g}.",
                    {"value": _num(own), "max": shape.plausible_max},
                )
            )
        flags.extend(
            Flag(
                "impossible",
                row.org_unit_id,
                row.cycle,
                message,
                (row.submission_id,),
                form_id=shape.form,
                indicator_id=row.indicator_id,
                rule=rule,
                details=details,
            )
            for rule, message, details in found
        )
    return flags


def value_limit(shape: IndicatorShape) -> int | None:
    """The largest stored value (millionths) whose own value is within the plausible maximum:
    `v > limit` exactly when the value is above it. None when there is no maximum."""
    if shape.plausible_max is None:
        return None
    ratio = contribution_value(
        SCALE, shape.aggregation, shape.multiplier, has_denominator=shape.has_denominator
    )
    assert ratio is not None
    # own value = v / SCALE * ratio; own > max  <=>  v > max * SCALE / ratio (ratio > 0).
    return math.floor(Fraction(shape.plausible_max) * SCALE / ratio) if ratio > 0 else None


def may_be_impossible(row: Screened, shape: IndicatorShape, limit: int | None) -> bool:
    """A cheap integer test on the stored millionths, true for every row the full screen
    flags (tests/domain/test_quality_checks.py checks the equivalence): a district's screen reads
    tens of thousands of rows, almost all of them plausible."""
    num, den, value = row.numerator, row.denominator, row.value
    if (num is not None and num < 0) or (den is not None and den < 0):
        return True
    if shape.aggregation == "proportion" and num is not None and den is not None and num > den:
        return True
    if shape.plausible_max is None or value is None:
        return False
    return limit is None or value > limit


def _num(value: Fraction | None) -> float | None:
    return None if value is None else float(round_fraction(value, 4))


# --- Failed submissions ------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedRow:
    submission_id: int
    org_unit_id: int | None
    form_id: str
    cycle: str | None
    reason: str | None


def failed_flags(rows: Iterable[FailedRow]) -> list[Flag]:
    return [
        Flag(
            "failed",
            row.org_unit_id,
            row.cycle,
            f"Could not be processed: {row.reason or 'no reason recorded'}",
            (row.submission_id,),
            form_id=row.form_id,
            rule="processing",
            details={"reason": row.reason},
        )
        for row in rows
    ]
