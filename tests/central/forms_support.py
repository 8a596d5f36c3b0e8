"""Helpers for the Central form tests: XLSForms written to files (pyodk uploads paths), and a
`requests` session signed in with Basic auth for what pyodk does not cover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.central.conftest import PASSWORD, CentralServer
from tests.fixtures.openrosa import xlsform
from tests.fixtures.xlsforms.build import xlsform as sheets

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def small_form(form_id: str = "school", version: str = "1", title: str = "School survey") -> bytes:
    """The small OpenRosa test form (district, sub-county, pupils, two photos)."""
    return xlsform(form_id, version, title)


def media_form(form_id: str = "visit", version: str = "1") -> bytes:
    """A form that needs two files nobody generates: a logo shown in a note, and a CSV of
    facilities to choose from."""
    return sheets(
        [
            ("type", "name", "label", "media::image"),
            ("note", "intro", "Welcome", "logo.png"),
            ("select_one_from_file facilities.csv", "facility", "Facility", ""),
        ],
        settings=[["form_id", "form_title", "version"], [form_id, "Visit", version]],
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def forget_cached_forms(central: CentralServer) -> None:
    """Empty the receiver's memory of form versions (server/openrosa/form_cache.py keeps one
    for 5 seconds, by xmlFormId and version): each test's tables start afresh, and a state
    change is to be seen by the next submission, not 5 seconds later."""
    receiver = central.app.extensions.get("dmip.openrosa.receiver")
    if receiver is not None:
        receiver.forms.clear()


class Api:
    """`requests` against /v1/projects/1 as one user (HTTP Basic, as Central accepts)."""

    def __init__(self, central: CentralServer, username: str, password: str = PASSWORD):
        self.base = f"{central.url}/v1/projects/1"
        self.session = requests.Session()
        self.session.auth = (username, password)

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base + path, **kwargs)

    def create(self, data: bytes, content_type: str = XLSX, **params: str) -> requests.Response:
        """POST .../forms, ignoring pyxform's warnings unless told otherwise (as pyodk does)."""
        params.setdefault("ignoreWarnings", "true")
        return self(
            "POST", "/forms", data=data, headers={"Content-Type": content_type}, params=params
        )

    def close(self) -> None:
        self.session.close()
