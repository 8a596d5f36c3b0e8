"""An export's tables read from the flattened rows (SubmissionRow), one table at a time, in
batches: one query per table, streamed from the database (a server-side cursor on PostgreSQL),
so memory holds one batch whatever the number of submissions, and no submission's XML is read.

The database does most of the work: each answer is taken out of the row's JSON by SQL
(`data ->> key`), so a plain answer reaches Python as the text it goes out as, and only lists,
locations and booleans are rendered here (server/exports/layout.py `cell`). Every submission
the selection covers is in the top-level table, with its metadata; one the worker has not
processed yet (or found invalid) has no flattened rows, so its answers are empty and it has no
repeat rows.

This module reads the top-level table (and the attachments); server/exports/repeat_rows.py
reads the repeats' tables, server/exports/select_choices.py the choices made in
select_multiples, and server/exports/pg_copy.py has PostgreSQL write the same tables as CSV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from server.domain.odata.values import timestamp as central_timestamp
from server.exports.layout import NUMBER, POINTS, VALUE, Column, Table, cell
from server.models import Attachment, FormVersion, OrgUnit, Submission, SubmissionRow, User
from server.models.submissions import CENTRAL_REVIEW_NAMES
from server.queries.submission_filters import SubmissionFilter

# Rows fetched per round trip and written per batch.
BATCH = 2000

# Central's names for review states; a submission nobody reviewed has none, and an edit that
# nobody has reviewed since is "edited", as Central marks a submission's new version (edits
# stored before the state existed read as received, hence the count of edits below too).
CENTRAL_REVIEW = CENTRAL_REVIEW_NAMES


@dataclass(frozen=True)
class Selection:
    """Which submissions, in which order, and how their metadata reads."""

    filters: SubmissionFilter
    # Central lists the newest first; the web export the oldest first.
    newest_first: bool = False
    # Central's metadata only (SubmitterName is the display name, Status is never set, an
    # unreviewed edit is "edited"); otherwise the web export's, with OrgUnit, Cycle,
    # ProcessingStatus and Demo after it.
    central: bool = False
    # Numbers as numbers (XLSX); CSV takes every answer as text.
    typed: bool = False


def join_scope(query: Select[Any], filters: SubmissionFilter) -> Select[Any]:
    return query.outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id).where(filters.condition())


def order(query: Select[Any], selection: Selection, *then: Any) -> Select[Any]:
    if selection.newest_first:
        return query.order_by(Submission.received_at.desc(), Submission.id.desc(), *then)
    return query.order_by(Submission.id, *then)


def stream(session: Session, query: Select[Any], batch: int) -> Iterator[Sequence[Any]]:
    result = session.connection().execute(query.execution_options(yield_per=batch))
    try:
        yield from result.partitions()
    finally:
        result.close()


# --- answers ---------------------------------------------------------------------------------


class Answers:
    """The SQL expressions that read a table's answers out of a row's JSON, and the functions
    that turn what they return into cells."""

    def __init__(self, data: Any, columns: Sequence[Column], typed: bool) -> None:
        self.exprs: list[Any] = []
        where: dict[tuple[str, str | None, bool], int] = {}
        self.plan: list[tuple[int, Callable[[Any], Any]]] = []
        for column in columns:
            as_value = column.read in (VALUE, POINTS)
            spot = (column.key, column.part, as_value)
            if spot not in where:
                where[spot] = len(self.exprs)
                if column.part is not None:
                    self.exprs.append(data[(column.key, column.part)].as_string())
                elif as_value:
                    self.exprs.append(data[column.key])
                else:
                    self.exprs.append(data[column.key].as_string())
            self.plan.append((where[spot], _formatter(column, typed)))
        # Every answer is already its cell: the common case, taken as a slice.
        self.plain = all(f is _same for _, f in self.plan) and len(self.plan) == len(self.exprs)

    def cells(self, row: Sequence[Any], offset: int) -> list[Any]:
        if self.plain:
            return list(row[offset : offset + len(self.exprs)])
        return [f(row[offset + i]) for i, f in self.plan]


def _same(value: Any) -> Any:
    return value


def _to_number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        return float(value)


def _formatter(column: Column, typed: bool) -> Callable[[Any], Any]:
    if column.read in (VALUE, POINTS):
        return lambda value: cell(value, column)
    if column.read == NUMBER and typed:
        return _to_number
    return _same


# --- the top-level table ---------------------------------------------------------------------


def submitter_name(selection: Selection) -> Any:
    if selection.central:
        return func.coalesce(func.nullif(User.display_name, ""), User.username)
    return User.username


def top_source(selection: Selection) -> tuple[Select[Any], Any]:
    """The top-level table's FROM (submissions, their unit, submitter, version and top row)
    and WHERE, and the top row's alias; the caller chooses the columns."""
    top = aliased(SubmissionRow)
    query = join_scope(select(Submission.id).select_from(Submission), selection.filters)
    query = (
        query.outerjoin(User, User.id == Submission.submitter_id)
        .join(FormVersion, FormVersion.id == Submission.form_version_id)
        .outerjoin(top, and_(top.submission_id == Submission.id, top.repeat_path == ""))
    )
    return query, top


def present_count() -> Any:
    return (
        select(func.count(Attachment.id))
        .where(Attachment.submission_id == Submission.id)
        .scalar_subquery()
    )


def _top(tables: Sequence[Table], selection: Selection) -> tuple[Select[Any], Answers]:
    query, top = top_source(selection)
    answers = Answers(top.data, tables[0].columns, selection.typed)
    query = query.with_only_columns(
        Submission.id,
        Submission.received_at,
        Submission.instance_id,
        Submission.submitter_id,
        submitter_name(selection),
        Submission.device_id,
        Submission.incomplete,
        Submission.review_state,
        Submission.processing_status,
        FormVersion.version,
        Submission.supersedes_id,
        OrgUnit.code,
        Submission.cycle,
        Submission.demo,
        present_count(),
        expected_count(tables, top),
        *answers.exprs,
        maintain_column_froms=False,
    )
    return order(query, selection), answers


def top_query(tables: Sequence[Table], selection: Selection) -> Select[Any]:
    """The top-level table's query (the benchmark runs it through COPY as the floor)."""
    return _top(tables, selection)[0]


def top_rows(
    session: Session,
    tables: Sequence[Table],
    selection: Selection,
    batch: int = BATCH,
) -> Iterator[list[list[Any]]]:
    """The top-level table's rows (without its header), a batch at a time."""
    query, answers = _top(tables, selection)
    offset = 16
    for part in stream(session, query, batch):
        edits = edit_counts(session, [(r[0], r[10]) for r in part if r[10] is not None])
        out = []
        for r in part:
            edited = edits.get(r[0], 0)
            review = CENTRAL_REVIEW[r[7]]
            if selection.central:
                status = None
                if review is None and edited:
                    review = "edited"
            else:
                status = "incomplete" if r[6] else None
            row = [
                timestamp(r[1]),
                *answers.cells(r, offset),
                r[2],
                r[3],
                r[4],
                r[14],
                r[15],
                status,
                review,
                r[5],
                edited,
                r[9],
            ]
            if not selection.central:
                row += [r[11], r[12], r[8].value, "true" if r[13] else "false"]
            out.append(row)
        yield out


def _filled(data: Any, key: str) -> ColumnElement[bool]:
    return func.coalesce(data[key].as_string(), "") != ""


def expected_count(tables: Sequence[Table], top: Any) -> Any:
    """How many attachments a submission's answers name, over its top level and repeats."""
    parts: list[Any] = [
        case((_filled(top.data, c.key), 1), else_=0)
        for c in tables[0].columns
        if c.binary and c.choice is None
    ]
    for table in tables[1:]:
        for c in table.columns:
            if c.binary:
                nested = aliased(SubmissionRow)
                parts.append(
                    select(func.count(nested.id))
                    .where(
                        nested.submission_id == Submission.id,
                        nested.repeat_path == table.repeat_path,
                        _filled(nested.data, c.key),
                    )
                    .scalar_subquery()
                )
    if not parts:
        return literal(0)
    total = parts[0]
    for more in parts[1:]:
        total = total + more
    return total


def edit_counts(session: Session, edited: Iterable[tuple[int, int]]) -> dict[int, int]:
    """How many earlier versions each edited submission (id, supersedes_id) has: edits are
    rare, so a few lookups per batch."""
    counts: dict[int, int] = {}
    pending: dict[int, int | None] = dict(edited)
    depth = 0
    while pending:
        depth += 1
        parents = dict(
            session.execute(
                select(Submission.id, Submission.supersedes_id).where(
                    Submission.id.in_({p for p in pending.values() if p is not None})
                )
            ).all()
        )
        next_pending: dict[int, int | None] = {}
        for sub_id, parent in pending.items():
            grand = parents.get(parent) if parent is not None else None
            if grand is None:
                counts[sub_id] = depth
            else:
                next_pending[sub_id] = grand
        pending = next_pending
    return counts


def timestamp(value: dt.datetime) -> str:
    """Central's SubmissionDate: UTC with milliseconds and "Z"."""
    return central_timestamp(value) or ""


# --- attachments ---------------------------------------------------------------------------


def attachments(
    session: Session, selection: Selection, batch: int = BATCH
) -> Iterator[Sequence[Any]]:
    """(name, sha256, size) of the selected submissions' files, in the tables' order."""
    query = select(Attachment.name, Attachment.sha256, Attachment.size).select_from(Submission)
    query = join_scope(query, selection.filters).join(
        Attachment, Attachment.submission_id == Submission.id
    )
    yield from stream(session, order(query, selection, Attachment.name), batch)
