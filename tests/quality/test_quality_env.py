"""The environment the quality, gap-analysis and API tests share (no tests here): the small
aggregation test form with its catalog, a hierarchy with three sub-counties in D1, one in D2 and
two more districts, and helpers that store and process submissions through the real ingest and
worker code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from server.aggregation import catalog_source
from server.aggregation.catalog_source import LoadedCatalog
from server.aggregation.reading import Unit, unit_of
from server.db import Database
from server.models import Form, FormVersion, OrgUnit, Submission
from server.models.org import OrgLevel
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx

CYCLE = "2025/26"

# code -> (level, parent code)
HIERARCHY = {
    "UG": (OrgLevel.country, None),
    "UG-C": (OrgLevel.region, "UG"),
    "D1": (OrgLevel.district, "UG-C"),
    "D2": (OrgLevel.district, "UG-C"),
    "D3": (OrgLevel.district, "UG-C"),
    "D4": (OrgLevel.district, "UG-C"),
    "S1": (OrgLevel.subcounty, "D1"),
    "S2": (OrgLevel.subcounty, "D2"),
    "S3": (OrgLevel.subcounty, "D1"),
    "S4": (OrgLevel.subcounty, "D1"),
    "S5": (OrgLevel.subcounty, "D3"),
    "S6": (OrgLevel.subcounty, "D4"),
    "S7": (OrgLevel.subcounty, "D1"),
}

EXPECTATIONS = {
    "timeliness": {"days_after_cycle_end": 92, "deadlines": {"2024/25": dt.date(2025, 8, 31)}},
    "forms": {
        fx.FORM_ID: [
            {"level": "subcounty", "at_least": 2},
            {"level": "district", "count": 1, "located": "at"},
        ]
    },
    "plausible_max": {"ptr": 150},
}


def seed_hierarchy(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    units: dict[str, OrgUnit] = {}
    for code, (level, parent) in HIERARCHY.items():
        up = units.get(parent) if parent else None
        unit = OrgUnit(
            code=code, name=f"Unit {code}", level=level, path=(up.path if up else "/") + code + "/"
        )
        unit.parent = up
        session.add(unit)
        units[code] = unit
    session.commit()
    return {code: u.id for code, u in units.items()}


@dataclass
class Env:
    db: Database
    forms_dir: Path
    blobs: BlobStore
    units: dict[str, int]
    form: Form
    version: FormVersion

    @property
    def catalog(self) -> Path:
        return self.forms_dir / "catalog.yaml"

    @property
    def expectations(self) -> Path:
        return self.forms_dir / "expectations.yaml"

    def add(
        self,
        school: fx.School,
        unit: str = "S1",
        received: dt.datetime | None = None,
        **kw: object,
    ) -> int:
        """Store and process one submission; `received` backdates its receipt."""
        with self.db.session() as s:
            sid, _ = fx.store(
                s, self.blobs, self.form, self.version, self.units[unit], school, **kw
            )  # type: ignore[arg-type]
            if received is not None:
                s.execute(
                    update(Submission).where(Submission.id == sid).values(received_at=received)
                )
                s.commit()
            fx.process(s, sid, self.catalog)
        return sid

    def add_failed(self, unit: str = "S1") -> int:
        """A submission the worker refuses: a word where the form wants an integer."""
        with self.db.session() as s:
            sid, _ = fx.store(s, self.blobs, self.form, self.version, self.units[unit], fx.School())
            xml = fx.instance_xml("uuid:bad-" + str(sid), fx.School()).replace(
                b"<pupils>100</pupils>", b"<pupils>many</pupils>"
            )
            s.execute(update(Submission).where(Submission.id == sid).values(xml=xml))
            s.commit()
            assert fx.process(s, sid, self.catalog) == "failed"
        return sid

    def unit(self, code: str) -> Unit:
        with self.db.session() as s:
            return unit_of(s.scalars(select(OrgUnit).where(OrgUnit.code == code)).one())

    def loaded(self, session) -> LoadedCatalog:  # type: ignore[no-untyped-def]
        return catalog_source.load(session, self.catalog)


def make_env(settings: Settings, tmp_path: Path) -> Iterator[Env]:
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    fx.write_catalog(forms_dir)
    (forms_dir / "expectations.yaml").write_text(yaml.safe_dump(EXPECTATIONS), encoding="utf-8")
    db = Database(settings.database_url)
    with db.session() as s:
        units = seed_hierarchy(s)
        form, version = fx.publish_form(s)
    yield Env(db, forms_dir, BlobStore(tmp_path / "blobs"), units, form, version)
    db.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def both_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    name = "settings" if request.param == "postgresql" else "sqlite_settings"
    yield from make_env(request.getfixturevalue(name), tmp_path)


@pytest.fixture
def pg_env(settings: Settings, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(settings, tmp_path)
