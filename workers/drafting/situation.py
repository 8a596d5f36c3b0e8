"""Sections that describe the district as it is: profile, management capacity, service
delivery, gap analysis and the data-quality annex."""

from __future__ import annotations

from dataclasses import replace

from workers.aggregate.gaps import rank
from workers.aggregate.outliers import outliers
from workers.drafting import narrative as nv
from workers.drafting.cells import (
    SECTOR_LABELS,
    SECTOR_ORDER,
    count_cell,
    number_cell,
    percent_cell,
    rank_cell,
    standard_ref,
    ugx_cell,
    value_cell,
)
from workers.drafting.document import (
    Block,
    Cell,
    Chart,
    Paragraph,
    Ref,
    Section,
    Series,
    Table,
    text,
)
from workers.drafting.facts import DistrictFacts, IndicatorInfo
from workers.drafting.library import Library
from workers.drafting.planning import IndicatorGap, sub_county_values

FACILITY_LABELS = {
    "hospital": "General hospitals",
    "hc_iv": "Health centres IV",
    "hc_iii": "Health centres III",
    "hc_ii": "Health centres II",
}
SCHOOL_LABELS = {
    "primary_gov": "Government primary schools",
    "primary_private": "Private primary schools",
    "secondary_gov": "Government secondary schools",
}
BUDGET_LABELS = {
    "central": "Central government transfers",
    "local_revenue": "Local revenue",
    "donor": "Development partners",
    "other": "Other",
}


def _names(facts: DistrictFacts, codes: list[str]) -> str:
    return nv.join_names([facts.sub_county_name(c) for c in codes])


# --- 1. District profile ----------------------------------------------------------------------


def profile_section(facts: DistrictFacts) -> Section:
    blocks: list[Block] = []
    names = [sc.name for sc in facts.sub_counties]
    p = facts.profile
    intro = f"{facts.district_name} District"
    if facts.population is not None:
        year = f" ({p.population_year})" if p and p.population_year else ""
        intro += f" has a population of {nv.number(facts.population)}{year}"
        intro += f" living in {nv.count_of(len(names), 'sub-county')}" if names else ""
    else:
        intro += f" has {nv.count_of(len(names), 'sub-county')}" if names else ""
    if names:
        intro += f": {nv.join_names(names)}"
    refs = (facts.fact_ref("population"),) if facts.population is not None else ()
    blocks.append(Paragraph(nv.sentence(intro), refs))
    if facts.population is None:
        blocks.append(Paragraph("Population: not enough data (not recorded for this cycle)."))
    if facts.sub_counties:
        rows = tuple(
            (
                text(sc.name),
                text(sc.code),
                count_cell(sc.population, facts.fact_ref("population", sc.code)),
            )
            for sc in facts.sub_counties
        )
        blocks.append(Table("Sub-counties", ("Sub-county", "Code", "Population"), rows))
    if p is None:
        blocks.append(
            Paragraph(
                f"Not enough data: the district profile for {facts.cycle} has not been "
                "submitted, so facilities, schools, staffing and budget are not described."
            )
        )
        return Section("profile", "District profile", tuple(blocks))
    ref = facts.fact_ref
    service_rows = [
        (text(label), count_cell(p.facilities[k], ref(f"profile.{k}", submissions=p.submissions)))
        for k, label in FACILITY_LABELS.items()
        if k in p.facilities
    ] + [
        (text(label), count_cell(p.schools[k], ref(f"profile.{k}", submissions=p.submissions)))
        for k, label in SCHOOL_LABELS.items()
        if k in p.schools
    ]
    if service_rows:
        blocks.append(
            Table("Health facilities and schools", ("Service point", "Number"), tuple(service_rows))
        )
    if p.staffing:
        blocks.append(_staffing_table(facts))
    if p.budget_ugx:
        blocks.extend(_budget_blocks(facts))
    return Section("profile", "District profile", tuple(blocks))


def _staffing_table(facts: DistrictFacts) -> Table:
    p = facts.profile
    assert p is not None
    rows = []
    for line in p.staffing:
        r = facts.fact_ref(f"profile.staffing.{line.department}", submissions=p.submissions)
        filled = line.filled * 100 / line.approved if line.approved else None
        rows.append(
            (
                text(line.department.capitalize()),
                count_cell(line.approved, r),
                count_cell(line.filled, r),
                percent_cell(filled, r),
            )
        )
    approved = sum(x.approved for x in p.staffing)
    filled_total = sum(x.filled for x in p.staffing)
    r = facts.fact_ref("profile.staffing", submissions=p.submissions)
    rows.append(
        (
            text("Total"),
            count_cell(approved, r),
            count_cell(filled_total, r),
            percent_cell(filled_total * 100 / approved if approved else None, r),
        )
    )
    return Table(
        "Staffing by department",
        ("Department", "Approved posts", "Filled", "Filled (%)"),
        tuple(rows),
    )


def _budget_blocks(facts: DistrictFacts) -> list[Block]:
    p = facts.profile
    assert p is not None
    total = sum(p.budget_ugx.values())
    rows = []
    for key, label in BUDGET_LABELS.items():
        if key not in p.budget_ugx:
            continue
        r = facts.fact_ref(f"profile.budget.{key}", submissions=p.submissions)
        share = p.budget_ugx[key] * 100 / total if total else None
        rows.append((text(label), ugx_cell(p.budget_ugx[key], r), percent_cell(share, r)))
    r = facts.fact_ref("profile.budget", submissions=p.submissions)
    rows.append((text("Total"), ugx_cell(total, r), percent_cell(100.0 if total else None, r)))
    return [
        Paragraph(nv.sentence(f"The district budget for {facts.cycle} is {nv.ugx(total)}"), (r,)),
        Table("Budget by source", ("Source", "Amount (UGX)", "Share"), tuple(rows)),
    ]


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
        return Section(
            "management_capacity",
            title,
            (
                Paragraph(
                    f"Not enough data: no management capacity assessment has been submitted for "
                    f"{facts.cycle}."
                ),
            ),
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


# --- 9. Data-quality annex --------------------------------------------------------------------


def data_quality_section(facts: DistrictFacts) -> Section:
    blocks: list[Block] = []
    title = "Data-quality annex"
    if facts.completeness:
        rows = []
        for c in facts.completeness:
            r = facts.fact_ref(f"completeness.{c.form_id}", c.org_unit, c.received)
            rows.append(
                (
                    text(facts.form_titles.get(c.form_id, c.form_id)),
                    text(facts.sub_county_name(c.org_unit)),
                    count_cell(c.received, r),
                    count_cell(c.expected, r) if c.expected is not None else text("not set"),
                    percent_cell(c.received * 100 / c.expected if c.expected else None, r)
                    if c.expected is not None
                    else text("not set"),
                    count_cell(c.failed, r),
                )
            )
        blocks.append(
            Table(
                "Completeness by form and sub-county",
                ("Form", "Org unit", "Received", "Expected", "Complete", "Failed"),
                tuple(rows),
            )
        )
        incomplete = [
            c for c in facts.completeness if c.expected is not None and c.received < c.expected
        ]
        failed = sum(c.failed for c in facts.completeness)
        sentences = []
        if incomplete:
            verb = "is" if len(incomplete) == 1 else "are"
            sentences.append(
                nv.sentence(
                    f"{nv.count_of(len(incomplete), 'return')} {verb} below the expected number of"
                    " submissions"
                )
            )
        if failed:
            sentences.append(
                nv.sentence(
                    f"{nv.count_of(failed, 'submission')} could not be processed and "
                    f"{'is' if failed == 1 else 'are'} left out of every figure"
                )
            )
        if sentences:
            blocks.insert(0, Paragraph(" ".join(sentences)))
    else:
        blocks.append(
            Paragraph("Not enough data: no completeness figures are available for this cycle.")
        )
    found = []
    for info in facts.indicators.values():
        values = {
            v.org_unit: v.value for v in sub_county_values(facts, info.id) if v.value is not None
        }
        for code, score in outliers(values).items():
            found.append((info, code, values[code], score))
    flags = list(facts.data_quality_flags)
    if found or flags:
        rows = [
            (
                text("outlier"),
                text(facts.sub_county_name(code)),
                text(
                    f"{info.name}: {nv.value_text(value, info.unit)}"
                    f" (modified z-score {nv.number(score, 1)})"
                ),
            )
            for info, code, value, score in found
        ] + [(text(f.kind), text(facts.sub_county_name(f.org_unit)), text(f.detail)) for f in flags]
        blocks.append(Table("Data-quality flags", ("Kind", "Org unit", "Detail"), tuple(rows)))
    else:
        blocks.append(
            Paragraph(
                "No sub-county value is an outlier among its peers (modified z-score above 3.5) "
                "and no other data-quality flag is raised."
            )
        )
    return Section("data_quality", title, tuple(blocks))
