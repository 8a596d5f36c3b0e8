"""Section 1, the district profile: population, sub-counties, service points, staffing and
budget, from the district profile form."""

from __future__ import annotations

from server.domain.drafting import narrative as nv
from server.domain.drafting.cells import (
    count_cell,
    percent_cell,
    ugx_cell,
)
from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.sections import (
    Block,
    Paragraph,
    Section,
    Table,
    text,
)

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
