"""From facts to a plan: gaps, priorities, quantities, costs and targets, computed once and
read by every section."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.interventions import Library
from server.domain.drafting.planning import (
    CostPlan,
    IndicatorGap,
    Need,
    Priority,
    cost_plan,
    indicator_gap,
    management_gap,
    need_for,
    prioritise,
    target_path,
)
from server.domain.drafting.sections import Ref


@dataclass(frozen=True)
class Target:
    key: str  # gap key: indicator id or management function
    baseline: float
    standard: float
    years: tuple[float, float, float]
    needed: int | None  # units the driving intervention needs; None when it cannot be sized
    funded: int  # units the plan funds over three years
    ref: Ref


@dataclass(frozen=True)
class Analysis:
    gaps: tuple[IndicatorGap, ...]  # indicators with a standard and a district value
    management_gaps: tuple[IndicatorGap, ...]
    priorities: tuple[Priority, ...]
    needs: tuple[Need, ...]  # interventions of the priorities, in priority order
    costs: CostPlan
    targets: dict[str, Target]


def analyse(facts: DistrictFacts, library: Library) -> Analysis:
    gaps = []
    management = []
    for info in facts.indicators.values():
        if info.dmip_section == "service_delivery":
            g = indicator_gap(facts, info)
            if g is not None:
                gaps.append(g)
        elif info.dmip_section == "management_capacity":
            g = management_gap(facts, info, library.management_benchmark)
            if g is not None:
                management.append(g)
    priorities = prioritise(facts, [*gaps, *management])
    needs = [
        need_for(facts, library, p.gap, item)
        for p in priorities
        for item in library.interventions_for(p.gap.key)
    ]
    costs = cost_plan(needs, list(library.funding_sources), facts.budget_ceiling_ugx)
    targets = {}
    for p in priorities:
        g = p.gap
        assert g.district.value is not None
        # The first intervention of a gap type drives its target; the others support it.
        driving = next((n for n in needs if n.gap.key == g.key), None)
        line = next((c for c in costs.lines if driving is not None and c.need is driving), None)
        funded = list(line.added) if line else [0, 0, 0]
        needed = driving.quantity if driving is not None else None
        if needed:
            years = target_path(g.district.value, g.standard, needed, funded)
        else:
            years = [g.district.value] * 3
        ref = Ref(
            org_unit=facts.district_code,
            cycle=facts.cycle,
            indicator_id=g.district.indicator_id,
            fact=f"target.{g.key}",
            submissions=g.district.submissions,
            derived_from=(facts.ref(g.district),),
        )
        targets[g.key] = Target(
            g.key,
            g.district.value,
            g.standard,
            (years[0], years[1], years[2]),
            needed,
            sum(funded),
            ref,
        )
    return Analysis(tuple(gaps), tuple(management), tuple(priorities), tuple(needs), costs, targets)
