"""A submission's attachments through the Central API: pyodk's attachment service (a chunked
upload), the files the XML names and nothing else, who may change them, and a full disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pyodk._endpoints.submission_attachments import SubmissionAttachmentService
from pyodk.errors import PyODKError

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
from tests.fixtures.full_disk import full_disk

XML = {"Content-Type": "application/xml"}


@pytest.fixture
def visits(central, people):  # type: ignore[no-untyped-def]  # noqa: F811
    publish_visits(central)


def create(central, user: str = "ena") -> str:  # type: ignore[no-untyped-def]
    instance_id = new_id()
    answer = requests.post(
        submissions_url(central),
        data=visit(instance_id).encode(),
        headers=XML,
        auth=auth(user),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return instance_id


def files_url(central, instance_id: str, name: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"{submissions_url(central)}/{instance_id}/attachments" + (f"/{name}" if name else "")


def listed(central, instance_id: str) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    answer = requests.get(files_url(central, instance_id), auth=auth("ada"), timeout=30)
    assert answer.status_code == 200, answer.text
    return [(f["name"], f["exists"]) for f in answer.json()]


def test_pyodk_uploads_what_the_xml_names(central, visits, pyodk_client, tmp_path: Path) -> None:
    instance_id = create(central)
    assert listed(central, instance_id) == [("akello.jpg", False), ("front.jpg", False)]
    client = pyodk_client("cora1")
    service = SubmissionAttachmentService(session=client.session, default_project_id=1)
    photo = tmp_path / "front.jpg"
    photo.write_bytes(b"\xff\xd8" + bytes(range(256)) * 400)  # several of pyodk's 16 KB chunks
    assert service.upload(photo, form_id=FORM_ID, instance_id=instance_id) is True
    assert listed(central, instance_id) == [("akello.jpg", False), ("front.jpg", True)]
    got = requests.get(files_url(central, instance_id, "front.jpg"), auth=auth("sue"), timeout=30)
    assert got.status_code == 200 and got.content == photo.read_bytes()
    assert got.headers["Content-Type"] == "image/jpeg"
    assert "attachment" in got.headers["Content-Disposition"]

    # Another upload under the name replaces the file.
    photo.write_bytes(b"\xff\xd8second")
    assert service.upload(photo, form_id=FORM_ID, instance_id=instance_id) is True
    again = requests.get(files_url(central, instance_id, "front.jpg"), auth=auth("ada"), timeout=30)
    assert again.content == b"\xff\xd8second"

    # A name the XML does not use is not taken (Central's 404), and nothing is stored.
    before = stored(central)
    stray = tmp_path / "stray.jpg"
    stray.write_bytes(b"stray")
    with pytest.raises(PyODKError) as caught:
        service.upload(stray, form_id=FORM_ID, instance_id=instance_id)
    assert "404" in str(caught.value)
    assert stored(central) == before

    removed = requests.delete(
        files_url(central, instance_id, "front.jpg"), auth=auth("cora1"), timeout=30
    )
    assert removed.status_code == 200 and removed.json() == {"success": True}
    assert listed(central, instance_id) == [("akello.jpg", False), ("front.jpg", False)]
    gone = requests.get(files_url(central, instance_id, "front.jpg"), auth=auth("ada"), timeout=30)
    assert gone.status_code == 404 and gone.json()["code"] == "404.1"


def test_any_content_type_is_kept_as_sent(central, visits) -> None:
    instance_id = create(central)
    body = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nnot a form\r\n--x--\r\n'
    for kind in ("multipart/form-data; boundary=x", "application/x-www-form-urlencoded"):
        answer = requests.post(
            files_url(central, instance_id, "akello.jpg"),
            data=body,
            headers={"Content-Type": kind},
            auth=auth("ena"),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        got = requests.get(
            files_url(central, instance_id, "akello.jpg"), auth=auth("ada"), timeout=30
        )
        assert got.content == body
        assert got.headers["Content-Type"].startswith(kind.split(";")[0])


def test_only_its_sender_or_a_reviewer_of_its_area_changes_its_files(central, visits) -> None:
    instance_id = create(central, "ena")
    before = stored(central)
    for user in ("eno", "sue", "cora2"):
        for method in ("POST", "DELETE"):
            answer = requests.request(
                method,
                files_url(central, instance_id, "front.jpg"),
                data=b"x",
                headers={"Content-Type": "image/jpeg"},
                auth=auth(user),
                timeout=30,
            )
            assert answer.status_code == 403, (user, method, answer.text)
            assert answer.json()["code"] == "403.1"
    assert stored(central) == before
    for user in ("ena", "cora1", "ada"):
        answer = requests.post(
            files_url(central, instance_id, "front.jpg"),
            data=user.encode(),
            auth=auth(user),
            timeout=30,
        )
        assert answer.status_code == 200, (user, answer.text)


def test_an_edit_keeps_the_files_it_still_names(central, visits) -> None:
    instance_id = create(central, "ena")
    requests.post(
        files_url(central, instance_id, "front.jpg"), data=b"front", auth=auth("ena"), timeout=30
    )
    second = new_id()
    edited = requests.put(
        f"{submissions_url(central)}/{instance_id}",
        data=visit(second, deprecated_id=instance_id, staff=(("Akello", "new.jpg"),)).encode(),
        headers=XML,
        auth=auth("ena"),
        timeout=30,
    )
    assert edited.status_code == 200, edited.text
    assert listed(central, instance_id) == [("front.jpg", True), ("new.jpg", False)]
    got = requests.get(files_url(central, instance_id, "front.jpg"), auth=auth("ada"), timeout=30)
    assert got.content == b"front"


def test_a_full_disk_is_507_and_stores_nothing(central, visits) -> None:
    instance_id = create(central, "ena")
    before = stored(central)
    url = files_url(central, instance_id, "front.jpg")
    with full_disk(central.settings.attachments_dir) as filler:
        answer = requests.post(url, data=b"\xff" * 300_000, auth=auth("ena"), timeout=60)
        assert answer.status_code == 507, answer.text
        assert answer.json()["code"] == "507.1"
        assert answer.headers["Retry-After"]
        assert stored(central) == before
        filler.unlink()
        again = requests.post(url, data=b"\xff" * 1000, auth=auth("ena"), timeout=60)
        assert again.status_code == 200, again.text
        assert listed(central, instance_id) == [("akello.jpg", False), ("front.jpg", True)]
