"""A phone with an app user's key: Collect's whole exchange under /v1/key/<token>/projects/1,
the forms and places it may use, and what a revoked, unknown or garbled key gets."""

from __future__ import annotations

import hashlib

import requests
from sqlalchemy import select

from server.domain.roles import Role
from server.models import Submission
from server.models.submissions import ProcessingStatus
from tests.central.app_users_support import (
    OPENROSA,
    SCHOOLS_CSV,
    Phone,
    api,
    create_app_user,
    publish_forms,
)
from tests.central.conftest import CentralServer
from tests.fixtures.openrosa import instance, multipart, new_instance_id


def _rows(central: CentralServer, instance_id: str) -> list[Submission]:
    with central.db() as session:
        rows = list(
            session.scalars(select(Submission).where(Submission.instance_id == instance_id))
        )
        for row in rows:
            _ = row.attachments
        session.expunge_all()
        return rows


def test_collect_sequence_through_a_key(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school", "clinic")
    made = create_app_user(central, "Tablet", forms=("school",), scopes=["D1"])
    phone = Phone(central, made["token"])

    # 1. formList: only the assigned form, every URL under the key prefix.
    (entry,) = phone.form_list()
    assert entry["formID"] == "school"
    assert entry["downloadUrl"].startswith(phone.base + "/forms/school/")
    assert entry["manifestUrl"].startswith(phone.base + "/forms/school/")

    # 2. The form, by the URL formList gave and by Central's unversioned address: the same.
    xform = phone.get(entry["downloadUrl"])
    assert xform.status_code == 200 and b"<h:html" in xform.content
    assert hashlib.md5(xform.content).hexdigest() == xform.headers["ETag"].strip('"')
    current = phone.get(f"{phone.base}/forms/school.xml")
    assert current.status_code == 200 and current.content == xform.content

    # 3. The manifest and its media, both ways too.
    media = phone.manifest(entry["manifestUrl"])
    assert [name for name, _ in media] == ["schools.csv"]
    assert all(url.startswith(phone.base + "/") for _, url in media)
    assert phone.get(media[0][1]).content == SCHOOLS_CSV
    assert phone.manifest(f"{phone.base}/forms/school/manifest") == media
    attachment = phone.get(f"{phone.base}/forms/school/attachments/schools.csv")
    assert attachment.status_code == 200 and attachment.content == SCHOOLS_CSV
    missing = phone.get(f"{phone.base}/forms/school/attachments/nothing.csv")
    assert missing.status_code == 404

    # 4. HEAD /submission: no challenge needed, the size limit told.
    head = requests.head(f"{phone.base}/submission", headers=OPENROSA, timeout=30)
    assert head.status_code == 204
    assert head.headers["X-OpenRosa-Accept-Content-Length"] == str(
        central.settings.max_submission_bytes
    )

    # 5. The submission, then the same again (a lost answer): stored once.
    iid = new_instance_id()
    xml = instance(iid, photo="photo.jpg")
    first = phone.submit(xml, {"photo.jpg": b"P" * 3000})
    assert first.status_code == 201, first.text
    again = phone.submit(xml, {"photo.jpg": b"P" * 3000})
    assert again.status_code == 201, again.text
    (row,) = _rows(central, iid)
    assert row.submitter_id == made["id"] and row.device_id == "collect:phone1"
    assert row.processing_status is ProcessingStatus.received
    assert [a.name for a in row.attachments] == ["photo.jpg"]

    # 6. An edit from the same phone supersedes it.
    edited = new_instance_id()
    answer = phone.submit(instance(edited, pupils=99, deprecated_id=iid))
    assert answer.status_code == 201, answer.text
    (old,) = _rows(central, iid)
    (new,) = _rows(central, edited)
    assert new.supersedes_id == old.id and new.current and not old.current


def test_a_key_fills_only_its_forms_and_places(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school", "clinic")
    made = create_app_user(central, "D1 tablet", forms=("school",), scopes=["D1"])
    phone = Phone(central, made["token"])
    outside = phone.submit(instance(new_instance_id(), district="D2", subcounty="S2"))
    assert outside.status_code == 403 and b"outside" in outside.content
    unassigned = phone.submit(instance(new_instance_id(), form_id="clinic"))
    assert unassigned.status_code == 403
    for path in (
        "/forms/clinic.xml",
        "/forms/clinic/manifest",
        "/forms/clinic/versions/2024010101/form.xml",
    ):
        assert phone.get(phone.base + path).status_code == 403, path
    with central.db() as session:
        assert session.scalars(select(Submission)).all() == []

    # With no assignment at all, an app user fills nothing (as on Central).
    bare = Phone(central, create_app_user(central, "Bare")["token"])
    assert bare.form_list() == []
    assert bare.submit(instance(new_instance_id())).status_code == 403


def test_a_revoked_key_is_refused_at_once(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school")
    deleted = create_app_user(central, "Stolen", forms=("school",))
    revoked = create_app_user(central, "Lost", forms=("school",))
    phones = {
        "deleted": Phone(central, deleted["token"]),
        "revoked": Phone(central, revoked["token"]),
    }
    # Each phone's first submission puts its app user in the receiver's cache.
    for phone in phones.values():
        assert phone.submit(instance(new_instance_id())).status_code == 201
    client = api(central)
    gone = client.delete(f"{central.url}/v1/projects/1/app-users/{deleted['id']}", timeout=30)
    assert gone.status_code == 200
    cut = client.delete(f"{central.url}/v1/sessions/{revoked['token']}", timeout=30)
    assert cut.status_code == 200
    for name, phone in phones.items():
        # The very next submission, while the cached app user is still fresh, is refused.
        refused = phone.submit(instance(new_instance_id()))
        assert refused.status_code == 401, name
        assert b"revoked" in refused.content
        assert "WWW-Authenticate" not in refused.headers
        assert requests.get(f"{phone.base}/formList", timeout=30).status_code == 401
        assert phone.get(f"{phone.base}/forms/school.xml").status_code == 401
    with central.db() as session:
        assert len(session.scalars(select(Submission)).all()) == 2


def test_unknown_garbled_and_overlong_keys_are_refused_cleanly(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school")
    made = create_app_user(central, "Tablet", forms=("school",))
    real = made["token"]
    keys = [
        "x" * 64,
        real[:-1] + ("A" if real[-1] != "A" else "B"),
        real[:63],
        real + "x",
        "x" * 5000,
        "%00" * 10,
        "%E2%80%AE" + real[3:],
        "..",
        "%FF" * 64,
    ]
    body = multipart(instance(new_instance_id()))
    for key in keys:
        base = f"{central.url}/v1/key/{key}/projects/1"
        answers = [
            requests.get(f"{base}/formList", headers=OPENROSA, timeout=30),
            requests.get(f"{base}/forms/school.xml", headers=OPENROSA, timeout=30),
            requests.head(f"{base}/submission", headers=OPENROSA, timeout=30),
            requests.post(
                f"{base}/submission",
                data=body.body,
                headers={**OPENROSA, "Content-Type": body.content_type},
                timeout=30,
            ),
        ]
        for answer in answers:
            assert answer.status_code in (400, 401, 403, 404), (key[:20], answer.status_code)
    other_project = requests.get(f"{central.url}/v1/key/{real}/projects/2/formList", timeout=30)
    assert other_project.status_code == 404
    with central.db() as session:
        assert session.scalars(select(Submission)).all() == []


def test_a_phone_with_a_key_needs_no_password_but_a_password_is_no_key(
    central, make_person
) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school")
    made = create_app_user(central, "Tablet", forms=("school",))
    with central.db() as session:
        from server.models import User

        username = session.get(User, made["id"]).username  # type: ignore[union-attr]
    # Basic auth with the app user's name gets nowhere: its password is never told.
    for guess in ("", made["token"], "password"):
        answer = requests.get(
            f"{central.url}/formList", auth=(username, guess), headers=OPENROSA, timeout=30
        )
        assert answer.status_code == 401
