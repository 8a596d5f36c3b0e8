"""One verdict and one ranking: the gap table the dashboard and the JSON API show
(server/domain/gaps.py `gap_table`) and the draft DMIP's gaps (server/domain/drafting) reach
the same verdict, severity and order for the same stored values, at the boundary too: values
a millionth either side of the standard, and exactly on it."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.catalog import Catalog, Indicator, load_catalog
from server.domain.drafting.facts import DistrictFacts, IndicatorInfo, IndicatorValue
from server.domain.drafting.planning import indicator_gap
from server.domain.gaps import gap_table, rank
from server.domain.indicator_values import indicator_value
from server.domain.partials import SCALE, Partial
from server.domain.xform.schema import read_form
from tests.engine_helper import FORMS_DIR, compiled_forms

RATIO_KINDS = {"ratio_of_sums", "proportion"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    forms = {
        form_id: read_form(xform.encode()).fields
        for form_id, (_, xform, _) in compiled_forms().items()
    }
    return load_catalog(FORMS_DIR / "catalog.yaml", forms)


def with_standard(catalog: Catalog) -> list[Indicator]:
    return [
        i
        for i in catalog.indicators.values()
        if i.standard.value is not None and i.aggregation in RATIO_KINDS | {"mean", "score"}
    ]


def near_standard(indicator: Indicator, den: int, off: int) -> Partial:
    """Sums whose value lies `off` millionths of a unit (of the denominator, for a ratio)
    from the indicator's standard: on it when `off` is 0."""
    standard = Fraction(str(indicator.standard.value))
    if indicator.aggregation in RATIO_KINDS:
        num = round(standard * den / indicator.multiplier) + off
        return Partial(n=1, num=max(num, 0), den=den)
    scale = indicator.multiplier if indicator.aggregation == "score" else 1
    if indicator.formula.denominator is not None:
        scale = indicator.multiplier
    total = round(standard * SCALE / scale) + off
    return Partial(n=1, total=max(total, 0))


def draft_facts(indicators: list[Indicator], partials: dict[str, Partial]) -> DistrictFacts:
    values = []
    for ind in indicators:
        value = indicator_value(
            partials[ind.id],
            ind.aggregation,
            ind.multiplier,
            has_denominator=ind.formula.denominator is not None,
            unit=ind.unit,
        )
        exact = float(value.exact) if value.exact is not None else None
        values.append(IndicatorValue(ind.id, "D", exact, 1, 1))
    return DistrictFacts(
        district_code="D",
        district_name="District",
        cycle="2026/27",
        sub_counties=(),
        indicators={i.id: IndicatorInfo.from_catalog(i) for i in indicators},
        values=tuple(values),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_dashboard_api_and_draft_agree_on_the_verdict_and_the_order(
    catalog: Catalog, data: Any
) -> None:
    candidates = with_standard(catalog)
    chosen = data.draw(
        st.lists(st.sampled_from(candidates), min_size=1, max_size=6, unique_by=lambda i: i.id)
    )
    partials = {
        ind.id: near_standard(
            ind,
            data.draw(st.integers(1, 10**9)),
            data.draw(st.sampled_from([-3, -1, 0, 1, 3]) | st.integers(-(10**6), 10**6)),
        )
        for ind in chosen
    }
    rows = {r.indicator_id: r for r in gap_table(partials, {i.id: i for i in chosen})}
    facts = draft_facts(chosen, partials)
    drafted = {}
    for ind in chosen:
        g = indicator_gap(facts, facts.indicators[ind.id])
        if g is None:  # no value (a zero denominator): unranked on both sides
            assert rows[ind.id].status == "no_value"
            continue
        drafted[ind.id] = g
        row = rows[ind.id]
        assert row.status == ("gap" if g.gap.gap > 0 else "met"), (ind.id, row, g.gap)
        assert row.severity == str(g.gap.severity)
    ranked_rows = sorted((r for r in rows.values() if r.rank is not None), key=lambda r: r.rank)
    assert [r.indicator_id for r in ranked_rows] == [
        g.key for g in rank([d.gap for d in drafted.values()])
    ]


def test_a_value_a_ten_millionth_short_of_the_standard_meets_it_everywhere(
    catalog: Catalog,
) -> None:
    """The stored sums are millionths: a value 0.0000001 short of its standard (a proportion
    of 10^7 - 1 in 10^7 against 100%, say) is at the standard to the precision the data has."""
    ind = next(i for i in with_standard(catalog) if i.aggregation == "proportion")
    standard = Fraction(str(ind.standard.value))
    den = 10**9
    num = int(standard * den / ind.multiplier) - 1  # the value: standard - 1e-7
    partial = Partial(n=1, num=num, den=den)
    row = gap_table({ind.id: partial}, {ind.id: ind})[0]
    facts = draft_facts([ind], {ind.id: partial})
    drafted = indicator_gap(facts, facts.indicators[ind.id])
    assert drafted is not None
    assert (row.status, row.gap, row.severity) == ("met", 0.0, "none")
    assert (drafted.gap.gap, str(drafted.gap.severity)) == (0.0, "none")
