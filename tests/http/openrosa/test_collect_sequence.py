"""The exchange ODK Collect performs, step by step, with Digest authentication throughout."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from server.models import Submission
from tests.fixtures.openrosa import (
    add_user,
    digest_authorization,
    form_data,
    instance,
    new_instance_id,
    parse_challenge,
    publish,
    seed_org,
)


class Collect:
    """A client that, like Collect, answers the Digest challenge and reuses the nonce."""

    def __init__(self, client, username: str) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.username = username
        self.challenge: dict[str, str] | None = None
        self.nc = 0

    def request(self, method: str, uri: str, **kwargs):  # type: ignore[no-untyped-def]
        headers = {"X-OpenRosa-Version": "1.0"}
        if self.challenge is not None:
            self.nc += 1
            headers["Authorization"] = digest_authorization(
                self.challenge, method, uri, self.username, nc=self.nc
            )
        return self.client.open(uri, method=method, headers=headers, **kwargs)

    def submit(self, xml: bytes, files=None, incomplete: bool = False):  # type: ignore[no-untyped-def]
        return self.request(
            "POST",
            "/submission?deviceID=collect%3Aabc123",
            data=form_data(xml, files, incomplete),
            content_type="multipart/form-data",
        )


@pytest.fixture
def collect(client, db):  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    return Collect(client, "ann")


def _rows(db, iid: str) -> list[Submission]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(Submission).where(Submission.instance_id == iid)))


def test_collect_sequence(collect, db, app) -> None:  # type: ignore[no-untyped-def]
    # 1. Form discovery starts unauthenticated and is challenged.
    first = collect.request("GET", "/formList")
    assert first.status_code == 401
    collect.challenge = parse_challenge(first.headers.getlist("WWW-Authenticate")[0])
    listing = collect.request("GET", "/formList")
    assert listing.status_code == 200
    assert etree.fromstring(listing.data)[0][0].text == "school"

    # 2. Before sending, HEAD /submission: 204 with the size limit.
    head = collect.request("HEAD", "/submission?deviceID=collect%3Aabc123")
    assert head.status_code == 204
    limit = app.extensions["dmip"].settings.max_submission_bytes
    assert head.headers["X-OpenRosa-Accept-Content-Length"] == str(limit)
    assert head.headers["X-OpenRosa-Version"] == "1.0"

    # 3. A big submission split in two POSTs, each re-sending the same XML.
    iid = new_instance_id()
    xml = instance(iid, photo="photo.jpg", sketch="sketch.png")
    part1 = collect.submit(xml, {"photo.jpg": b"P" * 5000}, incomplete=True)
    assert part1.status_code == 201
    (row,) = _rows(db, iid)
    assert row.incomplete and row.device_id == "collect:abc123"
    part2 = collect.submit(xml, {"sketch.png": b"S" * 3000})
    assert part2.status_code == 201
    (row,) = _rows(db, iid)
    assert not row.incomplete
    assert sorted(a.name for a in row.attachments) == ["photo.jpg", "sketch.png"]

    # 4. The answer was lost to a timeout; Collect sends the whole thing again.
    resend = collect.submit(xml, {"photo.jpg": b"P" * 5000, "sketch.png": b"S" * 3000})
    assert resend.status_code == 201
    (row,) = _rows(db, iid)
    assert len(row.attachments) == 2 and not row.incomplete

    # 5. The enumerator edits the finalized form: new instanceID, deprecatedID = old one,
    #    only the changed photo re-sent.
    edited_id = new_instance_id()
    edit = instance(edited_id, pupils=150, deprecated_id=iid, photo="photo.jpg")
    answer = collect.submit(edit, {"photo.jpg": b"Q" * 4000})
    assert answer.status_code == 201
    (old,) = _rows(db, iid)
    (new,) = _rows(db, edited_id)
    assert new.supersedes_id == old.id and new.current and not old.current
    sizes = {a.name: a.size for a in new.attachments}
    assert sizes == {"photo.jpg": 4000, "sketch.png": 3000}
    assert collect.nc == 6  # every request after the first challenge reused the nonce
