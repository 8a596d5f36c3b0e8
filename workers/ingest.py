"""Processing one stored submission: validate, flatten, record the outcome.

One transaction (the caller's session) covers the lock, the rows and the status, so a database
that goes away half-way leaves the submission `received`, to be retried or swept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session

from server.aggregation import store as aggregates
from server.db import Database, utcnow
from server.models import Form, FormVersion, Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from workers.processing import FormSpec, Problem, Result, process

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    processed = "processed"
    failed = "failed"
    skipped = "skipped"  # already done (perhaps by another worker), or not there at all


def process_submission(session: Session, submission_id: int) -> Outcome:
    """Process submission `submission_id` if it is still waiting; the caller commits."""
    # Wait for the row's lock rather than skip a locked row. Other holders are short: the
    # receiver merging a resend of the same instance, the sweeper claiming it, a worker that
    # took it into its batch, or a second delivery of this task. Skipping left the row
    # `received` with nobody woken for it until the next sweep; waiting costs little, and the
    # status check below then skips a row that the other holder has processed meanwhile.
    # (SQLite ignores FOR UPDATE and serialises.)
    query = select(Submission).where(Submission.id == submission_id).with_for_update()
    submission = session.scalars(query).one_or_none()
    if submission is None:
        log.warning("submission %s does not exist; nothing to process", submission_id)
        return Outcome.skipped
    if submission.processing_status != ProcessingStatus.received:
        log.debug("submission %s is already %s", submission_id, submission.processing_status.value)
        return Outcome.skipped
    session.execute(delete(SubmissionRow).where(SubmissionRow.submission_id == submission.id))
    rows: list[dict[str, Any]] = []
    spec = _specs(session, [submission])[submission.form_version_id]
    outcome = _process(submission, spec, rows)
    _insert_rows(session, rows)
    aggregates.submission_processed(session, submission)
    return outcome


def process_waiting(db: Database) -> int:
    """Process every submission still waiting, each in its own transaction, as the worker
    would: for loading data without a worker running (benchmarks, test fixtures). Returns how
    many were waiting."""
    with db.session() as session:
        ids = list(
            session.scalars(
                select(Submission.id)
                .where(Submission.processing_status == ProcessingStatus.received)
                .order_by(Submission.id)
            )
        )
    for submission_id in ids:
        with db.session() as session:
            process_submission(session, submission_id)
    return len(ids)


def process_batch(
    session: Session, submission_ids: Iterable[int], limit: int
) -> dict[int, Outcome]:
    """Process the waiting submissions among `submission_ids` and, up to `limit` in all,
    other waiting submissions that no one else holds, oldest first, in one transaction; the
    caller commits.

    Under load the queue holds a wake-up per submission, and what a submission costs is mostly
    the fixed part of bringing the aggregates in line (locks, the contribution query, the
    roll-up, the upsert, the stale mark) and of the commit: a worker that takes in hand what
    is waiting pays it once per batch. The other submissions' own tasks then find them
    processed (`_done_elsewhere`). Rows are claimed with SKIP LOCKED, so workers never wait on
    each other's batches here; an id of `submission_ids` held by someone else is not in the
    batch, and the caller goes on with `process_submission`, which waits for it (PostgreSQL
    only: SQLite has one writer and no SKIP LOCKED)."""
    wanted = sorted({int(i) for i in submission_ids})
    waiting = Submission.processing_status == ProcessingStatus.received
    # Its own submissions first, by primary key, then the oldest waiting, in id order through
    # the index of waiting ones (ix_submissions_waiting): two queries, as one ordered by "is it
    # one of these" could use neither.
    batch: list[Submission] = []
    if wanted:
        own = select(Submission).where(Submission.id.in_(wanted), waiting)
        batch = list(session.scalars(_claim(own.order_by(Submission.id), limit)))
    if len(batch) < limit:
        oldest = select(Submission).where(waiting, Submission.id.not_in(wanted))
        batch += session.scalars(_claim(oldest.order_by(Submission.id), limit - len(batch)))
    outcomes = _done_elsewhere(session, set(wanted) - {sub.id for sub in batch})
    if not batch:
        return outcomes
    # Rows a failed earlier attempt left behind.
    ids = [sub.id for sub in batch]
    session.execute(delete(SubmissionRow).where(SubmissionRow.submission_id.in_(ids)))
    specs = _specs(session, batch)
    rows: list[dict[str, Any]] = []
    outcomes |= {sub.id: _process(sub, specs[sub.form_version_id], rows) for sub in batch}
    _insert_rows(session, rows)
    aggregates.submissions_processed(session, batch)
    log.info("processed a batch of %d submissions", len(batch))
    return outcomes


def _claim(query: Select[tuple[Submission]], limit: int) -> Select[tuple[Submission]]:
    return query.limit(limit).with_for_update(skip_locked=True)


def _done_elsewhere(session: Session, ids: set[int]) -> dict[int, Outcome]:
    """Of the wanted ids the batch did not claim, those no longer waiting (or not there):
    skipped, in one query. Under load most of a wake-up's ids were taken by an earlier batch,
    and waiting for each one's lock in a transaction of its own cost the worker a fifth of its
    time. Those still waiting are held by someone else: the caller waits for them."""
    if not ids:
        return {}
    waiting = set(
        session.scalars(
            select(Submission.id).where(
                Submission.id.in_(ids),
                Submission.processing_status == ProcessingStatus.received,
            )
        )
    )
    return {i: Outcome.skipped for i in ids - waiting}


def _specs(session: Session, submissions: Iterable[Submission]) -> dict[int, FormSpec]:
    """What the submissions' form versions check them against, by form version id, in one
    query of the columns it needs.

    Once per batch, not per submission: loading each submission's FormVersion and Form cost a
    query that also fetched the version's XForm and XLSForm, and, as the loaded objects were
    dropped in between, each such query first flushed the previous submission's changes on
    their own rather than the batch's at once (two thirds of a batch's time, in process)."""
    version_ids = {sub.form_version_id for sub in submissions}
    query = (
        select(FormVersion.id, Form.xml_form_id, FormVersion.version, FormVersion.schema)
        .join(Form, Form.id == FormVersion.form_id)
        .where(FormVersion.id.in_(version_ids))
    )
    return {
        version_id: FormSpec(xml_form_id, version, schema)
        for version_id, xml_form_id, version, schema in session.execute(query)
    }


def _process(submission: Submission, spec: FormSpec, rows: list[dict[str, Any]]) -> Outcome:
    """Validate and flatten one locked, waiting submission (its old rows already deleted)
    against its form version's `spec`, record the outcome and add its flattened rows to
    `rows`, for `_insert_rows`."""
    submission_id = submission.id
    try:
        result = process(submission.xml, spec)
    except Exception as exc:  # a bug, not bad data: retrying the same bytes cannot help
        log.exception("processing submission %s raised", submission_id)
        result = Result([], [Problem("", f"The server could not process this submission ({exc}).")])

    submission.attempts = (submission.attempts or 0) + 1
    submission.processed_at = utcnow()
    if result.ok:
        rows.extend(
            {
                "submission_id": submission_id,
                "repeat_path": row.repeat_path,
                "position": row.position,
                "parent_position": row.parent_position,
                "data": row.data,
            }
            for row in result.rows
        )
        submission.processing_status = ProcessingStatus.processed
        submission.failure_reason = None
        if not submission.cycle:
            # Here, from the rows in hand, so that the row is updated once, not again for it.
            top = next((row.data for row in result.rows if row.repeat_path == ""), {})
            submission.cycle = aggregates.cycle_of_row(top, submission.received_at)
        # One line per batch at INFO (process_batch); one per submission would be thousands.
        log.debug("submission %s processed: %d rows", submission_id, len(result.rows))
        return Outcome.processed
    # A failed edit leaves the submission it replaces as it was; the aggregates hook still
    # runs for it, which keeps the rule in one place.
    submission.processing_status = ProcessingStatus.failed
    submission.failure_reason = result.failure_reason()
    log.info("submission %s failed: %s", submission_id, result.failure_reason())
    return Outcome.failed


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert flattened rows as they are, in one statement run for all of them. Nothing reads
    them back as objects: through the ORM each cost an object and a flush that fetched its
    new id, and the flush one INSERT with a placeholder per value, which the database driver
    converted anew each time, being too long to cache."""
    if rows:
        session.connection().execute(insert(SubmissionRow.__table__), rows)
