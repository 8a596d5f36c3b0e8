"""Helpers for the Central submission tests: a small form with a repeat and photos, published
through the server's own publishing service, its instances, and a look at what is stored.

The form "visits" asks for a district and a sub-county (the receiver's location fields), a
count, a photo, and a repeat of staff, each with a name and a photo of their own.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import openpyxl
import pytest
from sqlalchemy import func, select

from server.domain.roles import Role
from server.models import Attachment, Submission, SubmissionComment, SubmissionReview
from server.models.forms import VersionState
from server.services.forms import publish_xlsform
from server.storage.blobs import BlobStore
from tests.central.conftest import PASSWORD, CentralServer

FORM_ID = "visits"
VERSION = "1"


def visits_xlsform(version: str = VERSION) -> bytes:
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in [
        ["type", "name", "label"],
        ["text", "district", "District code"],
        ["text", "subcounty", "Sub-county code"],
        ["integer", "pupils", "Pupils enrolled"],
        ["image", "photo", "Photo of the school"],
        ["begin_repeat", "staff", "Staff"],
        ["text", "staff_name", "Name"],
        ["image", "staff_photo", "Photo"],
        ["end_repeat", "staff", ""],
    ]:
        survey.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append([FORM_ID, version, "School visits"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def publish_visits(central: CentralServer, state: VersionState = VersionState.open) -> None:
    with central.db() as session:
        result = publish_xlsform(
            session, BlobStore(central.settings.attachments_dir), visits_xlsform(), "visits.xlsx"
        )
        result.version.state = state


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def visit(
    instance_id: str,
    *,
    district: str = "D1",
    subcounty: str = "S1",
    pupils: int = 120,
    photo: str | None = "front.jpg",
    staff: tuple[tuple[str, str | None], ...] = (("Akello", "akello.jpg"), ("Okot", None)),
    deprecated_id: str | None = None,
    form_id: str = FORM_ID,
    name: str | None = None,
) -> str:
    """An instance of "visits" as Collect writes it (a repeat instance per staff member)."""
    staff_xml = "".join(
        f"<staff><staff_name>{who}</staff_name>"
        + (f"<staff_photo>{file}</staff_photo>" if file else "<staff_photo/>")
        + "</staff>"
        for who, file in staff
    )
    meta = f"<instanceID>{instance_id}</instanceID>"
    if deprecated_id is not None:
        meta = f"<deprecatedID>{deprecated_id}</deprecatedID>" + meta
    if name is not None:
        meta += f"<instanceName>{name}</instanceName>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{VERSION}">'
        f"<district>{district}</district><subcounty>{subcounty}</subcounty>"
        f"<pupils>{pupils}</pupils>"
        + (f"<photo>{photo}</photo>" if photo else "<photo/>")
        + staff_xml
        + f"<meta>{meta}</meta></data>"
    )


@dataclass(frozen=True)
class Stored:
    submissions: int
    attachments: int
    reviews: int
    comments: int


def stored(central: CentralServer) -> Stored:
    """How many rows of each kind a submission leaves: nothing half-stored means none moved."""
    with central.db() as session:

        def count(model: type) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return Stored(
            count(Submission), count(Attachment), count(SubmissionReview), count(SubmissionComment)
        )


def submissions_url(central: CentralServer, form_id: str = FORM_ID) -> str:
    return f"{central.url}/v1/projects/1/forms/{form_id}/submissions"


@pytest.fixture
def people(make_person):  # type: ignore[no-untyped-def]
    """An admin, a coordinator of each district, sub-county staff and enumerators of S1."""
    make_person("ada", Role.admin)
    make_person("cora1", Role.coordinator, ["D1"])
    make_person("cora2", Role.coordinator, ["D2"])
    make_person("sue", Role.subcounty_staff, ["S1"])
    make_person("ena", Role.enumerator, ["S1"])
    make_person("eno", Role.enumerator, ["S1"])


def auth(username: str) -> tuple[str, str]:
    return (username, PASSWORD)
