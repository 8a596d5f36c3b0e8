"""/api/v1/ reads: the catalog, values with their filters, stable cursor paging, the
submissions behind a value, gap analysis, quality flags and completeness; on PostgreSQL, and
the main path once on the embedded SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.fixtures import aggregation as fx
from tests.http.api.test_api_env import Api
from tests.http.api.test_api_env import api as api
from tests.http.api.test_api_env import sqlite_api as sqlite_api

CYCLE = "2025/26"
ON_TIME = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)

A = fx.School(pupils=100, teachers=2, present=2, services=("meals",))
B = fx.School(pupils=150, teachers=3, present=1, services=())
C = fx.School(pupils=60, teachers=2, present=2, services=("meals",))
D = fx.School(pupils=90, teachers=1, present=1)


def seed(api: Api) -> dict[str, int]:
    add = api.env.add
    return {
        "A": add(A, "S1", ON_TIME, instance_id="uuid:api-a"),
        "B": add(B, "S1", ON_TIME),
        "C": add(C, "S3", ON_TIME),
        "D": add(D, "S2", ON_TIME),
    }


def places(rows: list[dict[str, Any]]) -> list[tuple[str, str, float | None]]:
    return [(r["indicator"], r["org_unit"]["code"], r["value"]) for r in rows]


def test_catalog(api: Api) -> None:
    body = api.ok("/api/v1/indicators")
    assert [i["id"] for i in body["data"]] == sorted(i["id"] for i in fx.CATALOG["indicators"])
    ptr = api.ok("/api/v1/indicators/ptr")["data"]
    assert (ptr["aggregation"], ptr["unit"], ptr["standard"]["value"]) == (
        "ratio_of_sums",
        "ratio",
        53,
    )
    assert ptr["severity_thresholds"] == {"low": 0.1, "medium": 0.25, "high": 0.5}
    api.problem("/api/v1/indicators/nope", 404, "api.unknown_indicator")


def test_values_by_indicator_level_area_unit_and_cycle(api: Api) -> None:
    seed(api)
    api.env.add(fx.School(pupils=70, teachers=1, cycle="2024/25"), "S1", ON_TIME)
    body = api.ok("/api/v1/values", indicator="ptr", level="subcounty", cycle=CYCLE)
    # S1: 250 pupils / 5 teachers; S2: 90 / 1; S3: 60 / 2.
    assert places(body["data"]) == [("ptr", "S1", 50.0), ("ptr", "S2", 90.0), ("ptr", "S3", 30.0)]
    first = body["data"][0]
    assert (first["n"], first["numerator"], first["denominator"], first["unit"]) == (
        2,
        250.0,
        5.0,
        "ratio",
    )
    assert first["links"]["submissions"] == (
        "/api/v1/values/ptr/submissions?org_unit=S1&cycle=2025%2F26"
    )
    assert body["next"] is None
    # D1 = (250 + 60) / (5 + 2) = 44.29, shown to one place.
    within = api.ok("/api/v1/values", indicator="ptr", within="D1", cycle=CYCLE)["data"]
    assert places(within) == [("ptr", "D1", 44.3), ("ptr", "S1", 50.0), ("ptr", "S3", 30.0)]
    one_unit = api.ok("/api/v1/values", org_unit="S1", cycle=CYCLE)["data"]
    assert {r["indicator"] for r in one_unit} == {i["id"] for i in fx.CATALOG["indicators"]}
    presence = next(r for r in one_unit if r["indicator"] == "presence")
    assert (presence["value"], presence["unit"]) == (60.0, "percent")  # 3 of 5 teachers
    older = api.ok("/api/v1/values", indicator=["ptr", "pupils_total"], org_unit="S1")["data"]
    assert [(r["indicator"], r["cycle"], r["value"]) for r in older] == [
        ("ptr", "2024/25", 70.0),
        ("ptr", CYCLE, 50.0),
        ("pupils_total", "2024/25", 70.0),
        ("pupils_total", CYCLE, 250.0),
    ]


def test_one_value(api: Api) -> None:
    seed(api)
    value = api.ok("/api/v1/values/meals_mean_pupils", org_unit="D1", cycle=CYCLE)["data"]
    assert (value["value"], value["n"], value["sum"]) == (80.0, 2, 160.0)  # A 100, C 60
    api.problem("/api/v1/values/ptr", 404, "api.no_value", org_unit="D3", cycle=CYCLE)
    api.problem("/api/v1/values/ptr", 400, "api.missing_parameter", org_unit="D1")


def test_cursor_pages_neither_repeat_nor_skip_when_rows_arrive_between_pages(api: Api) -> None:
    seed(api)
    params = {"indicator": "pupils_total", "limit": 3}
    first = api.ok("/api/v1/values", **params)
    assert [(r["org_unit"]["code"], r["cycle"]) for r in first["data"]] == [
        ("UG", CYCLE),
        ("UG-C", CYCLE),
        ("D1", CYCLE),
    ]
    before = {
        (r["org_unit"]["code"], r["cycle"])
        for r in api.ok("/api/v1/values", indicator="pupils_total")["data"]
    }
    # New rows on both sides of the cursor, and a changed row after it.
    api.env.add(fx.School(pupils=5, teachers=1, cycle="2024/25"), "S1", ON_TIME)
    api.env.add(fx.School(pupils=7, teachers=1), "S5", ON_TIME)
    api.env.add(fx.School(pupils=11, teachers=1), "S2", ON_TIME)
    seen = [(r["org_unit"]["code"], r["cycle"]) for r in first["data"]]
    values: dict[tuple[str, str], float] = {}
    link = first["next"]
    while link:
        assert "cursor=" in link and "indicator=pupils_total" in link
        page = api.ok(link)
        seen += [(r["org_unit"]["code"], r["cycle"]) for r in page["data"]]
        values.update({(r["org_unit"]["code"], r["cycle"]): r["value"] for r in page["data"]})
        link = page["next"]
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    # Rows added after the cursor's position show up; those before it (the 2024/25 totals of
    # UG and D1) belong to pages already read.
    assert set(seen) - before == {("D3", CYCLE), ("S5", CYCLE), ("S1", "2024/25")}
    assert values[("S2", CYCLE)] == 101.0  # 90 + 11, read after the change


def test_bad_queries_are_precise_400s(api: Api) -> None:
    seed(api)
    page = api.ok("/api/v1/values", indicator="ptr", limit=1)
    cursor = page["next"].split("cursor=")[1]
    cases = [
        ({"cursor": cursor[:-2] + "xx", "indicator": "ptr"}, "api.bad_cursor"),
        ({"cursor": cursor, "indicator": "presence"}, "api.bad_cursor"),  # other filters
        ({"limit": "0"}, "api.bad_limit"),
        ({"limit": "1001"}, "api.bad_limit"),
        ({"limit": "ten"}, "api.bad_limit"),
        ({"cycle": "2025/27"}, "api.bad_cycle"),
        ({"level": "village"}, "api.bad_level"),
        ({"indicator": "nope"}, "api.unknown_indicator"),
        ({"indicatr": "ptr"}, "api.unknown_parameter"),
        ({"cycle": [CYCLE, CYCLE]}, "api.repeated_parameter"),
    ]
    for params, code in cases:
        api.problem("/api/v1/values", 400, code, **params)
    api.problem("/api/v1/values", 404, "api.unknown_org_unit", org_unit="NOWHERE")
    api.problem("/api/v1/nothing/here", 404, "api.not_found")
    response = api.client.post("/api/v1/values")
    assert response.status_code == 405
    assert response.get_json()["code"] == "api.method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_the_submissions_behind_a_value(api: Api) -> None:
    ids = seed(api)
    url = "/api/v1/values/meals_mean_pupils/submissions"
    body = api.ok(url, org_unit="D1", cycle=CYCLE)
    # B serves no meals: the indicator leaves it out. D is in another district.
    assert [s["id"] for s in body["data"]] == [ids["A"], ids["C"]]
    first = body["data"][0]
    assert (first["instance_id"], first["org_unit"], first["cycle"]) == ("uuid:api-a", "S1", CYCLE)
    assert first["contribution"] == {"value": 100.0, "numerator": 100.0, "denominator": None}
    presence = api.ok("/api/v1/values/presence/submissions", org_unit="S1", cycle=CYCLE)["data"]
    assert [s["contribution"] for s in presence] == [
        {"value": 100.0, "numerator": 2.0, "denominator": 2.0},
        # The stored share is 0.333333 (millionths), so 33.3333%.
        {"value": 33.3333, "numerator": 1.0, "denominator": 3.0},
    ]
    # An edit replaces the submission it edits.
    edit = api.env.add(A, "S1", ON_TIME, instance_id="uuid:api-a2", deprecated_id="uuid:api-a")
    pages, link = [], f"{url}?org_unit=D1&cycle=2025%2F26&limit=1"
    while link:
        page = api.ok(link)
        pages.append([s["id"] for s in page["data"]])
        link = page["next"]
    assert pages == [[ids["C"]], [edit]]
    api.problem(url, 404, "api.unknown_org_unit", org_unit="X", cycle=CYCLE)
    api.problem(
        "/api/v1/values/nope/submissions", 404, "api.unknown_indicator", org_unit="D1", cycle=CYCLE
    )


def test_gap_analysis_per_unit_and_paged_over_units(api: Api) -> None:
    seed(api)
    body = api.ok("/api/v1/gaps", org_unit="S1", cycle=CYCLE)
    rows = body["data"][0]["gaps"]
    assert body["data"][0]["org_unit"]["code"] == "S1"
    # Staffing: 1 of 2 posts filled in both schools = 50% against 80%: gap 30, relative 0.375,
    # the same for the health score (mean of 1/2 and 1/2); presence 60% against 90%: 0.3333;
    # 50 pupils per teacher meets the 53 standard.
    assert [
        (r["indicator"], r["rank"], r["gap"], r["relative_gap"], r["severity"]) for r in rows
    ] == [
        ("health_staffing_score", 1, 30.0, 0.375, "medium"),
        ("staffing", 2, 30.0, 0.375, "medium"),
        ("presence", 3, 30.0, 0.3333, "medium"),
        ("ptr", 4, 0.0, 0.0, "none"),
        ("meals_mean_pupils", None, None, None, None),
        ("pupils_total", None, None, None, None),
    ]
    assert rows[-1]["note"] == "no national standard configured"
    codes, link = [], "/api/v1/gaps?level=subcounty&within=D1&cycle=2025%2F26&limit=2"
    while link:
        page = api.ok(link)
        codes += [(u["org_unit"]["code"], len(u["gaps"])) for u in page["data"]]
        link = page["next"]
    assert codes == [("S1", 6), ("S3", 6), ("S4", 0), ("S7", 0)]
    api.problem("/api/v1/gaps", 400, "api.bad_level", org_unit="UG-C", cycle=CYCLE)
    api.problem("/api/v1/gaps", 400, "api.missing_parameter", cycle=CYCLE)
    api.problem("/api/v1/gaps", 400, "api.missing_parameter", org_unit="S1")


def test_quality_flags_and_completeness(api: Api) -> None:
    ids = seed(api)
    late = api.env.add(D, "S4", dt.datetime(2026, 10, 3, tzinfo=dt.UTC))
    flags = api.ok("/api/v1/quality/flags", org_unit="D1", cycle=CYCLE, kind="incomplete")
    assert [
        (f["org_unit"]["code"], f["submissions"], f["details"]["expected"]) for f in flags["data"]
    ] == [
        ("D1", [], 1),
        ("S3", [ids["C"]], 2),
        ("S4", [late], 2),
        ("S7", [], 2),
    ]
    both = api.ok("/api/v1/quality/flags", org_unit="D1", cycle=CYCLE, kind="late,failed")
    assert [(f["kind"], f["submissions"], f["details"]["days"]) for f in both["data"]] == [
        ("late", [late], 3)
    ]
    paged, link = [], "/api/v1/quality/flags?org_unit=D1&cycle=2025%2F26&kind=incomplete&limit=3"
    while link:
        page = api.ok(link)
        paged += [f["org_unit"]["code"] for f in page["data"]]
        link = page["next"]
    assert paged == ["D1", "S3", "S4", "S7"]
    rows = api.ok("/api/v1/quality/completeness", org_unit="D1", cycle=CYCLE)["data"]
    assert [
        (r["org_unit"]["code"], r["rule"], r["expected"], r["received"], r["status"]) for r in rows
    ] == [
        ("D1", "count", 1, 0, "incomplete"),
        ("S1", "at_least", 2, 2, "complete"),
        ("S3", "at_least", 2, 1, "incomplete"),
        ("S4", "at_least", 2, 1, "incomplete"),
        ("S7", "at_least", 2, 0, "incomplete"),
    ]
    assert rows[1]["submissions"] == [ids["A"], ids["B"]]
    api.problem("/api/v1/quality/flags", 400, "api.bad_kind", cycle=CYCLE, kind="typo")
    api.problem("/api/v1/quality/flags", 400, "api.missing_parameter")


def test_a_broken_expectations_file_is_a_clear_503(api: Api) -> None:
    api.env.expectations.write_text("forms: {agg_school: [{level: ward, count: 1}]}\n")
    body = api.problem("/api/v1/quality/flags", 503, "api.configuration", cycle=CYCLE)
    assert "level must be one of" in body["details"]["problems"][0]


def test_main_path_on_embedded_sqlite(sqlite_api: Api) -> None:
    ids = seed(sqlite_api)
    values = sqlite_api.ok("/api/v1/values", indicator="ptr", level="subcounty", limit=2)
    assert places(values["data"]) == [("ptr", "S1", 50.0), ("ptr", "S2", 90.0)]
    rest = sqlite_api.ok(values["next"])
    assert places(rest["data"]) == [("ptr", "S3", 30.0)] and rest["next"] is None
    behind = sqlite_api.ok("/api/v1/values/ptr/submissions", org_unit="D1", cycle=CYCLE)
    assert [s["id"] for s in behind["data"]] == [ids["A"], ids["B"], ids["C"]]
    gaps = sqlite_api.ok("/api/v1/gaps", org_unit="S3", cycle=CYCLE)["data"][0]["gaps"]
    assert gaps[0]["indicator"] == "health_staffing_score"
    flags = sqlite_api.ok("/api/v1/quality/flags", org_unit="S3", cycle=CYCLE)["data"]
    assert [(f["kind"], f["submissions"]) for f in flags] == [("incomplete", [ids["C"]])]
