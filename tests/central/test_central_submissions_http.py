"""Submissions by hand (requests): who may read, review and edit which, and every kind of bad
input answered with a precise 4xx in Central's shape, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from server.models import Form, FormVersion, Submission
from server.models.forms import VersionState
from tests.central.submissions_support import (
    FORM_ID,
    auth,
    new_id,
    people,  # noqa: F401
    publish_visits,
    stored,
    submissions_url,
    visit,
)
from tests.fixtures.openrosa import multipart

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def visits(central, people):  # type: ignore[no-untyped-def]  # noqa: F811
    publish_visits(central)


def post(central, body: bytes | str, user: str = "cora1", **kwargs: Any) -> requests.Response:  # type: ignore[no-untyped-def]
    headers = kwargs.pop("headers", XML)
    data = body.encode() if isinstance(body, str) else body
    return requests.post(
        submissions_url(central), data=data, headers=headers, auth=auth(user), timeout=60, **kwargs
    )


def create(central, user: str = "cora1", **fields: Any) -> str:  # type: ignore[no-untyped-def]
    instance_id = new_id()
    answer = post(central, visit(instance_id, photo=None, staff=(), **fields), user)
    assert answer.status_code == 200, answer.text
    return instance_id


def call(central, method: str, path: str, user: str, **kwargs: Any) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.request(
        method, f"{submissions_url(central)}{path}", auth=auth(user), timeout=60, **kwargs
    )


def problem(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json"), answer.text
    body = answer.json()
    assert body["code"] == code, body
    return body


def test_each_reads_only_the_submissions_of_their_areas(central, visits) -> None:
    in_d1 = create(central)
    in_d2 = create(central, "cora2", district="D2", subcounty="S2")

    def listed(user: str) -> set[str]:
        answer = call(central, "GET", "", user)
        assert answer.status_code == 200, answer.text
        return {s["instanceId"] for s in answer.json()}

    assert listed("ada") == {in_d1, in_d2}
    assert listed("cora1") == {in_d1}
    assert listed("cora2") == {in_d2}
    assert listed("sue") == {in_d1}
    assert call(central, "GET", f"/{in_d1}", "sue").status_code == 200
    for path in (f"/{in_d1}", f"/{in_d1}.xml", f"/{in_d1}/versions", f"/{in_d1}/comments"):
        problem(call(central, "GET", path, "cora2"), 403, "403.1")
    problem(call(central, "GET", f"/{in_d1}/attachments", "cora2"), 403, "403.1")


def test_an_enumerator_sends_but_reads_nothing(central, visits) -> None:
    mine = create(central, "ena")
    problem(call(central, "GET", "", "ena"), 403, "403.1")
    problem(call(central, "GET", f"/{mine}", "ena"), 403, "403.1")
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == mine))
        assert row.submitter_id is not None and row.device_id is None


def test_only_reviewers_of_its_area_review_or_comment(central, visits) -> None:
    instance_id = create(central, "ena")
    before = stored(central)
    for user in ("cora2", "sue", "ena"):
        denied = call(central, "PATCH", f"/{instance_id}", user, json={"reviewState": "approved"})
        problem(denied, 403, "403.1")
        comment = call(central, "POST", f"/{instance_id}/comments", user, json={"body": "hi"})
        problem(comment, 403, "403.1")
    assert stored(central) == before
    approved = call(central, "PATCH", f"/{instance_id}", "cora1", json={"reviewState": "approved"})
    assert approved.status_code == 200 and approved.json()["reviewState"] == "approved"
    extended = call(
        central, "GET", f"/{instance_id}", "ada", headers={"X-Extended-Metadata": "true"}
    )
    body = extended.json()
    assert body["submitter"]["displayName"] == "ena" and body["formVersion"] == "1"
    assert body["currentVersion"]["submitter"]["id"] == body["submitterId"]
    assert body["updatedAt"] is not None


def test_bad_bodies_on_create_are_precise_and_store_nothing(central, visits) -> None:
    before = stored(central)
    good = visit(new_id(), photo=None, staff=())
    cases = [
        (post(central, "<data id='visits'><meta>"), 400, "400.1"),
        (post(central, b'<data id="visits" version="1">\x00</data>'), 400, "400.1"),
        (post(central, ""), 400, "400.1"),
        (post(central, visit(new_id(), form_id="school")), 400, "400.8"),
        (post(central, good, headers={"Content-Type": "application/json"}), 415, "415.1"),
        (
            post(central, good, headers={"Content-Type": "multipart/form-data; boundary=x"}),
            415,
            "415.1",
        ),
        (post(central, visit(new_id(), district="NOWHERE", subcounty="NOWHERE")), 400, "400.1"),
        (post(central, visit(new_id(), district="D2", subcounty="S2"), "ena"), 403, "403.1"),
        (post(central, b"<?xml version='1.0'?><!DOCTYPE x []><data id='visits'/>"), 400, "400.1"),
        (
            post(
                central, b"<data id='visits' version='1'>" + b"x" * (17 * 1024 * 1024) + b"</data>"
            ),
            413,
            "413.1",
        ),
    ]
    for answer, status, code in cases:
        problem(answer, status, code)
    unknown_form = requests.post(
        submissions_url(central, "nope"),
        data=visit(new_id(), form_id="nope").encode(),
        headers=XML,
        auth=auth("cora1"),
        timeout=30,
    )
    problem(unknown_form, 404, "404.1")
    assert stored(central) == before


def test_a_closed_form_refuses_with_centrals_409(central, visits) -> None:
    with central.db() as session:
        version = session.scalar(
            select(FormVersion)
            .join(Form, FormVersion.form_id == Form.id)
            .where(Form.xml_form_id == FORM_ID)
        )
        version.state = VersionState.closed
    central.app.extensions["dmip.openrosa.receiver"].forms.clear()
    before = stored(central)
    problem(post(central, visit(new_id())), 409, "409.2")
    assert stored(central) == before


def test_no_session_or_a_browser_cannot_create(central, visits) -> None:
    answer = requests.post(
        submissions_url(central), data=visit(new_id()).encode(), headers=XML, timeout=30
    )
    problem(answer, 401, "401.2")
    wrong = requests.post(
        submissions_url(central),
        data=visit(new_id()).encode(),
        headers=XML,
        auth=("cora1", "no"),
        timeout=30,
    )
    problem(wrong, 401, "401.2")


def test_a_bearer_token_creates_as_its_user(central, visits) -> None:
    token = requests.post(
        f"{central.url}/v1/sessions", json={"email": "ena", "password": auth("ena")[1]}, timeout=30
    ).json()["token"]
    instance_id = new_id()
    answer = requests.post(
        submissions_url(central) + "?deviceID=collect:xyz",
        data=visit(instance_id, photo=None, staff=()).encode(),
        headers={**XML, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["deviceId"] == "collect:xyz"
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        assert row.device_id == "collect:xyz"
    expired = requests.post(
        submissions_url(central),
        data=visit(new_id()).encode(),
        headers={**XML, "Authorization": "Bearer not-a-token"},
        timeout=30,
    )
    problem(expired, 401, "401.2")


def test_bad_reviews_are_precise(central, visits) -> None:
    instance_id = create(central)
    before = stored(central)
    path = f"/{instance_id}"
    garbage = call(
        central,
        "PATCH",
        path,
        "cora1",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    problem(garbage, 400, "400.1")
    problem(call(central, "PATCH", path, "cora1", json=["approved"]), 400, "400.1")
    problem(call(central, "PATCH", path, "cora1", json={}), 400, "400.2")
    problem(call(central, "PATCH", path, "cora1", json={"reviewState": "great"}), 400, "400.8")
    problem(call(central, "PATCH", path, "cora1", json={"reviewState": 3}), 400, "400.8")
    problem(call(central, "PATCH", path, "cora1", json={"reviewState": "edited"}), 400, "400.8")
    problem(call(central, "PATCH", path, "cora1", json={"reviewState": None}), 400, "400.8")
    notes = {"X-Action-Notes": "%E2%28"}
    bad_notes = call(
        central, "PATCH", path, "cora1", json={"reviewState": "rejected"}, headers=notes
    )
    problem(bad_notes, 400, "400.6")
    nul = call(
        central,
        "PATCH",
        path,
        "cora1",
        json={"reviewState": "rejected"},
        headers={"X-Action-Notes": "a%00b"},
    )
    problem(nul, 400, "400.6")
    nul_json = call(central, "PATCH", path, "cora1", json={"reviewState": "approved\u0000"})
    assert nul_json.status_code == 400
    problem(
        call(central, "PATCH", "/uuid:nobody", "cora1", json={"reviewState": "approved"}),
        404,
        "404.1",
    )
    assert stored(central) == before


def test_bad_comments_are_precise(central, visits) -> None:
    instance_id = create(central)
    before = stored(central)
    path = f"/{instance_id}/comments"
    problem(call(central, "POST", path, "cora1", json={}), 400, "400.2")
    problem(call(central, "POST", path, "cora1", json={"body": 5}), 400, "400.2")
    problem(call(central, "POST", path, "cora1", json={"body": "   "}), 400, "400.1")
    problem(call(central, "POST", path, "cora1", json={"body": "x" * 10_001}), 400, "400.1")
    problem(call(central, "POST", path, "cora1", data=b"body=hi"), 400, "400.1")
    assert stored(central) == before


def test_edits_answer_as_central_does(central, visits) -> None:
    first = create(central, "ena")
    before = stored(central)
    path = f"/{first}"

    def put(xml: str, user: str = "ena") -> requests.Response:
        return call(central, "PUT", path, user, data=xml.encode(), headers=XML)

    problem(put(visit(new_id(), photo=None, staff=())), 400, "400.19")
    problem(put(visit(new_id(), deprecated_id="uuid:other", photo=None, staff=())), 409, "409.9")
    problem(put(visit(new_id(), deprecated_id=first, form_id="school")), 400, "400.8")
    problem(put(visit(new_id(), deprecated_id=first, photo=None, staff=()), "eno"), 403, "403.1")
    problem(put(visit(new_id(), deprecated_id=first, photo=None, staff=()), "cora2"), 403, "403.1")
    taken = create(central, "ena")
    after_taken = stored(central)
    problem(put(visit(taken, deprecated_id=first, photo=None, staff=())), 409, "409.8")
    assert stored(central).submissions == after_taken.submissions == before.submissions + 1

    # The reviewer of its area may edit what an enumerator sent, and the old copy is then out
    # of date for everyone.
    second = new_id()
    edited = put(visit(second, deprecated_id=first, pupils=9, photo=None, staff=()), "cora1")
    assert edited.status_code == 200, edited.text
    assert edited.json()["instanceId"] == first
    assert edited.json()["currentVersion"]["instanceId"] == second
    stale = put(visit(new_id(), deprecated_id=first, photo=None, staff=()), "cora1")
    problem(stale, 409, "409.9")
    problem(
        call(
            central,
            "PUT",
            "/uuid:nobody",
            "ena",
            data=visit(new_id(), deprecated_id="uuid:nobody").encode(),
            headers=XML,
        ),
        404,
        "404.1",
    )


def test_unknown_ids_are_404(central, visits) -> None:
    instance_id = create(central)
    for path in (
        "/uuid:nobody",
        "/uuid:nobody.xml",
        "/uuid:nobody/versions",
        f"/{instance_id}/versions/uuid:nobody",
        f"/{instance_id}/versions/uuid:nobody.xml",
        "/uuid:nobody/comments",
        "/uuid:nobody/attachments",
        f"/{instance_id}/attachments/nothing.jpg",
    ):
        problem(call(central, "GET", path, "ada"), 404, "404.1")
    other_form = requests.get(submissions_url(central, "nope"), auth=auth("ada"), timeout=30)
    problem(other_form, 404, "404.1")
    other_project = requests.get(
        f"{central.url}/v1/projects/2/forms/{FORM_ID}/submissions", auth=auth("ada"), timeout=30
    )
    problem(other_project, 404, "404.1")


def test_a_deleted_submission_is_gone(central, visits) -> None:
    from server.db import utcnow

    instance_id = create(central)
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        row.deleted_at = utcnow()
    assert call(central, "GET", "", "ada").json() == []
    problem(call(central, "GET", f"/{instance_id}", "ada"), 404, "404.1")


def test_a_later_versions_id_leads_to_that_version(central, visits) -> None:
    first = create(central, "cora1")
    second = new_id()
    edit = visit(second, deprecated_id=first, pupils=3, photo=None, staff=())
    put = call(central, "PUT", f"/{first}", "cora1", data=edit.encode(), headers=XML)
    assert put.status_code == 200, put.text
    moved = call(central, "GET", f"/{second}", "ada", allow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(f"/submissions/{first}/versions/{second}")
    assert call(central, "GET", f"/{second}", "ada").json()["instanceId"] == second
    assert call(central, "GET", f"/{second}.xml", "ada").content == edit.encode()
    problem(call(central, "GET", f"/{second}", "cora2"), 403, "403.1")


def test_an_edit_from_collect_is_edited_too_and_counts(central, visits) -> None:
    from workers.processing import process_waiting

    first = create(central, "ena")
    second = new_id()
    body = multipart(visit(second, deprecated_id=first, pupils=4, photo=None, staff=()).encode())
    sent = requests.post(
        f"{central.url}/submission",
        data=body.body,
        headers={"Content-Type": body.content_type, "X-OpenRosa-Version": "1.0"},
        auth=auth("ena"),
        timeout=30,
    )
    assert sent.status_code == 201, sent.text
    assert call(central, "GET", f"/{first}", "ada").json()["reviewState"] == "edited"
    # As the worker would, each in a transaction of its own.
    assert process_waiting(central.app.extensions["dmip"].db) == 2
    with central.db() as session:
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        # The edit counts as a received submission would; the version it replaced no longer.
        assert [(r.instance_id, r.counted) for r in rows] == [(first, False), (second, True)]
