"""Helpers for the app-user tests: forms published on the live server, app users made through
the API as a script would, and a phone that talks to its key URL as Collect does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from lxml import etree

from server.storage.blobs import BlobStore
from tests.central.conftest import PASSWORD, CentralServer
from tests.fixtures.openrosa import multipart, publish

XFORMS_LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
OPENROSA = {"X-OpenRosa-Version": "1.0"}
SCHOOLS_CSV = b"name,label\nS1,School one\n"


def publish_forms(central: CentralServer, *form_ids: str) -> None:
    """The test form (tests/fixtures/openrosa.py) under each id, version 2024010101, with a
    media file, open to every role."""
    with central.db() as session:
        blobs = BlobStore(central.settings.attachments_dir)
        for form_id in form_ids:
            publish(
                session,
                form_id,
                "2024010101",
                title=f"Survey {form_id}",
                media={"schools.csv": SCHOOLS_CSV},
                blobs=blobs,
            )


def api(central: CentralServer, username: str = "ada") -> requests.Session:
    """A requests session signed in with Basic auth, as a script may be."""
    session = requests.Session()
    session.auth = (username, PASSWORD)
    return session


def create_app_user(
    central: CentralServer, name: str, forms: tuple[str, ...] = (), by: str = "ada", **extra: Any
) -> dict[str, Any]:
    """An app user made through POST .../app-users, then assigned `forms` (role 2)."""
    client = api(central, by)
    made = client.post(
        f"{central.url}/v1/projects/1/app-users", json={"displayName": name, **extra}, timeout=30
    )
    assert made.status_code == 200, made.text
    body: dict[str, Any] = made.json()
    for form_id in forms:
        assigned = client.post(
            f"{central.url}/v1/projects/1/forms/{form_id}/assignments/2/{body['id']}", timeout=30
        )
        assert assigned.status_code == 200, assigned.text
    return body


@dataclass
class Phone:
    """Collect configured by an app user's QR code: every URL under its key prefix, no
    credentials in any header."""

    central: CentralServer
    token: str

    @property
    def base(self) -> str:
        return f"{self.central.url}/v1/key/{self.token}/projects/1"

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return requests.get(url, headers=OPENROSA, timeout=30, **kwargs)

    def form_list(self) -> list[dict[str, str | None]]:
        answer = self.get(f"{self.base}/formList")
        assert answer.status_code == 200, answer.text
        return [
            {
                "formID": entry.findtext(f"{XFORMS_LIST}formID"),
                "downloadUrl": entry.findtext(f"{XFORMS_LIST}downloadUrl"),
                "manifestUrl": entry.findtext(f"{XFORMS_LIST}manifestUrl"),
            }
            for entry in etree.fromstring(answer.content).iter(f"{XFORMS_LIST}xform")
        ]

    def manifest(self, url: str) -> list[tuple[str, str]]:
        answer = self.get(url)
        assert answer.status_code == 200, answer.text
        return [
            (item.findtext(f"{MANIFEST}filename"), item.findtext(f"{MANIFEST}downloadUrl"))
            for item in etree.fromstring(answer.content).iter(f"{MANIFEST}mediaFile")
        ]

    def submit(self, xml: bytes, files: dict[str, bytes] | None = None) -> requests.Response:
        body = multipart(xml, files)
        return requests.post(
            f"{self.base}/submission?deviceID=collect%3Aphone1",
            data=body.body,
            headers={**OPENROSA, "Content-Type": body.content_type},
            timeout=60,
        )
