"""Bad definitions and bodies on the form endpoints: a precise 4xx in Central's shape, never a
5xx, and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from server.central.form_bodies import DEFINITION_MAX_BYTES
from server.domain.roles import Role
from server.models import Form, FormVersion, MediaFile
from tests.central.conftest import CentralServer
from tests.central.forms_support import XLSX, Api, media_form, small_form
from tests.fixtures.openrosa import compile_xform
from tests.fixtures.xlsforms.build import xlsform

XLS = "application/vnd.ms-excel"


@pytest.fixture
def api(central: CentralServer, make_person) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    make_person("ada", Role.admin)
    client = Api(central, "ada")
    yield client
    client.close()


def _nothing_stored(central: CentralServer) -> None:
    with central.db() as session:
        for model in (Form, FormVersion, MediaFile):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def _refused(answer, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"garbage, not a spreadsheet", XLSX),
        (b"PK\x03\x04" + b"\x00" * 200, XLSX),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, XLS),
        (b"\x00" * 64, XLSX),
    ],
)
def test_a_file_that_is_no_xlsform_is_400_15(
    central: CentralServer, api: Api, data: bytes, content_type: str
) -> None:
    body = _refused(api.create(data, content_type), 400, "400.15")
    assert "could not be read as an XLSForm" in body["details"]["error"]
    _nothing_stored(central)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<h:html><unclosed>", "400.1"),
        (b"not xml at all", "400.1"),
        (b"<?xml version='1.0'?>\x00<h:html/>", "400.1"),
        (compile_xform("nul", "1", "NUL").replace(b"</h:title>", b"\x00</h:title>"), "400.1"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "400.1"),
        (b"<x xmlns='http://www.w3.org/1999/xhtml'/>", "400.1"),
        (compile_xform("noid", "1", "No id").replace(b' id="noid"', b""), "400.2"),
        (
            compile_xform("nometa", "1", "No meta").replace(b"instanceID", b"somethingElse"),
            "400.27",
        ),
        (b"\xff\xfe<\x00x\x00/\x00>\x00", "400.1"),
    ],
)
def test_xml_that_is_no_xform_is_refused(
    central: CentralServer, api: Api, data: bytes, code: str
) -> None:
    _refused(api.create(data, "application/xml"), 400, code)
    _nothing_stored(central)


def test_an_empty_or_oversized_body_is_refused(central: CentralServer, api: Api) -> None:
    _refused(api.create(b"", XLSX), 400, "400.1")
    huge = b"PK\x03\x04" + b"\x00" * DEFINITION_MAX_BYTES
    _refused(api.create(huge, XLSX), 413, "413.1")
    chunks = iter([b"<x>", b" " * DEFINITION_MAX_BYTES, b"</x>"])
    _refused(api.create(chunks, "application/xml"), 413, "413.1")  # type: ignore[arg-type]
    _nothing_stored(central)


def test_a_form_body_or_a_mislabelled_spreadsheet_is_explained(
    central: CentralServer, api: Api
) -> None:
    multipart = api("POST", "/forms", files={"file": ("school.xlsx", small_form(), XLSX)})
    _refused(multipart, 415, "415.1")
    encoded = api("POST", "/forms", data={"xml": "<x/>"})
    _refused(encoded, 415, "415.1")
    octets = _refused(api.create(small_form(), "application/octet-stream"), 400, "400.1")
    assert XLSX in octets["message"]
    _nothing_stored(central)


def test_warnings_are_refused_unless_ignored(central: CentralServer, api: Api) -> None:
    # The small form's photos have no max-pixels, which pyxform warns about.
    body = _refused(api.create(small_form(), ignoreWarnings="false"), 400, "400.16")
    warnings = body["details"]["warnings"]["xlsFormWarnings"]
    assert len(warnings) == 2 and all("max-pixels" in w for w in warnings)
    _nothing_stored(central)
    assert api.create(small_form(), ignoreWarnings="true").status_code == 200


def test_the_form_id_comes_from_the_settings_or_the_fallback_header(
    central: CentralServer, api: Api
) -> None:
    no_id = xlsform([("type", "name", "label"), ("integer", "n", "N")])
    body = _refused(api.create(no_id), 400, "400.2")
    assert "X-XlsForm-FormId-Fallback" in body["message"]
    for bad in ("a%2Fb", "%00", "%ZZ%FF%FE", "x" * 300, "..", "%E2%80%AE%0A"):
        answer = api(
            "POST",
            "/forms",
            data=no_id,
            headers={"Content-Type": XLSX, "X-XlsForm-FormId-Fallback": bad},
            params={"ignoreWarnings": "true"},
        )
        _refused(answer, 400, "400.6")
    _nothing_stored(central)
    named = api(
        "POST",
        "/forms",
        data=no_id,
        headers={"Content-Type": XLSX, "X-XlsForm-FormId-Fallback": "h%C3%A9lo%20form"},
    )
    assert named.status_code == 200, named.text
    assert named.json()["xmlFormId"] == "hélo form"
    assert api("GET", "/forms/h%C3%A9lo%20form").status_code == 200


@pytest.mark.parametrize("form_id", ["survey.xml", "survey.XLSX", "a/b"])
def test_a_form_id_the_urls_cannot_serve_is_refused(
    central: CentralServer, api: Api, form_id: str
) -> None:
    _refused(api.create(small_form(form_id)), 400, "400.8")
    _nothing_stored(central)


def test_a_form_id_that_exists_is_409_3(central: CentralServer, api: Api) -> None:
    assert api.create(small_form("school", "1")).status_code == 200
    body = _refused(api.create(small_form("school", "2")), 409, "409.3")
    assert body["details"]["values"] == [1, "school"]
    with central.db() as session:
        assert session.scalars(select(FormVersion.version)).all() == ["1"]


def test_publish_refuses_a_version_no_xform_can_carry(central: CentralServer, api: Api) -> None:
    assert api.create(small_form("school", "1")).status_code == 200
    for version in ("bad\x01version", "v" * 256):
        answer = api("POST", "/forms/school/draft/publish", params={"version": version})
        _refused(answer, 400, "400.8")
    assert api("GET", "/forms/school").json()["publishedAt"] is None


def test_media_uploads_take_raw_bodies_only(central: CentralServer, api: Api) -> None:
    assert api.create(media_form("visit")).status_code == 200
    multipart = api(
        "POST",
        "/forms/visit/draft/attachments/logo.png",
        files={"file": ("logo.png", b"png", "image/png")},
    )
    _refused(multipart, 415, "415.1")
    # A JSON file is a file like another.
    as_json = api(
        "POST",
        "/forms/visit/draft/attachments/facilities.csv",
        data=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status_code == 200 and as_json.json()["exists"]
    missing_form = api("POST", "/forms/nothing/draft/attachments/logo.png", data=b"x")
    _refused(missing_form, 404, "404.1")
    with central.db() as session:
        assert session.scalars(select(MediaFile.filename)).all() == ["facilities.csv"]


def test_a_media_file_over_the_limit_is_413_and_not_kept(central: CentralServer, api: Api) -> None:
    assert api.create(media_form("visit")).status_code == 200
    limit = central.app.config["MAX_CONTENT_LENGTH"]
    central.app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        chunked = api(
            "POST",
            "/forms/visit/draft/attachments/logo.png",
            data=iter([b"x" * 1000, b"y" * 1000]),
        )
        _refused(chunked, 413, "413.1")
        exact = api("POST", "/forms/visit/draft/attachments/logo.png", data=b"z" * 1024)
        assert exact.status_code == 200 and exact.json()["exists"]
    finally:
        central.app.config["MAX_CONTENT_LENGTH"] = limit
    with central.db() as session:
        assert session.scalars(select(MediaFile.size)).all() == [1024]
