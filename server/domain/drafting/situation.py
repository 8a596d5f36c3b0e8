"""Sections that describe the district as it is: management capacity, service delivery by
sector and the gap analysis."""

from __future__ import annotations

from dataclasses import replace

from server.domain.drafting import narrative as nv
from server.domain.drafting.cells import (
    SECTOR_LABELS,
    SECTOR_ORDER,
    count_cell,
    number_cell,
    percent_cell,
    rank_cell,
    standard_ref,
    value_cell,
)
from server.domain.drafting.facts import DistrictFacts, IndicatorInfo
from server.domain.drafting.interventions import Library
from server.domain.drafting.planning import IndicatorGap, sub_county_values
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
from server.domain.gaps import rank


def _names(facts: DistrictFacts, codes: list[str]) -> str:
    return nv.join_names([facts.sub_county_name(c) for c in codes])


# --- 2. Management capacity -------------------------------------------------------------------


def capacity_indicators(facts: DistrictFacts) -> list[IndicatorInfo]:
    return [
        i
        for i in facts.indicators.values()
        if i.dmip_section == "management_capacity" and i.function is not None
    ]


def _function_label(info: IndicatorInfo) -> str:
    return info.name.removeprefix("Capacity score: ").capitalize()


def _hq_cell(facts: DistrictFacts, indicator_id: str) -> Cell:
    """The headquarters' own assessment shares the district's org unit code; its reference
    says it is the headquarters' alone, not the district roll-up."""
    cell = value_cell(facts, facts.hq_value(indicator_id), "percent")
    if cell.ref is None:
        return cell
    return replace(cell, ref=replace(cell.ref, fact="hq_assessment"))


def management_section(facts: DistrictFacts, library: Library) -> Section:
    infos = capacity_indicators(facts)
    bench = library.management_benchmark
    scored = [(i, facts.value(i.id)) for i in infos]
    with_data = [(i, v) for i, v in scored if v is not None and v.value is not None]
    title = "Management capacity"
    if not with_data:
        return notice(
            "management_capacity",
            title,
            f"Not enough data: no management capacity assessment has been submitted for "
            f"{facts.cycle}.",
        )
    blocks: list[Block] = [
        Paragraph(
            "Each management function is scored on three criteria from 0 (not in place) to 3 "
            "(fully in place with evidence seen); the score is the percentage of the maximum. "
            f"The benchmark is {nv.percent(bench)}: {library.management_benchmark_source.lower()}."
        )
    ]
    weak = sorted(
        ((i, v) for i, v in with_data if v.value is not None and v.value < bench),
        key=lambda t: (t[1].value, t[0].id),
    )
    if weak:
        named = [f"{_function_label(i).lower()} ({nv.percent(v.value or 0)})" for i, v in weak[:3]]
        word = "function is" if len(named) == 1 else "functions are"
        blocks.append(
            Paragraph(
                nv.sentence(f"The weakest {word} {nv.join_names(named)}"),
                tuple(facts.ref(v) for _, v in weak[:3]),
            )
        )
    else:
        blocks.append(
            Paragraph(f"Every assessed function reaches the benchmark of {nv.percent(bench)}.")
        )
    missing = [_function_label(i).lower() for i, v in scored if v is None or v.value is None]
    if missing:
        blocks.append(
            Paragraph(
                nv.sentence(f"Not enough data for {nv.join_names(missing)}: no score was submitted")
            )
        )
    codes = [sc.code for sc in facts.sub_counties]
    columns = ("Function", "District HQ", *(sc.name for sc in facts.sub_counties), "District")
    rows = tuple(
        (
            text(_function_label(i)),
            _hq_cell(facts, i.id),
            *(value_cell(facts, facts.value(i.id, c), "percent") for c in codes),
            value_cell(facts, facts.value(i.id), "percent"),
        )
        for i in infos
    )
    blocks.append(
        Table(
            "Management capacity scores (% of maximum)",
            columns,
            rows,
            note="District: all assessments in the district, headquarters and sub-counties.",
        )
    )
    blocks.append(
        Chart(
            "Management capacity by function (district)",
            tuple(_function_label(i) for i, _ in with_data),
            (Series("Score", tuple(v.value for _, v in with_data)),),
            "percent of maximum",
            reference_line=bench,
            reference_label="benchmark",
        )
    )
    return Section("management_capacity", title, tuple(blocks))


# --- 3. Service delivery ----------------------------------------------------------------------


def service_delivery_section(facts: DistrictFacts) -> Section:
    blocks: list[Block] = []
    codes = [sc.code for sc in facts.sub_counties]
    for sector in SECTOR_ORDER:
        infos = [
            i
            for i in facts.indicators.values()
            if i.sector == sector and i.dmip_section == "service_delivery"
        ]
        if not infos:
            continue
        label = SECTOR_LABELS[sector]
        have = [i for i in infos if (v := facts.value(i.id)) is not None and v.value is not None]
        if not have:
            blocks.append(
                Paragraph(
                    f"{label}: not enough data. No {label.lower()} indicator has a value for "
                    f"{facts.cycle}."
                )
            )
            continue
        sentences = [
            f"{label}: {nv.number(len(have))} of {nv.count_of(len(infos), 'indicator')} "
            f"{'has' if len(have) == 1 else 'have'} data."
        ]
        refs = []
        for info in have:
            v = facts.value(info.id)
            assert v is not None and v.value is not None
            refs.append(facts.ref(v))
            sentences.append(_indicator_sentence(facts, info, v.value))
        blocks.append(Paragraph(" ".join(sentences), tuple(refs)))
        columns = (
            "Indicator",
            "Standard",
            "District",
            *(sc.name for sc in facts.sub_counties),
            "Assessments",
        )
        rows = []
        for info in infos:
            v = facts.value(info.id)
            standard = (
                number_cell(info.standard, info.unit, standard_ref(facts, info.id))
                if info.standard is not None
                else text("none configured")
            )
            rows.append(
                (
                    text(info.name),
                    standard,
                    value_cell(facts, v, info.unit),
                    *(value_cell(facts, facts.value(info.id, c), info.unit) for c in codes),
                    count_cell(
                        v.n if v else 0,
                        facts.ref(v) if v else Ref(facts.district_code, facts.cycle, info.id),
                    ),
                )
            )
        blocks.append(Table(label, columns, tuple(rows)))
    if not blocks:
        blocks.append(Paragraph("Not enough data: no service delivery indicator is configured."))
    return Section("service_delivery", "Service delivery situation by sector", tuple(blocks))


def _indicator_sentence(facts: DistrictFacts, info: IndicatorInfo, value: float) -> str:
    text_ = f"{info.name}: {nv.value_text(value, info.unit)}"
    if info.standard is None:
        return nv.sentence(text_ + " (no national standard is configured)")
    text_ += f" against a standard of {nv.value_text(info.standard, info.unit)}"
    lower = info.direction == "lower_is_better"
    short = [
        v.org_unit
        for v in sub_county_values(facts, info.id)
        if v.value is not None and (v.value > info.standard if lower else v.value < info.standard)
    ]
    if short:
        verb = "falls" if len(short) == 1 else "fall"
        text_ += f"; {_names(facts, short)} {verb} short"
    return nv.sentence(text_)


# --- 4. Gap analysis --------------------------------------------------------------------------


def gap_analysis_section(
    facts: DistrictFacts, gaps: list[IndicatorGap], management_gaps: list[IndicatorGap]
) -> Section:
    blocks: list[Block] = []
    by_key = {g.key: g for g in gaps}
    ordered = [by_key[g.key] for g in rank([g.gap for g in gaps])]
    if ordered:
        blocks.append(
            Paragraph(
                "Each indicator is compared with its national standard. The relative gap is the "
                "shortfall as a share of the standard, which makes ratios and percentages "
                "comparable; severity follows from it (low from 10%, medium from 25%, high from "
                "50%, critical from 100%, unless the catalog sets other thresholds)."
            )
        )
        blocks.append(_gap_table(facts, "Service delivery gaps", ordered))
        blocks.append(
            Chart(
                "Relative gap to the national standard",
                tuple(g.label for g in ordered),
                (Series("Relative gap", tuple(g.gap.relative * 100 for g in ordered)),),
                "percent of the standard",
            )
        )
    else:
        blocks.append(
            Paragraph(
                "Not enough data: no indicator with a national standard has a value for "
                f"{facts.cycle}."
            )
        )
    no_standard = [
        i
        for i in facts.indicators.values()
        if i.dmip_section == "service_delivery"
        and i.standard is None
        and (v := facts.value(i.id)) is not None
        and v.value is not None
    ]
    if no_standard:
        blocks.append(
            Paragraph(
                nv.sentence(
                    "No national standard is configured for "
                    + nv.join_names([i.name.lower() for i in no_standard])
                    + ", so no gap is measured for "
                    + ("it" if len(no_standard) == 1 else "them")
                )
            )
        )
    no_data = [
        i
        for i in facts.indicators.values()
        if i.dmip_section == "service_delivery"
        and i.standard is not None
        and ((v := facts.value(i.id)) is None or v.value is None)
    ]
    if no_data:
        blocks.append(
            Paragraph(
                nv.sentence(
                    "Not enough data to measure the gap for "
                    + nv.join_names([i.name.lower() for i in no_data])
                )
            )
        )
    if management_gaps:
        ordered_m = [
            next(g for g in management_gaps if g.key == x.key)
            for x in rank([g.gap for g in management_gaps])
        ]
        blocks.append(
            _gap_table(facts, "Management capacity gaps (against the benchmark)", ordered_m)
        )
    return Section("gap_analysis", "Gap analysis", tuple(blocks))


def _gap_cell(value: float, unit: str, ref: Ref) -> Cell:
    """A gap in a percentage is in percentage points, not a percentage of anything."""
    if unit == "percent":
        return Cell(f"{nv.number(value, 1)} points", "number", value, ref)
    return number_cell(value, unit, ref)


def _gap_table(facts: DistrictFacts, title: str, gaps: list[IndicatorGap]) -> Table:
    rows = []
    for position, g in enumerate(gaps, start=1):
        unit = g.info.unit if g.info else "percent"
        r = facts.ref(g.district)
        short = [u.org_unit for u in g.short_units]
        rows.append(
            (
                rank_cell(facts, position, g.key, g.district),
                text(g.label),
                value_cell(facts, g.district, unit),
                number_cell(
                    g.standard, unit, standard_ref(facts, g.district.indicator_id, g.management)
                ),
                _gap_cell(g.gap.gap, unit, r),
                percent_cell(g.gap.relative * 100, r),
                text(g.gap.severity.value),
                text(
                    _names(facts, short)
                    if short
                    else ("none" if g.sub_counties else nv.NOT_ENOUGH_DATA)
                ),
            )
        )
    return Table(
        title,
        (
            "Rank",
            "Indicator",
            "Value",
            "Standard",
            "Gap",
            "Relative gap",
            "Severity",
            "Sub-counties short",
        ),
        tuple(rows),
    )
