"""ODK's own XForms engine fills a shipped DMIP form that a phone got through its app user's
key, and the engine's payload goes back through the same key: stored, ready for the worker,
attributed to the app user, and processed without failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from server.domain.roles import Role
from server.models import Submission
from server.models.submissions import ProcessingStatus
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import ensure_uganda, import_org_units, rows_from_mappings
from server.services.shipped_forms import publish_file
from server.storage.blobs import BlobStore
from tests.central.app_users_support import Phone, create_app_user
from tests.central.conftest import CentralServer
from tests.engine_helper import engine_unavailable, fill_form, load_answers, org_rows
from workers.processing import Outcome, process_submission

pytestmark = pytest.mark.skipif(engine_unavailable() is not None, reason=str(engine_unavailable()))

FORM_ID = "dmip_district_profile"


def _publish_profile(central: CentralServer) -> None:
    with central.db() as session:
        ensure_uganda(session)
        records = [
            {
                "code": r["name"],
                "name": r["label"],
                "level": "subcounty",
                "parent_code": r["district"],
            }
            for r in org_rows()["subcounties.csv"]
        ]
        assert not import_org_units(session, rows_from_mappings(records), demo=True).rejected
        blobs = BlobStore(central.settings.attachments_dir)
        publish_file(session, blobs, central.settings.forms_dir / f"{FORM_ID}.xlsx")
        refresh_orgunit_media(session, blobs)


def test_the_engines_payload_goes_through_an_app_users_key(
    central, make_person, tmp_path: Path
) -> None:
    make_person("ada", Role.admin)
    _publish_profile(central)
    answers = load_answers(FORM_ID)
    made = create_app_user(
        central, "Kalangala tablet", forms=(FORM_ID,), scopes=[answers["district"]]
    )
    phone = Phone(central, made["token"])

    (entry,) = phone.form_list()
    assert entry["formID"] == FORM_ID
    xform = tmp_path / f"{FORM_ID}.xml"
    xform.write_bytes(phone.get(entry["downloadUrl"]).content)
    media = tmp_path / "media"
    media.mkdir()
    for filename, url in phone.manifest(entry["manifestUrl"]):
        (media / filename).write_bytes(phone.get(url).content)
    payload = fill_form(xform, media, answers)

    answer = phone.submit(payload)
    assert answer.status_code == 201, answer.text
    with central.db() as session:
        submission = session.scalars(select(Submission)).one()
        assert submission.submitter_id == made["id"]
        assert submission.processing_status is ProcessingStatus.received
        assert submission.org_unit_id is not None
        assert process_submission(session, submission.id) is Outcome.processed, (
            submission.failure_reason
        )
