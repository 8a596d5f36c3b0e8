"""What must hold after a fault, read from the stack's database: every accepted submission
stored once and processed once, and the indicator aggregates equal to a rebuild."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from server.models import Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from tests.faults.processes import HarnessError, tails
from tests.faults.stack import Stack

AGGREGATE_COLUMNS = "indicator_id, org_unit_id, cycle, n, total, total_sq, num, den"


@dataclass
class Outcome:
    """What became of the accepted submissions of one run."""

    accepted: int
    processed: int
    failed: int
    waiting: int
    lost: list[str]
    duplicated: list[str]
    # Processed submissions whose flattened top-level row is missing or there twice.
    flattened_wrong: list[str]


def engine(stack: Stack) -> Engine:
    return create_engine(stack.postgres.url, pool_pre_ping=True)


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def statuses(db: Engine, instance_ids: list[str]) -> dict[str, list[ProcessingStatus]]:
    """Every stored row's processing status, by instanceID."""
    found: dict[str, list[ProcessingStatus]] = {}
    with db.connect() as conn:
        for chunk in _chunks(instance_ids):
            rows = conn.execute(
                select(Submission.instance_id, Submission.processing_status).where(
                    Submission.instance_id.in_(chunk)
                )
            )
            for instance_id, status in rows:
                found.setdefault(instance_id, []).append(ProcessingStatus(status))
    return found


def wait_settled(stack: Stack, instance_ids: list[str], timeout: float) -> float:
    """Seconds until every one of `instance_ids` is stored and no longer waiting; raises with
    the logs if that takes longer than `timeout`. A database that is still away counts as not
    settled yet."""
    db = engine(stack)
    started = time.monotonic()
    waiting = len(instance_ids)
    try:
        while True:
            try:
                found = statuses(db, instance_ids)
                waiting = sum(
                    1
                    for i in instance_ids
                    if not found.get(i) or ProcessingStatus.received in found[i]
                )
            except DBAPIError:
                pass
            if waiting == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise HarnessError(
                    f"{waiting} of {len(instance_ids)} accepted submissions still unprocessed "
                    f"after {timeout:.0f}s\n{tails(stack.all_logs)}"
                )
            time.sleep(0.5)
    finally:
        db.dispose()


def outcome(stack: Stack, instance_ids: list[str]) -> Outcome:
    db = engine(stack)
    try:
        found = statuses(db, instance_ids)
        with db.connect() as conn:
            top_rows: dict[str, int] = {}
            for chunk in _chunks(instance_ids):
                query = (
                    select(Submission.instance_id, func.count(SubmissionRow.id))
                    .join(SubmissionRow, SubmissionRow.submission_id == Submission.id, isouter=True)
                    .where(Submission.instance_id.in_(chunk))
                    .where((SubmissionRow.repeat_path == "") | SubmissionRow.id.is_(None))
                    .where(Submission.processing_status == ProcessingStatus.processed.value)
                    .group_by(Submission.instance_id)
                )
                top_rows.update(dict(conn.execute(query).all()))
    finally:
        db.dispose()
    first = {i: found[i][0] for i in instance_ids if len(found.get(i, [])) == 1}
    return Outcome(
        accepted=len(instance_ids),
        processed=sum(s is ProcessingStatus.processed for s in first.values()),
        failed=sum(s is ProcessingStatus.failed for s in first.values()),
        waiting=sum(s is ProcessingStatus.received for s in first.values()),
        lost=[i for i in instance_ids if i not in found],
        duplicated=[i for i in instance_ids if len(found.get(i, [])) > 1],
        flattened_wrong=[i for i, n in top_rows.items() if n != 1],
    )


def failure_reasons(stack: Stack, instance_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """(processing status, failure reason) by instanceID."""
    db = engine(stack)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                select(
                    Submission.instance_id, Submission.processing_status, Submission.failure_reason
                ).where(Submission.instance_id.in_(instance_ids))
            ).all()
    finally:
        db.dispose()
    return {i: (str(s), r) for i, s, r in rows}


def _aggregates(db: Engine) -> dict[tuple[str, int, str], tuple[int, ...]]:
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT {AGGREGATE_COLUMNS} FROM aggregates")).all()
        counted = conn.execute(text("SELECT count(*) FROM submissions WHERE counted")).scalar_one()
    snapshot = {
        (r[0], int(r[1]), r[2]): tuple(int(v) for v in r[3:])
        for r in rows
        if any(int(v) for v in r[3:])  # an emptied row and no row mean the same
    }
    snapshot[("counted submissions", 0, "")] = (int(counted),)
    return snapshot


@dataclass
class RebuildComparison:
    aggregates: int
    differences: list[str]


def compare_with_rebuild(stack: Stack) -> RebuildComparison:
    """Snapshot the aggregates the workers kept up to date, rebuild them from the submissions
    with `dmip aggregates rebuild`, and list every difference (nothing must be processing)."""
    db = engine(stack)
    try:
        before = _aggregates(db)
        stack.dmip("aggregates", "rebuild")
        after = _aggregates(db)
    finally:
        db.dispose()
    differences = [
        f"{key}: kept {before.get(key)}, rebuilt {after.get(key)}"
        for key in sorted(set(before) | set(after), key=str)
        if before.get(key) != after.get(key)
    ]
    return RebuildComparison(len(before) - 1, differences)
