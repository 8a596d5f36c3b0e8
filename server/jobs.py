"""Background jobs a person waits for (submission exports, DMIP documents): claiming one,
reporting its progress, finishing it, and recovering the ones that stalled.

A job row is created by the web request, which then sends the worker its task. Two things can
leave the row waiting forever: the broker refused the task (Redis away at that moment), or the
worker died while running it (a restart, the OOM killer). `recover`, run by the periodic sweep,
re-sends the task of a job queued for longer than the grace period, and puts back in the queue
a running job whose heartbeat (`updated_at`, moved at least every HEARTBEAT seconds while it
runs) has been silent for STALLED; after MAX_ATTEMPTS it marks the job failed, saying so,
rather than retry a job that kills its worker for ever.

A claim is one locked read-and-update, so two deliveries of the same task (the sweep's and the
original, or a redelivery after a lost worker) never run one job twice at once.

Files are not kept for ever: `expire`, also run by the sweep, deletes the file of a job
finished longer ago than the retention period and marks the job `expired`, so the disk of a
district office laptop does not fill with old exports.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Mapped

from server.db import Base, Database, utcnow

log = logging.getLogger(__name__)

HEARTBEAT = 30.0  # seconds between progress commits at the most, while a job runs
STALLED = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 3


class Job(Protocol):
    id: Mapped[int]
    state: Mapped[str]
    progress: Mapped[float]
    error: Mapped[str | None]
    file_path: Mapped[str | None]
    finished_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    attempts: Mapped[int]
    created_at: Mapped[dt.datetime]


def claim(db: Database, model: type[Base], job_id: int) -> bool:
    """Mark a queued job running for this worker; False if it is missing, running elsewhere,
    done or failed (the caller then leaves it alone)."""
    with db.session() as session:
        job = session.get(model, job_id, with_for_update=True)
        if job is None or job.state != "queued":
            return False
        job.state, job.progress, job.error = "running", 0.0, None
        job.attempts = (job.attempts or 0) + 1
        job.updated_at = utcnow()
        return True


class Progress:
    """The progress callback a job's builder calls with the fraction done: commits it in a
    short transaction of its own when it moved by `step`, or when HEARTBEAT seconds passed,
    so a browser polling the job sees it move and the sweep sees the job alive."""

    def __init__(self, db: Database, model: type[Base], job_id: int, step: float) -> None:
        self._db, self._model, self._id, self._step = db, model, job_id, step
        self._last = 0.0
        self._last_commit = time.monotonic()

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        moved = fraction - self._last >= self._step or fraction >= 1.0
        if not moved and now - self._last_commit < HEARTBEAT:
            return
        self._last, self._last_commit = fraction, now
        with self._db.session() as session:
            job = session.get(self._model, self._id)
            if job is not None:
                job.progress = min(fraction, 0.99)  # 1.0 only once the file is in place
                job.updated_at = utcnow()


def finish(db: Database, model: type[Base], job_id: int, path: str) -> Job | None:
    with db.session() as session:
        job = session.get(model, job_id)
        if job is not None:
            job.state, job.progress, job.file_path = "done", 1.0, path
            job.finished_at = job.updated_at = utcnow()
        return job


def fail(db: Database, model: type[Base], job_id: int, reason: str) -> Job | None:
    with db.session() as session:
        job = session.get(model, job_id)
        if job is not None:
            job.state, job.error = "failed", reason
            job.finished_at = job.updated_at = utcnow()
        return job


def recover(
    db: Database,
    kinds: Iterable[tuple[type[Base], str]],
    send: Callable[[str, int], bool],
    grace: int,
    now: dt.datetime | None = None,
) -> int:
    """Re-send the tasks of stalled jobs of each (model, task name) kind; returns how many.

    `send(task_name, job_id)` returns False when the broker is unreachable; the job's clock is
    then left as it was, so the next sweep tries again."""
    now = now or utcnow()
    waited = now - dt.timedelta(seconds=grace)
    silent = now - STALLED
    sent = 0
    for model, task in kinds:
        due = _stalled(db, model, waited, silent, now)
        for position, job_id in enumerate(due):
            if not send(task, job_id):
                _unclaim(db, model, due[position:])
                log.warning("job recovery stopped: the broker is unreachable")
                return sent
            sent += 1
    if sent:
        log.info("re-sent %d stalled export or document jobs", sent)
    return sent


def _stalled(
    db: Database, model: type[Base], waited: dt.datetime, silent: dt.datetime, now: dt.datetime
) -> list[int]:
    """Claim for re-sending, in one transaction: queued jobs waiting since before `waited`,
    and running jobs silent since before `silent` (put back in the queue, or failed after
    MAX_ATTEMPTS). Moving `updated_at` to `now` keeps a later sweep off them for a while."""
    c = model.__table__.c  # type: ignore[attr-defined]
    last_seen = c.updated_at
    with db.session() as session:
        query = (
            select(model)
            .where(
                or_(
                    (c.state == "queued")
                    & or_(last_seen < waited, last_seen.is_(None) & (c.created_at < waited)),
                    (c.state == "running") & or_(last_seen < silent, last_seen.is_(None)),
                )
            )
            .order_by(c.id)
        )
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        resend: list[int] = []
        for job in session.scalars(query):
            if job.state == "running" and (job.attempts or 0) >= MAX_ATTEMPTS:
                job.state, job.finished_at = "failed", now
                job.error = (
                    f"The work stopped {job.attempts} times before it could finish (the "
                    "worker running it was interrupted). Please ask for it again; if it "
                    "keeps failing, tell your administrator."
                )
                log.warning("%s %s failed after %d attempts", model.__name__, job.id, job.attempts)
            else:
                if job.state == "running":
                    log.warning("%s %s stalled while running; queued again", model.__name__, job.id)
                job.state, job.progress = "queued", 0.0
                resend.append(job.id)
            job.updated_at = now
        return resend


def _unclaim(db: Database, model: type[Base], job_ids: list[int]) -> None:
    """Jobs whose task could not be sent: due again at the very next sweep."""
    with db.session() as session:
        for job_id in job_ids:
            job = session.get(model, job_id)
            if job is not None and job.state == "queued":
                job.updated_at = None


def expire(
    db: Database,
    models: Iterable[type[Base]],
    keep: dt.timedelta,
    now: dt.datetime | None = None,
) -> int:
    """Delete the files of jobs done before `now - keep` and mark them expired; returns how
    many. The row goes first (committed), then the file: a crash in between leaves a stray
    file, never a job pointing at nothing."""
    cutoff = (now or utcnow()) - keep
    expired = 0
    for model in models:
        c = model.__table__.c  # type: ignore[attr-defined]
        with db.session() as session:
            query = select(model).where(c.state == "done", c.finished_at < cutoff)
            if db.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            paths = []
            for job in session.scalars(query):
                if job.file_path:
                    paths.append(Path(job.file_path))
                job.state, job.file_path, job.updated_at = "expired", None, utcnow()
                expired += 1
        for path in paths:
            path.unlink(missing_ok=True)
    if expired:
        log.info("deleted the files of %d old export and document jobs", expired)
    return expired
