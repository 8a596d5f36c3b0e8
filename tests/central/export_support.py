"""A form and submissions for the export URL tests, stored as Collect stores them.

The XLSForm (written with openpyxl, compiled and published by the server's own publisher) has
a group holding a geopoint and a select_multiple, a photo, a repeat of classes and, in it, a
repeat of learners. Submissions go through POST /submission with each enumerator's password
and are then processed by the worker's own function, so the flattened rows the exports read
are the worker's.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from server.services.forms import publish_xlsform
from server.storage.blobs import BlobStore
from tests.central.conftest import PASSWORD, CentralServer
from tests.fixtures.openrosa import basic, build_xlsform, multipart
from workers.processing import process_waiting

FORM_ID = "exp_school"
PHOTO = b"\xff\xd8\xff\xe0 a photo's bytes"

SURVEY = [
    ("text", "district", "District"),
    ("text", "subcounty", "Sub-county"),
    ("text", "school", "School"),
    ("begin_group", "loc", "Location"),
    ("geopoint", "gps", "GPS"),
    ("select_multiple svc", "services", "Services"),
    ("end_group", "", ""),
    ("integer", "pupils", "Pupils"),
    ("image", "photo", "Photo"),
    ("begin_repeat", "classes", "Class"),
    ("text", "cname", "Class name"),
    ("begin_repeat", "learners", "Learner"),
    ("text", "lname", "Learner name"),
    ("end_repeat", "", ""),
    ("end_repeat", "", ""),
]
CHOICES = [("svc", "meals", "Meals"), ("svc", "library", "Library"), ("svc", "water", "Water")]


def xlsform(version: str, survey: Sequence[tuple[str, str, str]] = SURVEY) -> bytes:
    return build_xlsform(survey, CHOICES, FORM_ID, version, "Export school")


def publish(central: CentralServer, version: str = "1", survey: Sequence = SURVEY) -> None:
    blobs = BlobStore(central.settings.attachments_dir)
    with central.db() as session:
        publish_xlsform(session, blobs, xlsform(version, survey), f"{FORM_ID}.xlsx")


@dataclass(frozen=True)
class School:
    instance_id: str
    district: str = "D1"
    subcounty: str = "S1"
    name: str = "Alpha"
    gps: str = "0.31 32.58 1200 5"
    services: str = "meals library"
    pupils: str = "120"
    photo: str | None = None
    classes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    version: str = "1"
    deprecated_id: str | None = None

    def xml(self) -> bytes:
        classes = "".join(
            f"<classes><cname>{c}</cname>"
            + "".join(f"<learners><lname>{n}</lname></learners>" for n in learners)
            + "</classes>"
            for c, learners in self.classes
        )
        meta = f"<instanceID>{self.instance_id}</instanceID>"
        if self.deprecated_id:
            meta += f"<deprecatedID>{self.deprecated_id}</deprecatedID>"
        return (
            f'<data id="{FORM_ID}" version="{self.version}">'
            f"<district>{self.district}</district><subcounty>{self.subcounty}</subcounty>"
            f"<school>{self.name}</school>"
            f"<loc><gps>{self.gps}</gps><services>{self.services}</services></loc>"
            f"<pupils>{self.pupils}</pupils><photo>{self.photo or ''}</photo>{classes}"
            f"<meta>{meta}</meta></data>"
        ).encode()


def submit(central: CentralServer, username: str, school: School) -> None:
    files = {school.photo: PHOTO} if school.photo else None
    body = multipart(school.xml(), files)
    response = requests.post(
        f"{central.url}/submission",
        data=body.body,
        headers={
            "Content-Type": body.content_type,
            "X-OpenRosa-Version": "1.0",
            **basic(username, PASSWORD),
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text


def process(central: CentralServer) -> None:
    """What the worker does with everything waiting."""
    process_waiting(central.app.extensions["dmip"].db)


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
