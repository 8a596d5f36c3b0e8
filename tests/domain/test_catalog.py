"""forms/catalog.yaml against the compiled forms, and every rule of the catalog loader."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.domain.catalog import (
    MANAGEMENT_FUNCTIONS,
    Catalog,
    CatalogError,
    load_catalog,
    parse_catalog,
)
from server.domain.xform.schema import read_form
from tests.engine_helper import FORMS_DIR, compiled_forms, load_answers

CATALOG = FORMS_DIR / "catalog.yaml"


@pytest.fixture(scope="module")
def forms() -> dict[str, list[dict[str, Any]]]:
    return {
        form_id: read_form(xform.encode()).fields
        for form_id, (_, xform, _) in compiled_forms().items()
    }


@pytest.fixture(scope="module")
def catalog(forms: dict[str, list[dict[str, Any]]]) -> Catalog:
    return load_catalog(CATALOG, forms)


def test_catalog_validates_against_the_shipped_forms(catalog: Catalog) -> None:
    assert len(catalog.indicators) >= 30


def test_catalog_covers_what_a_dmip_needs(catalog: Catalog) -> None:
    ids = set(catalog.indicators)
    for required in [
        "health_staffing_level",
        "education_department_staffing",
        "district_staffing_level",
        "pupil_teacher_ratio",
        "pupil_classroom_ratio",
        "pupil_stance_ratio",
        "pupils_per_desk",
        "teacher_presence",
        "ple_pass_rate",
        "tracer_medicine_availability",
        "facility_delivery_coverage",
        "hiv_tests_done",
        "art_linkage",
        "penta3_coverage",
        "hmis_timeliness",
        "facility_water",
        "facility_power",
        "ovc_coverage",
    ]:
        assert required in ids, required
    scores = [i for i in catalog.indicators.values() if i.aggregation == "score"]
    assert sorted(i.function for i in scores if i.function) == sorted(MANAGEMENT_FUNCTIONS)
    assert all(i.form == "dmip_management_capacity" and i.unit == "percent" for i in scores)


def test_standards_follow_the_sourced_norms(catalog: Catalog) -> None:
    """Figures from STANDARDS.md, and null where it found none (never an invented figure)."""
    expected = {
        "pupil_teacher_ratio": (53, "<="),
        "pupil_stance_ratio": (40, "<="),
        "health_staffing_level": (80, ">="),
        "penta3_coverage": (80, ">="),
        "hmis_timeliness": (80, ">="),
        "art_linkage": (95, ">="),
        "pupil_classroom_ratio": (None, "<="),
        "tracer_medicine_availability": (None, ">="),
        "facility_delivery_coverage": (None, ">="),
        "ovc_coverage": (None, ">="),
        "teacher_presence": (None, ">="),
    }
    for ident, (value, comparison) in expected.items():
        standard = catalog.indicators[ident].standard
        assert (standard.value, standard.comparison) == (value, comparison), ident
        assert standard.source
    for ind in catalog.indicators.values():
        assert ind.standard.configurable_default, ind.id
        if ind.standard.value is None:
            assert not ind.standard.national_norm, ind.id


def test_terms_on_the_school_fixture_are_hand_computed(
    catalog: Catalog, forms: dict[str, list[dict[str, Any]]]
) -> None:
    row = load_answers("dmip_school")
    pupils = 142 + 150 + 118 + 121 + 104 + 112 + 96 + 101 + 81 + 88 + 70 + 77 + 55 + 61
    assert catalog.terms("pupil_teacher_ratio", row) == (pupils, 22)
    assert catalog.terms("pupil_classroom_ratio", row) == (pupils, 12)
    assert catalog.terms("pupil_stance_ratio", row) == (pupils, 26)
    assert catalog.terms("ple_pass_rate", row) == (9 + 38 + 27 + 19, 112 - 4)
    assert catalog.terms("school_safe_water", row) == (1, 1)
    assert catalog.indicators["ple_pass_rate"].multiplier == 100


def test_terms_apply_filters_and_repeats(catalog: Catalog) -> None:
    hf = load_answers("dmip_health_facility")
    assert catalog.terms("hc_iv_staffing_vs_norm", hf) is None  # an HC III: filtered out
    assert catalog.terms("hc_iv_staffing_vs_norm", {**hf, "facility_level": "hc_iv"}) == (13, 48)
    assert catalog.terms("facility_water", hf) == (1, 1)
    assert catalog.terms("facility_power", hf) == (0, 1)  # solar, but not working today
    no_delivery = {**hf, "services": ["anc"]}
    assert catalog.terms("facility_delivery_coverage", no_delivery) is None
    profile = load_answers("dmip_district_profile")
    assert catalog.terms("health_department_staffing", profile) == (121, 180)
    assert catalog.terms("district_staffing_level", profile) == (
        121 + 262 + 9 + 5,
        180 + 310 + 14 + 12,
    )
    workshop = load_answers("dmip_priority_workshop")
    assert catalog.terms("partner_commitments_ugx", workshop) == (357400000 + 48000000, None)
    capacity = load_answers("dmip_management_capacity")
    assert catalog.terms("capacity_planning_budgeting", capacity) == (3 + 2 + 2, 9)


# --- Rejections -------------------------------------------------------------------------------


def base_indicator() -> dict[str, Any]:
    return {
        "id": "ptr",
        "name": "Pupils per teacher",
        "sector": "education",
        "unit": "ratio",
        "form": "dmip_school",
        "formula": {"numerator": "p1_boys + p1_girls", "denominator": "teachers_payroll"},
        "aggregation": "ratio_of_sums",
        "direction": "lower_is_better",
        "standard": {
            "value": 53,
            "comparison": "<=",
            "source": "MoES",
            "national_norm": True,
            "configurable_default": True,
        },
        "dmip_section": "service_delivery",
    }


def rejected(forms: dict[str, Any], data: dict[str, Any]) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(data, forms)
    return info.value.problems


def with_change(path: str, value: Any, *, delete: bool = False) -> dict[str, Any]:
    ind = base_indicator()
    target = ind
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if delete:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return {"indicators": [ind]}


def test_base_indicator_is_valid(forms: dict[str, Any]) -> None:
    catalog = parse_catalog({"indicators": [base_indicator()]}, forms)
    assert catalog.indicators["ptr"].severity == (0.10, 0.25, 0.50)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("form", "dmip_schools", "indicator 'ptr': unknown form 'dmip_schools'"),
        (
            "formula.numerator",
            "p1_boys + p1_gilrs",
            "indicator 'ptr': formula.numerator: unknown question 'p1_gilrs' in form 'dmip_school'",
        ),
        (
            "formula.numerator",
            "school_name + 1",
            "indicator 'ptr': formula.numerator: '+' needs numbers, but 'school_name' "
            "(a question of type string) is text",
        ),
        (
            "formula.numerator",
            "school_ownership * 2",
            "'*' needs numbers, but 'school_ownership' (a select_one question) is text",
        ),
        (
            "formula.numerator",
            "pupils_total",
            "formula.numerator: must be a number, but is a calculate field",
        ),
        (
            "formula.numerator",
            "sum(teachers_payroll)",
            "sum() runs over a repeat, but 'teachers_payroll' (a question of type int) "
            "refers to no question inside a repeat",
        ),
        (
            "formula.numerator",
            "school_ownership == 'goverment'",
            "'goverment' is not a choice of 'school_ownership' (choices: government, "
            "government_aided, private, community)",
        ),
        (
            "formula.numerator",
            "school_name < 3",
            "'<' compares numbers only",
        ),
        ("formula.numerator", "__import__('os').system('true')", "is not allowed"),
        ("formula.numerator", "p1_boys.real", "'p1_boys.real' is not allowed"),
        ("formula.numerator", "[p1_boys][0]", "is not allowed"),
        ("formula.numerator", "(lambda: 1)()", "is not allowed"),
        ("formula.numerator", "max(p1_boys, 1)", "the function max() is not allowed"),
        ("formula.numerator", "${p1_boys}", "write question names plainly, without ${...}"),
        ("formula.numerator", "p1_boys +", "cannot read 'p1_boys +'"),
        (
            "formula.numerator",
            "if(p1_boys, 1, 0)",
            "the first argument of if() must be a condition",
        ),
        (
            "formula.filter",
            "teachers_payroll",
            "formula.filter: must be a condition, but is a number",
        ),
        ("aggregation", "median", "indicator 'ptr': unknown aggregation 'median'"),
        ("direction", "up", "indicator 'ptr': unknown direction 'up'"),
        ("sector", "roads", "indicator 'ptr': unknown sector 'roads'"),
        ("unit", "kg", "indicator 'ptr': unknown unit 'kg'"),
        ("dmip_section", "annex", "indicator 'ptr': unknown dmip_section 'annex'"),
        ("function", "planning_budgeting", "a management function is only for sector 'management'"),
        (
            "standard.comparison",
            ">=",
            "standard.comparison '>=' contradicts direction 'lower_is_better' (expected '<=')",
        ),
        ("standard.value", "fifty", "standard.value: must be a number or null, not 'fifty'"),
        ("standard.source", "", "standard.source: say where the figure comes from"),
        (
            "severity",
            {"low": 0.5, "medium": 0.25, "high": 0.75},
            "severity: thresholds must increase and be positive, got 0.5, 0.25, 0.75",
        ),
        (
            "aggregation",
            "sum",
            "formula: aggregation 'sum' adds numerators; remove the denominator",
        ),
    ],
)
def test_rejections_name_the_indicator_and_the_bad_part(
    forms: dict[str, Any], path: str, value: Any, message: str
) -> None:
    problems = rejected(forms, with_change(path, value))
    assert any(message in p for p in problems), problems
    assert all(p.startswith("indicator 'ptr'") for p in problems), problems


def test_missing_keys_are_listed(forms: dict[str, Any]) -> None:
    assert rejected(forms, with_change("direction", None, delete=True)) == [
        "indicator 'ptr': missing key(s) direction"
    ]
    assert rejected(forms, with_change("standard.national_norm", None, delete=True)) == [
        "indicator 'ptr': standard: missing key(s) national_norm"
    ]
    problems = rejected(forms, with_change("formula.denominator", None, delete=True))
    assert problems == ["indicator 'ptr': formula: aggregation 'ratio_of_sums' needs a denominator"]


def test_repeat_questions_need_sum_or_count(forms: dict[str, Any]) -> None:
    data = with_change("form", "dmip_district_profile")
    data["indicators"][0]["formula"] = {"numerator": "filled_posts", "denominator": "1"}
    (problem,) = rejected(forms, data)
    assert problem == (
        "indicator 'ptr': formula.numerator: 'filled_posts' is inside the repeat 'staffing': "
        "use sum(filled_posts) or count(filled_posts)"
    )


def test_select_multiple_is_read_with_selected(forms: dict[str, Any]) -> None:
    data = with_change("form", "dmip_health_facility")
    data["indicators"][0]["formula"] = {"numerator": "services + 1", "denominator": "1"}
    (problem,) = rejected(forms, data)
    assert "'services' (a select_multiple question) is a select_multiple answer" in problem
    data["indicators"][0]["formula"] = {
        "numerator": "if(selected(services, 'surgery'), 1, 0)",
        "denominator": "1",
    }
    (problem,) = rejected(forms, data)
    assert "'surgery' is not a choice of 'services'" in problem


def test_circular_derived_values_are_rejected(forms: dict[str, Any]) -> None:
    data = {
        "derived": [
            {"id": "alpha", "form": "dmip_school", "expression": "beta + 1"},
            {"id": "beta", "form": "dmip_school", "expression": "alpha * 2"},
        ],
        "indicators": [base_indicator()],
    }
    problems = rejected(forms, data)
    assert "derived value 'alpha': circular definition: alpha -> beta -> alpha" in problems


def test_derived_value_cannot_shadow_a_question(forms: dict[str, Any]) -> None:
    data = {
        "derived": [{"id": "desks", "form": "dmip_school", "expression": "1"}],
        "indicators": [base_indicator()],
    }
    assert rejected(forms, data) == [
        "derived value 'desks': the name is already a question of form 'dmip_school'"
    ]


def test_duplicate_ids_and_all_problems_reported_at_once(forms: dict[str, Any]) -> None:
    broken = base_indicator()
    broken["id"] = "other"
    broken["aggregation"] = "median"
    data = {"indicators": [base_indicator(), base_indicator(), broken]}
    problems = rejected(forms, data)
    assert "indicator 'ptr': the id is used twice" in problems
    assert any(p.startswith("indicator 'other': unknown aggregation") for p in problems)


def test_load_catalog_reports_file_and_yaml_errors(tmp_path: Path, forms: dict[str, Any]) -> None:
    with pytest.raises(CatalogError, match="cannot read the catalog file"):
        load_catalog(tmp_path / "missing.yaml", forms)
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad, forms)
    empty = tmp_path / "empty.yaml"
    empty.write_text("indicators: []\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no 'indicators' list"):
        load_catalog(empty, forms)


def test_shipped_catalog_fails_when_a_form_loses_a_question(
    forms: dict[str, list[dict[str, Any]]],
) -> None:
    """Renaming a question in a form breaks the catalog loudly, naming who uses it."""
    changed = copy.deepcopy(forms)
    changed["dmip_school"] = [f for f in changed["dmip_school"] if f["name"] != "desks"]
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    problems = rejected(changed, data)
    assert problems == [
        "indicator 'pupils_per_desk': formula.denominator: unknown question 'desks' in form "
        "'dmip_school'"
    ]
