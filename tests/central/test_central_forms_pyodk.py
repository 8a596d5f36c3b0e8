"""Forms through pyodk 1.3.0, as a script written for ODK Central uses them: create from an
XLSForm (upload -> draft -> attachments -> publish), update, list, get, the XForm, and an
invalid XLSForm refused with pyxform's words."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pyodk.errors import PyODKError
from sqlalchemy import func, select

from server.domain.roles import Role
from server.models import Form, FormVersion, MediaFile
from server.models.forms import VersionState
from tests.central.conftest import CentralServer
from tests.central.forms_support import Api, media_form, small_form, write
from tests.fixtures.xlsforms.build import xlsform
from tests.paths import FORMS_DIR

LOGO = b"\x89PNG\r\n\x1a\nnot really a logo"
FACILITIES = b"name,label\nhc1,Health centre one\nhc2,Health centre two\n"


@pytest.fixture
def admin(make_person, pyodk_client):  # type: ignore[no-untyped-def]
    make_person("ada", Role.admin)
    return pyodk_client("ada")


def _versions(central: CentralServer, xml_form_id: str) -> list[tuple[str, VersionState]]:
    with central.db() as session:
        rows = session.execute(
            select(FormVersion.version, FormVersion.state)
            .join(Form, Form.id == FormVersion.form_id)
            .where(Form.xml_form_id == xml_form_id)
            .order_by(FormVersion.id)
        )
        return [(v, s) for v, s in rows]


def test_create_uploads_the_xlsform_its_attachments_and_publishes(
    central: CentralServer, admin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    definition = write(tmp_path, "visit.xlsx", media_form("visit", "2025070101"))
    logo = write(tmp_path, "logo.png", LOGO)
    facilities = write(tmp_path, "facilities.csv", FACILITIES)

    created = admin.forms.create(definition=definition, attachments=[logo, facilities])

    # What the POST answered: the draft, not yet published.
    assert (created.xmlFormId, created.version, created.publishedAt) == (
        "visit",
        "2025070101",
        None,
    )
    form = admin.forms.get("visit")
    assert form.state == "open" and form.publishedAt is not None and form.name == "Visit"
    assert [f.xmlFormId for f in admin.forms.list()] == ["visit"]
    xml = admin.forms.get_xml("visit")
    assert form.hash == hashlib.md5(xml.encode()).hexdigest()
    assert 'version="2025070101"' in xml
    # pyodk's session reaches any Central path the same way.
    raw = admin.session.get("projects/1/forms/visit.xml")
    assert raw.status_code == 200 and raw.content == xml.encode()
    with central.db() as session:
        media = {
            m.filename: m.md5 for m in session.scalars(select(MediaFile).join(FormVersion)).all()
        }
    assert media == {
        "logo.png": hashlib.md5(LOGO).hexdigest(),
        "facilities.csv": hashlib.md5(FACILITIES).hexdigest(),
    }
    assert _versions(central, "visit") == [("2025070101", VersionState.open)]


def test_update_with_a_new_definition_publishes_a_new_version(
    central: CentralServer, admin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    admin.forms.create(definition=write(tmp_path, "school.xlsx", small_form(version="1")))
    second = write(tmp_path, "school.xlsx", small_form(version="2", title="School survey 2"))

    admin.forms.update("school", definition=second)

    form = admin.forms.get("school")
    assert (form.version, form.name) == ("2", "School survey 2")
    # The version before keeps taking what phones filled in before they updated.
    assert _versions(central, "school") == [("1", VersionState.closing), ("2", VersionState.open)]
    assert admin.session.get("projects/1/forms/school.xlsx").content == second.read_bytes()


def test_update_attachments_only_gives_the_copy_the_version_the_updater_makes(
    central: CentralServer, admin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    logo = write(tmp_path, "logo.png", LOGO)
    facilities = write(tmp_path, "facilities.csv", FACILITIES)
    admin.forms.create(
        definition=write(tmp_path, "visit.xlsx", media_form("visit", "7")),
        attachments=[logo, facilities],
    )
    before = admin.forms.get("visit")
    better = write(tmp_path, "facilities.csv", FACILITIES + b"hc3,Health centre three\n")

    admin.forms.update("visit", attachments=[better], version_updater=lambda v: str(int(v) + 1))

    after = admin.forms.get("visit")
    assert after.version == "8" and after.hash != before.hash
    assert 'version="8"' in admin.forms.get_xml("visit")
    assert _versions(central, "visit") == [("7", VersionState.closing), ("8", VersionState.open)]
    with central.db() as session:
        files = dict(
            session.execute(
                select(MediaFile.filename, MediaFile.md5)
                .join(FormVersion)
                .where(FormVersion.version == "8")
            ).all()
        )
    # The new file, and the logo carried forward from the version before.
    assert files == {
        "facilities.csv": hashlib.md5(better.read_bytes()).hexdigest(),
        "logo.png": hashlib.md5(LOGO).hexdigest(),
    }


def test_an_invalid_xlsform_is_a_400_with_pyxforms_words_and_stores_nothing(
    central: CentralServer, admin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    broken = write(
        tmp_path,
        "broken.xlsx",
        xlsform(
            [("type", "name", "label"), ("integer", "age", "Age"), ("integer", "age", "Again")],
            settings=[["form_id", "version"], ["broken", "1"]],
        ),
    )
    with pytest.raises(PyODKError) as raised:
        admin.forms.create(definition=broken)
    response = raised.value.args[1]
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "400.15"
    assert "'age' is invalid" in body["details"]["error"]
    assert "'age' is invalid" in body["message"]
    with central.db() as session:
        assert session.scalar(select(func.count(Form.id))) == 0


def test_a_dmip_form_uses_the_org_unit_csvs_the_server_generates(
    central: CentralServer, admin, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = FORMS_DIR / "dmip_school.xlsx"
    api = Api(central, "ada")
    try:
        created = api.create(source.read_bytes(), ignoreWarnings="true")
        assert created.status_code == 200, created.text
        listed = api("GET", "/forms/dmip_school/draft/attachments").json()
        generated = {a["name"]: a for a in listed if a["name"].endswith(".csv")}
        assert {"regions.csv", "districts.csv", "subcounties.csv"} <= set(generated)
        assert all(a["exists"] and a["blobExists"] and a["hash"] for a in generated.values())
        uploaded = api(
            "POST",
            "/forms/dmip_school/draft/attachments/regions.csv",
            data=b"name,label\nX,Made up\n",
            headers={"Content-Type": "text/csv"},
        )
        assert uploaded.status_code == 409 and uploaded.json()["details"]["problem"] == (
            "form.media_generated"
        )
        csv = api("GET", "/forms/dmip_school/draft/attachments/districts.csv")
        assert csv.status_code == 200 and b"D1,Unit D1,UG-C" in csv.content
    finally:
        api.close()
    # pyodk publishes it without a file to upload: the server has them all.
    assert admin.session.post("projects/1/forms/dmip_school/draft/publish").status_code == 200
    assert admin.forms.get("dmip_school").publishedAt is not None
