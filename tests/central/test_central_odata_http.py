"""The OData feed by hand: bad query options in Central's error shape (never a 5xx), a huge
$top capped, server-driven paging whose $skiptoken stays right while submissions arrive,
submissions the worker has not processed, deleted, reviewed and edited ones, one submission's
tables, and the draft feed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select

from server.domain.odata import options as odata_options
from server.domain.roles import Role
from server.models import Submission, User
from server.models.submissions import ReviewState
from server.services import review
from tests.central.conftest import PASSWORD
from tests.central.odata_support import (
    FORM_ID,
    Answers,
    feed_url,
    get,
    households,
    process,
    publish_form,
    submit,
)


@pytest.fixture
def four(central, make_person):
    """Four processed submissions in D1, oldest first s0..s3, each with two households."""
    make_person("ena", Role.enumerator, ["S1"])
    make_person("ada", Role.admin)
    publish_form(central)
    for i in range(4):
        submit(central, "ena", Answers(f"uuid:s{i}", pupils=i, households=households([30], [5, 6])))
    process(central)
    return central


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["__id"] for r in body["value"]]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"top": "-1"}, 400, "400.11"),
        ({"top": "99999999999999999999"}, 400, "400.11"),
        ({"skip": "abc"}, 400, "400.11"),
        ({"count": "maybe"}, 400, "400.11"),
        ({"filter": "pupils gt"}, 400, "400.18"),
        ({"filter": "pupils eq 'many'"}, 400, "400.18"),
        ({"filter": "nothing eq 1"}, 400, "400.23"),
        ({"filter": "__system/nothing eq 1"}, 400, "400.23"),
        ({"filter": "head eq 1"}, 400, "400.18"),
        # Refused before the feed reads it (server/http_guards.py), in Central's shape too.
        ({"filter": "district eq 'a\x00b'"}, 400, "400.1"),
        ({"filter": "pupils gt 1" + " or pupils gt 1" * 400}, 400, "400.18"),
        ({"select": "nothing"}, 400, "400.23"),
        ({"select": "household/hh_name"}, 400, "400.24"),
        ({"orderby": "nothing"}, 400, "400.23"),
        ({"skiptoken": "garbage"}, 400, "400.35"),
        ({"skiptoken": "01eyJrIjpbMV19"}, 400, "400.35"),
        ({"fitler": "pupils gt 1"}, 400, "400.8"),
        ({"filter": "location eq null"}, 501, "501.5"),
        ({"filter": "facilities eq 'water'"}, 501, "501.5"),
        ({"filter": "pupils add 1 gt 2"}, 501, "501.4"),
        ({"filter": "substring(district, 1) eq 'x'"}, 501, "501.4"),
        ({"orderby": "pupils desc"}, 501, "501.5"),
        ({"expand": "household"}, 501, "501.6"),
        ({"expand": "*", "select": "pupils"}, 501, "501.11"),
        ({"format": "xml"}, 406, "406.1"),
    ],
)
def test_bad_options_are_a_4xx_in_centrals_shape(four, params, status, code) -> None:
    answer = get(four, "/Submissions", **params)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code and body["message"]


def test_a_repeat_tables_bad_options_too(four) -> None:
    assert get(four, "/Submissions.household", filter="__id eq 'x'").json()["code"] == "501.5"
    assert get(four, "/Submissions.household", select="pupils").json()["code"] == "400.23"
    assert get(four, "/Submissions.household.member", skiptoken="01e30=").json()["code"] == "400.35"
    assert get(four, "/Submissions.nothing").status_code == 404
    assert get(four, "/Submissions('uuid:none')").status_code == 404
    assert get(four, "/Submissions('uuid:s0')/nothing").status_code == 404
    assert get(four, "/Submissions(unquoted)").status_code == 404


def test_a_huge_top_is_capped_and_the_rest_follows_by_next_link(four, monkeypatch) -> None:
    monkeypatch.setattr(odata_options, "MAX_PAGE", 3)
    first = get(four, "/Submissions", top="10000000", select="__id").json()
    assert _ids(first) == ["uuid:s3", "uuid:s2", "uuid:s1"]
    rest = requests.get(first["@odata.nextLink"], auth=("ada", PASSWORD), timeout=30).json()
    assert _ids(rest) == ["uuid:s0"] and "@odata.nextLink" not in rest


def test_next_links_page_through_every_row_once_while_submissions_arrive(four) -> None:
    # The late submission's household is there when the repeat's table is read.
    for table, expected in (("Submissions", 4), ("Submissions.household", 9)):
        seen: list[str] = []
        answer = get(four, f"/{table}", top="3", count="true").json()
        assert answer["@odata.count"] == expected
        seen += _ids(answer)
        if table == "Submissions":
            # A submission arriving between pages does not shift the next one (it comes
            # first in the order, before the first page).
            submit(four, "ena", Answers("uuid:late", households=households([1])))
            process(four)
        while "@odata.nextLink" in answer:
            link = answer["@odata.nextLink"]
            query = parse_qs(urlparse(link).query)
            assert query["$top"] == ["3"] and "$skip" not in query and query["$count"] == ["true"]
            answer = requests.get(link, auth=("ada", PASSWORD), timeout=30).json()
            seen += _ids(answer)
        assert len(seen) == expected and len(set(seen)) == expected
    # $skip reaches the same rows as the tokens did.
    by_skip = [_ids(get(four, "/Submissions", top="2", skip=str(s)).json()) for s in (0, 2, 4)]
    assert by_skip == [["uuid:late", "uuid:s3"], ["uuid:s2", "uuid:s1"], ["uuid:s0"]]


def test_the_order_by_id_pages_too(four) -> None:
    first = get(four, "/Submissions", orderby="__id desc", top="3", select="__id").json()
    assert _ids(first) == ["uuid:s3", "uuid:s2", "uuid:s1"]
    rest = requests.get(first["@odata.nextLink"], auth=("ada", PASSWORD), timeout=30).json()
    assert _ids(rest) == ["uuid:s0"]
    oldest = get(four, "/Submissions", orderby="__system/submissionDate asc", top="1").json()
    assert _ids(oldest) == ["uuid:s0"]
    # A token made for one order does not continue another.
    token = parse_qs(urlparse(first["@odata.nextLink"]).query)["$skiptoken"][0]
    assert get(four, "/Submissions", skiptoken=token).json()["code"] == "400.35"


def test_a_submission_not_yet_processed_is_listed_with_its_metadata(central, make_person) -> None:
    make_person("ena", Role.enumerator, ["S1"])
    make_person("ada", Role.admin)
    publish_form(central)
    submit(central, "ena", Answers("uuid:waiting", households=households([3])))
    (row,) = get(central, "/Submissions").json()["value"]
    assert row["__id"] == "uuid:waiting" and row["__system"]["submitterName"] == "ena"
    assert row["pupils"] is None and row["head"] == {"name": None, "years": None}
    assert "household@odata.navigationLink" not in row
    assert get(central, "/Submissions.household").json()["value"] == []
    process(central)
    (row,) = get(central, "/Submissions").json()["value"]
    assert row["pupils"] == 120 and "household@odata.navigationLink" in row


def _user(central, username: str) -> User:
    with central.db() as session:
        user = session.scalar(select(User).where(User.username == username))
        session.expunge(user)
        return user


def _row_id(central, instance_id: str) -> int:
    with central.db() as session:
        return session.scalar(select(Submission.id).where(Submission.instance_id == instance_id))


def test_deleted_reviewed_and_edited_submissions(four, make_person) -> None:
    coordinator = make_person("cora", Role.coordinator, ["D1"])
    with four.db() as session:
        reviewer = session.get(User, coordinator.id)
        review.soft_delete(session, [_row_id(four, "uuid:s0")], reviewer)
        review.set_review_state(
            session, [_row_id(four, "uuid:s1")], ReviewState.approved, None, reviewer
        )
    assert _ids(get(four, "/Submissions", select="__id").json()) == [
        "uuid:s3",
        "uuid:s2",
        "uuid:s1",
    ]
    deleted = get(four, "/Submissions", filter="__system/deletedAt ne null").json()["value"]
    assert [r["__id"] for r in deleted] == ["uuid:s0"]
    assert deleted[0]["__system"]["deletedAt"].endswith("Z")
    assert get(four, "/Submissions.household", count="true").json()["@odata.count"] == 6
    approved = get(four, "/Submissions", filter="__system/reviewState eq 'approved'").json()
    (s1,) = approved["value"]
    assert s1["__system"]["reviewState"] == "approved" and s1["__system"]["updatedAt"]
    # An edit keeps the submission's name and date; its answers are the edit's.
    submit(four, "ena", Answers("uuid:s2-edit", deprecated_id="uuid:s2", pupils=99))
    process(four)
    (edited,) = get(four, "/Submissions", filter="pupils eq 99").json()["value"]
    assert edited["__id"] == "uuid:s2" and edited["meta"]["instanceID"] == "uuid:s2-edit"
    assert edited["__system"]["edits"] == 1 and edited["__system"]["updatedAt"]
    assert get(four, "/Submissions('uuid:s2')").json()["value"][0]["pupils"] == 99
    # Filters name it by that first instanceID too, on every table.
    assert _ids(get(four, "/Submissions", filter="__id eq 'uuid:s2'").json()) == ["uuid:s2"]
    # (An edit is ordered by when it came in: first, newest.)
    assert _ids(get(four, "/Submissions", filter="__id in ('uuid:s2', 'uuid:s3')").json()) == [
        "uuid:s2",
        "uuid:s3",
    ]
    edit_households = get(four, "/Submissions.household", filter="__Submissions-id eq 'uuid:s2'")
    assert [r["__Submissions-id"] for r in edit_households.json()["value"]] == []
    assert len(get(four, "/Submissions", count="true").json()["value"]) == 3


def test_one_submissions_tables(four) -> None:
    one = get(four, "/Submissions('uuid:s1')").json()
    assert _ids(one) == ["uuid:s1"]
    assert one["@odata.context"].endswith("$metadata#Submissions")
    link = one["value"][0]["household@odata.navigationLink"]
    households_of = requests.get(feed_url(four, f"/{link}"), auth=("ada", PASSWORD), timeout=30)
    rows = households_of.json()["value"]
    assert [r["__Submissions-id"] for r in rows] == ["uuid:s1", "uuid:s1"]
    paged = get(four, "/Submissions('uuid:s1')/household", top="1").json()
    assert _ids(paged) == [rows[0]["__id"]]
    rest = requests.get(paged["@odata.nextLink"], auth=("ada", PASSWORD), timeout=30).json()
    assert _ids(rest) == [rows[1]["__id"]]
    members = requests.get(
        feed_url(four, f"/{rows[1]['member@odata.navigationLink']}"),
        auth=("ada", PASSWORD),
        timeout=30,
    ).json()["value"]
    assert [m["age"] for m in members] == [5, 6]
    assert {m["__Submissions-household-id"] for m in members} == {rows[1]["__id"]}


def test_the_draft_feed(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_form(central, version="2025020101", draft=True)
    # Never published: no published feed; the draft has its own.
    assert get(central, "").status_code == 404
    draft = f"{central.url}/v1/projects/1/forms/{FORM_ID}/draft.svc"
    service = requests.get(draft, auth=("ada", PASSWORD), timeout=30).json()
    assert service["@odata.context"] == f"{draft}/$metadata"
    assert service["value"][0]["name"] == "Submissions"
    assert requests.get(f"{draft}/$metadata", auth=("ada", PASSWORD), timeout=30).ok
    data = requests.get(f"{draft}/Submissions", auth=("ada", PASSWORD), timeout=30).json()
    assert data["value"] == [] and data["@odata.context"] == f"{draft}/$metadata#Submissions"
    publish_form(central)
    assert get(central, "").status_code == 200
    other = f"{central.url}/v1/projects/1/forms/nothing/draft.svc"
    assert requests.get(other, auth=("ada", PASSWORD), timeout=30).status_code == 404
