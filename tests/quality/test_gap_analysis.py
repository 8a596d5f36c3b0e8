"""Gap analysis on hand-computed fixtures: value, standard, gap, relative gap, severity and rank
per unit; no standard and no value said as such. Then the same from stored aggregates, on
PostgreSQL and SQLite."""

from __future__ import annotations

from fractions import Fraction

import pytest

from server.domain.catalog import Catalog, parse_catalog
from server.domain.gaps import NO_STANDARD, GapRow, gap_table
from server.domain.partials import SCALE, Partial
from server.domain.xform.schema import read_form
from server.quality.gap_analysis import gap_analysis
from tests.fixtures import aggregation as fx
from tests.quality.test_quality_env import CYCLE, Env
from tests.quality.test_quality_env import both_env as both_env


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    from pyxform.xls2xform import convert

    xform = convert(fx.xlsform(), file_type=".xlsx").xform.encode()
    return parse_catalog(fx.CATALOG, {fx.FORM_ID: read_form(xform).fields})


def ratio(num: int, den: int, n: int = 1) -> Partial:
    return Partial(n=n, num=num * SCALE, den=den * SCALE)


def by_id(rows: list[GapRow]) -> dict[str, GapRow]:
    return {r.indicator_id: r for r in rows}


def test_values_against_standards_ranked_by_relative_gap(catalog: Catalog) -> None:
    partials = {
        "ptr": ratio(400, 5, n=2),  # 80 pupils per teacher, standard 53 (lower is better)
        "presence": ratio(3, 5, n=2),  # 60%, standard 90%
        "staffing": ratio(6, 8, n=2),  # 75%, standard 80%
        # score: mean of 0.5 and 0.75 = 62.5%, standard 80%
        "health_staffing_score": Partial(n=2, total=SCALE // 2 + 3 * SCALE // 4),
        "pupils_total": Partial(n=2, total=400 * SCALE),  # no standard
    }
    rows = gap_table(partials, catalog.indicators)
    assert [r.indicator_id for r in rows] == [
        "ptr",  # 27 / 53 = 0.5094
        "presence",  # 30 / 90 = 0.3333
        "health_staffing_score",  # 17.5 / 80 = 0.21875
        "staffing",  # 5 / 80 = 0.0625
        "pupils_total",
    ]
    got = by_id(rows)
    assert (got["ptr"].value, got["ptr"].standard, got["ptr"].gap) == (80.0, 53.0, 27.0)
    assert got["ptr"].relative_gap == 0.5094
    assert (got["ptr"].severity, got["ptr"].rank, got["ptr"].status) == ("high", 1, "gap")
    assert (got["presence"].value, got["presence"].gap) == (60.0, 30.0)
    assert (got["presence"].relative_gap, got["presence"].severity) == (0.3333, "medium")
    score = got["health_staffing_score"]
    assert (score.value, score.gap, score.relative_gap) == (62.5, 17.5, 0.2188)
    assert (score.severity, score.rank) == ("low", 3)
    # Below the standard, but by less than the "low" threshold (10%).
    staffing = got["staffing"]
    assert (staffing.status, staffing.gap, staffing.severity, staffing.rank) == (
        "gap",
        5.0,
        "none",
        4,
    )
    total = got["pupils_total"]
    assert (total.status, total.value, total.rank, total.note) == (
        "no_standard",
        400.0,
        None,
        NO_STANDARD,
    )
    assert total.gap is None and total.severity is None


def test_met_standards_rank_last_and_ties_go_by_indicator_id(catalog: Catalog) -> None:
    partials = {
        "staffing": ratio(4, 4),  # 100% >= 80%: met
        "health_staffing_score": Partial(n=1, total=SCALE),  # 100%: met
        "ptr": ratio(106, 1),  # 106 against 53: relative gap 1.0, twice "high": critical
    }
    rows = gap_table(partials, catalog.indicators)
    assert [(r.indicator_id, r.rank, r.status, r.severity) for r in rows] == [
        ("ptr", 1, "gap", "critical"),
        ("health_staffing_score", 2, "met", "none"),
        ("staffing", 3, "met", "none"),
    ]
    assert rows[1].gap == 0.0 and rows[1].relative_gap == 0.0


def test_values_that_cannot_be_computed_are_listed_unranked(catalog: Catalog) -> None:
    rows = gap_table(
        {"ptr": ratio(50, 0), "pupils_total": Partial(n=1, total=50 * SCALE), "gone": ratio(1, 1)},
        catalog.indicators,
    )
    got = by_id(rows)
    assert set(got) == {"ptr", "pupils_total"}  # an indicator no longer in the catalog is left out
    assert (got["ptr"].status, got["ptr"].value, got["ptr"].rank) == ("no_value", None, None)
    assert "denominators add up to zero" in got["ptr"].note
    assert got["pupils_total"].status == "no_standard"


def test_exact_arithmetic_decides_a_boundary(catalog: Catalog) -> None:
    # presence 81/90 = 90% exactly: the standard is met, not missed by a float's rounding.
    rows = gap_table({"presence": ratio(81, 90)}, catalog.indicators)
    assert (rows[0].value, rows[0].status, rows[0].gap) == (90.0, "met", 0.0)
    assert Fraction(81, 90) * 100 == 90


A = fx.School(pupils=300, teachers=4, present=2, water="yes", staff=[("health", 1, 2)])
B = fx.School(
    pupils=100,
    teachers=1,
    present=1,
    water="no",
    services=(),
    staff=[("health", 3, 4), ("education", 2, 2)],
)
C = fx.School(pupils=50, teachers=0, present=0, water="yes", staff=[("health", 4, 4)])


def test_gap_analysis_for_districts_and_sub_counties_from_stored_aggregates(
    both_env: Env,
) -> None:
    both_env.add(A, "S1")
    both_env.add(B, "S1")
    both_env.add(C, "S2")
    units = [both_env.unit(code) for code in ("D1", "S1", "D2", "S2")]
    with both_env.db.session() as s:
        tables = gap_analysis(s, units, CYCLE, both_env.loaded(s).catalog.indicators)
    expected_s1 = [
        ("ptr", 80.0, 27.0, 0.5094, "high", 1),
        ("presence", 60.0, 30.0, 0.3333, "medium", 2),
        ("health_staffing_score", 62.5, 17.5, 0.2188, "low", 3),
        ("staffing", 75.0, 5.0, 0.0625, "none", 4),
        ("meals_mean_pupils", 300.0, None, None, None, None),  # only A serves meals
        ("pupils_total", 400.0, None, None, None, None),
    ]
    for unit in units[:2]:  # D1 holds only S1's submissions
        rows = tables[unit.id]
        assert [
            (r.indicator_id, r.value, r.gap, r.relative_gap, r.severity, r.rank) for r in rows
        ] == expected_s1
    for unit in units[2:]:
        got = by_id(tables[unit.id])
        # C has no teachers: no ratio, no presence; its staffing is complete.
        assert got["ptr"].status == got["presence"].status == "no_value"
        assert [(r.indicator_id, r.rank) for r in tables[unit.id] if r.rank] == [
            ("health_staffing_score", 1),
            ("staffing", 2),
        ]
