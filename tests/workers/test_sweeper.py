"""The sweeper on PostgreSQL and SQLite; `send` records what would go to the broker (the
broker itself is exercised in tests/workers/test_worker_integration.py and
test_broker_restart.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from server.db import Database, utcnow
from server.models import FormVersion, Submission
from server.models.submissions import ProcessingStatus
from server.settings import Settings
from tests.workers.test_worker_support import add_form, add_submission, mini_xml
from workers.sweeper import sweep

LONG_AGO = utcnow() - dt.timedelta(hours=1)


def _add(db: Database, count: int, enqueued_at: dt.datetime | None = LONG_AGO) -> list[int]:
    with db.session() as session:
        version = session.scalars(select(FormVersion)).first() or add_form(session)
        ids = []
        for _ in range(count):
            instance = f"uuid:{uuid.uuid4()}"
            sid = add_submission(session, version, mini_xml(instance), instance)
            session.execute(
                update(Submission).where(Submission.id == sid).values(enqueued_at=enqueued_at)
            )
            ids.append(sid)
        return ids


def test_only_submissions_waiting_past_the_grace_period_are_sent(database: Database) -> None:
    stale = _add(database, 2)
    never_sent = _add(database, 1, enqueued_at=None)
    fresh = _add(database, 1, enqueued_at=utcnow())
    done = _add(database, 1)
    with database.session() as session:
        session.get(Submission, done[0]).processing_status = ProcessingStatus.processed  # type: ignore[union-attr]
    sent: list[int] = []
    assert sweep(database, 30, lambda sid: sent.append(sid) is None) == 3
    assert sorted(sent) == sorted(stale + never_sent)
    assert fresh[0] not in sent
    with database.session() as session:
        for sid in sent:
            enqueued = session.get(Submission, sid).enqueued_at  # type: ignore[union-attr]
            assert enqueued is not None and enqueued > utcnow() - dt.timedelta(minutes=1)
    # Just sent: not eligible again until the grace period has passed.
    assert sweep(database, 30, lambda sid: sent.append(sid) is None) == 0


def test_batches_send_each_submission_once_even_with_no_grace(database: Database) -> None:
    ids = _add(database, 7)
    sent: list[int] = []
    assert sweep(database, 0, lambda sid: sent.append(sid) is None, batch_size=3) == 7
    assert sorted(sent) == ids


def test_a_broker_outage_stops_the_sweep_and_the_rest_waits_for_the_next(
    database: Database,
) -> None:
    ids = _add(database, 4)
    sent: list[int] = []

    def flaky(sid: int) -> bool:
        if len(sent) == 1:
            return False
        sent.append(sid)
        return True

    assert sweep(database, 30, flaky) == 1
    with database.session() as session:
        unsent = [sid for sid in ids if session.get(Submission, sid).enqueued_at is None]  # type: ignore[union-attr]
    assert unsent == ids[1:]
    later: list[int] = []
    assert sweep(database, 30, lambda sid: later.append(sid) is None) == 3
    assert later == ids[1:]


def test_rows_claimed_by_a_concurrent_sweep_are_skipped(settings: Settings) -> None:
    database = Database(settings.database_url)
    try:
        ids = _add(database, 3)
        with database.session() as other:
            other.execute(select(Submission).where(Submission.id == ids[0]).with_for_update()).all()
            sent: list[int] = []
            assert sweep(database, 30, lambda sid: sent.append(sid) is None) == 2
            assert sent == ids[1:]
    finally:
        database.dispose()
