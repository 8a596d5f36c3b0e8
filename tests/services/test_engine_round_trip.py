"""Each shipped form, the way a phone meets it: discovered and downloaded from the server with its
generated org-unit CSVs, filled in the official ODK XForms engine, the engine's own payload (and
its attachments) submitted over OpenRosa, and processed by the worker without failure."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from lxml import etree

from server.models import Submission
from server.models.submissions import ProcessingStatus
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import ensure_uganda, import_org_units, rows_from_mappings
from server.services.shipped_forms import publish_file, shipped_forms
from server.services.users import create_user
from server.storage.blobs import BlobStore
from tests.engine_helper import engine_unavailable, fill_form, load_answers, org_rows
from workers.processing import Outcome, process_submission

pytestmark = pytest.mark.skipif(engine_unavailable() is not None, reason=str(engine_unavailable()))

XFORMS_LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
PASSWORD = "round-trip-pass"


@pytest.fixture
def published(app, db, settings):  # type: ignore[no-untyped-def]
    ensure_uganda(db)
    levels = {"subcounties.csv": ("subcounty", "district"), "parishes.csv": ("parish", "subcounty")}
    records = [
        {"code": r["name"], "name": r["label"], "level": level, "parent_code": r[parent]}
        for filename, (level, parent) in levels.items()
        for r in org_rows()[filename]
    ]
    report = import_org_units(db, rows_from_mappings(records), demo=True)
    assert not report.rejected
    blobs = BlobStore(settings.attachments_dir)
    form_ids = [
        publish_file(db, blobs, path).form.xml_form_id for path in shipped_forms(settings.forms_dir)
    ]
    refresh_orgunit_media(db, blobs)
    create_user(db, "roundtrip", PASSWORD, "admin", settings.auth_realm)
    db.commit()
    assert len(form_ids) == 7
    return form_ids


def _auth() -> dict[str, str]:
    token = base64.b64encode(f"roundtrip:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-OpenRosa-Version": "1.0"}


def _get(client, url: str) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(url, headers=_auth())
    try:
        assert response.status_code == 200, f"{url}: {response.status_code}"
        return bytes(response.data)
    finally:
        response.close()  # media are streamed from files


def _download(client, form_id: str, tmp: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    listing = client.get(f"/formList?formID={form_id}", headers=_auth())
    assert listing.status_code == 200
    entry = etree.fromstring(listing.data).find(f"{XFORMS_LIST}xform")
    assert entry is not None, f"{form_id} is not offered in formList"
    xform = tmp / f"{form_id}.xml"
    xform.write_bytes(_get(client, entry.findtext(f"{XFORMS_LIST}downloadUrl")))
    media = tmp / "media"
    media.mkdir()
    manifest_url = entry.findtext(f"{XFORMS_LIST}manifestUrl")
    assert manifest_url, f"{form_id} has location cascades, so it must have a manifest"
    manifest = etree.fromstring(_get(client, manifest_url))
    for item in manifest.iter(f"{MANIFEST}mediaFile"):
        data = _get(client, item.findtext(f"{MANIFEST}downloadUrl"))
        (media / item.findtext(f"{MANIFEST}filename")).write_bytes(data)
    return xform, media


@pytest.mark.parametrize("index", range(7))
def test_engine_payload_is_accepted_and_processed(
    index: int, published, client, db, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    form_id = sorted(published)[index]
    xform, media = _download(client, form_id, tmp_path)
    answers = load_answers(form_id)
    if form_id == "dmip_school":
        photo = tmp_path / "register.jpg"
        photo.write_bytes(b"\xff\xd8\xff\xe0" + b"attendance register" * 40 + b"\xff\xd9")
        answers["attendance_photo"] = str(photo)
    out = tmp_path / "attachments"
    out.mkdir()
    payload = fill_form(xform, media, answers, out)

    files = {"xml_submission_file": (io.BytesIO(payload), "submission.xml", "text/xml")}
    for attachment in out.iterdir():
        files[attachment.name] = (
            io.BytesIO(attachment.read_bytes()),
            attachment.name,
            "image/jpeg",
        )
    response = client.post(
        "/submission", data=files, headers=_auth(), content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.data.decode()

    submission = db.query(Submission).one()
    assert sorted(a.name for a in submission.attachments) == sorted(p.name for p in out.iterdir())
    assert process_submission(db, submission.id) is Outcome.processed, submission.failure_reason
    db.commit()
    db.refresh(submission)
    assert submission.processing_status is ProcessingStatus.processed
    assert submission.org_unit_id is not None, "the location in the payload names a known unit"
