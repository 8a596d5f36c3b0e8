"""POST /submission through the app: every outcome's status, body, and what is stored."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree
from sqlalchemy import func, select

from server.models import Attachment, OrgUnit, Submission
from server.models.forms import VersionState
from server.storage.blobs import BlobStore
from tests.fixtures.openrosa import (
    add_user,
    basic,
    form_data,
    instance,
    multipart,
    new_instance_id,
    publish,
    seed_org,
)

RESPONSE = "{http://openrosa.org/http/response}"
PHOTO = b"\xff\xd8\xff" + b"photo" * 1000


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    publish(db, "school", "2023", make_current=False, state=VersionState.closed)
    publish(db, "pilot", "1", state=VersionState.draft)
    publish(db, "legacy", "1", state=VersionState.closing, make_current=False)
    publish(db, "hq", "1", roles=["coordinator"])
    add_user(db, "ann", "enumerator", ("D1",))
    add_user(db, "admin", "admin")
    return db


def post(client, xml: bytes | None, files=None, user="ann", incomplete=False, **kw):  # type: ignore[no-untyped-def]
    body = multipart(xml, files, incomplete)
    return client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic(user), **kw
    )


def message(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    root = etree.fromstring(response.data)
    assert root.tag == f"{RESPONSE}OpenRosaResponse"
    element = root.find(f"{RESPONSE}message")
    return element.get("nature"), element.text


def count(db) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Submission))


def test_accepts_a_submission_with_its_attachment(client, world, settings) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    xml = instance(iid, photo="photo.jpg")
    response = post(client, xml, {"photo.jpg": PHOTO})
    assert response.status_code == 201
    assert message(response) == ("submit_success", "Thank you. The submission was received.")
    assert "Location" not in response.headers  # Collect reads it only on HEAD, as a redirect
    # Required of successful submission responses by the Form Submission API, not only of HEAD.
    assert int(response.headers["X-OpenRosa-Accept-Content-Length"]) == (
        settings.max_submission_bytes
    )
    row = world.scalar(select(Submission).where(Submission.instance_id == iid))
    assert row.xml == xml and row.xml_sha256 == hashlib.sha256(xml).hexdigest()
    assert row.current and not row.incomplete and row.enqueued_at is not None
    s1 = world.scalar(select(OrgUnit.id).where(OrgUnit.code == "S1"))
    assert row.org_unit_id == s1  # the deepest place named (sub-county S1)
    (attachment,) = row.attachments
    assert attachment.name == "photo.jpg" and attachment.size == len(PHOTO)
    stored = BlobStore(settings.attachments_dir).path(attachment.sha256).read_bytes()
    assert stored == PHOTO
    assert list(settings.uploads_dir.iterdir()) == []  # spooled parts are gone


def test_identical_resend_is_accepted_once_and_different_xml_conflicts(client, world) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    assert post(client, instance(iid)).status_code == 201
    assert post(client, instance(iid)).status_code == 201
    assert count(world) == 1
    conflict = post(client, instance(iid, pupils=999))
    assert conflict.status_code == 409
    nature, text = message(conflict)
    assert nature == "error" and iid in text
    assert count(world) == 1


def test_unknown_location_code_is_refused_naming_it(client, world) -> None:  # type: ignore[no-untyped-def]
    response = post(client, instance(new_instance_id(), district="D1", subcounty="S99"))
    assert response.status_code == 400
    nature, text = message(response)
    assert nature == "error"
    assert text.startswith("The org unit code 'S99' is not in the register;")
    assert count(world) == 0


def test_submission_without_location_is_accepted(client, world) -> None:  # type: ignore[no-untyped-def]
    xml = instance(new_instance_id(), district=None, subcounty=None)
    assert post(client, xml).status_code == 201


def test_out_of_scope_place_is_forbidden(client, world) -> None:  # type: ignore[no-untyped-def]
    response = post(client, instance(new_instance_id(), district="D2", subcounty="S2"))
    assert response.status_code == 403
    assert "outside the area" in message(response)[1]
    assert count(world) == 0
    # The deepest named place decides: S1 is inside ann's D1.
    inside = instance(new_instance_id(), district="D2", subcounty="S1")
    assert post(client, inside).status_code == 201
    # Admins may report for anywhere.
    anywhere = instance(new_instance_id(), subcounty="S2")
    assert post(client, anywhere, user="admin").status_code == 201


def test_closing_version_still_accepts(client, world) -> None:  # type: ignore[no-untyped-def]
    xml = instance(new_instance_id(), form_id="legacy", version="1")
    assert post(client, xml).status_code == 201


BAD_XML = {
    "malformed": (b"<data id='school'><meta>", 400, "not well-formed"),
    "doctype": (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><data id="school">&a;</data>',
        400,
        "DOCTYPE",
    ),
    "latin1": ('<data id="school"><name>Müller</name></data>'.encode("latin-1"), 400, "UTF-8"),
    "declared-latin1": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><data id="school"/>',
        400,
        "UTF-8",
    ),
    "empty": (b"", 400, "empty"),
    "no-form-id": (b"<data><meta><instanceID>uuid:1</instanceID></meta></data>", 400, "form"),
    "no-instance-id": (b'<data id="school" version="2024010101"><meta/></data>', 400, "instanceID"),
    "long-instance-id": (instance("uuid:" + "x" * 245), 400, "249"),
    "unknown-form": (instance("uuid:a", form_id="ghost"), 404, "ghost"),
    "unknown-version": (instance("uuid:a", version="1999"), 404, "1999"),
    "no-version-attribute": (instance("uuid:a", version=None), 404, "version"),
    "closed-version": (instance("uuid:a", version="2023"), 403, "not accepting"),
    "draft-version": (instance("uuid:a", form_id="pilot", version="1"), 403, "not accepting"),
    "role-not-allowed": (instance("uuid:a", form_id="hq", version="1"), 403, "may not"),
    "unknown-deprecated": (
        instance("uuid:new", deprecated_id="uuid:never-seen"),
        404,
        "uuid:never-seen",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_XML))
def test_bad_submissions_get_a_precise_status_and_store_nothing(client, world, case) -> None:  # type: ignore[no-untyped-def]
    xml, status, fragment = BAD_XML[case]
    response = post(client, xml, {"photo.jpg": PHOTO})
    assert response.status_code == status
    nature, text = message(response)
    assert nature == "error" and fragment in text
    assert count(world) == 0
    assert world.scalar(select(func.count()).select_from(Attachment)) == 0


def test_instance_id_of_exactly_249_characters_is_accepted(client, world) -> None:  # type: ignore[no-untyped-def]
    assert post(client, instance("uuid:" + "x" * 244)).status_code == 201


# As written in the Content-Disposition header: a backslash travels escaped as "\\\\".
@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.jpg", "a\\\\b.jpg", "..", "x\x00.jpg"])
def test_attachment_names_with_paths_are_refused(client, world, name) -> None:  # type: ignore[no-untyped-def]
    body = multipart(instance(new_instance_id()), {name: PHOTO})
    response = client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic("ann")
    )
    assert response.status_code == 400
    assert "plain file name" in message(response)[1]
    assert count(world) == 0


def test_missing_xml_part_and_non_multipart_body(client, world) -> None:  # type: ignore[no-untyped-def]
    response = post(client, None, {"photo.jpg": PHOTO})
    assert response.status_code == 400 and "xml_submission_file" in message(response)[1]
    raw = client.post(
        "/submission", data=instance("uuid:x"), content_type="text/xml", headers=basic("ann")
    )
    assert raw.status_code == 400 and "multipart" in message(raw)[1]
    assert count(world) == 0


def test_a_body_cut_short_is_400_and_stores_nothing(client, world) -> None:  # type: ignore[no-untyped-def]
    body = multipart(instance(new_instance_id()), {"photo.jpg": PHOTO})
    response = client.post(
        "/submission",
        data=body.body[:-200],
        content_type=body.content_type,
        headers=basic("ann"),
    )
    assert response.status_code == 400
    nature, text = message(response)
    assert nature == "error" and "not valid multipart/form-data" in text
    assert count(world) == 0


def test_body_over_the_limit_is_413_in_openrosa_xml(app, client, world) -> None:  # type: ignore[no-untyped-def]
    limit = app.extensions["dmip"].settings.max_submission_bytes
    body = multipart(instance("uuid:big"), {"v.mp4": b"\0" * limit})
    response = client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic("ann")
    )
    assert response.status_code == 413
    assert str(limit) in message(response)[1]
    assert count(world) == 0


def test_wrong_credentials_are_401_without_reading_anything(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/submission",
        data=form_data(instance(new_instance_id())),
        headers=basic("ann", "wrong password"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 401
    assert message(response)[0] == "error"
    assert len(response.headers.getlist("WWW-Authenticate")) == 2
    assert count(world) == 0


def test_broker_down_still_answers_201(app, client, world) -> None:  # type: ignore[no-untyped-def]
    from server.task_queue import TaskSender

    state = app.extensions["dmip"]
    state.tasks = TaskSender(state.settings.with_overrides(broker_url="redis://127.0.0.1:1/0"))
    iid = new_instance_id()
    assert post(client, instance(iid)).status_code == 201
    row = world.scalar(select(Submission).where(Submission.instance_id == iid))
    assert row.enqueued_at is not None  # the sweeper will find it


def test_new_submission_wakes_the_worker(app, client, world, settings) -> None:  # type: ignore[no-untyped-def]
    import json

    import redis

    from server.openrosa.deps import wakeups
    from server.task_queue import PROCESS_SUBMISSION

    broker = redis.Redis.from_url(settings.broker_url)
    broker.delete("celery")
    try:
        iid = new_instance_id()
        assert post(client, instance(iid)).status_code == 201
        assert post(client, instance(iid)).status_code == 201  # a resend wakes nobody
        with app.app_context():
            wakeups().flush()  # published from a background thread, after the response
        messages = [json.loads(m) for m in broker.lrange("celery", 0, -1)]
        row_id = world.scalar(select(Submission.id).where(Submission.instance_id == iid))
        assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
            (PROCESS_SUBMISSION, f"[[{row_id}]]")
        ]
    finally:
        broker.delete("celery")
        broker.close()


def test_overlong_device_id_is_kept_to_the_column_width(client, world) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    response = post(client, instance(iid), query_string={"deviceID": "collect:" + "d" * 400})
    assert response.status_code == 201
    row = world.scalar(select(Submission).where(Submission.instance_id == iid))
    assert row.device_id == ("collect:" + "d" * 400)[:255]
