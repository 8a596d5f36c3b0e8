"""A disk that will not take a submission's files: 507 with Retry-After in OpenRosa's words,
nothing stored (no row, no file), and the same submission accepted once there is room again.

The full disk is a real one: a small tmpfs mounted over the directory and filled up (which
needs root, as in CI; elsewhere the tests are skipped and say why)."""

from __future__ import annotations

import os

import pytest
from lxml import etree
from sqlalchemy import func, select

from server.models import Attachment, Submission
from tests.fixtures.full_disk import full_disk
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


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    return db


def post(client, xml: bytes, files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    body = multipart(xml, files)
    return client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic("ann")
    )


def stored(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Submission)),
        db.scalar(select(func.count()).select_from(Attachment)),
    )


@pytest.mark.parametrize(
    ("where", "photo_bytes"),
    [
        ("attachments_dir", 20_000),  # the blob store: a photo kept in memory, then stored
        ("uploads_dir", 600_000),  # the spool: a body too big for memory is spooled first
    ],
)
def test_a_full_disk_is_507_and_nothing_is_half_stored(  # type: ignore[no-untyped-def]
    client, world, settings, where: str, photo_bytes: int
) -> None:
    photo = os.urandom(photo_bytes)
    xml = instance(new_instance_id(), photo="photo.jpg")
    with full_disk(getattr(settings, where)) as filler:
        response = post(client, xml, {"photo.jpg": photo})
        assert response.status_code == 507, response.data
        assert response.headers["Retry-After"] == "60"
        element = etree.fromstring(response.data).find(f"{RESPONSE}message")
        assert element is not None and "cannot store files just now" in str(element.text)
        assert stored(world) == (0, 0)
        assert {p.name for p in getattr(settings, where).iterdir()} <= {".tmp", "filler"}
        if where == "attachments_dir":
            assert list((settings.attachments_dir / ".tmp").iterdir()) == []
            filler.unlink()
            # Collect sends it again later: accepted, stored once.
            assert post(client, xml, {"photo.jpg": photo}).status_code == 201
            assert stored(world) == (1, 1)
