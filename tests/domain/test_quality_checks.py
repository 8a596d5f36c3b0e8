"""The data-quality screens as plain functions, on rows whose flags are computed by hand, and
the expectations file's validation."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from server.domain.indicator_values import contribution_value
from server.domain.partials import SCALE
from server.domain.quality import checks
from server.domain.quality.expectations import (
    DEFAULT_PATH,
    Expectation,
    ExpectationsError,
    load_expectations,
    parse_expectations,
)

UTC = dt.UTC
UNITS = [
    checks.UnitRef(1, "/UG/D1/", "district"),
    checks.UnitRef(2, "/UG/D1/S1/", "subcounty"),
    checks.UnitRef(3, "/UG/D1/S3/", "subcounty"),
    checks.UnitRef(4, "/UG/D2/", "district"),
    checks.UnitRef(5, "/UG/D2/S2/", "subcounty"),
]


def test_completeness_counts_submissions_in_or_under_each_unit() -> None:
    rows = checks.completeness(
        Expectation("school", "subcounty", at_least=2),
        UNITS,
        received=[(10, "/UG/D1/S1/"), (11, "/UG/D1/S1/P1/"), (12, "/UG/D1/S3/"), (13, "/UG/D1/")],
        failed=[(20, "/UG/D1/S3/")],
    )
    got = {r.org_unit_id: (r.expected, r.received, r.submission_ids, r.status) for r in rows}
    # A parish's submission counts for its sub-county; the district's own does not.
    assert got == {
        2: (2, 2, (10, 11), "complete"),
        3: (2, 1, (12,), "incomplete"),
        5: (2, 0, (), "incomplete"),
    }
    assert [r.failed_ids for r in rows] == [(), (20,), ()]
    flags = checks.completeness_flags(rows, "2025/26")
    assert [(f.kind, f.org_unit_id, f.submission_ids, f.message) for f in flags] == [
        ("incomplete", 3, (12,), "1 of 2 expected school submissions."),
        ("incomplete", 5, (), "0 of 2 expected school submissions."),
    ]
    assert flags[0].details == {"expected": 2, "received": 1, "failed": 1, "located": "in"}


def test_exact_counts_located_at_the_unit_flag_duplicates() -> None:
    rows = checks.completeness(
        Expectation("capacity", "district", located="at", count=1),
        UNITS,
        received=[(30, "/UG/D1/"), (31, "/UG/D1/"), (32, "/UG/D1/S1/")],
    )
    got = {r.org_unit_id: (r.received, r.status) for r in rows}
    assert got == {1: (2, "duplicate"), 4: (0, "incomplete")}
    flags = checks.completeness_flags(rows, "2025/26")
    assert [(f.kind, f.org_unit_id, f.submission_ids) for f in flags] == [
        ("duplicate", 1, (30, 31)),
        ("incomplete", 4, ()),
    ]


def test_counts_from_the_district_profile() -> None:
    expectation = Expectation("facility", "district", from_profile=("hc_iii", "hc_ii"))
    rows = checks.completeness(
        expectation, UNITS, received=[(1, "/UG/D1/S1/")] * 3, profile_counts={1: 3}
    )
    # D2 sent no profile: its expected count is unknown, which is not a flag.
    assert [(r.org_unit_id, r.expected, r.status) for r in rows] == [
        (1, 3, "complete"),
        (4, None, "unknown"),
    ]
    assert checks.completeness_flags(rows, "2025/26") == []
    assert checks.profile_count({"hc_iii": 2, "hc_ii": 5, "hospitals": 1}, ["hc_iii", "hc_ii"]) == 7
    assert checks.profile_count({"hc_iii": None}, ["hc_iii", "hc_ii"]) is None


def test_late_means_after_the_deadline_day_in_uganda_time() -> None:
    deadline = {"2025/26": dt.date(2026, 9, 30)}.__getitem__
    rows = [
        # 20:59 UTC is 23:59 in Kampala: still the deadline day.
        checks.Received(1, 7, "school", "2025/26", dt.datetime(2026, 9, 30, 20, 59, tzinfo=UTC)),
        checks.Received(2, 7, "school", "2025/26", dt.datetime(2026, 9, 30, 21, 0, tzinfo=UTC)),
        checks.Received(3, 7, "school", "2025/26", dt.datetime(2026, 10, 9, 12, 0, tzinfo=UTC)),
    ]
    flags = checks.late_flags(rows, deadline)
    assert [(f.submission_ids, f.details["days"]) for f in flags] == [((2,), 1), ((3,), 9)]
    assert flags[0].message == "Received 2026-10-01, 1 day after the deadline of 2026-09-30."


def test_outliers_against_peers_of_the_same_district_and_level() -> None:
    d1 = ("subcounty", 1)
    values = [
        checks.PeerValue("ptr", unit, d1, Fraction(v))
        for unit, v in ((11, 10), (12, 11), (13, 12), (14, 13), (15, 50))
    ]
    # The same 50 in another district with one peer is not scored (fewer than 3 values).
    values += [
        checks.PeerValue("ptr", 21, ("subcounty", 2), Fraction(12)),
        checks.PeerValue("ptr", 22, ("subcounty", 2), Fraction(50)),
    ]
    found = checks.outliers(values)
    # median 12; deviations 2, 1, 0, 1, 38; MAD 1; M = 0.6745 * 38 / 1 = 25.631
    assert [(o.org_unit_id, round(o.score, 3), o.median, o.peers) for o in found] == [
        (15, 25.631, 12, 5)
    ]
    # 10 scores 0.6745 * -2 = -1.349: inside the threshold.
    flag = checks.outlier_flag(found[0], "2025/26", [7, 5])
    assert flag.submission_ids == (5, 7)
    assert flag.message == (
        "ptr = 50 is far above its 4 peers (median 12, modified z-score 25.63)."
    )


def test_no_outlier_when_peers_do_not_vary() -> None:
    same = [checks.PeerValue("x", u, ("district", 0), Fraction(5)) for u in range(4)]
    assert checks.outliers([*same, checks.PeerValue("x", 9, ("district", 0), Fraction(6))]) == []


SHAPES = {
    "presence": checks.IndicatorShape("presence", "school", "proportion", 100, True),
    "ptr": checks.IndicatorShape("ptr", "school", "ratio_of_sums", 1, True, plausible_max=150),
    "pupils": checks.IndicatorShape("pupils", "school", "sum", 1, False),
}


def screened(sid: int, ind: str, v: float | None, num: float | None, den: float | None):  # type: ignore[no-untyped-def]
    def fixed(x: float | None) -> int | None:
        return None if x is None else round(x * SCALE)

    return checks.Screened(sid, 3, "2025/26", ind, fixed(v), fixed(num), fixed(den))


def test_impossible_values_per_submission() -> None:
    rows = [
        screened(1, "presence", 1.5, 3, 2),  # 3 present of 2 teachers
        screened(2, "presence", 1.0, 2, 2),  # fine
        screened(3, "ptr", 160, 160, 1),  # above 150 pupils per teacher
        screened(4, "ptr", 150, 150, 1),  # at the maximum: fine
        screened(5, "ptr", 40, 400, 10),  # a ratio's numerator above its denominator: fine
        screened(6, "pupils", -4, -4, None),  # negative count
        screened(7, "unknown", 1, 1, 1),  # not in the catalog: ignored
    ]
    flags = checks.impossible_flags(rows, SHAPES)
    assert [(f.submission_ids, f.indicator_id, f.rule) for f in flags] == [
        ((1,), "presence", "numerator_above_denominator"),
        ((3,), "ptr", "above_max"),
        ((6,), "pupils", "negative"),
    ]
    assert flags[0].message == "3 counted out of 2: a part cannot exceed its whole."
    assert flags[1].details == {"value": 160.0, "max": 150}
    # A percentage's plausible maximum is in percent: 1.5 is 150%.
    shapes = {"presence": checks.IndicatorShape("presence", "school", "score", 100, True, 120)}
    assert [f.details["value"] for f in checks.impossible_flags(rows[:1], shapes)] == [150.0]


def test_failed_submissions_carry_their_reason() -> None:
    flags = checks.failed_flags([checks.FailedRow(9, 3, "school", None, "pupils: not a number")])
    assert [(f.kind, f.submission_ids, f.cycle, f.message) for f in flags] == [
        ("failed", (9,), None, "Could not be processed: pupils: not a number")
    ]


def test_flag_keys_are_unique_and_ordered() -> None:
    a = checks.Flag("late", 2, "2025/26", "", (5,), form_id="school")
    b = checks.Flag("late", 2, "2025/26", "", (6,), form_id="school")
    c = checks.Flag("impossible", 2, "2025/26", "", (5,), indicator_id="ptr", rule="negative")
    assert len({a.key, b.key, c.key}) == 3
    assert sorted([b, a, c], key=lambda f: f.key) == [c, a, b]


def test_the_shipped_expectations_file_is_valid() -> None:
    shipped = load_expectations(DEFAULT_PATH)
    assert shipped.forms["dmip_management_capacity"] == (
        Expectation("dmip_management_capacity", "subcounty", count=1),
        Expectation("dmip_management_capacity", "district", located="at", count=1),
    )
    assert shipped.deadline("2025/26") == dt.date(2026, 9, 30)
    catalog = yaml.safe_load((DEFAULT_PATH.parent / "catalog.yaml").read_text())
    ids = {i["id"] for i in catalog["indicators"]}
    assert set(shipped.plausible_max) <= ids


def test_deadlines_per_cycle_override_the_rule() -> None:
    parsed = parse_expectations(
        {"timeliness": {"days_after_cycle_end": 0, "deadlines": {"2024/25": dt.date(2025, 8, 1)}}}
    )
    assert parsed.deadline("2024/25") == dt.date(2025, 8, 1)
    assert parsed.deadline("2025/26") == dt.date(2026, 6, 30)


def test_a_missing_file_expects_nothing(tmp_path: Path) -> None:
    assert load_expectations(tmp_path / "none.yaml").forms == {}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"forms": {"f": [{"level": "ward", "count": 1}]}}, "forms.f #1: level must be one of"),
        ({"forms": {"f": [{"level": "district"}]}}, "give exactly one of count, at_least"),
        ({"forms": {"f": [{"level": "district", "count": 0}]}}, "count must be a whole number"),
        (
            {"forms": {"f": [{"level": "subcounty", "from_profile": ["x"]}]}},
            "from_profile counts are known per district only",
        ),
        ({"forms": {"f": [{"level": "district", "count": 1, "located": "near"}]}}, "located"),
        ({"timeliness": {"deadlines": {"2025/27": dt.date(2026, 1, 1)}}}, "not a cycle"),
        ({"timeliness": {"deadlines": {"2025/26": "soon"}}}, "must be a date"),
        ({"plausible_max": {"ptr": "high"}}, "plausible_max.ptr: must be a number"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_expectation_problems_are_named(data: object, problem: str) -> None:
    with pytest.raises(ExpectationsError) as caught:
        parse_expectations(data)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


_maybe_int = st.one_of(st.none(), st.integers(-3 * SCALE, 3_000 * SCALE))


@given(
    value=_maybe_int,
    num=_maybe_int,
    den=_maybe_int,
    aggregation=st.sampled_from(["proportion", "ratio_of_sums", "mean", "sum", "count"]),
    multiplier=st.sampled_from([1, 100, 1000]),
    has_denominator=st.booleans(),
    plausible_max=st.one_of(
        st.none(), st.floats(0, 5_000, allow_nan=False), st.integers(0, 5_000).map(float)
    ),
)
def test_the_integer_shortcut_flags_exactly_what_the_full_screen_flags(
    value: int | None,
    num: int | None,
    den: int | None,
    aggregation: str,
    multiplier: int,
    has_denominator: bool,
    plausible_max: float | None,
) -> None:
    shape = checks.IndicatorShape("i", "f", aggregation, multiplier, has_denominator, plausible_max)
    row = checks.Screened(1, 2, "2025/26", "i", value, num, den)
    own = contribution_value(value, aggregation, multiplier, has_denominator=has_denominator)
    expected = (
        (num is not None and num < 0)
        or (den is not None and den < 0)
        or (aggregation == "proportion" and num is not None and den is not None and num > den)
        or (plausible_max is not None and own is not None and own > Fraction(plausible_max))
    )
    assert checks.may_be_impossible(row, shape, checks.value_limit(shape)) == expected
    assert bool(checks.impossible_flags([row], {"i": shape})) == expected
