"""Celery tasks, by the names the server sends (server/task_queue.py). Thin: IDs in, work done
by workers/processing.py and workers/sweeper.py in one transaction each."""

from __future__ import annotations

import datetime as dt
import logging

from celery import current_app, shared_task

from server import jobs
from server.models import DocumentJob, ExportJob
from server.services import aggregate_rebuild
from server.task_queue import (
    EXPORT_DOCUMENT,
    EXPORT_TASK,
    PROCESS_SUBMISSION,
    REGENERATE_PLANS,
    SWEEP,
)
from workers import document_jobs, processing, runtime, sweeper
from workers import export_jobs as _exports  # noqa: F401  (registers dmip.export)
from workers.regeneration import regenerate_due

log = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = processing.TRANSIENT_DB_ERRORS


@shared_task(
    name=PROCESS_SUBMISSION,
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT_DB_ERRORS,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    # Waits of 1, 2, 4 ... seconds, at most 10 minutes each (jittered): about half an hour in
    # all. After that the row is still `received` and the sweeper sends the task again once
    # the database is back.
    max_retries=12,
)
def process_submission(submission_ids: int | list[int]) -> str:
    """Process one submission, or the list the receiver's wake-up thread gathered."""
    ids = [
        int(i) for i in (submission_ids if isinstance(submission_ids, list) else [submission_ids])
    ]
    database, batch = runtime.database(), runtime.settings().worker_batch
    outcomes: dict[int, processing.Outcome] = {}
    if database.is_postgresql and batch > 1:
        # These ids first, then whatever else is waiting (workers/processing.py `process_batch`).
        with database.session() as session:
            outcomes = processing.process_batch(session, ids, max(batch, len(ids)))
    for sid in ids:
        if sid not in outcomes:  # held by someone else just now (or SQLite): wait for it
            with database.session() as session:
                outcomes[sid] = processing.process_submission(session, sid)
    if len(ids) == 1:
        return outcomes[ids[0]].value
    return ", ".join(f"{sid}: {outcomes[sid].value}" for sid in ids)


def _send_process(submission_id: int) -> bool:
    try:
        current_app.send_task(PROCESS_SUBMISSION, args=[submission_id], retry=False)
    except Exception as exc:  # the broker is unreachable; the next sweep tries again
        log.warning(
            "could not send %s for submission %s: %s", PROCESS_SUBMISSION, submission_id, exc
        )
        return False
    return True


@shared_task(name=SWEEP, ignore_result=True, autoretry_for=(), acks_late=False)
def sweep() -> int:
    """Re-send what the queue lost: submissions still waiting, and export and document jobs
    queued or stalled (server/jobs.py), whose old files it deletes; rebuild the
    aggregates if the catalog changed (server/services/aggregate_rebuild.py)."""
    # Not acks_late: a sweep lost with its worker is simply done by the next beat.
    database, grace = runtime.database(), runtime.settings().sweep_grace
    sent = sweeper.sweep(database, grace, _send_process)
    sent += jobs.recover(database, _JOB_KINDS, _send_job, grace)
    retention = dt.timedelta(days=runtime.settings().job_file_retention_days)
    jobs.expire(database, (model for model, _ in _JOB_KINDS), retention)
    # After a change of the indicator catalog or of a published form (rare; the rebuild
    # holds the aggregates for its duration, under a minute for a million submissions).
    aggregate_rebuild.rebuild_if_due(database)
    return sent


_JOB_KINDS = ((ExportJob, EXPORT_TASK), (DocumentJob, EXPORT_DOCUMENT))


def _send_job(name: str, job_id: int) -> bool:
    try:
        current_app.send_task(name, args=[job_id], retry=False)
    except Exception as exc:  # the broker is unreachable; the next sweep tries again
        log.warning("could not send %s for job %s: %s", name, job_id, exc)
        return False
    return True


@shared_task(name=REGENERATE_PLANS, ignore_result=True, acks_late=False)
def regenerate_plans() -> int:
    """Redraw the district plans whose data changed and has settled (a periodic task: one
    lost with its worker is simply done by the next)."""
    return regenerate_due(runtime.database())


@shared_task(name=EXPORT_DOCUMENT, ignore_result=True, acks_late=True)
def export_document(job_id: int) -> str:
    """Write a DMIP or synthesis document for a DocumentJob, committing progress as it goes."""
    settings = runtime.settings()
    job = document_jobs.run_job(runtime.database(), int(job_id), settings.data_dir / "documents")
    return job.state if job is not None else "missing"
