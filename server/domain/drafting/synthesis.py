"""The cross-district synthesis: gaps common to districts, their priorities, what their plans
cost, and where the DMIP process stalls (stage durations and delays from the milestones)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

from server.domain.drafting import narrative as nv
from server.domain.drafting.analysis import Analysis
from server.domain.drafting.cells import count_cell, ugx_cell
from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.interventions import Library
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
    text,
)

STAGES = (
    ("inception", "Inception"),
    ("data_collection", "Data collection"),
    ("analysis", "Analysis"),
    ("validation", "Validation workshop"),
    ("drafting", "Drafting"),
    ("council_approval", "Council approval"),
)
_SEVERITY_ORDER = ("none", "low", "medium", "high", "critical")


def synthesis(
    districts: Sequence[tuple[DistrictFacts, Analysis]], library: Library
) -> list[Section]:
    if not districts:
        return [
            Section(
                "synthesis_overview",
                "Overview",
                (Paragraph("Not enough data: no district has a draft DMIP yet."),),
            )
        ]
    names = [f.district_name for f, _ in districts]
    cycles = sorted({f.cycle for f, _ in districts})
    overview = Section(
        "synthesis_overview",
        "Overview",
        (
            Paragraph(
                nv.sentence(
                    f"This synthesis covers {nv.count_of(len(names), 'district')} "
                    f"({nv.join_names(names)}) for the planning "
                    f"{'cycle' if len(cycles) == 1 else 'cycles'} {nv.join_names(cycles)}"
                )
            ),
        ),
    )
    return [
        overview,
        common_gaps_section(districts),
        priorities_synthesis(districts),
        costs_synthesis(districts, library),
        process_synthesis([f for f, _ in districts]),
    ]


def common_gaps_section(districts: Sequence[tuple[DistrictFacts, Analysis]]) -> Section:
    found: dict[str, list[tuple[DistrictFacts, str, float]]] = {}
    labels: dict[str, str] = {}
    for facts, analysis in districts:
        for g in (*analysis.gaps, *analysis.management_gaps):
            if g.gap.severity.value == "none":
                continue
            labels[g.key] = g.label
            found.setdefault(g.key, []).append((facts, g.gap.severity.value, g.gap.relative))
    title = "Gaps common to districts"
    if not found:
        return notice(
            "synthesis_gaps",
            title,
            "Not enough data: no district has a measured gap against a standard.",
        )
    ordered = sorted(found.items(), key=lambda kv: (-len(kv[1]), labels[kv[0]]))
    rows = []
    for key, hits in ordered:
        worst = max(hits, key=lambda h: _SEVERITY_ORDER.index(h[1]))[1]
        rows.append(
            (
                text(labels[key]),
                count_cell(len(hits), None),
                text(nv.join_names([f.district_name for f, _, _ in hits])),
                Cell(
                    nv.percent(median(h[2] for h in hits) * 100),
                    "percent",
                    median(h[2] for h in hits) * 100,
                ),
                text(worst),
            )
        )
    common = [labels[k] for k, hits in ordered if len(hits) > 1]
    blocks: list[Block] = []
    if common:
        blocks.append(
            Paragraph(
                nv.sentence(
                    "Gaps found in more than one district: " + nv.join_names(common).lower()
                )
            )
        )
    else:
        blocks.append(Paragraph("No gap is shared by more than one district."))
    blocks.append(
        Table(
            "Gaps by number of districts",
            ("Gap", "Districts", "Which", "Median relative gap", "Worst severity"),
            tuple(rows),
        )
    )
    return Section("synthesis_gaps", title, tuple(blocks))


def priorities_synthesis(districts: Sequence[tuple[DistrictFacts, Analysis]]) -> Section:
    rows = []
    for facts, analysis in districts:
        top = [p.gap.label for p in analysis.priorities[:3]]
        rows.append(
            (
                text(facts.district_name),
                *(text(top[i]) if i < len(top) else Cell("none", "missing") for i in range(3)),
            )
        )
    return Section(
        "synthesis_priorities",
        "Priorities by district",
        (Table("First three priorities", ("District", "First", "Second", "Third"), tuple(rows)),),
    )


def costs_synthesis(
    districts: Sequence[tuple[DistrictFacts, Analysis]], library: Library
) -> Section:
    rows = []
    years = [0, 0, 0]
    by_source = dict.fromkeys(library.funding_sources, 0)
    for facts, analysis in districts:
        plan = analysis.costs
        ref = Ref(facts.district_code, facts.cycle, fact="cost.total")
        for y in range(3):
            years[y] += plan.year_total(y)
        for s in plan.sources:
            by_source[s] = by_source.get(s, 0) + plan.source_total(s)
        rows.append(
            (
                text(facts.district_name),
                *(ugx_cell(plan.year_total(y), ref) for y in range(3)),
                ugx_cell(plan.total, ref),
            )
        )
    grand = sum(years)
    rows.append((text("Total"), *(ugx_cell(y, None) for y in years), ugx_cell(grand, None)))
    source_rows = [
        (text(library.funding_sources.get(s, s)), ugx_cell(t, None)) for s, t in by_source.items()
    ]
    source_rows.append((text("Total"), ugx_cell(sum(by_source.values()), None)))
    return Section(
        "synthesis_costs",
        "What the plans cost",
        (
            Paragraph(
                nv.sentence(
                    f"Together the plans cost {nv.ugx(grand)} over three years "
                    f"({nv.ugx_millions(grand)})"
                )
            ),
            Table(
                "Cost by district and plan year (UGX)",
                ("District", "Year 1", "Year 2", "Year 3", "Total"),
                tuple(rows),
            ),
            Table("Cost by funding source (UGX)", ("Source", "Total"), tuple(source_rows)),
        ),
    )


def process_synthesis(all_facts: Sequence[DistrictFacts]) -> Section:
    """Stage by stage: how many districts finished it, the median delay against the plan
    (actual minus planned date, in days), and how many are marked delayed."""
    title = "The DMIP process: where it stalls"
    if not any(f.milestones for f in all_facts):
        return notice(
            "synthesis_process",
            title,
            "Not enough data: no district has reported its process milestones.",
        )
    rows = []
    medians: list[float | None] = []
    stalls = []
    for stage, label in STAGES:
        marks = [m for f in all_facts for m in f.milestones if m.stage == stage]
        done = [m for m in marks if m.status == "done"]
        delays = [(m.actual - m.planned).days for m in done if m.actual and m.planned]
        delayed = sum(1 for m in marks if m.status == "delayed")
        med = median(delays) if delays else None
        medians.append(med)
        if delayed:
            stalls.append((delayed, label))
        rows.append(
            (
                text(label),
                count_cell(len(done), None),
                count_cell(delayed, None),
                Cell(nv.number(med, 0), "number", med)
                if med is not None
                else Cell(nv.NOT_ENOUGH_DATA, "missing"),
            )
        )
    blocks: list[Block] = []
    if stalls:
        stalls.sort(key=lambda t: (-t[0], t[1]))
        blocks.append(
            Paragraph(
                nv.sentence(
                    f"The process stalls most at {stalls[0][1].lower()}: "
                    f"{nv.count_of(stalls[0][0], 'district')} "
                    f"{'is' if stalls[0][0] == 1 else 'are'} delayed there"
                )
            )
        )
    blocks.append(
        Table(
            "Stages: completion and delay",
            ("Stage", "Districts done", "Districts delayed", "Median delay (days)"),
            tuple(rows),
        )
    )
    if any(m is not None for m in medians):
        blocks.append(
            Chart(
                "Median delay by stage",
                tuple(label for _, label in STAGES),
                (Series("Median delay", tuple(medians)),),
                "days late",
            )
        )
    return Section("synthesis_process", title, tuple(blocks))
