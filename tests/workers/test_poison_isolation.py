"""One bad submission never holds back the others: values no XForm can hold fail their own
submission with the field and value named, a value the database refuses to sum fails only the
submission that carries it, and the rest of the batch and every later batch are processed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from server.aggregation import catalog_source
from server.aggregation.rebuild import rebuild_in
from server.db import Database
from server.domain.xform.safe_xml import parse
from server.domain.xform.submission_meta import read_meta
from server.models import Aggregate, FormVersion, Submission
from server.models.submissions import ProcessingStatus
from server.services.ingest import IncomingSubmission, ingest_submission
from server.settings import Settings
from server.storage.blobs import BlobStore
from server.task_queue import PROCESS_SUBMISSION, TaskSender
from tests.fixtures.openrosa import seed_org
from tests.workers.celery_processes import wait_for, worker
from tests.workers.test_worker_support import add_form
from workers import processing

FORM = """
| survey |
| | type | name | label |
| | text | cycle | Cycle |
| | integer | pupils | Pupils |
| | decimal | area | Area |
| | date | visited | Visited |
| settings |
| | form_id | version |
| | poison | 1 |
"""

_STANDARD = {"value": None, "comparison": ">=", "source": "test", "national_norm": True}


def _indicator(indicator_id: str, numerator: str, aggregation: str) -> dict[str, object]:
    return {
        "id": indicator_id,
        "name": indicator_id,
        "sector": "education",
        "unit": "count",
        "form": "poison",
        "formula": {"numerator": numerator},
        "aggregation": aggregation,
        "direction": "higher_is_better",
        "standard": _STANDARD,
        "dmip_section": "profile",
    }


CATALOG = {
    "indicators": [
        _indicator("pupils", "pupils", "sum"),
        _indicator("area", "area", "mean"),
        # Legitimate answers whose product no exact sum can hold: the database refuses it.
        _indicator("power", "pupils * pupils * pupils * pupils * pupils", "mean"),
    ]
}

# (answers, field named in the reason, text of the reason) for each kind of poison.
POISONS = [
    ({"pupils": "9" * 29}, "pupils", "out of range for a whole number"),
    ({"pupils": "twelve"}, "pupils", "'twelve' is not a whole number"),
    ({"area": "1e999"}, "area", "too large a number"),
    ({"area": "3e20"}, "area", "too large a number"),
    ({"visited": "2024-02-30"}, "visited", "'2024-02-30' is not a date"),
]
# Within an XForm integer's range, so only the database can refuse what it makes of it.
OVERFLOW = {"pupils": "2000000000"}

_ids = itertools.count(1)


@dataclass
class Env:
    db: Database
    version: FormVersion
    unit_id: int
    blobs: BlobStore
    forms_dir: Path

    def store(self, **answers: str) -> int:
        instance_id = f"uuid:poison-{next(_ids):06d}"
        values = {"cycle": "2025/26", "pupils": "40", "area": "1.5", "visited": "2025-09-01"}
        values |= answers
        body = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
        xml = (
            f'<data id="poison" version="1">{body}'
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
        ).encode()
        with self.db.session() as session:
            result = ingest_submission(
                session,
                self.blobs,
                IncomingSubmission(
                    form_id=self.version.form_id,
                    form_version_id=self.version.id,
                    submitter_id=None,
                    meta=read_meta(parse(xml)),
                    xml=xml,
                    org_unit_id=self.unit_id,
                ),
            )
            session.commit()
        return result.submission_id

    def outcomes(self, ids: list[int]) -> dict[int, tuple[ProcessingStatus, str | None]]:
        with self.db.session() as session:
            rows = session.execute(
                select(
                    Submission.id, Submission.processing_status, Submission.failure_reason
                ).where(Submission.id.in_(ids))
            )
            return {sid: (status, reason) for sid, status, reason in rows}

    def aggregates(self) -> set[tuple[object, ...]]:
        with self.db.session() as session:
            return {
                (a.indicator_id, a.org_unit_id, a.cycle, a.n, a.total, a.total_sq, a.num, a.den)
                for a in session.scalars(select(Aggregate))
            }

    def rebuilt(self) -> set[tuple[object, ...]]:
        """The aggregates recomputed from every submission, as `dmip aggregates rebuild` does."""
        with self.db.session() as session:
            rebuild_in(session, catalog_path=self.forms_dir / "catalog.yaml")
            session.commit()
        return self.aggregates()


def _env(db: Database, tmp_path: Path) -> Env:
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    (forms_dir / "catalog.yaml").write_text(yaml.safe_dump(CATALOG), encoding="utf-8")
    with db.session() as session:
        unit_id = seed_org(session)["S1"].id
        version = add_form(session, FORM)
        session.expunge(version)
    return Env(db, version, unit_id, BlobStore(tmp_path / "blobs"), forms_dir)


@pytest.fixture
def env(database: Database, tmp_path: Path) -> Iterator[Env]:
    yield _env(database, tmp_path)


def _process_batch(env: Env, ids: list[int]) -> dict[int, processing.Outcome]:
    catalog_source.configure(env.forms_dir / "catalog.yaml")
    try:
        with env.db.session() as session:
            outcomes = processing.process_batch(session, ids, limit=len(ids))
            session.commit()
    finally:
        catalog_source.configure(None)
    return outcomes


def _assert_isolated(env: Env, good: list[int], poisons: dict[int, tuple[str, str]]) -> None:
    outcomes = env.outcomes([*good, *poisons])
    assert {sid: outcomes[sid][0] for sid in good} == dict.fromkeys(
        good, ProcessingStatus.processed
    )
    for sid, (field, words) in poisons.items():
        status, reason = outcomes[sid]
        assert status == ProcessingStatus.failed, (sid, reason)
        assert reason is not None and reason.startswith(f"{field}: ") and words in reason


def test_values_no_xform_can_hold_fail_only_their_own_submission(env: Env) -> None:
    good = [env.store(pupils=str(n)) for n in range(10, 40)]
    poisons = {env.store(**answers): (field, words) for answers, field, words in POISONS}
    outcomes = _process_batch(env, [*good, *poisons])
    assert sorted(outcomes) == sorted([*good, *poisons])
    _assert_isolated(env, good, poisons)
    counted = env.aggregates()
    assert ("pupils", env.unit_id, "2025/26", 30, sum(range(10, 40)) * 10**6) in {
        row[:5] for row in counted
    }
    assert counted == env.rebuilt()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_value_the_database_refuses_fails_only_its_submission(env: Env) -> None:
    good = [env.store(pupils=str(n)) for n in range(10, 30)]
    overflow = env.store(**OVERFLOW)
    more = [env.store(pupils=str(n)) for n in range(30, 40)]
    _process_batch(env, [*good, overflow, *more])
    outcomes = env.outcomes([*good, overflow, *more])
    assert all(outcomes[sid][0] == ProcessingStatus.processed for sid in good + more)
    status, reason = outcomes[overflow]
    assert status == ProcessingStatus.failed
    assert reason is not None and "could not store the values" in reason
    assert env.aggregates() == env.rebuilt()
    # And the next batch goes through as if nothing had happened.
    later = [env.store(pupils="5") for _ in range(5)]
    _process_batch(env, later)
    assert {s for s, _ in env.outcomes(later).values()} == {ProcessingStatus.processed}


@pytest.mark.integration
def test_a_real_worker_processes_a_batch_around_every_kind_of_poison(
    settings: Settings, tmp_path: Path
) -> None:
    db = Database(settings.database_url)
    try:
        env = _env(db, tmp_path)
        good = [env.store(pupils=str(n)) for n in range(100)]
        poisons = {env.store(**answers): (field, words) for answers, field, words in POISONS}
        overflow = env.store(**OVERFLOW)
        ids = sorted([*good, *poisons, overflow])
        log = tmp_path / "worker.log"
        with worker(settings, log, "--pool=solo", DMIP_FORMS_DIR=str(env.forms_dir)):
            # One wake-up for all of them, as the receiver sends under load: one batch.
            assert TaskSender(settings).send(PROCESS_SUBMISSION, ids)
            wait_for(
                lambda: ProcessingStatus.received not in {s for s, _ in env.outcomes(ids).values()},
                "the batch",
                [log],
            )
            later = [env.store(pupils="7") for _ in range(3)]
            assert TaskSender(settings).send(PROCESS_SUBMISSION, later)
            wait_for(
                lambda: (
                    {s for s, _ in env.outcomes(later).values()} == {ProcessingStatus.processed}
                ),
                "the batch after it",
                [log],
            )
        _assert_isolated(env, good, poisons)
        assert env.outcomes([overflow])[overflow][0] == ProcessingStatus.failed
        assert env.aggregates() == env.rebuilt()
    finally:
        db.dispose()
