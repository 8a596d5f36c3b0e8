"""Who may send an edit (meta/deprecatedID) of a stored submission: its sender, or a reviewer
(coordinator, admin) whose area covers it. Anyone else is refused with 403 and nothing is
stored: no row, no attachment, not even the attachment's file."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree
from sqlalchemy import func, select

from server.models import Attachment, Submission
from server.storage.blobs import BlobStore
from tests.fixtures.openrosa import (
    add_user,
    basic,
    instance,
    multipart,
    new_instance_id,
    publish,
    seed_org,
)

RESPONSE = "{http://openrosa.org/http/response}"
PHOTO = b"\xff\xd8\xff" + b"original" * 500
NEW_PHOTO = b"\xff\xd8\xff" + b"replacement" * 500


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))  # sends the original
    add_user(db, "bob", "enumerator", ("D1",))  # same area, someone else
    add_user(db, "cora", "coordinator", ("D1",))  # reviews D1
    add_user(db, "dan", "coordinator", ("D2",))  # reviews another district
    add_user(db, "sam", "subcounty_staff", ("S1",))  # sees S1, reviews nothing
    add_user(db, "admin", "admin")
    return db


def post(client, xml: bytes, user: str, files: dict[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    body = multipart(xml, files)
    return client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic(user)
    )


def message(response) -> str:  # type: ignore[no-untyped-def]
    root = etree.fromstring(response.data)
    element = root.find(f"{RESPONSE}message")
    assert element is not None
    return str(element.text)


def rows(db) -> dict[str, Submission]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return {s.instance_id: s for s in db.scalars(select(Submission))}


def original(client, user: str = "ann") -> str:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    response = post(client, instance(iid, photo="photo.jpg"), user, {"photo.jpg": PHOTO})
    assert response.status_code == 201
    return iid


@pytest.mark.parametrize(
    ("editor", "status"),
    [
        ("ann", 201),  # its sender
        ("cora", 201),  # a coordinator of its district
        ("admin", 201),  # admins cover everywhere
        ("bob", 403),  # an enumerator of the same area who did not send it
        ("sam", 403),  # sub-county staff of its sub-county: they see it, they do not review
        ("dan", 403),  # a coordinator of another district (refused for the place, too)
    ],
)
def test_an_edit_is_accepted_only_from_who_may_change_the_original(
    client, world, settings, editor: str, status: int
) -> None:  # type: ignore[no-untyped-def]
    iid = original(client)
    edit_id = new_instance_id()
    edit = instance(edit_id, pupils=999, deprecated_id=iid, photo="photo.jpg")
    if editor == "dan":
        # Named in dan's own district, so the place check passes and the edit rule decides.
        edit = instance(
            edit_id, pupils=999, deprecated_id=iid, photo="photo.jpg", district="D2",
            subcounty="S2",
        )  # fmt: skip
    response = post(client, edit, editor, {"photo.jpg": NEW_PHOTO})
    assert response.status_code == status, response.data
    stored = rows(world)
    blobs = BlobStore(settings.attachments_dir)
    new_sha = hashlib.sha256(NEW_PHOTO).hexdigest()
    if status == 201:
        assert set(stored) == {iid, edit_id}
        assert stored[edit_id].supersedes_id == stored[iid].id
        assert not stored[iid].current and stored[edit_id].current
        assert blobs.exists(new_sha)
        return
    assert f"You may not edit submission {iid}" in message(response)
    assert set(stored) == {iid} and stored[iid].current
    assert world.scalar(select(func.count()).select_from(Attachment)) == 1
    assert world.scalar(select(Attachment.id).where(Attachment.sha256 == new_sha)) is None
    assert not blobs.exists(new_sha)  # refused before the file was written


def test_the_sender_may_edit_again_and_a_coordinator_may_edit_the_edit(client, world) -> None:  # type: ignore[no-untyped-def]
    iid = original(client)
    first = new_instance_id()
    assert post(client, instance(first, pupils=130, deprecated_id=iid), "ann").status_code == 201
    second = new_instance_id()
    by_cora = instance(second, pupils=140, deprecated_id=first)
    assert post(client, by_cora, "cora").status_code == 201
    # An enumerator who sent neither may not supersede the coordinator's version either.
    third = instance(new_instance_id(), pupils=1, deprecated_id=second)
    assert post(client, third, "bob").status_code == 403
    stored = rows(world)
    assert [s.instance_id for s in stored.values() if s.current] == [second]


def test_a_refused_edit_is_refused_again_when_resent(client, world) -> None:  # type: ignore[no-untyped-def]
    iid = original(client)
    edit = instance(new_instance_id(), pupils=5, deprecated_id=iid)
    assert post(client, edit, "bob").status_code == 403
    assert post(client, edit, "bob").status_code == 403
    assert set(rows(world)) == {iid}


def test_an_original_without_a_place_is_edited_only_by_its_sender_or_an_admin(
    client, world
) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    xml = instance(iid, district=None, subcounty=None)
    assert post(client, xml, "ann").status_code == 201

    def edit(user: str) -> int:
        xml = instance(
            new_instance_id(), pupils=7, deprecated_id=iid, district=None, subcounty=None
        )
        return int(post(client, xml, user).status_code)

    # No coordinator's scope covers a submission with no place.
    assert edit("cora") == 403
    assert edit("admin") == 201


def test_the_write_checks_again_on_the_original_it_locks(client, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The original may arrive between the first check (which then finds nothing) and the
    write: the write's own check on the row it locks still refuses."""
    iid = original(client)
    monkeypatch.setattr("server.services.ingest.require_may_edit", lambda *args: None)
    response = post(client, instance(new_instance_id(), deprecated_id=iid), "bob")
    assert response.status_code == 403
    assert f"You may not edit submission {iid}" in message(response)
    assert set(rows(world)) == {iid}


@pytest.mark.parametrize(("sender", "status"), [("ann", 201), ("cora", 201), ("bob", 403)])
def test_a_resend_that_would_change_the_files_follows_the_same_rule(  # type: ignore[no-untyped-def]
    client, world, sender: str, status: int
) -> None:
    iid = original(client)
    xml = instance(iid, photo="photo.jpg")
    response = post(client, xml, sender, {"photo.jpg": NEW_PHOTO})
    assert response.status_code == status, response.data
    world.expire_all()
    kept = world.scalars(select(Attachment.sha256)).all()
    expected = NEW_PHOTO if status == 201 else PHOTO
    assert kept == [hashlib.sha256(expected).hexdigest()]
    if status == 403:
        assert "You may not edit submission" in message(response)
    # A resend that changes nothing is the idempotent answer, whoever sends it.
    assert post(client, xml, "bob").status_code in (200, 201)
