"""Invariants of the plan arithmetic, for any quantities, unit costs, splits and paths."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.domain.drafting.interventions import Intervention
from server.domain.drafting.planning import Need, allocate, cost_plan, target_path
from server.domain.expressions import parse_expression

SOURCES = ("central_government", "local_revenue", "donors")

weights = st.lists(st.integers(0, 100), min_size=1, max_size=5).filter(lambda w: sum(w) > 0)


@given(total=st.integers(0, 10**15), weights=weights)
def test_allocation_sums_exactly_and_stays_within_one_of_the_share(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        share = Fraction(total * w, sum(weights))
        assert share - 1 < part < share + 1
        if w == 0:
            assert part == 0


def intervention(
    index: int, unit_cost: int, funding: list[int], phasing: list[int], recurrent: bool
) -> Intervention:
    return Intervention(
        id=f"item{index}",
        gap_type="pupil_teacher_ratio",
        name=f"Item {index}",
        quantity_rule="n",
        quantity=parse_expression("n"),
        unit="unit",
        unit_cost_ugx=unit_cost,
        cost_source="Assumed",
        assumed=True,
        responsible="District Planner",
        funding=tuple(zip(SOURCES, funding, strict=True)),
        phasing=(phasing[0], phasing[1], phasing[2]),
        recurrent=recurrent,
    )


three_weights = st.lists(st.integers(0, 100), min_size=3, max_size=3).filter(lambda w: sum(w) > 0)
needs_strategy = st.lists(
    st.tuples(
        st.integers(0, 100_000),  # quantity
        st.integers(0, 500_000_000),  # unit cost in UGX
        three_weights,  # funding split
        three_weights,  # phasing
        st.booleans(),  # recurrent
    ),
    max_size=8,
)


def make_needs(raw: list[tuple[Any, ...]]) -> list[Need]:
    return [
        Need(intervention(i, cost, funding, phasing, recurrent), None, quantity, ())  # type: ignore[arg-type]
        for i, (quantity, cost, funding, phasing, recurrent) in enumerate(raw)
    ]


@given(raw=needs_strategy)
def test_costs_reconcile_by_year_by_source_and_by_line(raw: list[tuple[Any, ...]]) -> None:
    plan = cost_plan(make_needs(raw), SOURCES)
    grand = plan.total
    assert sum(plan.year_total(y) for y in range(3)) == grand
    assert sum(plan.source_total(s) for s in SOURCES) == grand
    assert sum(plan.source_year(s, y) for s in SOURCES for y in range(3)) == grand
    for line in plan.lines:
        assert all(isinstance(c, int) for c in line.cost_by_year)
        for y in range(3):
            assert sum(line.by_source[s][y] for s in SOURCES) == line.cost_by_year[y]
        # Without a ceiling everything needed is funded.
        assert line.funded == line.need.quantity


@given(raw=needs_strategy, ceiling=st.integers(0, 10**12))
def test_a_ceiling_is_never_exceeded_and_never_funds_more_than_needed(
    raw: list[tuple[Any, ...]], ceiling: int
) -> None:
    plan = cost_plan(make_needs(raw), SOURCES, ceiling)
    assert plan.total <= ceiling
    assert sum(plan.year_total(y) for y in range(3)) == plan.total
    assert sum(plan.source_total(s) for s in SOURCES) == plan.total
    for line in plan.lines:
        assert 0 <= line.funded <= (line.need.quantity or 0)


values = st.floats(0.1, 1000, allow_nan=False, allow_infinity=False)


@given(
    baseline=values,
    standard=values,
    needed=st.integers(1, 10_000),
    funded=st.lists(st.integers(0, 5_000), min_size=3, max_size=3),
)
def test_target_paths_move_toward_the_standard_within_what_is_funded(
    baseline: float, standard: float, needed: int, funded: list[int]
) -> None:
    path = target_path(baseline, standard, needed, funded)
    direction = 1 if standard >= baseline else -1
    previous = baseline
    for target in path:
        # Monotone toward the standard, never past it.
        assert direction * (target - previous) >= -1e-9
        assert direction * (standard - target) >= -1e-9
        previous = target
    # Year 3 closes exactly the funded share of the gap, and no more.
    share = min(Fraction(1), Fraction(sum(funded), needed))
    expected = baseline + (standard - baseline) * float(share)
    assert abs(path[2] - expected) <= 1e-9 * max(1.0, abs(standard), abs(baseline))
    if sum(funded) < needed and abs(standard - baseline) > 1e-6:
        assert path[2] != standard  # short of the standard when the plan funds too little


def test_target_path_with_nothing_needed_holds_the_baseline() -> None:
    assert target_path(40.0, 53.0, 0, [0, 0, 0]) == [40.0, 40.0, 40.0]
