"""Who reads what through /api/v1/: the role matrix, scope limits (a coordinator sees the units
inside their scope and never the aggregates above it), Basic and Digest sign-in, JSON problem
bodies, and no 500 on any query."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.aggregation.reading import ValueFilter, read_values
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import PASSWORD, basic, digest_authorization, parse_challenge
from tests.http.api.test_api_env import Api
from tests.http.api.test_api_env import api as api
from tests.web_client import sign_in

CYCLE = "2025/26"
ON_TIME = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)

ENDPOINTS = [
    ("/api/v1/indicators", {}),
    ("/api/v1/indicators/ptr", {}),
    ("/api/v1/values", {"org_unit": "S1"}),
    ("/api/v1/values/ptr", {"org_unit": "S1", "cycle": CYCLE}),
    ("/api/v1/values/ptr/submissions", {"org_unit": "S1", "cycle": CYCLE}),
    ("/api/v1/gaps", {"org_unit": "S1", "cycle": CYCLE}),
    ("/api/v1/quality/flags", {"org_unit": "S1", "cycle": CYCLE}),
    ("/api/v1/quality/completeness", {"org_unit": "S1", "cycle": CYCLE}),
]
UNIT_ENDPOINTS = ENDPOINTS[2:]


def seed(api: Api) -> None:
    for unit in ("S1", "S3", "S2"):
        api.env.add(fx.School(pupils=40, teachers=1, present=1), unit, ON_TIME)


@pytest.mark.parametrize(("user", "status"), [("ada", 200), ("cora", 200), ("sam", 200)])
def test_readers_read_every_endpoint_for_a_unit_in_scope(api: Api, user: str, status: int) -> None:
    seed(api)
    for url, params in ENDPOINTS:
        assert api.get(url, user, **params).status_code == status, url


def test_enumerators_are_refused_everywhere(api: Api) -> None:
    seed(api)
    for url, params in ENDPOINTS:
        body = api.problem(url, 403, "api.role", user="eve", **params)
        assert "ODK Collect" in body["message"]


def test_no_or_wrong_credentials_get_both_challenges(api: Api) -> None:
    for url, params in ENDPOINTS:
        response = api.get(url, None, **params)
        assert response.status_code == 401
        assert response.get_json()["code"] == "auth.required"
        schemes = [h.split()[0] for h in response.headers.getlist("WWW-Authenticate")]
        assert schemes == ["Digest", "Basic"]
    wrong = api.client.get("/api/v1/indicators", headers=basic("ada", "not the password"))
    assert wrong.status_code == 401
    assert "not correct" in wrong.get_json()["message"]


def test_digest_sign_in(api: Api) -> None:
    challenge = api.client.get("/api/v1/indicators").headers.getlist("WWW-Authenticate")[0]
    header = digest_authorization(parse_challenge(challenge), "GET", "/api/v1/indicators", "cora")
    response = api.client.get("/api/v1/indicators", headers={"Authorization": header})
    assert response.status_code == 200


def test_a_signed_in_web_session_reads_within_its_scope(api: Api) -> None:
    seed(api)
    assert sign_in(api.client, "cora", PASSWORD).status_code == 302
    body = api.client.get("/api/v1/values", query_string={"indicator": "ptr"}).get_json()
    assert {r["org_unit"]["code"] for r in body["data"]} == {"D1", "S1", "S3"}
    assert api.client.get("/api/v1/values", query_string={"org_unit": "D2"}).status_code == 403


def test_out_of_scope_units_are_403_and_unknown_ones_404(api: Api) -> None:
    seed(api)
    for url, params in UNIT_ENDPOINTS:
        for user, code in (("cora", "D2"), ("cora", "UG-C"), ("sam", "S3"), ("sam", "D1")):
            body = api.problem(
                url, 403, "api.out_of_scope", user=user, **{**params, "org_unit": code}
            )
            assert body["details"] == {"org_unit": code}
        api.problem(url, 404, "api.unknown_org_unit", user="cora", **{**params, "org_unit": "ZZ"})
    api.problem("/api/v1/values", 403, "api.out_of_scope", user="cora", within="UG")


def units_seen(api: Api, user: str, **params: object) -> set[str]:
    rows = api.ok("/api/v1/values", user, indicator="ptr", **params)["data"]
    return {r["org_unit"]["code"] for r in rows}


def test_listings_hold_only_units_inside_the_scope(api: Api) -> None:
    seed(api)
    assert units_seen(api, "ada") == {"UG", "UG-C", "D1", "D2", "S1", "S2", "S3"}
    # Not the region's or the country's totals, though they include D1's data.
    assert units_seen(api, "cora") == {"D1", "S1", "S3"}
    assert units_seen(api, "sam") == {"S1"}
    assert units_seen(api, "cora", level="district") == {"D1"}
    gaps = api.ok("/api/v1/gaps", "cora", level="subcounty", cycle=CYCLE)["data"]
    assert [u["org_unit"]["code"] for u in gaps] == ["S1", "S3", "S4", "S7"]
    flags = api.ok("/api/v1/quality/flags", "sam", cycle=CYCLE)["data"]
    assert {f["org_unit"]["code"] for f in flags} == {"S1"}
    rows = api.ok("/api/v1/quality/completeness", "cora", cycle=CYCLE)["data"]
    assert {r["org_unit"]["code"] for r in rows} == {"D1", "S1", "S3", "S4", "S7"}


def test_a_cursor_cannot_widen_a_scope(api: Api) -> None:
    seed(api)
    link = api.ok("/api/v1/values", "ada", indicator="ptr", limit=1)["next"]
    # The same filters from another user give that user's rows after the key, nothing more.
    page = api.ok(link, "sam")
    assert {r["org_unit"]["code"] for r in page["data"]} <= {"S1"}


def test_nul_characters_are_refused_before_reaching_the_database(api: Api) -> None:
    for name in ("org_unit", "within", "indicator", "cycle"):
        api.problem("/api/v1/values", 400, "api.bad_parameter", **{name: "D1\x00"})
    api.problem("/api/v1/values/p%00tr", 404, "api.unknown_indicator")


QUERY_NAMES = [
    "indicator",
    "org_unit",
    "within",
    "level",
    "cycle",
    "kind",
    "form",
    "limit",
    "cursor",
    "x",
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from([u for u, _ in ENDPOINTS] + ["/api/v1/values/%00", "/api/v1/gaps/x"]),
    params=st.dictionaries(st.sampled_from(QUERY_NAMES), st.text(max_size=12), max_size=4),
)
def test_no_query_makes_a_500(api: Api, path: str, params: dict[str, str]) -> None:
    response = api.get(path, "cora", **params)
    assert response.status_code in {200, 400, 403, 404}, (path, params, response.data)
    if response.status_code != 200:
        body = response.get_json()
        assert set(body) == {"status", "code", "message", "details"}


def test_an_empty_scope_reads_nothing(api: Api) -> None:
    seed(api)
    with api.env.db.session() as s:
        assert read_values(s, ValueFilter(areas=[])) == []
        assert len(read_values(s, ValueFilter(areas=None, indicator_ids=["ptr"]))) == 7
