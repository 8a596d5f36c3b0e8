"""Indicator pages on a processed demo district (PostgreSQL): the same values and gaps as the
JSON API, the submissions behind each value page by page, and who may see which place."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from server.web import indicators
from tests.web_demo import CYCLE, ROLES, Demo, demo_world


@pytest.fixture(scope="module")
def demo(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from demo_world(pg_url, tmp_path_factory)


def _linked_indicators(page: str, code: str) -> set[str]:
    return set(re.findall(rf'href="/indicators/{re.escape(code)}/(\w+)\?cycle=', page))


def test_gap_table_matches_the_api(demo: Demo) -> None:
    client = demo.client("coordinator")
    page = client.get(f"/indicators/{demo.district}?cycle={CYCLE}").get_data(True)
    api = client.get(f"/api/v1/gaps?org_unit={demo.district}&cycle={CYCLE}").get_json()
    rows = api["data"][0]["gaps"]
    assert rows, "the demo district has values"
    assert _linked_indicators(page, demo.district) == {r["indicator"] for r in rows}
    ranked = [r for r in rows if r["rank"] is not None]
    # Ranked rows come first, in the API's order.
    positions = [page.index(f"/indicators/{demo.district}/{r['indicator']}?") for r in ranked]
    assert positions == sorted(positions)
    for r in ranked:
        if r["status"] == "gap" and r["severity"] != "none":
            assert f'<span class="sev sev-{r["severity"]}">{r["severity"]}</span>' in page
    # Every sub-county has a column of its own values.
    sub = client.get(f"/indicators/{demo.subcounty}?cycle={CYCLE}").get_data(True)
    assert f'href="/indicators/{demo.subcounty}?cycle={CYCLE}"' in page
    assert _linked_indicators(page, demo.subcounty) == _linked_indicators(sub, demo.subcounty)


def test_a_value_lists_every_submission_behind_it_page_by_page(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = demo.client("coordinator")
    api = client.get(f"/api/v1/gaps?org_unit={demo.district}&cycle={CYCLE}").get_json()
    row = max(api["data"][0]["gaps"], key=lambda r: r["n"])
    behind = client.get(
        f"/api/v1/values/{row['indicator']}/submissions?org_unit={demo.district}"
        f"&cycle={CYCLE}&limit=1000"
    ).get_json()["data"]
    expected = [s["instance_id"] for s in behind]
    assert len(expected) == row["n"] > 10
    monkeypatch.setattr(indicators, "PAGE", 10)
    seen: list[str] = []
    path: str | None = f"/indicators/{demo.district}/{row['indicator']}?cycle={CYCLE}"
    while path is not None:
        page = client.get(path).get_data(True)
        listed = [i for i in expected if i in page]
        assert len(listed) <= 10
        seen += listed
        more = re.search(r'href="([^"]+after=\d+)#submissions">Next', page)
        path = more.group(1).replace("&amp;", "&") if more else None
    assert seen == expected  # every submission once, in order
    # Each links to the submission's own page.
    assert f'href="/submissions/{behind[-1]["id"]}"' in page


ROUTES = [
    ("/indicators", {"admin", "coordinator", "other_coordinator", "subcounty_staff"}),
    ("/indicators/{district}", {"admin", "coordinator"}),
    ("/indicators/{subcounty}", {"admin", "coordinator", "subcounty_staff"}),
    ("/indicators/{district}/pupil_teacher_ratio", {"admin", "coordinator"}),
    ("/indicators/{subcounty}/pupil_teacher_ratio", {"admin", "coordinator", "subcounty_staff"}),
]


def test_matrix_covers_every_indicators_route(demo: Demo) -> None:
    patterns = {
        re.sub(r"\{[^}]+\}", "{}", p.replace("pupil_teacher_ratio", "{}")) for p, _ in ROUTES
    }
    for rule in demo.app.url_map.iter_rules():
        if rule.endpoint.startswith("indicators."):
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}
            assert re.sub(r"<[^>]+>", "{}", rule.rule) in patterns, rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_role_by_page(demo: Demo, role: str) -> None:
    client = demo.client(role)
    for path, allowed in ROUTES:
        path = path.format(district=demo.district, subcounty=demo.subcounty)
        response = client.get(path)
        where = f"{role} {path}"
        if role == "anonymous":
            assert response.status_code == 302 and "/login?next=" in response.location, where
        elif role in allowed:
            assert response.status_code == 200, where
        else:
            assert response.status_code == 403, where
            assert "Not allowed" in response.get_data(True), where


def test_each_user_is_offered_only_their_places(demo: Demo) -> None:
    page = demo.client("other_coordinator").get("/indicators").get_data(True)
    assert f"/indicators/{demo.other}?" in page and f"/indicators/{demo.district}?" not in page
    page = demo.client("subcounty_staff").get("/indicators").get_data(True)
    assert f"/indicators/{demo.subcounty}?" in page and f"/indicators/{demo.district}?" not in page


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/indicators/NOPE", 404, "There is no district or sub-county with the code 'NOPE'."),
        ("/indicators/UG", 404, "indicators are shown by district and sub-county"),
        ("/indicators/{district}/no_such", 404, "There is no indicator 'no_such'"),
        ("/indicators/{district}?cycle=2025-26", 400, "'2025-26' is not a planning cycle"),
        ("/indicators/{district}/pupil_teacher_ratio?after=x", 400, "must be a whole number"),
    ],
)
def test_bad_addresses_are_explained(demo: Demo, path: str, status: int, message: str) -> None:
    response = demo.client("admin").get(path.format(district=demo.district))
    assert response.status_code == status
    assert message in response.get_data(True).replace("&#39;", "'")
