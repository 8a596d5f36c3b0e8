"""A repeat's table of an export, read from the flattened rows with one streamed query
(server/exports/table_rows.py reads the top-level table and says how).

Keys are Central's: a top-level repeat's row is "<instanceID>/<repeat>[n]", n counting its
instances in the submission from 1 (the row's `position`, server/domain/xform/flatten.py); a
nested repeat's row appends "/<repeat>[n]" to its parent row's key, n counting within that
parent (a window function over the parent's position).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, literal, select
from sqlalchemy.orm import Session, aliased

from server.exports.layout import Table
from server.exports.table_rows import BATCH, Answers, Selection, join_scope, order, stream
from server.models import Submission, SubmissionRow


def repeat_source(
    tables: Sequence[Table], index: int, selection: Selection
) -> tuple[Select[Any], Any, Any]:
    """Repeat table `tables[index]`'s FROM and WHERE, its rows (with `n`, their rank within
    their parent) and, for a nested repeat, its parent rows (with their key `suffix`)."""
    table = tables[index]
    rows = ranked_rows(table.repeat_path, nested=bool(table.parent))
    query = join_scope(select(Submission.id).select_from(Submission), selection.filters)
    query = query.join(rows, rows.c.submission_id == Submission.id)
    parent = None
    if table.parent:
        parent = keyed_rows(table.parent, {t.repeat_path: t for t in tables})
        query = query.join(
            parent,
            and_(
                parent.c.submission_id == Submission.id,
                parent.c.position == rows.c.parent_position,
            ),
        )
    return query, rows, parent


def _repeat(
    tables: Sequence[Table], index: int, selection: Selection
) -> tuple[Select[Any], Answers]:
    query, rows, parent = repeat_source(tables, index, selection)
    answers = Answers(rows.c.data, tables[index].columns, selection.typed)
    parent_suffix = parent.c.suffix if parent is not None else literal(None, String)
    query = query.with_only_columns(
        Submission.instance_id,
        parent_suffix,
        rows.c.n,
        *answers.exprs,
        maintain_column_froms=False,
    )
    return order(query, selection, rows.c.position), answers


def repeat_query(tables: Sequence[Table], index: int, selection: Selection) -> Select[Any]:
    """Repeat table `tables[index]`'s query (for the benchmark's floor)."""
    return _repeat(tables, index, selection)[0]


def repeat_rows(
    session: Session,
    tables: Sequence[Table],
    index: int,
    selection: Selection,
    batch: int = BATCH,
) -> Iterator[list[list[Any]]]:
    """Repeat table `tables[index]`'s rows (without its header), a batch at a time, in the
    order of their submissions and then of the form."""
    query, answers = _repeat(tables, index, selection)
    relative = tables[index].relative
    for part in stream(session, query, batch):
        out = []
        for r in part:
            parent_key = r[0] if r[1] is None else f"{r[0]}/{r[1]}"
            out.append([*answers.cells(r, 3), parent_key, f"{parent_key}/{relative}[{r[2]}]"])
        yield out


def ranked_rows(repeat_path: str, nested: bool = True) -> Any:
    """A repeat's rows, each with n: its rank among its parent row's instances, which for a
    top-level repeat is its position (counted through the submission from 1)."""
    rows = aliased(SubmissionRow)
    n: Any = rows.position
    if nested:
        n = func.row_number().over(
            partition_by=(rows.submission_id, rows.parent_position), order_by=rows.position
        )
    return (
        select(
            rows.submission_id,
            rows.position,
            rows.parent_position,
            rows.data,
            n.label("n"),
        )
        .where(rows.repeat_path == repeat_path)
        .subquery()
    )


def keyed_rows(repeat_path: str, by_path: dict[str, Table]) -> Any:
    """A repeat's rows with `suffix`: their key after the instanceID ("classes[2]")."""
    table = by_path[repeat_path]
    piece = f"{table.relative}["
    if not table.parent:
        rows = aliased(SubmissionRow)
        return (
            select(
                rows.submission_id,
                rows.position,
                (literal(piece) + cast(rows.position, String) + "]").label("suffix"),
            )
            .where(rows.repeat_path == repeat_path)
            .subquery()
        )
    ranked = ranked_rows(repeat_path)
    parent = keyed_rows(table.parent, by_path)  # the recursion ends at a top-level repeat
    return (
        select(
            ranked.c.submission_id,
            ranked.c.position,
            (parent.c.suffix + f"/{piece}" + cast(ranked.c.n, String) + "]").label("suffix"),
        )
        .join(
            parent,
            and_(
                parent.c.submission_id == ranked.c.submission_id,
                parent.c.position == ranked.c.parent_position,
            ),
        )
        .subquery()
    )
