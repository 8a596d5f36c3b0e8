"""Processing one stored submission: validate, flatten, record the outcome.

One transaction (the caller's session) covers the lock, the rows and the status, so a database
that goes away half-way leaves the submission `received`, to be retried or swept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import psycopg
from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from server.aggregation import store as aggregates
from server.db import Database, among, is_postgresql, utcnow
from server.domain.xform.flatten import FormSpec, Problem, Result, process
from server.models import Form, FormVersion, Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from server.plans import staleness

log = logging.getLogger(__name__)

# The database went away, a connection broke, the pool ran dry, a deadlock or serialisation
# failure (psycopg reports those as OperationalError), or SQLite was busy: all worth a retry
# of the same work as it is (workers/tasks.py).
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)


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
    row = session.execute(_CLAIM.where(_table.c.id == submission_id).with_for_update()).first()
    if row is None:
        log.warning("submission %s does not exist; nothing to process", submission_id)
        return Outcome.skipped
    claimed = Claimed(*row)
    if claimed.processing_status != ProcessingStatus.received:
        log.debug("submission %s is already %s", submission_id, claimed.processing_status.value)
        return Outcome.skipped
    return _finish(session, [claimed])[submission_id]


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
    waiting = _table.c.processing_status == ProcessingStatus.received
    pg = is_postgresql(session)
    # Its own submissions first, by primary key, then the oldest waiting, in id order through
    # the index of waiting ones (ix_submissions_waiting): two queries, as one ordered by "is it
    # one of these" could use neither.
    batch: list[Claimed] = []
    if wanted:
        own = _CLAIM.where(among(_table.c.id, wanted, pg), waiting)
        batch = [Claimed(*row) for row in session.execute(_claim(own, limit))]
    if len(batch) < limit:
        oldest = _CLAIM.where(waiting, among(_table.c.id, wanted, pg, negate=True))
        batch += [Claimed(*row) for row in session.execute(_claim(oldest, limit - len(batch)))]
    outcomes = _done_elsewhere(session, set(wanted) - {sub.id for sub in batch})
    if not batch:
        return outcomes
    outcomes |= _finish(session, batch)
    log.info("processed a batch of %d submissions", len(batch))
    return outcomes


@dataclass
class Claimed:
    """A waiting submission a worker holds the lock of: what processing reads, then the
    outcome it records.

    Plain data rather than the ORM object: a batch's outcomes go back in one UPDATE, where the
    objects' flush spent a fifth of the worker's time working out what had changed in each and
    sending an UPDATE per row."""

    id: int
    form_version_id: int
    xml: bytes
    received_at: dt.datetime
    cycle: str | None
    counted: bool
    supersedes_id: int | None
    processing_status: ProcessingStatus
    failure_reason: str | None = None


_table = Submission.__table__
# The columns of `Claimed`, in its order.
_CLAIM = select(
    _table.c.id,
    _table.c.form_version_id,
    _table.c.xml,
    _table.c.received_at,
    _table.c.cycle,
    _table.c.counted,
    _table.c.supersedes_id,
    _table.c.processing_status,
)


def _claim(query: Select[Any], limit: int) -> Select[Any]:
    return query.order_by(_table.c.id).limit(limit).with_for_update(skip_locked=True)


def _finish(session: Session, batch: list[Claimed]) -> dict[int, Outcome]:
    """Process the locked, waiting submissions of `batch` and record everything that follows
    in the caller's transaction: their outcomes and flattened rows, and the aggregates.

    The batch is written under a savepoint. If the database refuses it for a reason that a
    retry cannot cure (a value that overflows a sum, a string it cannot store: anything but a
    lost connection, a deadlock or a busy database), the batch is written again one submission
    at a time, each under its own savepoint, and the one the database refuses is marked failed
    with the database's reason: one bad submission never holds back the others, nor every
    later batch behind them."""
    try:
        with session.begin_nested():
            # Copies: the attempt notes outcomes on them, which a rolled-back attempt must not
            # leave behind for the next.
            return _write(session, [replace(sub) for sub in batch])
    except DBAPIError as exc:
        if _transient(exc):
            raise
        if len(batch) == 1:
            return _refused(session, batch[0], exc)
        log.warning("a batch of %d was refused (%s); writing it one by one", len(batch), exc.orig)
    outcomes: dict[int, Outcome] = {}
    for sub in batch:
        try:
            with session.begin_nested():
                outcomes |= _write(session, [replace(sub)])
        except DBAPIError as exc:
            if _transient(exc):
                raise
            outcomes |= _refused(session, sub, exc)
    return outcomes


def _write(
    session: Session, batch: list[Claimed], reasons: dict[int, str] | None = None
) -> dict[int, Outcome]:
    """`_finish`'s work for the batch, submissions of `reasons` marked failed with theirs
    without being processed."""
    # Rows a failed earlier attempt left behind.
    ids = [sub.id for sub in batch]
    pg = is_postgresql(session)
    session.execute(delete(SubmissionRow).where(among(SubmissionRow.submission_id, ids, pg)))
    specs = _specs(session, batch)
    rows: list[dict[str, Any]] = []
    reasons = reasons or {}
    outcomes = {
        sub.id: _fail(sub, reasons[sub.id])
        if sub.id in reasons
        else _process(sub, specs[sub.form_version_id], rows)
        for sub in batch
    }
    # Which of them count, decided before anything is written, so that each submission's row
    # is written once: outcome, cycle and `counted` flag together (every UPDATE is a new
    # version of the row in each of the table's indexes).
    changed = aggregates.decide_counted(session, batch)
    _record(session, batch)
    _insert_rows(session, rows)
    # The districts whose numbers moved get their draft DMIP redrawn (debounced).
    staleness.mark_stale(session, aggregates.batch_processed(session, batch, changed))
    return outcomes


def _transient(exc: DBAPIError) -> bool:
    """Whether the database was unavailable, overloaded or deadlocked, which the task's retry
    of the same batch cures, rather than refusing what the batch holds, which only isolating
    the submission cures."""
    return isinstance(exc, TRANSIENT_DB_ERRORS) or exc.connection_invalidated


def _refused(session: Session, submission: Claimed, exc: DBAPIError) -> dict[int, Outcome]:
    """Mark one submission failed because the database would not store what it holds."""
    cause = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    reason = (
        "The server could not store the values of this submission: the database answered "
        f"{cause!r}. Check its numbers for a value far beyond what the question allows."
    )
    log.error("submission %s refused by the database: %s", submission.id, cause)
    with session.begin_nested():
        return _write(session, [replace(submission)], {submission.id: reason})


def _fail(submission: Claimed, reason: str) -> Outcome:
    submission.processing_status = ProcessingStatus.failed
    submission.failure_reason = reason
    return Outcome.failed


def _done_elsewhere(session: Session, ids: set[int]) -> dict[int, Outcome]:
    """Of the wanted ids the batch did not claim, those no longer waiting (or not there):
    skipped, in one query. Under load most of a wake-up's ids were taken by an earlier batch,
    and waiting for each one's lock in a transaction of its own cost the worker a fifth of its
    time. Those still waiting are held by someone else: the caller waits for them."""
    if not ids:
        return {}
    waiting = set(
        session.scalars(
            select(_table.c.id).where(
                among(_table.c.id, ids, is_postgresql(session)),
                _table.c.processing_status == ProcessingStatus.received,
            )
        )
    )
    return {i: Outcome.skipped for i in ids - waiting}


# Form specs by (form version id, XForm hash), for the life of the process: a version is
# immutable once a phone can fill it, and the hash tells a draft replaced in place apart.
_specs_cache: dict[tuple[int, str], FormSpec] = {}
_SPECS_KEPT = 64


def _specs(session: Session, submissions: Iterable[Claimed]) -> dict[int, FormSpec]:
    """What the submissions' form versions check them against, by form version id.

    Built once per version and process: loading each submission's FormVersion and Form cost a
    query that also fetched the version's XForm and XLSForm (and each load flushed the
    previous submission's changes on their own), and fetching the field list once per batch
    still meant decoding a long JSON document and indexing it again for the DMIP forms."""
    version_ids = {sub.form_version_id for sub in submissions}
    hashes: dict[int, str] = {
        vid: md5
        for vid, md5 in session.execute(
            select(FormVersion.id, FormVersion.md5).where(FormVersion.id.in_(version_ids))
        )
    }
    specs = {
        vid: _specs_cache[(vid, md5)] for vid, md5 in hashes.items() if (vid, md5) in _specs_cache
    }
    missing = set(hashes) - set(specs)
    if missing:
        if len(_specs_cache) + len(missing) > _SPECS_KEPT:
            _specs_cache.clear()
        query = (
            select(
                FormVersion.id,
                FormVersion.md5,
                Form.xml_form_id,
                FormVersion.version,
                FormVersion.schema,
            )
            .join(Form, Form.id == FormVersion.form_id)
            .where(FormVersion.id.in_(missing))
        )
        for version_id, md5, xml_form_id, version, schema in session.execute(query):
            spec = specs[version_id] = FormSpec(xml_form_id, version, schema)
            _specs_cache[(version_id, md5)] = spec
    return specs


def _process(submission: Claimed, spec: FormSpec, rows: list[dict[str, Any]]) -> Outcome:
    """Validate and flatten one locked, waiting submission (its old rows already deleted)
    against its form version's `spec`, note the outcome on it for `_record` and add its
    flattened rows to `rows`, for `_insert_rows`."""
    submission_id = submission.id
    try:
        result = process(submission.xml, spec)
    except Exception as exc:  # a bug, not bad data: retrying the same bytes cannot help
        log.exception("processing submission %s raised", submission_id)
        result = Result([], [Problem("", f"The server could not process this submission ({exc}).")])

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
    log.info("submission %s failed: %s", submission_id, result.failure_reason())
    return _fail(submission, result.failure_reason())


# PostgreSQL: a batch's outcomes in one UPDATE from arrays unnested in the database, rather
# than a statement execution per row.
_RECORD_PG = text(
    "UPDATE submissions AS s SET processing_status = d.status, failure_reason = d.reason, "
    "cycle = d.cycle, counted = d.counted, attempts = COALESCE(s.attempts, 0) + 1, "
    "processed_at = :now "
    "FROM unnest(CAST(:id AS bigint[]), CAST(:status AS varchar[]), CAST(:reason AS text[]), "
    "CAST(:cycle AS varchar[]), CAST(:counted AS boolean[])) AS d(id, status, reason, cycle, "
    "counted) "
    "WHERE s.id = d.id"
).bindparams(bindparam("now", type_=_table.c.processed_at.type))
_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"))
    .values(
        processing_status=bindparam("b_status"),
        failure_reason=bindparam("b_reason"),
        cycle=bindparam("b_cycle"),
        counted=bindparam("b_counted"),
        attempts=func.coalesce(_table.c.attempts, 0) + 1,
        processed_at=bindparam("b_now", type_=_table.c.processed_at.type),
    )
)


def _record(session: Session, batch: Sequence[Claimed]) -> None:
    """Write each submission's outcome, cycle and `counted` flag, one UPDATE for the batch."""
    now = utcnow()
    connection = session.connection()
    if is_postgresql(session):
        connection.execute(
            _RECORD_PG,
            {
                "id": [sub.id for sub in batch],
                "status": [sub.processing_status.name for sub in batch],
                "reason": [sub.failure_reason for sub in batch],
                "cycle": [sub.cycle for sub in batch],
                "counted": [sub.counted for sub in batch],
                "now": now,
            },
        )
        return
    connection.execute(
        _RECORD,
        [
            {
                "b_id": sub.id,
                "b_status": sub.processing_status,
                "b_reason": sub.failure_reason,
                "b_cycle": sub.cycle,
                "b_counted": sub.counted,
                "b_now": now,
            }
            for sub in batch
        ],
    )


def _insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert flattened rows as they are. Nothing reads them back as objects: through the ORM
    each cost an object and a flush that fetched its new id."""
    if not rows:
        return
    connection = session.connection()
    if is_postgresql(session):
        copy_rows(connection, rows)
    else:
        insert_rows(connection, rows)


_COPY_ROWS = (
    "COPY submission_rows (submission_id, repeat_path, position, parent_position, data) FROM STDIN"
)


def copy_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: the rows streamed by one COPY, which costs the worker and the database far
    less per row than a statement per row (`insert_rows`, SQLite's way); the JSON text is what
    the column type would have sent."""
    try:
        with connection.connection.cursor() as cursor, cursor.copy(_COPY_ROWS) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row["submission_id"],
                        row["repeat_path"],
                        row["position"],
                        row["parent_position"],
                        json.dumps(row["data"]),
                    )
                )
    except psycopg.Error as exc:
        # Raised outside SQLAlchemy's execution, so reported as SQLAlchemy would: a database
        # that went away as its OperationalError, which the task retries, with the connection
        # dropped rather than handed back to the pool.
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            connection.invalidate(exc)
        raise DBAPIError.instance(_COPY_ROWS, None, exc, psycopg.Error) from exc


def insert_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The rows by one INSERT run for each (psycopg pipelines them). Plain values: the ORM's
    multi-row INSERT had a placeholder per value, which the driver converted anew each time,
    being too long to cache."""
    connection.execute(insert(SubmissionRow.__table__), list(rows))
