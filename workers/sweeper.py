"""Re-sending the wake-up task for submissions the queue lost.

The receiver commits a submission and then sends its task; if the broker was down, or a worker
died with the message, the row is still `received`. The sweeper finds such rows once they have
waited `grace` seconds and sends their task again.

Overlapping sweeps (a slow run still going when beat fires the next, or sweeps in two worker
processes) need no lock of their own: each batch is claimed in one short transaction that
selects with FOR UPDATE SKIP LOCKED on PostgreSQL and moves `enqueued_at` to now before it
commits, so two sweeps claim disjoint rows and a claimed row is not eligible again until the
grace period has passed. SQLite (the embedded mode, one worker) serialises writers anyway.
Tasks are sent after the claim commits, as everywhere else, so a worker never finds the row
still locked by the sweeper.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import or_, select, update

from server.db import Database, utcnow
from server.models import Submission
from server.models.submissions import ProcessingStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def sweep(
    database: Database,
    grace: int,
    send: Callable[[int], bool],
    batch_size: int = BATCH_SIZE,
) -> int:
    """Send the task again for every submission waiting longer than `grace` seconds.

    `send(submission_id)` returns False when the broker is unreachable; the sweep then stops
    and leaves the rest for the next run. Returns how many tasks were sent.
    """
    # One cutoff for the whole run: rows claimed here get enqueued_at >= the cutoff, so later
    # batches of the same run never pick them again, even with a grace of 0.
    cutoff = utcnow() - dt.timedelta(seconds=grace)
    sent = 0
    while True:
        claimed = _claim(database, cutoff, batch_size)
        for position, submission_id in enumerate(claimed):
            if not send(submission_id):
                _release(database, claimed[position:])
                log.warning("sweep stopped: the broker is unreachable (%d tasks re-sent)", sent)
                return sent
            sent += 1
        if len(claimed) < batch_size:
            break
    if sent:
        log.info("sweep re-sent %d waiting submissions", sent)
    return sent


def _claim(database: Database, cutoff: dt.datetime, limit: int) -> list[int]:
    with database.session() as session:
        query = (
            select(Submission.id)
            .where(
                Submission.processing_status == ProcessingStatus.received,
                or_(Submission.enqueued_at.is_(None), Submission.enqueued_at < cutoff),
            )
            .order_by(Submission.id)
            .limit(limit)
        )
        if database.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(Submission).where(Submission.id.in_(ids)).values(enqueued_at=utcnow())
            )
        return ids


def _release(database: Database, ids: list[int]) -> None:
    """Make unsent rows eligible for the very next sweep instead of after the grace period."""
    with database.session() as session:
        session.execute(
            update(Submission)
            .where(
                Submission.id.in_(ids), Submission.processing_status == ProcessingStatus.received
            )
            .values(enqueued_at=None)
        )
