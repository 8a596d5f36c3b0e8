"""Sections that set out the plan: priorities and interventions, results framework, costed
action plan and financing, and the M&E plan."""

from __future__ import annotations

from server.domain.drafting import narrative as nv
from server.domain.drafting.analysis import Analysis
from server.domain.drafting.cells import (
    count_cell,
    fy_labels,
    number_cell,
    rank_cell,
    standard_ref,
    ugx_cell,
    value_cell,
)
from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.interventions import Library
from server.domain.drafting.planning import CostLine, Need
from server.domain.drafting.sections import (
    Block,
    Cell,
    Chart,
    Paragraph,
    Ref,
    Section,
    Series,
    Table,
    notice,
)
from server.domain.drafting.sections import text as text_cell


def _unit(g_info_unit: str | None) -> str:
    return g_info_unit or "percent"


def quantity_ref(facts: DistrictFacts, need: Need) -> Ref:
    g = need.gap
    return Ref(
        org_unit=facts.district_code,
        cycle=facts.cycle,
        indicator_id=g.district.indicator_id,
        fact=f"quantity.{need.intervention.id}",
        submissions=sum(u.value.submissions for u in g.short_units) or g.district.submissions,
        derived_from=tuple(facts.ref(u.value) for u in g.short_units) or (facts.ref(g.district),),
    )


def cost_ref(facts: DistrictFacts, line: CostLine, what: str) -> Ref:
    q = quantity_ref(facts, line.need)
    return Ref(
        org_unit=facts.district_code,
        cycle=facts.cycle,
        indicator_id=q.indicator_id,
        fact=f"cost.{line.need.intervention.id}.{what}",
        submissions=q.submissions,
        derived_from=(q, facts.fact_ref(f"library.{line.need.intervention.id}.unit_cost_ugx")),
    )


def _place(facts: DistrictFacts, need: Need, code: str) -> str:
    if code == facts.district_code:
        return "the district headquarters"
    return facts.sub_county_name(code)


def _need_sentence(facts: DistrictFacts, need: Need) -> str:
    item = need.intervention
    if need.quantity is None:
        return nv.sentence(f"{item.name}: not enough data to size it")
    if need.quantity == 0:
        return nv.sentence(f"{item.name}: nothing is needed")
    parts = [
        f"{_place(facts, need, u.org_unit)} ({nv.number(u.quantity)})"
        for u in need.by_unit
        if u.quantity > 0 and (u.org_unit != facts.district_code or need.gap.management)
    ]
    where = f" in {nv.join_names(parts)}" if parts else ""
    return nv.sentence(
        f"{item.name}: {nv.count_of(need.quantity, item.unit)}{where}; responsible: "
        f"{item.responsible}"
    )


# --- 5. Priorities and interventions ----------------------------------------------------------


def priorities_section(facts: DistrictFacts, analysis: Analysis) -> Section:
    title = "Priorities and interventions"
    if not analysis.priorities:
        return notice(
            "priorities",
            title,
            "Not enough data: no gap against a standard could be measured, so no "
            "priority is set. Priorities follow once indicators with a standard have "
            "values.",
        )
    blocks: list[Block] = [
        Paragraph(
            "Gaps are ranked by a score: severity (low 1, medium 2, high 3, critical 4), plus the "
            "priority-setting workshop's ranking (its first choice 3 points, second 2, third 1), "
            "plus reach (up to 2 points: twice the share of the district's population living in "
            "sub-counties short of the standard)."
        )
    ]
    rows = []
    for p in analysis.priorities:
        g = p.gap
        r = facts.ref(g.district)
        items = [n.intervention.name for n in analysis.needs if n.gap.key == g.key]
        rows.append(
            (
                rank_cell(facts, p.rank, g.key, g.district),
                text_cell(g.label),
                text_cell(g.gap.severity.value),
                count_cell(p.workshop_rank, facts.fact_ref(f"workshop.{g.key}"))
                if p.workshop_rank is not None
                else text_cell("not ranked"),
                count_cell(p.reach, r),
                Cell(nv.number(p.score, 2), "number", float(p.score), r),
                text_cell("; ".join(items) if items else "none in the library"),
            )
        )
    blocks.append(
        Table(
            "Ranked priorities",
            (
                "Rank",
                "Gap",
                "Severity",
                "Workshop rank",
                "People affected",
                "Score",
                "Interventions",
            ),
            tuple(rows),
        )
    )
    for p in analysis.priorities:
        needs = [n for n in analysis.needs if n.gap.key == p.gap.key]
        short = [facts.sub_county_name(u.org_unit) for u in p.gap.short_units]
        lead = f"{p.rank}. {p.gap.label} ({p.gap.gap.severity.value} gap"
        lead += f"; short in {nv.join_names(short)})." if short else ")."
        body = " ".join(_need_sentence(facts, n) for n in needs) or (
            "The intervention library has no intervention for this gap yet."
        )
        blocks.append(
            Paragraph(
                f"{lead} {body}",
                tuple(quantity_ref(facts, n) for n in needs if n.quantity is not None),
            )
        )
    return Section("priorities", title, tuple(blocks))


# --- 6. Results framework ---------------------------------------------------------------------


def results_section(facts: DistrictFacts, analysis: Analysis) -> Section:
    title = "Results framework"
    if not analysis.priorities:
        return notice(
            "results_framework", title, "Not enough data: there is no priority to set targets for."
        )
    years = fy_labels(facts.cycle)
    rows = []
    notes = []
    for p in analysis.priorities:
        g = p.gap
        t = analysis.targets[g.key]
        unit = _unit(g.info.unit if g.info else None)
        rows.append(
            (
                text_cell(g.label),
                value_cell(facts, g.district, unit),
                *(number_cell(y, unit, t.ref) for y in t.years),
                number_cell(
                    g.standard, unit, standard_ref(facts, g.district.indicator_id, g.management)
                ),
            )
        )
        if t.needed is None:
            notes.append(
                f"{g.label}: not enough data to size the intervention, so the target "
                "holds the baseline"
            )
        elif t.funded < t.needed:
            notes.append(
                f"{g.label}: the plan funds {nv.number(t.funded)} of {nv.number(t.needed)} "
                "units needed, so the year 3 target stops short of the standard"
            )
    blocks: list[Block] = [
        Paragraph(
            "Targets move from the baseline toward the standard in step with what the plan funds: "
            "each year's target closes the share of the gap that the units added so far close."
        ),
        Table("Baseline and targets", ("Indicator", "Baseline", *years, "Standard"), tuple(rows)),
    ]
    blocks.extend(Paragraph(nv.sentence(n)) for n in notes)
    return Section("results_framework", title, tuple(blocks))


# --- 7. Costed action plan and financing ------------------------------------------------------


def action_plan_section(facts: DistrictFacts, analysis: Analysis, library: Library) -> Section:
    title = "Costed action plan and financing"
    plan = analysis.costs
    if not plan.lines:
        return notice(
            "action_plan",
            title,
            "Not enough data: no intervention could be sized, so nothing is costed.",
        )
    years = fy_labels(facts.cycle)
    blocks: list[Block] = []
    lines = []
    for line in plan.lines:
        item = line.need.intervention
        q = quantity_ref(facts, line.need)
        lines.append(
            (
                text_cell(item.name),
                text_cell(item.unit),
                *(count_cell(a, q) for a in line.added),
                ugx_cell(item.unit_cost_ugx, facts.fact_ref(f"library.{item.id}.unit_cost_ugx")),
                *(
                    ugx_cell(c, cost_ref(facts, line, f"year{y + 1}"))
                    for y, c in enumerate(line.cost_by_year)
                ),
                ugx_cell(line.total, cost_ref(facts, line, "total")),
                text_cell(item.responsible),
            )
        )
    total_ref = Ref(facts.district_code, facts.cycle, fact="cost.total")
    lines.append(
        (
            text_cell("Total"),
            text_cell(""),
            text_cell(""),
            text_cell(""),
            text_cell(""),
            text_cell(""),
            *(ugx_cell(plan.year_total(y), total_ref) for y in range(3)),
            ugx_cell(plan.total, total_ref),
            text_cell(""),
        )
    )
    blocks.append(
        Paragraph(
            nv.sentence(
                f"The plan costs {nv.ugx(plan.total)} over three years: "
                + nv.join_names([f"{nv.ugx(plan.year_total(y))} in {years[y]}" for y in range(3)])
            ),
            (total_ref,),
        )
    )
    if plan.ceiling_applied and facts.budget_ceiling_ugx is not None:
        blocks.append(
            Paragraph(
                nv.sentence(
                    f"The quantities are scaled down to fit the ceiling of "
                    f"{nv.ugx(facts.budget_ceiling_ugx)}"
                )
            )
        )
    recurrent = [
        line.need.intervention.name for line in plan.lines if line.need.intervention.recurrent
    ]
    if recurrent:
        blocks.append(
            Paragraph(
                nv.sentence(
                    "Salaries recur: a post filled in year 1 is paid again in years 2 and 3 ("
                    + nv.join_names([r.lower() for r in recurrent])
                    + ")"
                )
            )
        )
    blocks.append(
        Table(
            "Action plan",
            (
                "Intervention",
                "Unit",
                *(f"Units {y}" for y in years),
                "Unit cost (UGX)",
                *(f"Cost {y} (UGX)" for y in years),
                "Total (UGX)",
                "Responsible",
            ),
            tuple(lines),
        )
    )
    fin_rows = []
    for source in plan.sources:
        r = Ref(facts.district_code, facts.cycle, fact=f"cost.source.{source}")
        fin_rows.append(
            (
                text_cell(library.funding_sources[source]),
                *(ugx_cell(plan.source_year(source, y), r) for y in range(3)),
                ugx_cell(plan.source_total(source), r),
            )
        )
    fin_rows.append(
        (
            text_cell("Total"),
            *(ugx_cell(plan.year_total(y), total_ref) for y in range(3)),
            ugx_cell(plan.total, total_ref),
        )
    )
    blocks.append(
        Table(
            "Financing by source (UGX)",
            ("Source", *years, "Total"),
            tuple(fin_rows),
        )
    )
    blocks.extend(_commitments(facts, analysis))
    blocks.append(
        Chart(
            "Cost by year and funding source",
            tuple(years),
            tuple(
                Series(
                    library.funding_sources[s],
                    tuple(plan.source_year(s, y) / 1_000_000 for y in range(3)),
                )
                for s in plan.sources
            ),
            "UGX million",
            stacked=True,
        )
    )
    cost_rows = tuple(
        (
            text_cell(line.need.intervention.name),
            ugx_cell(
                line.need.intervention.unit_cost_ugx,
                facts.fact_ref(f"library.{line.need.intervention.id}.unit_cost_ugx"),
            ),
            text_cell(line.need.intervention.cost_source),
        )
        for line in plan.lines
    )
    blocks.append(
        Table(
            "Unit costs and their sources",
            ("Intervention", "Unit cost (UGX)", "Source"),
            cost_rows,
            note="Costs marked 'Assumed' have no published figure: replace them with the "
            "district's own.",
        )
    )
    unsized = [n.intervention.name for n in analysis.needs if n.quantity is None]
    if unsized:
        blocks.append(
            Paragraph(
                nv.sentence(
                    "Not enough data to size and cost "
                    + nv.join_names([u.lower() for u in unsized])
                )
            )
        )
    return Section("action_plan", title, tuple(blocks))


def _commitments(facts: DistrictFacts, analysis: Analysis) -> list[Block]:
    """What partners pledged at the workshop, beside what the plan asks of them."""
    pledged = facts.value("partner_commitments_ugx")
    if pledged is None or pledged.value is None:
        return []
    text = f"Partners committed {nv.ugx(pledged.value)} at the priority-setting workshop"
    if "donors" in analysis.costs.sources:
        asked = analysis.costs.source_total("donors")
        text += f"; the plan asks development partners for {nv.ugx(asked)}"
    return [Paragraph(nv.sentence(text), (facts.ref(pledged),))]


# --- 8. M&E plan ------------------------------------------------------------------------------


def me_plan_section(facts: DistrictFacts, analysis: Analysis, library: Library) -> Section:
    title = "Monitoring and evaluation plan"
    if not analysis.priorities:
        return notice(
            "me_plan", title, "Not enough data: there is no priority indicator to monitor yet."
        )
    rows = []
    for p in analysis.priorities:
        g = p.gap
        info = g.info
        assert info is not None
        t = analysis.targets[g.key]
        unit = info.unit
        driving = next((n for n in analysis.needs if n.gap.key == g.key), None)
        office = (
            driving.intervention.responsible
            if g.management and driving is not None
            else library.offices.get(info.sector, "District Planner")
        )
        rows.append(
            (
                text_cell(info.name),
                value_cell(facts, g.district, unit),
                number_cell(t.years[2], unit, t.ref),
                text_cell(facts.form_titles.get(info.form, info.form)),
                text_cell(library.form_frequency.get(info.form, "Once a year")),
                text_cell(office),
            )
        )
    return Section(
        "me_plan",
        title,
        (
            Paragraph(
                "Each priority indicator is measured again from the same assessment forms, so "
                "progress is computed the same way as the baseline."
            ),
            Table(
                "Indicators, sources and responsibilities",
                (
                    "Indicator",
                    "Baseline",
                    "Year 3 target",
                    "Source (form)",
                    "Frequency",
                    "Responsible office",
                ),
                tuple(rows),
            ),
        ),
    )
