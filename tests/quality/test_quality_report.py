"""Data-quality flags from stored submissions, every kind computed by hand on one scenario,
with the submissions behind each flag; on PostgreSQL and SQLite.

The test expectations (tests/quality/test_quality_env.py): at least 2 school visits per
sub-county, one submission located at each district itself, ptr at most 150 per school. The
2025/26 deadline is 92 days after 30 June 2026: 30 September 2026.
"""

from __future__ import annotations

import datetime as dt

from server.domain.quality.expectations import load_expectations
from server.quality.report import quality_report
from tests.fixtures import aggregation as fx
from tests.quality.test_quality_env import CYCLE, Env
from tests.quality.test_quality_env import both_env as both_env

ON_TIME = dt.datetime(2026, 8, 1, 9, 0, tzinfo=dt.UTC)


def school(pupils: int, teachers: int, present: int | None = None, **kw: object) -> fx.School:
    return fx.School(
        pupils=pupils,
        teachers=teachers,
        present=teachers if present is None else present,
        **kw,  # type: ignore[arg-type]
    )


def scenario(env: Env) -> dict[str, int]:
    add = env.add
    ids: dict[str, int] = {}
    ids["a1"] = add(school(80, 2), "S1", ON_TIME, instance_id="uuid:a1")
    # An edit received after the deadline of a submission that was on time: not late.
    ids["a1'"] = add(
        school(80, 2),
        "S1",
        dt.datetime(2026, 10, 5, tzinfo=dt.UTC),
        instance_id="uuid:a1-edit",
        deprecated_id="uuid:a1",
    )
    ids["a2"] = add(school(40, 1), "S1", ON_TIME)
    ids["b1"] = add(school(84, 2), "S3", ON_TIME)
    ids["c1"] = add(school(44, 1), "S4", ON_TIME)
    ids["c2"] = add(school(44, 1, present=3), "S4", ON_TIME)  # 3 present of 1 teacher
    ids["d1"] = add(school(200, 1), "S7", ON_TIME)  # 200 pupils per teacher: above 150
    # Received 2 October 2026 (Kampala time): two days late.
    ids["d2"] = add(school(80, 1), "S7", dt.datetime(2026, 10, 2, 6, 0, tzinfo=dt.UTC))
    ids["e1"] = add(school(10, 1), "D1", ON_TIME)  # located at the district itself
    ids["g1"] = add(school(40, 1, staff=[("health", -1, 2)]), "S2", ON_TIME)  # negative posts
    ids["h1"] = add(school(42, 1), "S5", ON_TIME)
    ids["i1"] = add(school(41, 1), "S6", ON_TIME)
    ids["f"] = env.add_failed("S3")
    return ids


def flags_of(env: Env, code: str, kinds: tuple[str, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
    codes = {v: k for k, v in env.units.items()}
    with env.db.session() as s:
        report = quality_report(
            s,
            env.unit(code),
            CYCLE,
            load_expectations(env.expectations),
            kinds or ("incomplete", "duplicate", "late", "outlier", "impossible", "failed"),
            env.loaded(s),
        )
    return [
        (f.kind, codes[f.org_unit_id], f.indicator_id or f.form_id, f.rule, f.submission_ids)
        for f in report.flags
        # Outliers of the other test indicators are not part of the hand computation.
        if f.kind != "outlier" or f.indicator_id == "ptr"
    ]


def test_every_kind_of_flag_with_the_submissions_behind_it(both_env: Env) -> None:
    ids = scenario(both_env)
    form = fx.FORM_ID
    d1_ptr = tuple(sorted(ids[k] for k in ("a1'", "a2", "b1", "c1", "c2", "d1", "d2", "e1")))
    expected = sorted(
        [
            # Completeness: sub-counties need 2 visits, districts one submission of their own.
            ("incomplete", "S3", form, "at_least", (ids["b1"],)),
            ("incomplete", "S2", form, "at_least", (ids["g1"],)),
            ("incomplete", "S5", form, "at_least", (ids["h1"],)),
            ("incomplete", "S6", form, "at_least", (ids["i1"],)),
            ("incomplete", "D2", form, "count", ()),
            ("incomplete", "D3", form, "count", ()),
            ("incomplete", "D4", form, "count", ()),
            ("late", "S7", form, "after_deadline", (ids["d2"],)),
            # ptr in D1's sub-counties: S1 120/3 = 40, S3 42, S4 44, S7 280/2 = 140; median 43,
            # MAD 2, M(S7) = 0.6745 * 97 / 2 = 32.7. Districts: D1 582/10 = 58.2 against D2
            # 40, D3 42, D4 41; median 41.5, MAD 1, M(D1) = 0.6745 * 16.7 = 11.3.
            ("outlier", "S7", "ptr", "modified_z", (ids["d1"], ids["d2"])),
            ("outlier", "D1", "ptr", "modified_z", d1_ptr),
            ("impossible", "S4", "presence", "numerator_above_denominator", (ids["c2"],)),
            ("impossible", "S7", "ptr", "above_max", (ids["d1"],)),
            ("impossible", "S2", "staffing", "negative", (ids["g1"],)),
            ("impossible", "S2", "health_staffing_score", "negative", (ids["g1"],)),
            ("failed", "S3", form, "processing", (ids["f"],)),
        ],
    )
    assert sorted(flags_of(both_env, "UG")) == expected
    # An area sees its own flags, its units still compared with peers outside it.
    assert sorted(flags_of(both_env, "S7")) == sorted(f for f in expected if f[1] == "S7")
    assert flags_of(both_env, "S4", ("impossible",)) == [
        ("impossible", "S4", "presence", "numerator_above_denominator", (ids["c2"],))
    ]


def test_completeness_rows_and_duplicates(both_env: Env) -> None:
    first = both_env.add(school(10, 1), "D2", ON_TIME)
    second = both_env.add(school(12, 1), "D2", ON_TIME)
    both_env.add(school(12, 1), "S2", ON_TIME)
    with both_env.db.session() as s:
        report = quality_report(
            s, both_env.unit("D2"), CYCLE, load_expectations(both_env.expectations), ("duplicate",)
        )
    codes = {v: k for k, v in both_env.units.items()}
    assert sorted(
        (codes[r.org_unit_id], r.expected, r.received, r.status) for r in report.completeness
    ) == [
        ("D2", 1, 2, "duplicate"),
        ("S2", 2, 1, "incomplete"),
    ]
    assert [(f.kind, f.submission_ids) for f in report.flags] == [("duplicate", (first, second))]
