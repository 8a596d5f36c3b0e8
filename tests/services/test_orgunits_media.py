"""CSV media generated from the hierarchy for select_one_from_file cascades."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database
from server.models import FormVersion, MediaFile
from server.models.forms import VersionState
from server.services.forms import publish_xlsform
from server.services.orgunit_media import generate_orgunit_files, refresh_orgunit_media
from server.services.orgunits import ensure_uganda, import_org_units, rows_from_mappings
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures.xlsforms.build import location_form


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    database = Database(settings.database_url)
    s = database.sessionmaker()
    yield s
    s.close()
    database.dispose()


@pytest.fixture
def blobs(settings: Settings) -> BlobStore:
    return BlobStore(settings.attachments_dir)


def add_subcounty(session: Session, code: str, name: str, district: str, demo: bool) -> None:
    report = import_org_units(
        session,
        rows_from_mappings(
            [{"code": code, "name": name, "level": "subcounty", "parent_code": district}]
        ),
        demo=demo,
    )
    assert report.rejected == []


def read(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_csvs_carry_codes_labels_and_ancestor_columns(session: Session) -> None:
    ensure_uganda(session)
    add_subcounty(session, "UG-301-B", "Bravo", "UG-301", demo=True)
    add_subcounty(session, "UG-101-A", "Alpha", "UG-101", demo=False)
    files = generate_orgunit_files(session)

    regions = read(files["regions.csv"].data)
    assert regions[0] == {"name": "UG-C", "label": "Central"}
    assert [r["name"] for r in regions] == ["UG-C", "UG-E", "UG-N", "UG-W"]

    districts = read(files["districts.csv"].data)
    assert {"name": "UG-101", "label": "Kalangala", "region": "UG-C"} in districts
    assert [d["name"] for d in districts] == sorted(d["name"] for d in districts)

    assert read(files["subcounties.csv"].data) == [
        {"name": "UG-101-A", "label": "Alpha", "region": "UG-C", "district": "UG-101"},
        {"name": "UG-301-B", "label": "Bravo (demo)", "region": "UG-N", "district": "UG-301"},
    ]
    assert files["parishes.csv"].data == b"name,label,region,district,subcounty\n"


def test_same_hierarchy_gives_the_same_bytes(session: Session) -> None:
    ensure_uganda(session)
    first = generate_orgunit_files(session)
    session.commit()
    session.expire_all()
    assert {n: f.md5 for n, f in generate_orgunit_files(session).items()} == {
        n: f.md5 for n, f in first.items()
    }


def test_new_subcounty_changes_media_not_the_form(
    session: Session, blobs: BlobStore, settings: Settings
) -> None:
    ensure_uganda(session)
    published = publish_xlsform(session, blobs, location_form(), "location.xlsx", {})
    session.commit()
    media = {m.filename: m for m in published.version.media}
    assert sorted(media) == ["districts.csv", "regions.csv", "subcounties.csv"]
    assert all(m.kind == "orgunits" and m.content_type == "text/csv" for m in media.values())
    before = {name: (m.md5, m.sha256, m.size) for name, m in media.items()}
    form_md5 = published.version.md5

    add_subcounty(session, "UG-101-NEW", "Newtown", "UG-101", demo=False)
    assert refresh_orgunit_media(session, blobs) == 1
    session.commit()
    session.expire_all()

    version = session.get(FormVersion, published.version.id)
    assert version is not None and version.md5 == form_md5
    after = {m.filename: m for m in version.media}
    assert after["regions.csv"].md5 == before["regions.csv"][0]
    subcounties = after["subcounties.csv"]
    assert subcounties.md5 != before["subcounties.csv"][0]
    stored = blobs.path(subcounties.sha256).read_bytes()
    assert len(stored) == subcounties.size
    assert b"UG-101-NEW,Newtown,UG-C,UG-101" in stored
    # Nothing else changed, so a second refresh writes nothing.
    assert refresh_orgunit_media(session, blobs) == 0


def test_closed_versions_keep_their_media(session: Session, blobs: BlobStore) -> None:
    ensure_uganda(session)
    published = publish_xlsform(session, blobs, location_form(), "location.xlsx", {})
    published.version.state = VersionState.closed
    old = {m.filename: m.md5 for m in published.version.media}
    add_subcounty(session, "UG-101-NEW", "Newtown", "UG-101", demo=False)
    assert refresh_orgunit_media(session, blobs) == 0
    rows = session.scalars(
        select(MediaFile).where(MediaFile.form_version_id == published.version.id)
    )
    assert {m.filename: m.md5 for m in rows} == old
