"""Plan arithmetic: gaps per org unit, priorities, quantities, target paths and costs.

Costs are whole shillings throughout. Splitting an amount by percentages (funding sources) or a
quantity by phasing uses the largest-remainder method, so the parts always add up to the whole:
totals by year, by source and overall reconcile exactly, with no float sums anywhere."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from server.domain.drafting.facts import DistrictFacts, IndicatorInfo, IndicatorValue
from server.domain.drafting.interventions import Intervention, Library
from server.domain.expressions import as_number, evaluate
from server.domain.gaps import Direction, Gap, Severity, gap

UP = Direction.higher_is_better  # every management function: a higher score is better

SEVERITY_POINTS = {
    Severity.none: 0,
    Severity.low: 1,
    Severity.medium: 2,
    Severity.high: 3,
    Severity.critical: 4,
}
WORKSHOP_POINTS = {1: 3, 2: 2, 3: 1}  # the workshop's first three choices
REACH_POINTS = 2  # for a gap that reaches the whole population


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split a whole number in proportion to whole weights, largest remainder first (ties to
    the earlier part); the parts sum to `total` exactly. Zero weights get zero."""
    if total < 0:
        raise ValueError(f"cannot allocate a negative amount {total}")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("allocation weights must add up to more than zero")
    exact = [Fraction(total * w, weight_sum) for w in weights]
    parts = [math.floor(x) for x in exact]
    short = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:short]:
        parts[i] += 1
    return parts


# --- Gaps per org unit ------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitGap:
    org_unit: str
    value: IndicatorValue
    gap: Gap


@dataclass(frozen=True)
class IndicatorGap:
    """An indicator's gap in the district and in each sub-county with data."""

    info: IndicatorInfo | None  # None for a management function
    key: str  # indicator id, or management function
    label: str
    district: IndicatorValue
    gap: Gap
    standard: float
    sub_counties: tuple[UnitGap, ...]  # every sub-county with a value
    reach: int | None  # people in the sub-counties short of it; None when not known
    management: bool = False

    @property
    def short_units(self) -> list[UnitGap]:
        return [u for u in self.sub_counties if u.gap.gap > 0]


def sub_county_values(facts: DistrictFacts, indicator_id: str) -> list[IndicatorValue]:
    values = []
    for sc in facts.sub_counties:
        v = facts.value(indicator_id, sc.code)
        if v is not None and v.value is not None:
            values.append(v)
    return values


def reach_of(facts: DistrictFacts, units: Sequence[str]) -> int | None:
    """People living in the given sub-counties; None when any population is unknown."""
    total = 0
    for code in units:
        sc = next((s for s in facts.sub_counties if s.code == code), None)
        if sc is None or sc.population is None:
            return None
        total += sc.population
    return total


def _gap(
    key: str,
    value: IndicatorValue,
    standard: float,
    direction: str,
    info: IndicatorInfo,
    reach: int | None = None,
) -> Gap:
    """The verdict every reader of the value reaches (server/domain/gaps.py `gap`)."""
    return gap(key, value.value or 0.0, standard, direction, info.severity, float(reach or 0))


def indicator_gap(facts: DistrictFacts, info: IndicatorInfo) -> IndicatorGap | None:
    """None when there is no national standard or no district value."""
    district = facts.value(info.id)
    if info.standard is None or district is None or district.value is None:
        return None
    return _gap_for(facts, info, info.id, info.name, info.standard, info.direction, district)


def management_gap(
    facts: DistrictFacts, info: IndicatorInfo, benchmark: float
) -> IndicatorGap | None:
    district = facts.value(info.id)
    if district is None or district.value is None or info.function is None:
        return None
    label = info.name.removeprefix("Capacity score: ").capitalize()
    result = _gap_for(facts, info, info.function, label, benchmark, "higher_is_better", district)
    return IndicatorGap(
        info,
        result.key,
        label,
        district,
        result.gap,
        benchmark,
        result.sub_counties,
        result.reach,
        True,
    )


def _gap_for(
    facts: DistrictFacts,
    info: IndicatorInfo,
    key: str,
    label: str,
    standard: float,
    direction: str,
    district: IndicatorValue,
) -> IndicatorGap:
    assert district.value is not None
    units = tuple(
        UnitGap(v.org_unit, v, _gap(v.org_unit, v, standard, direction, info))
        for v in sub_county_values(facts, info.id)
    )
    short = [u.org_unit for u in units if u.gap.gap > 0]
    reach = reach_of(facts, short) if units else facts.population
    g = _gap(key, district, standard, direction, info, reach)
    return IndicatorGap(info, key, label, district, g, standard, units, reach)


# --- Priorities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Priority:
    rank: int
    gap: IndicatorGap
    severity_points: int
    workshop_rank: int | None
    workshop_points: int
    reach: int | None  # people in the sub-counties short of the standard
    reach_points: Fraction
    score: Fraction


def workshop_rank(facts: DistrictFacts, g: IndicatorGap) -> int | None:
    """The workshop's rank for the indicator, else its management function, else its sector."""
    keys = [g.key]
    if g.info is not None:
        keys += [g.info.id, g.info.function or "", g.info.sector]
    for key in keys:
        if key and key in facts.workshop_ranking:
            return facts.workshop_ranking[key]
    return None


def prioritise(facts: DistrictFacts, gaps: Sequence[IndicatorGap]) -> list[Priority]:
    """Rank gaps with a severity by score = severity points (low 1 .. critical 4) + workshop
    points (its first choice 3, second 2, third 1) + reach points (2 x the share of the
    district's population living in sub-counties short of the standard). Ties: larger relative
    gap, then the key."""
    scored = []
    for g in gaps:
        if g.gap.severity is Severity.none:
            continue
        rank_ = workshop_rank(facts, g)
        w_points = WORKSHOP_POINTS.get(rank_, 0) if rank_ is not None else 0
        reach = g.reach
        if facts.population and reach is not None:
            r_points = Fraction(REACH_POINTS * reach, facts.population)
        else:
            r_points = Fraction(0)
        s_points = SEVERITY_POINTS[g.gap.severity]
        score = s_points + w_points + r_points
        scored.append((g, s_points, rank_, w_points, reach, r_points, score))
    scored.sort(key=lambda t: (-t[6], -t[0].gap.relative, t[0].key))
    return [
        Priority(i, g, s, r, w, reach, rp, score)
        for i, (g, s, r, w, reach, rp, score) in enumerate(scored, start=1)
    ]


# --- Quantities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitQuantity:
    org_unit: str
    quantity: int


@dataclass(frozen=True)
class Need:
    intervention: Intervention
    gap: IndicatorGap
    quantity: int | None  # None: a fact the rule needs is missing
    by_unit: tuple[UnitQuantity, ...]


def rule_facts(
    value: IndicatorValue, standard: float, names: Mapping[str, str], population: int | None
) -> dict[str, float | None]:
    facts: dict[str, float | None] = {
        "numerator": value.numerator,
        "denominator": value.denominator,
        "value": value.value,
        "standard": standard,
        "n": value.n,
        "population": population,
    }
    for alias, target in names.items():
        facts[alias] = facts[target]
    return facts


def whole_units(raw: float | None) -> int | None:
    """Round a rule's result up to whole units, floored at zero. Six decimals first, so that
    3180 / 53 - 50 (which floats make 10.000000000000002) needs 10, not 11."""
    if raw is None:
        return None
    return max(0, math.ceil(round(raw, 6)))


def need_for(facts: DistrictFacts, library: Library, g: IndicatorGap, item: Intervention) -> Need:
    names = library.gaps[item.gap_type].names
    units: list[IndicatorValue] = [u.value for u in g.short_units]
    if not g.sub_counties:  # no sub-county data: plan for the district as a whole
        units = [g.district] if g.gap.gap > 0 else []
    hq = facts.hq_value(g.district.indicator_id) if g.management else None
    if hq is not None and hq.value is not None and gap(g.key, hq.value, g.standard, UP).gap > 0:
        # The district headquarters is an office of its own for management interventions.
        units = [hq, *(u for u in units if u.org_unit != facts.district_code)]
    by_unit = []
    for v in units:
        if g.management:
            row: dict[str, float | None] = {
                "score": round(v.value or 0.0, 6),
                "benchmark": g.standard,
            }
        else:
            pop = next((s.population for s in facts.sub_counties if s.code == v.org_unit), None)
            row = rule_facts(
                v, g.standard, names, pop if v.org_unit != facts.district_code else facts.population
            )
        q = whole_units(as_number(evaluate(item.quantity, row)))
        if q is None:
            return Need(item, g, None, ())
        by_unit.append(UnitQuantity(v.org_unit, q))
    return Need(item, g, sum(u.quantity for u in by_unit), tuple(by_unit))


# --- Target paths -----------------------------------------------------------------------------


def target_path(
    baseline: float,
    standard: float,
    needed: int,
    funded_by_year: Sequence[int],
) -> list[float]:
    """Targets for years 1-3: from the baseline toward the standard in proportion to the
    cumulative quantity the plan funds out of the quantity needed to close the gap. Monotone,
    never past the standard, and reaching it only when everything needed is funded.
    With nothing needed (the standard is met) the target holds the standard's side."""
    if needed <= 0:
        return [baseline] * len(funded_by_year)
    targets = []
    done = 0
    for funded in funded_by_year:
        done += max(0, funded)
        fraction = min(Fraction(1), Fraction(done, needed))
        targets.append(
            float(Fraction(baseline) + (Fraction(standard) - Fraction(baseline)) * fraction)
        )
    return targets


# --- Costs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    need: Need
    added: tuple[int, ...]  # units added in years 1-3 (funded)
    in_service: tuple[int, ...]  # units paid for in years 1-3 (cumulative when recurrent)
    cost_by_year: tuple[int, ...]
    # source -> cost per year, each year's parts summing to that year's cost
    by_source: Mapping[str, tuple[int, ...]]

    @property
    def total(self) -> int:
        return sum(self.cost_by_year)

    @property
    def funded(self) -> int:
        return sum(self.added)


@dataclass(frozen=True)
class CostPlan:
    lines: tuple[CostLine, ...]
    sources: tuple[str, ...]
    ceiling_applied: bool = False

    def year_total(self, year: int) -> int:
        return sum(line.cost_by_year[year] for line in self.lines)

    def source_total(self, source: str) -> int:
        return sum(sum(line.by_source[source]) for line in self.lines)

    def source_year(self, source: str, year: int) -> int:
        return sum(line.by_source[source][year] for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)


def cost_line(need: Need, added: Sequence[int], sources: Sequence[str]) -> CostLine:
    item = need.intervention
    in_service = []
    running = 0
    for a in added:
        running += a
        in_service.append(running if item.recurrent else a)
    cost = [units * item.unit_cost_ugx for units in in_service]
    weights = dict(item.funding)
    split = [allocate(c, [weights.get(s, 0) for s in sources]) for c in cost]
    by_source = {s: tuple(split[y][i] for y in range(len(cost))) for i, s in enumerate(sources)}
    return CostLine(need, tuple(added), tuple(in_service), tuple(cost), by_source)


def cost_plan(
    needs: Sequence[Need], sources: Sequence[str], ceiling: int | None = None
) -> CostPlan:
    """Phase each need over the three years and cost it. With a ceiling on the three-year
    total, every quantity is scaled down by the same factor (rounded down to whole units) until
    the plan fits: what is funded is what the targets may promise."""

    def build(scale: Fraction) -> list[CostLine]:
        lines = []
        for need in needs:
            if not need.quantity:
                continue
            funded = math.floor(need.quantity * scale)
            added = allocate(funded, need.intervention.phasing)
            lines.append(cost_line(need, added, sources))
        return lines

    lines = build(Fraction(1))
    total = sum(line.total for line in lines)
    if ceiling is None or total <= ceiling:
        return CostPlan(tuple(lines), tuple(sources))
    scale = Fraction(ceiling, total)
    lines = build(scale)
    # Recurrent costs and rounding make cost not quite proportional; shrink until it fits.
    while sum(line.total for line in lines) > ceiling and scale > 0:
        scale = max(Fraction(0), scale - Fraction(1, 100))
        lines = build(scale)
    return CostPlan(tuple(lines), tuple(sources), ceiling_applied=True)
