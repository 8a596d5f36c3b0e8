"""Narrative formatting, "not enough data" drafts, and the intervention library's validation
(against the shipped catalog and rule by rule)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
import yaml

from server.domain.catalog import MANAGEMENT_FUNCTIONS, load_catalog
from server.domain.drafting import draft_dmip
from server.domain.drafting import narrative as nv
from server.domain.drafting.facts import IndicatorInfo, IndicatorValue
from server.domain.drafting.interventions import LibraryError, load_library, parse_library
from server.domain.xform.schema import read_form
from tests.domain.test_drafting_district import (
    LIBRARY,
    LIBRARY_IDS,
    S1,
    S2,
    S3,
    D,
    fixture_facts,
    fixture_library,
)
from tests.engine_helper import FORMS_DIR, compiled_forms

# --- Narrative --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        (1, "sub-county", "1 sub-county"),
        (0, "sub-county", "0 sub-counties"),
        (3, "sub-county", "3 sub-counties"),
        (1, "teacher", "1 teacher"),
        (2, "health worker", "2 health workers"),
        (2, "health facility", "2 health facilities"),
        (5, "outreach session", "5 outreach sessions"),
        (1200, "child", "1,200 children"),
        (2, "latrine block", "2 latrine blocks"),
        (2, "office", "2 offices"),
        (4, "box", "4 boxes"),
        (2, "day", "2 days"),
    ],
)
def test_plurals(count: int, noun: str, expected: str) -> None:
    assert nv.count_of(count, noun) == expected


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (1234567.891, 1, "1,234,567.9"),
        (2.5, 0, "3"),  # half up, where round() would give 2
        (12.5, 0, "13"),
        (0.15, 1, "0.2"),  # read as the decimal 0.15, not the float just below it
        (18.75, 1, "18.8"),
        (-0.04, 1, "0.0"),  # no "-0.0"
        (999.95, 1, "1,000.0"),
        (0, 0, "0"),
    ],
)
def test_numbers_round_half_up_with_separators(value: float, places: int, expected: str) -> None:
    assert nv.number(value, places) == expected


def test_money_percent_and_values_by_unit() -> None:
    assert nv.ugx(536_260_336) == "UGX 536,260,336"
    assert nv.ugx_millions(536_260_336) == "UGX 536.3 million"
    assert nv.percent(56.25) == "56.3%"
    assert nv.share(1, 3) == "33.3%"
    assert nv.share(1, 0) == "not enough data"
    assert nv.value_text(59.913, "ratio") == "59.9"
    assert nv.value_text(70.8333, "percent") == "70.8%"
    assert nv.value_text(1204, "count") == "1,204"
    assert nv.value_text(None, "percent") == "not enough data"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["Bukiro"], "Bukiro"),
        (["Bukiro", "Kanyinya"], "Bukiro and Kanyinya"),
        (["Bukiro", "Kanyinya", "Rwemiyaga"], "Bukiro, Kanyinya and Rwemiyaga"),
    ],
)
def test_lists_of_names(names: list[str], expected: str) -> None:
    assert nv.join_names(names) == expected


# --- Not enough data --------------------------------------------------------------------------


def test_a_district_with_no_data_says_so_in_every_section() -> None:
    facts = replace(
        fixture_facts(),
        values=(),
        hq_values=(),
        profile=None,
        population=None,
        completeness=(),
        data_quality_flags=(),
    )
    sections, analysis = draft_dmip(facts, fixture_library())
    assert analysis.priorities == () and analysis.costs.total == 0
    for s in sections:
        text = " ".join(p.text for p in s.paragraphs)
        assert "not enough data" in text.lower(), s.key
        # No sentence about data that isn't there: no table of figures, no chart.
        numbers = [
            c for t in s.tables for row in t.rows for c in row if c.kind not in ("text", "missing")
        ]
        # Only the sub-county populations, which are facts of the org hierarchy, remain.
        expected = [24_000, 18_500, 12_300] if s.key == "profile" else []
        assert [c.value for c in numbers] == expected, s.key
        assert not s.charts, s.key
    profile = sections[0]
    assert profile.paragraphs[0].text == (
        "Nyakabale District has 3 sub-counties: Bukiro, Kanyinya and Rwemiyaga."
    )


def test_a_sector_without_values_is_not_described() -> None:
    values = tuple(
        v for v in fixture_facts().values if not v.indicator_id.startswith(("health_", "penta3"))
    )
    sections, _ = draft_dmip(fixture_facts(values=values), fixture_library())
    service = next(s for s in sections if s.key == "service_delivery")
    assert service.paragraphs[0].text == (
        "Health: not enough data. No health indicator has a value for 2026/27."
    )
    assert [t.title for t in service.tables] == ["Education"]


def test_a_rule_missing_a_fact_is_not_sized() -> None:
    """A quantity needs the numerator; a mean aggregate without one cannot be sized."""
    values = tuple(
        replace(v, numerator=None) if v.indicator_id == "penta3_coverage" else v
        for v in fixture_facts().values
    )
    sections, analysis = draft_dmip(fixture_facts(values=values), fixture_library())
    need = next(n for n in analysis.needs if n.gap.key == "penta3_coverage")
    assert need.quantity is None
    plan = next(s for s in sections if s.key == "action_plan")
    assert plan.paragraphs[-1].text == (
        "Not enough data to size and cost run immunisation outreach sessions for children missed."
    )
    results = next(s for s in sections if s.key == "results_framework")
    assert results.tables[0].rows[2][4].text == "70.8%"  # the target holds the baseline
    assert any("not enough data to size" in p.text for p in results.paragraphs)


def test_unknown_sub_county_population_leaves_reach_unknown() -> None:
    facts = fixture_facts()
    subs = (replace(facts.sub_counties[0], population=None), *facts.sub_counties[1:])
    _, analysis = draft_dmip(replace(facts, sub_counties=subs), fixture_library())
    by_key = {p.gap.key: p for p in analysis.priorities}
    assert by_key["pupil_teacher_ratio"].reach is None  # Bukiro is short and unknown
    assert by_key["penta3_coverage"].reach == 30_800  # Kanyinya and Rwemiyaga are known


def test_a_budget_ceiling_bounds_quantities_and_targets() -> None:
    ceiling = 300_000_000
    sections, analysis = draft_dmip(fixture_facts(budget_ceiling_ugx=ceiling), fixture_library())
    assert analysis.costs.ceiling_applied and analysis.costs.total <= ceiling
    target = analysis.targets["pupil_teacher_ratio"]
    assert target.funded < target.needed == 15
    assert 53.0 < target.years[2] < target.baseline
    results = next(s for s in sections if s.key == "results_framework")
    assert any("stops short of the standard" in p.text for p in results.paragraphs)


# --- Intervention library ---------------------------------------------------------------------


def raw_library() -> dict[str, Any]:
    return yaml.safe_load(LIBRARY.read_text(encoding="utf-8"))


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(LibraryError) as info:
        parse_library(data, LIBRARY_IDS, MANAGEMENT_FUNCTIONS)
    return info.value.problems


def test_library_validates_against_the_shipped_catalog() -> None:
    fields = {
        form_id: read_form(xform.encode()).fields
        for form_id, (_, xform, _) in compiled_forms().items()
    }
    catalog = load_catalog(FORMS_DIR / "catalog.yaml", fields)
    library = load_library(LIBRARY, set(catalog.indicators), MANAGEMENT_FUNCTIONS)
    assert set(MANAGEMENT_FUNCTIONS) <= set(library.gaps)
    for gap in library.gaps.values():
        if not gap.management:
            assert catalog.indicators[gap.key].standard.value is not None or gap.key in {
                "pupil_classroom_ratio"
            }
        for item in gap.interventions:
            assert item.unit_cost_ugx > 0 and item.cost_source
    # Costs without a published figure say so.
    assert library.intervention("immunisation_outreach").assumed
    assert not library.intervention("recruit_primary_teachers").assumed
    info = IndicatorInfo.from_catalog(catalog.indicators["pupil_teacher_ratio"])
    assert (info.standard, info.direction, info.unit) == (53.0, "lower_is_better", "ratio")


def test_library_rejects_each_mistake_with_its_place() -> None:
    data = raw_library()
    bad = copy.deepcopy(data)
    teachers = bad["gaps"]["pupil_teacher_ratio"]["interventions"][0]
    teachers["quantity"] = "enrolment / standard - teachers"
    teachers["funding"] = {"central_government": 90}
    teachers["phasing"] = [50, 50]
    teachers["unit_cost_ugx"] = 5664948.5
    bad["gaps"]["no_such_indicator"] = {"interventions": []}
    bad["gaps"]["penta3_coverage"]["interventions"][0]["funding"] = {"lottery": 100}
    found = problems(bad)
    where = "gap 'pupil_teacher_ratio', intervention 'recruit_primary_teachers'"
    assert found == [
        f"{where}: quantity uses unknown name(s) teachers (allowed: denominator, enrolment, n, "
        "numerator, population, standard, teachers_in_post, value)",
        f"{where}: unit_cost_ugx must be a whole number of shillings, not 5664948.5",
        f"{where}: funding percentages must be whole numbers summing to 100",
        f"{where}: phasing must give 3 whole percentages (years 1-3) summing to 100",
        "gap 'penta3_coverage', intervention 'immunisation_outreach': unknown funding "
        "source(s) lottery",
        "gap 'no_such_indicator': not a catalog indicator id nor a management function",
    ]


def test_library_rejects_missing_keys_and_bad_rules() -> None:
    data = raw_library()
    item = data["gaps"]["pupils_per_desk"]["interventions"][0]
    del item["responsible"]
    data["gaps"]["pupil_stance_ratio"]["interventions"][0]["quantity"] = "enrolment.__class__"
    mgmt = data["gaps"]["governance"]["interventions"][0]
    mgmt["quantity"] = "if(numerator < benchmark, 1, 0)"
    found = problems(data)
    assert "gap 'pupils_per_desk', intervention 'supply_desks': missing key(s) responsible" in found
    assert any(
        p.startswith("gap 'pupil_stance_ratio', intervention 'build_latrine_blocks': quantity:")
        for p in found
    )
    assert (
        "gap 'governance', intervention 'mentor_governance': quantity uses unknown "
        "name(s) numerator (allowed: benchmark, score)"
    ) in found


def test_library_rejects_a_duplicate_intervention_id() -> None:
    data = raw_library()
    data["gaps"]["pupils_per_desk"]["interventions"][0]["id"] = "recruit_primary_teachers"
    assert problems(data) == [
        "gap 'pupils_per_desk': intervention id 'recruit_primary_teachers' is used twice"
    ]


def test_management_benchmark_is_two_of_three() -> None:
    library = fixture_library()
    assert library.management_benchmark == 66.666667
    # A district scored exactly 2 on every criterion meets it: no mentoring is planned.
    facts = fixture_facts()
    hq = tuple(replace(v, value=6 / 9 * 100) for v in facts.hq_values)
    values = tuple(
        replace(v, value=6 / 9 * 100) if v.indicator_id.startswith("capacity_") else v
        for v in facts.values
    )
    _, analysis = draft_dmip(replace(facts, hq_values=hq, values=values), library)
    assert "financial_management" not in {p.gap.key for p in analysis.priorities}


def test_an_outlying_sub_county_is_flagged_and_partner_pledges_are_set_beside_the_plan() -> None:
    facts = fixture_facts()
    # Penta 3 at 90%, 89% and 10%: the median is 89, the median absolute deviation 1, so
    # Rwemiyaga scores 0.6745 x (10 - 89) / 1 = -53.3 (an outlier beyond 3.5).
    values = [
        replace(v, value={S1: 90.0, S2: 89.0, S3: 10.0}[v.org_unit])
        if v.indicator_id == "penta3_coverage" and v.org_unit != D
        else v
        for v in facts.values
    ]
    values.append(IndicatorValue("partner_commitments_ugx", D, 405_400_000.0, 2, 1, 405_400_000.0))
    infos = {
        **facts.indicators,
        "partner_commitments_ugx": IndicatorInfo(
            "partner_commitments_ugx",
            "Partner commitments",
            "management",
            "ugx",
            "dmip_priority_workshop",
            "higher_is_better",
            None,
            "Not a gap indicator",
            dmip_section="action_plan",
            function="partner_coordination",
        ),
    }
    sections, _ = draft_dmip(
        replace(facts, values=tuple(values), indicators=infos), fixture_library()
    )
    by_key = {s.key: s for s in sections}
    flags = by_key["data_quality"].tables[-1]
    assert [c.text for c in flags.rows[0]] == [
        "outlier",
        "Rwemiyaga",
        "Penta 3 (DPT3) coverage: 10.0% (modified z-score -53.3)",
    ]
    # Only Rwemiyaga is now short on Penta 3: (480 - 300) / 40 = 4.5 -> 5 sessions, phased
    # 2, 2, 1 -> UGX 500,000, 500,000, 250,000; development partners pay 60%: 750,000.
    assert (
        "Partners committed UGX 405,400,000 at the priority-setting workshop; the plan asks "
        "development partners for UGX 750,000."
    ) in [p.text for p in by_key["action_plan"].paragraphs]
