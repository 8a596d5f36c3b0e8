"""Form discovery and download as Collect uses them: formList, form.xml, manifest, media."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree

from server.models import FormAssignment
from server.models.forms import VersionState
from server.storage.blobs import BlobStore
from tests.fixtures.openrosa import add_user, basic, publish, seed_org

LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
CSV = b"name,label\nS1,Sub-county one\n"


@pytest.fixture
def catalog(db, settings):  # type: ignore[no-untyped-def]
    seed_org(db)
    blobs = BlobStore(settings.attachments_dir)
    publish(db, "school", "1", title="School survey", media={"subcounties.csv": CSV}, blobs=blobs)
    publish(db, "school", "2", title="School survey v2")  # current, no media
    publish(db, "hq", "1", title="HQ capacity", roles=["subcounty_staff", "coordinator"])
    publish(db, "pilot", "1", state=VersionState.draft)
    publish(db, "old", "1", state=VersionState.closed)
    add_user(db, "admin", "admin")
    add_user(db, "ann", "enumerator", ("D1",))
    add_user(db, "sam", "subcounty_staff", ("S1",))
    return db


def _forms(client, query: str = "", user: str = "admin") -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    response = client.get(f"/formList{query}", headers=basic(user))
    assert response.status_code == 200
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0" and response.headers["Date"]
    root = etree.fromstring(response.data)
    assert root.tag == f"{LIST}xforms"
    return [{etree.QName(c).localname: c.text or "" for c in xform} for xform in root]


def test_form_list_offers_current_open_versions_with_hash_of_served_bytes(client, catalog) -> None:  # type: ignore[no-untyped-def]
    forms = _forms(client)
    assert [(f["formID"], f["version"]) for f in forms] == [("hq", "1"), ("school", "2")]
    for entry in forms:
        assert entry["downloadUrl"].startswith("http://localhost/forms/")
        download = client.get(entry["downloadUrl"], headers=basic("admin"))
        assert download.status_code == 200
        assert entry["hash"] == "md5:" + hashlib.md5(download.data).hexdigest()
        assert download.headers["ETag"].strip('"') == entry["hash"][4:]
        assert "manifestUrl" not in entry  # neither current version has media
        assert "descriptionText" not in entry


def test_form_list_filters(client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert [f["formID"] for f in _forms(client, "?formID=school")] == ["school"]
    assert _forms(client, "?formID=nothing") == []
    everything = _forms(client, "?listAllVersions=true")
    assert [(f["formID"], f["version"]) for f in everything] == [
        ("hq", "1"),
        ("school", "2"),
        ("school", "1"),
    ]
    old = everything[2]
    assert old["manifestUrl"].endswith("/forms/school/versions/1/manifest")
    verbose = _forms(client, "?verbose=true&formID=hq")
    assert verbose[0]["descriptionText"] == "HQ capacity"


def test_form_list_shows_each_user_only_forms_they_may_fill(client, catalog, db) -> None:  # type: ignore[no-untyped-def]
    assert [f["formID"] for f in _forms(client, user="ann")] == ["school"]
    assert [f["formID"] for f in _forms(client, user="sam")] == ["hq", "school"]
    # An enumerator limited by assignments sees only those forms.
    from server.models import Form, User

    hq = db.query(Form).filter_by(xml_form_id="hq").one()
    hq.roles = ["enumerator"]
    ann = db.query(User).filter_by(username="ann").one()
    db.add(FormAssignment(form_id=hq.id, user_id=ann.id))
    db.commit()
    assert [f["formID"] for f in _forms(client, user="ann")] == ["hq"]
    refused = client.get("/forms/school/versions/2/form.xml", headers=basic("ann"))
    assert refused.status_code == 403
    assert b"OpenRosaResponse" in refused.data


def test_manifest_and_media_download(client, catalog) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/forms/school/versions/1/manifest", headers=basic("ann"))
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.tag == f"{MANIFEST}manifest"
    (media,) = root
    fields = {etree.QName(c).localname: c.text for c in media}
    assert fields["filename"] == "subcounties.csv"
    assert fields["hash"] == "md5:" + hashlib.md5(CSV).hexdigest()
    with client.get(fields["downloadUrl"], headers=basic("ann")) as download:
        assert download.status_code == 200 and download.data == CSV
        assert download.mimetype == "text/csv"
    missing = client.get("/forms/school/versions/1/media/nope.csv", headers=basic("ann"))
    assert missing.status_code == 404 and b"nope.csv" in missing.data
    # The current version has no media: an empty manifest, not an error.
    empty = client.get("/forms/school/versions/2/manifest", headers=basic("ann"))
    assert len(etree.fromstring(empty.data)) == 0


def test_draft_closed_and_unknown_versions_cannot_be_downloaded(client, catalog) -> None:  # type: ignore[no-untyped-def]
    for url in (
        "/forms/pilot/versions/1/form.xml",
        "/forms/old/versions/1/form.xml",
        "/forms/school/versions/9/form.xml",
        "/forms/ghost/versions/1/manifest",
    ):
        response = client.get(url, headers=basic("admin"))
        assert response.status_code == 404, url
        assert etree.fromstring(response.data)[0].get("nature") == "error"


def test_form_download_needs_authentication(client, catalog) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/forms/school/versions/2/form.xml")
    assert response.status_code == 401
    assert len(response.headers.getlist("WWW-Authenticate")) == 2


def test_empty_version_has_a_url(client, db) -> None:  # type: ignore[no-untyped-def]
    add_user(db, "admin", "admin")
    publish(db, "blank", "")
    (entry,) = _forms(client)
    assert entry["version"] == ""
    assert entry["downloadUrl"].endswith("/forms/blank/versions/___/form.xml")
    assert client.get(entry["downloadUrl"], headers=basic("admin")).status_code == 200
