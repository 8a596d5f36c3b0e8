"""Drafts, their attachments, publishing with ?version=, versions and the files of a form, by
hand (requests), where pyodk has no call of its own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from server.domain.roles import Role
from server.models import Form, FormVersion
from server.models.forms import VersionState
from tests.central.conftest import CentralServer
from tests.central.forms_support import XLSX, Api, media_form, small_form
from tests.fixtures.openrosa import compile_xform

LOGO = b"\x89PNG\r\n\x1a\nlogo"
FACILITIES = b"name,label\nhc1,One\n"


@pytest.fixture
def api(central: CentralServer, make_person) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    make_person("ada", Role.admin)
    client = Api(central, "ada")
    yield client
    client.close()


def _upload(api: Api, form_id: str, name: str, data: bytes, chunked: bool = True) -> dict:
    # pyodk streams the file chunked; a plain body works the same.
    body = iter([data[: len(data) // 2], data[len(data) // 2 :]]) if chunked else data
    answer = api(
        "POST",
        f"/forms/{form_id}/draft/attachments/{name}",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _published_visit(api: Api, version: str = "1") -> None:
    assert api.create(media_form("visit", version)).status_code == 200
    _upload(api, "visit", "logo.png", LOGO)
    _upload(api, "visit", "facilities.csv", FACILITIES)
    assert api("POST", "/forms/visit/draft/publish").status_code == 200


def test_draft_attachments_are_listed_uploaded_read_and_cleared(api: Api) -> None:
    assert api.create(media_form("visit")).status_code == 200
    listed = api("GET", "/forms/visit/draft/attachments").json()
    assert [(a["name"], a["type"], a["exists"]) for a in listed] == [
        ("facilities.csv", "file", False),
        ("logo.png", "image", False),
    ]

    uploaded = _upload(api, "visit", "logo.png", LOGO)
    assert uploaded["name"] == "logo.png" and uploaded["exists"] and uploaded["blobExists"]
    assert uploaded["hash"] == hashlib.md5(LOGO).hexdigest()
    assert uploaded["type"] == "image" and uploaded["datasetExists"] is False
    got = api("GET", "/forms/visit/draft/attachments/logo.png")
    assert got.status_code == 200 and got.content == LOGO
    assert got.headers["Content-Type"] == "image/png"

    cleared = api("DELETE", "/forms/visit/draft/attachments/logo.png")
    assert cleared.status_code == 200 and cleared.json() == {"success": True}
    again = {a["name"]: a["exists"] for a in api("GET", "/forms/visit/draft/attachments").json()}
    assert again == {"facilities.csv": False, "logo.png": False}
    assert api("DELETE", "/forms/visit/draft/attachments/logo.png").status_code == 404
    # A name the form does not use is not one of its attachments.
    unknown = api("POST", "/forms/visit/draft/attachments/other.png", data=b"x")
    assert unknown.status_code == 404 and unknown.json()["code"] == "404.1"


def test_publishing_needs_every_attachment(api: Api, central: CentralServer) -> None:
    assert api.create(media_form("visit")).status_code == 200
    _upload(api, "visit", "logo.png", LOGO, chunked=False)
    refused = api("POST", "/forms/visit/draft/publish")
    assert refused.status_code == 409
    assert refused.json()["details"]["missing"] == ["facilities.csv"]
    _upload(api, "visit", "facilities.csv", FACILITIES)
    assert api("POST", "/forms/visit/draft/publish").json() == {"success": True}
    assert api("GET", "/forms/visit/draft").status_code == 404
    published = api("GET", "/forms/visit/attachments").json()
    assert all(a["exists"] for a in published)
    assert api("GET", "/forms/visit/attachments/facilities.csv").content == FACILITIES


def test_a_copied_draft_needs_a_new_version_to_be_published(api: Api) -> None:
    _published_visit(api, "1")
    first = api("GET", "/forms/visit").json()

    assert api("POST", "/forms/visit/draft").json() == {"success": True}  # no body: a copy
    draft = api("GET", "/forms/visit/draft").json()
    assert (draft["version"], draft["hash"], draft["publishedAt"]) == ("1", first["hash"], None)
    # The copy has the published version's files.
    assert all(a["exists"] for a in api("GET", "/forms/visit/draft/attachments").json())

    same = api("POST", "/forms/visit/draft/publish")
    assert same.status_code == 409 and same.json()["code"] == "409.6"
    assert same.json()["details"] == {
        "problem": "form.version_taken",
        "xmlFormId": "visit",
        "version": "1",
    }

    renamed = api("POST", "/forms/visit/draft/publish", params={"version": "2 (media fix)"})
    assert renamed.status_code == 200, renamed.text
    form = api("GET", "/forms/visit").json()
    assert form["version"] == "2 (media fix)" and form["hash"] != first["hash"]
    xml = api("GET", "/forms/visit.xml").content
    assert b'version="2 (media fix)"' in xml
    assert hashlib.md5(xml).hexdigest() == form["hash"]
    versions = api("GET", "/forms/visit/versions").json()
    assert [v["version"] for v in versions] == ["2 (media fix)", "1"]


def test_publishing_under_a_version_that_exists_is_409(api: Api) -> None:
    _published_visit(api, "1")
    assert api("POST", "/forms/visit/draft").status_code == 200
    assert api("POST", "/forms/visit/draft/publish", params={"version": "2"}).status_code == 200
    assert api("POST", "/forms/visit/draft").status_code == 200
    taken = api("POST", "/forms/visit/draft/publish", params={"version": "1"})
    assert taken.status_code == 409 and taken.json()["code"] == "409.6"
    assert taken.json()["details"]["version"] == "1"
    too_long = api("POST", "/forms/visit/draft/publish", params={"version": "v" * 300})
    assert too_long.status_code == 400 and too_long.json()["code"] == "400.8"
    assert api("GET", "/forms/visit").json()["version"] == "2"


def test_a_new_draft_replaces_the_old_and_keeps_its_files(api: Api, central: CentralServer) -> None:
    _published_visit(api, "1")
    assert api("POST", "/forms/visit/draft").status_code == 200
    better = b"name,label\nhc9,Nine\n"
    _upload(api, "visit", "facilities.csv", better)
    new_definition = api(
        "POST",
        "/forms/visit/draft",
        data=media_form("visit", "3"),
        headers={"Content-Type": XLSX},
        params={"ignoreWarnings": "true"},
    )
    assert new_definition.status_code == 200, new_definition.text
    files = {a["name"]: a["hash"] for a in api("GET", "/forms/visit/draft/attachments").json()}
    # The replaced draft's file wins over the published version's.
    assert files == {
        "facilities.csv": hashlib.md5(better).hexdigest(),
        "logo.png": hashlib.md5(LOGO).hexdigest(),
    }
    with central.db() as session:
        drafts = session.scalars(
            select(FormVersion.version).where(FormVersion.state == VersionState.draft)
        ).all()
    assert drafts == ["3"]
    deleted = api("DELETE", "/forms/visit/draft")
    assert deleted.status_code == 200 and api("GET", "/forms/visit/draft").status_code == 404
    assert api("DELETE", "/forms/visit/draft").status_code == 404


def test_a_draft_of_another_form_is_refused(api: Api) -> None:
    _published_visit(api)
    other = api(
        "POST", "/forms/visit/draft", data=small_form("school"), headers={"Content-Type": XLSX}
    )
    assert other.status_code == 400 and other.json()["code"] == "400.8"
    assert api("GET", "/forms/visit/draft").status_code == 404


def test_an_xform_uploaded_as_xml_becomes_a_form(api: Api) -> None:
    xml = compile_xform("water", "5", "Water point")
    created = api.create(xml, "application/xml", publish="true")
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["xmlFormId"], body["version"], body["name"]) == ("water", "5", "Water point")
    # The form's hash is the md5 of exactly the bytes sent.
    assert body["hash"] == hashlib.md5(xml).hexdigest() and body["publishedAt"]
    assert api("GET", "/forms/water.xml").content == xml
    # Made from XML: there is no spreadsheet to give back.
    assert api("GET", "/forms/water.xlsx").status_code == 404
    assert api("GET", "/forms/water/versions/5.xml").content == xml


def test_the_xlsform_is_given_back_under_its_own_suffix_only(api: Api) -> None:
    source = small_form("school", "1")
    assert api.create(source, publish="true").status_code == 200
    xlsx = api("GET", "/forms/school.xlsx")
    assert xlsx.status_code == 200 and xlsx.content == source
    assert xlsx.headers["Content-Type"] == XLSX
    assert "filename=school.xlsx" in xlsx.headers["Content-Disposition"]
    assert api("GET", "/forms/school.xls").status_code == 404
    assert api("GET", "/forms/school/versions/1.xlsx").content == source
    extended = api("GET", "/forms/school", headers={"X-Extended-Metadata": "true"}).json()
    assert extended["excelContentType"] == XLSX
    assert extended["createdBy"]["displayName"] == "ada"


def test_versions_are_the_published_ones_and_the_empty_one_is_three_underscores(
    api: Api, central: CentralServer
) -> None:
    from tests.fixtures.openrosa import publish

    with central.db() as session:
        publish(session, "school", "", title="School survey")
    listed = api("GET", "/forms/school/versions").json()
    assert [v["version"] for v in listed] == [""]
    one = api("GET", "/forms/school/versions/___")
    assert one.status_code == 200 and one.json()["version"] == ""
    assert api("GET", "/forms/school/versions/___.xml").status_code == 200
    assert api("GET", "/forms/school/versions/nope").status_code == 404
    assert api("GET", "/forms/school/versions/___/attachments").json() == []
    extended = api("GET", "/forms/school/versions", headers={"X-Extended-Metadata": "true"}).json()
    assert extended[0]["publishedBy"] is None  # published by the server itself
    # A draft is not a version.
    assert api("POST", "/forms/school/draft").status_code == 200
    assert [v["version"] for v in api("GET", "/forms/school/versions").json()] == [""]
    with central.db() as session:
        form = session.scalars(select(Form)).one()
        assert len(form.versions) == 2


def test_deleting_the_draft_of_a_form_never_published_is_409(api: Api) -> None:
    assert api.create(small_form("school")).status_code == 200
    refused = api("DELETE", "/forms/school/draft")
    assert refused.status_code == 409 and refused.json()["code"] == "409.7"
    assert api("GET", "/forms/school/draft").status_code == 200
    # Nothing published: nothing to copy either.
    assert api("POST", "/forms/school/draft").status_code == 404
