"""A change of the indicator catalog or of a published form makes the aggregates due for a
rebuild, which the sweep runs (server/aggregation/catalog_state.py); PostgreSQL and SQLite."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from sqlalchemy import select, update

from server.aggregation import catalog_state, sums
from server.aggregation.rebuild import rebuild_in
from server.db import Database
from server.domain.partials import SCALE
from server.models import Aggregate, DmipPlan, Form, FormVersion
from server.services import aggregate_rebuild
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import seed_org

A = fx.School(pupils=100, teachers=2)
B = fx.School(pupils=150, teachers=3)


def _changed_catalog(directory: Path) -> Path:
    """The fixture catalog with `pupils_total` redefined to count teachers."""
    data = copy.deepcopy(fx.CATALOG)
    for indicator in data["indicators"]:
        if indicator["id"] == "pupils_total":
            indicator["formula"] = {"numerator": "teachers"}
    directory.mkdir()
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _pupils_total(db: Database, unit_id: int) -> int:
    with db.session() as s:
        agg = s.get(Aggregate, ("pupils_total", unit_id, "2025/26"))
        assert agg is not None
        return agg.total // SCALE


def _all(db: Database) -> dict[tuple[str, int, str], object]:
    with db.session() as s:
        return {
            (a.indicator_id, a.org_unit_id, a.cycle): sums.partial_of(a)
            for a in s.scalars(select(Aggregate))
        }


def _world(
    db: Database, tmp_path: Path
) -> tuple[BlobStore, dict[str, int], Form, FormVersion, Path]:
    """The org tree, the school form published, the fixture catalog written."""
    with db.session() as s:
        units = {code: unit.id for code, unit in seed_org(s).items()}
        form, version = fx.publish_form(s)
    return BlobStore(tmp_path / "blobs"), units, form, version, fx.write_catalog(tmp_path)


def _due(db: Database) -> bool:
    with db.session() as s:
        return catalog_state.rebuild_due(s)


def test_a_changed_definition_is_rebuilt_by_the_sweep(database: Database, tmp_path: Path) -> None:
    blobs, units, form, version, catalog = _world(database, tmp_path)

    def add(school: fx.School, unit: str, catalog: Path) -> None:
        with database.session() as s:
            sid, _ = fx.store(s, blobs, form, version, units[unit], school)
            fx.process(s, sid, catalog)

    add(A, "S1", catalog)
    assert not _due(database)
    assert aggregate_rebuild.rebuild_if_due(database, catalog) is False
    add(A, "S1", catalog)  # the same catalog again: still nothing due
    assert not _due(database)

    changed = _changed_catalog(tmp_path / "changed")
    add(B, "S2", changed)
    assert _due(database)
    # Until the rebuild, the country's sum mixes both definitions: 100 + 100 pupils and 3
    # teachers.
    assert _pupils_total(database, units["UG"]) == 203

    with database.session() as s:
        s.execute(update(DmipPlan).values(stale=False))
    assert aggregate_rebuild.rebuild_if_due(database, changed) is True
    assert _pupils_total(database, units["UG"]) == 2 + 2 + 3
    assert not _due(database)
    assert aggregate_rebuild.rebuild_if_due(database, changed) is False
    rebuilt = _all(database)
    with database.session() as s:
        rebuild_in(s, catalog_path=changed)
        # Every district's draft is due to be redrawn from the new sums.
        assert set(s.scalars(select(DmipPlan.district_id).where(DmipPlan.stale))) == {
            units["D1"],
            units["D2"],
        }
    assert _all(database) == rebuilt


def test_publishing_a_form_version_makes_a_rebuild_due(database: Database, tmp_path: Path) -> None:
    blobs, units, form, version, catalog = _world(database, tmp_path)
    with database.session() as s:
        sid, _ = fx.store(s, blobs, form, version, units["S1"], A)
        fx.process(s, sid, catalog)
    with database.session() as s:
        form, version = fx.publish_form(s, version="2")
    with database.session() as s:
        sid, _ = fx.store(s, blobs, form, version, units["S1"], B)
        fx.process(s, sid, catalog)
    assert _due(database)
    assert aggregate_rebuild.rebuild_if_due(database, catalog)
    assert _pupils_total(database, units["D1"]) == 250
