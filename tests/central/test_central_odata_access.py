"""Who reads a form's OData feed: admins everything, coordinators and sub-county staff their
areas only (every table, every count, every single submission), enumerators nothing, nobody
without signing in."""

from __future__ import annotations

import pytest
import requests

from server.domain.roles import Role
from tests.central.conftest import PASSWORD
from tests.central.odata_support import (
    Answers,
    feed_url,
    get,
    households,
    process,
    publish_form,
    submit,
)


@pytest.fixture
def two_districts(central, make_person):
    make_person("ena", Role.enumerator, ["S1"])
    make_person("enb", Role.enumerator, ["S2"])
    make_person("ada", Role.admin)
    make_person("cora", Role.coordinator, ["D1"])
    make_person("cob", Role.coordinator, ["D2"])
    make_person("sam", Role.subcounty_staff, ["S1"])
    publish_form(central)
    submit(central, "ena", Answers("uuid:d1", households=households([30, 5])))
    submit(
        central,
        "enb",
        Answers("uuid:d2", district="D2", subcounty="S2", households=households([7])),
    )
    process(central)
    return central


def _ids(answer: requests.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r.get("__Submissions-id", r.get("__id")) for r in answer.json()["value"]]


def test_a_coordinator_reads_only_their_districts(two_districts, pyodk_client) -> None:
    c = two_districts
    assert _ids(get(c, "/Submissions", "cob")) == ["uuid:d2"]
    assert _ids(get(c, "/Submissions.household", "cob")) == ["uuid:d2"]
    members = get(c, "/Submissions.household.member", "cob", count="true").json()
    assert [m["age"] for m in members["value"]] == [7] and members["@odata.count"] == 1
    assert get(c, "/Submissions", "cob", count="true").json()["@odata.count"] == 1
    # Naming the other district's submission does not reach it (404, as if it did not exist).
    assert _ids(get(c, "/Submissions", "cob", filter="__id eq 'uuid:d1' or true")) == ["uuid:d2"]
    assert get(c, "/Submissions('uuid:d1')", "cob").status_code == 404
    assert get(c, "/Submissions('uuid:d1')/household", "cob").status_code == 404
    assert _ids(get(c, "/Submissions", "cora")) == ["uuid:d1"]
    assert _ids(get(c, "/Submissions", "sam")) == ["uuid:d1"]
    assert _ids(get(c, "/Submissions", "ada")) == ["uuid:d2", "uuid:d1"]
    # pyodk signs in with a session token: the same scope.
    rows = pyodk_client("cob").submissions.get_table("household_survey")["value"]
    assert [r["__id"] for r in rows] == ["uuid:d2"]


def test_enumerators_read_nothing_and_nobody_reads_without_signing_in(two_districts) -> None:
    c = two_districts
    for path in ("", "/$metadata", "/Submissions", "/Submissions.household"):
        refused = get(c, path, "ena")
        assert refused.status_code == 403 and refused.json()["code"] == "403.1"
        anonymous = get(c, path, None)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "401.2"
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        wrong = requests.get(feed_url(c, path), auth=("cob", "not-" + PASSWORD), timeout=30)
        assert wrong.status_code == 401


def test_unknown_forms_projects_and_methods(two_districts) -> None:
    c = two_districts
    assert (
        requests.get(feed_url(c, form_id="nothing"), auth=("ada", PASSWORD), timeout=30).status_code
        == 404
    )
    other_project = f"{c.url}/v1/projects/2/forms/household_survey.svc/Submissions"
    assert requests.get(other_project, auth=("ada", PASSWORD), timeout=30).status_code == 404
    # The feed is read-only; a write finds no resource (the /v1/ catch-all, as in Central).
    posted = requests.post(feed_url(c, "/Submissions"), auth=("ada", PASSWORD), timeout=30)
    assert posted.status_code == 404 and posted.json()["code"] == "404.1"
