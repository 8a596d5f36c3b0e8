"""Submissions through pyodk 1.3.0 against the live server: create (with a repeat and
attachments), list, get, the XML, edit, review with a comment, comments, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pyodk._endpoints.submission_attachments import SubmissionAttachmentService
from pyodk.errors import PyODKError
from sqlalchemy import select

from server.models import Submission, SubmissionReview
from server.models.submissions import ReviewState
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


@pytest.fixture
def visits(central, people):  # type: ignore[no-untyped-def]  # noqa: F811
    publish_visits(central)


def _photos(tmp_path: Path) -> list[Path]:
    paths = []
    for name, data in (("front.jpg", b"\xff\xd8front"), ("akello.jpg", b"\xff\xd8akello")):
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_pyodk_creates_a_submission_with_a_repeat_and_its_files(
    central, visits, pyodk_client, tmp_path
) -> None:
    client = pyodk_client("cora1")
    instance_id = new_id()
    xml = visit(instance_id, name="Visit to S1")
    created = client.submissions.create(
        xml, form_id=FORM_ID, device_id="collect:abc", attachments=_photos(tmp_path)
    )
    assert created.instanceId == instance_id
    assert created.deviceId == "collect:abc"
    assert created.reviewState is None
    assert {(a.name, a.exists) for a in created.attachments or []} == {
        ("front.jpg", True),
        ("akello.jpg", True),
    }

    listed = client.submissions.list(form_id=FORM_ID)
    assert [s.instanceId for s in listed] == [instance_id]
    got = client.submissions.get(instance_id, form_id=FORM_ID)
    assert got.instanceName == "Visit to S1"
    assert got.submitterId == created.submitterId

    # The XML comes back byte for byte, the repeat and all.
    raw = client.session.get(f"projects/1/forms/{FORM_ID}/submissions/{instance_id}.xml")
    assert raw.status_code == 200
    assert raw.content == xml.encode()
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        assert row.xml == xml.encode()
        assert row.org_unit_id is not None
        assert sorted(a.name for a in row.attachments) == ["akello.jpg", "front.jpg"]

    files = SubmissionAttachmentService(session=client.session, default_project_id=1)
    photo = client.session.get(
        f"projects/1/forms/{FORM_ID}/submissions/{instance_id}/attachments/front.jpg"
    )
    assert photo.content == b"\xff\xd8front"
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert [(a.name, a.exists) for a in files.list(FORM_ID, instance_id=instance_id)] == [
        ("akello.jpg", True),
        ("front.jpg", True),
    ]


def test_a_duplicate_create_is_409_whatever_its_xml(central, visits, pyodk_client) -> None:
    client = pyodk_client("cora1")
    instance_id = new_id()
    xml = visit(instance_id, photo=None, staff=())
    client.submissions.create(xml, form_id=FORM_ID)
    before = stored(central)
    for again in (xml, visit(instance_id, pupils=7, photo=None, staff=())):
        with pytest.raises(PyODKError) as caught:
            client.submissions.create(again, form_id=FORM_ID)
        assert "409" in str(caught.value)
    assert stored(central) == before

    # What Central's own scripts read: its code and whether the first attempt was this XML.
    same = requests.post(
        submissions_url(central),
        data=xml.encode(),
        headers={"Content-Type": "application/xml"},
        auth=auth("cora1"),
        timeout=30,
    )
    assert same.status_code == 409
    assert same.json()["code"] == "409.3"
    assert same.json()["details"]["sameXml"] is True
    assert same.json()["details"]["values"] == [FORM_ID, instance_id]


def test_pyodk_edits_a_submission_and_it_is_edited(central, visits, pyodk_client) -> None:
    client = pyodk_client("cora1")
    first = new_id()
    client.submissions.create(visit(first, photo=None, staff=()), form_id=FORM_ID)
    second = new_id()
    edited = visit(second, pupils=130, photo=None, staff=(), deprecated_id=first)
    client.submissions.edit(first, edited, form_id=FORM_ID, comment="Pupils recounted")

    got = client.submissions.get(first, form_id=FORM_ID)
    assert got.instanceId == first
    assert got.reviewState == "edited"
    body = client.session.get(f"projects/1/forms/{FORM_ID}/submissions/{first}").json()
    assert body["currentVersion"]["instanceId"] == second
    assert body["currentVersion"]["current"] is True
    assert [s.instanceId for s in client.submissions.list(form_id=FORM_ID)] == [first]
    xml = client.session.get(f"projects/1/forms/{FORM_ID}/submissions/{first}.xml")
    assert xml.content == edited.encode()

    versions = client.session.get(f"projects/1/forms/{FORM_ID}/submissions/{first}/versions")
    assert [(v["instanceId"], v["current"]) for v in versions.json()] == [
        (second, True),
        (first, False),
    ]
    old = client.session.get(f"projects/1/forms/{FORM_ID}/submissions/{first}/versions/{first}")
    assert old.json()["current"] is False
    old_xml = client.session.get(
        f"projects/1/forms/{FORM_ID}/submissions/{first}/versions/{first}.xml"
    )
    assert old_xml.content == visit(first, photo=None, staff=()).encode()
    assert [c.body for c in client.submissions.list_comments(first, form_id=FORM_ID)] == [
        "Pupils recounted"
    ]
    with central.db() as session:
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert [(r.instance_id, r.current, r.review_state) for r in rows] == [
            (first, False, ReviewState.received),
            (second, True, ReviewState.edited),
        ]


def test_pyodk_reviews_with_a_comment(central, visits, pyodk_client) -> None:
    client = pyodk_client("cora1")
    instance_id = new_id()
    client.submissions.create(visit(instance_id, photo=None, staff=()), form_id=FORM_ID)
    client.submissions.review(instance_id, "approved", form_id=FORM_ID, comment="All good")
    assert client.submissions.get(instance_id, form_id=FORM_ID).reviewState == "approved"
    client.submissions.add_comment(instance_id, "Seen again", form_id=FORM_ID)
    comments = client.submissions.list_comments(instance_id, form_id=FORM_ID)
    assert [c.body for c in comments] == ["Seen again", "All good"]
    me = client.session.get("users/current").json()["id"]
    assert {c.actorId for c in comments} == {me}

    # Central's X-Action-Notes becomes the review's own comment, through the review service.
    marked = requests.patch(
        f"{submissions_url(central)}/{instance_id}",
        json={"reviewState": "hasIssues"},
        headers={"X-Action-Notes": "Photo%20missing%20%E2%80%93%20retake"},
        auth=auth("cora1"),
        timeout=30,
    )
    assert marked.status_code == 200 and marked.json()["reviewState"] == "hasIssues"
    with central.db() as session:
        reviews = session.scalars(select(SubmissionReview).order_by(SubmissionReview.id)).all()
        assert [(r.state, r.comment) for r in reviews] == [
            (ReviewState.approved, None),
            (ReviewState.has_issues, "Photo missing – retake"),
        ]


def test_pyodk_marks_issues_and_its_comment_is_the_reason(central, visits, pyodk_client) -> None:
    # pyodk sends the review, then the comment: the enumerator reads the comment as the reason.
    client = pyodk_client("cora1")
    instance_id = new_id()
    client.submissions.create(visit(instance_id, photo=None, staff=()), form_id=FORM_ID)
    client.submissions.review(instance_id, "hasIssues", form_id=FORM_ID, comment="Recount")
    client.submissions.add_comment(instance_id, "Any news?", form_id=FORM_ID)
    assert client.submissions.get(instance_id, form_id=FORM_ID).reviewState == "hasIssues"
    with central.db() as session:
        reviews = session.scalars(select(SubmissionReview)).all()
        assert [(r.state, r.comment) for r in reviews] == [(ReviewState.has_issues, "Recount")]


def test_a_rejection_takes_the_submission_out_of_the_indicators(
    central, visits, pyodk_client
) -> None:
    from workers.processing import process_submission

    client = pyodk_client("cora1")
    instance_id = new_id()
    client.submissions.create(visit(instance_id, photo=None, staff=()), form_id=FORM_ID)
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        process_submission(session, row.id)
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        assert row.counted is True
    client.submissions.review(instance_id, "rejected", form_id=FORM_ID)
    with central.db() as session:
        row = session.scalar(select(Submission).where(Submission.instance_id == instance_id))
        assert (row.review_state, row.counted) == (ReviewState.rejected, False)
