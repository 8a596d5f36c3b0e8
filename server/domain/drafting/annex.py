"""Section 9, the data-quality annex: completeness by form and org unit, failed submissions,
outliers among sub-counties and flags raised while processing."""

from __future__ import annotations

from server.domain.drafting import narrative as nv
from server.domain.drafting.cells import (
    count_cell,
    percent_cell,
)
from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.planning import sub_county_values
from server.domain.drafting.sections import (
    Block,
    Paragraph,
    Section,
    Table,
    text,
)
from server.domain.outliers import outliers

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
