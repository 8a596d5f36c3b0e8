"""Several worker processes updating the same aggregates at once lose no update: real
processes, one PostgreSQL database, every submission in the same sub-county (so every
transaction adds to the same sub-county, district, region and country rows)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from server.aggregation import catalog_source, store, sums
from server.aggregation.rebuild import rebuild_in
from server.db import Database
from server.models import Aggregate, Submission
from server.models.submissions import ReviewState
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import seed_org
from workers import processing

pytestmark = pytest.mark.integration

WORKERS = 4
PER_WORKER = 25


def _process_all(url: str, catalog: str, ids: list[int]) -> int:
    """A worker process: each submission in its own transaction, as the Celery task does."""
    catalog_source.configure(Path(catalog))
    db = Database(url)
    done = 0
    for sid in ids:
        with db.session() as session:
            done += processing.process_submission(session, sid).value == "processed"
    db.dispose()
    return done


def _toggle_reviews(url: str, catalog: str, ids: list[int], rounds: int) -> None:
    """A reviewer rejecting and reinstating submissions while the workers add others."""
    catalog_source.configure(Path(catalog))
    db = Database(url)
    for round_ in range(rounds):
        state = ReviewState.rejected if round_ % 2 == 0 else ReviewState.approved
        for sid in ids:
            with db.session() as session:
                session.execute(
                    update(Submission).where(Submission.id == sid).values(review_state=state)
                )
                store.refresh(session, [sid])
    db.dispose()


def test_concurrent_workers_lose_no_update(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = Database(settings.database_url)
    catalog = fx.write_catalog(tmp_path)
    blobs = BlobStore(tmp_path / "blobs")
    with db.session() as s:
        units = seed_org(s)
        form, version = fx.publish_form(s)
        unit = units["S1"].id
        first = [
            fx.store(s, blobs, form, version, unit, fx.School(pupils=10))[0] for _ in range(10)
        ]
        for sid in first:
            fx.process(s, sid, catalog)
        batch = [
            fx.store(s, blobs, form, version, unit, fx.School(pupils=1 + i % 7))[0]
            for i in range(WORKERS * PER_WORKER)
        ]
    slices = [batch[i::WORKERS] for i in range(WORKERS)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS + 1) as pool:
        reviewer = pool.apply_async(_toggle_reviews, (db.url, str(catalog), first, 6))
        results = [pool.apply_async(_process_all, (db.url, str(catalog), ids)) for ids in slices]
        processed = sum(r.get(timeout=600) for r in results)
        reviewer.get(timeout=600)
    assert processed == WORKERS * PER_WORKER

    expected_pupils = sum(1 + i % 7 for i in range(WORKERS * PER_WORKER)) + 10 * 10
    with db.session() as s:
        country = s.scalar(
            select(Aggregate).where(
                Aggregate.indicator_id == "pupils_total",
                Aggregate.org_unit_id == units["UG"].id,
            )
        )
        assert country is not None
        # The reviewer's last round reinstated the first ten.
        assert country.n == WORKERS * PER_WORKER + 10
        assert sums.partial_of(country).sum() == expected_pupils
        incremental = {
            (a.indicator_id, a.org_unit_id, a.cycle): sums.partial_of(a)
            for a in s.scalars(select(Aggregate))
        }
        counted = s.scalar(select(func.count()).where(Submission.counted.is_(True)))
        assert counted == WORKERS * PER_WORKER + 10
    with db.session() as s:
        report = rebuild_in(s, catalog_path=catalog)
        assert report.recounted == 0
        rebuilt = {
            (a.indicator_id, a.org_unit_id, a.cycle): sums.partial_of(a)
            for a in s.scalars(select(Aggregate))
        }
    assert rebuilt == incremental
    db.dispose()
