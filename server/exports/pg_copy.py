"""Central's CSV tables made by PostgreSQL itself: `COPY (SELECT ...) TO STDOUT (FORMAT csv)`.

The queries are table_rows' (the same FROM, WHERE, order and answers out of the JSON), with
every column written as its final cell text in SQL, so the rows leave the database as CSV and
Python only compresses them: the database formats on one core while the web process zips on
the other, and no row becomes a Python object. On SQLite, and for a table with a geotrace or
a geoshape (whose point lists are rendered in Python), the rows go through table_rows and
Python's csv writer instead; tests/central/test_central_csv_copy.py checks that both give the
same bytes.

The CSV is PostgreSQL's: quoted where needed, "\\n" line ends as in Central's files, an empty
cell for no answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy import Select, String, case, func, literal, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from server.exports import repeat_rows, table_rows
from server.exports.layout import POINTS, VALUE, Column, Table
from server.exports.table_rows import Selection
from server.models import FormVersion, Submission

# COPY hands over a row at a time; they are passed on in pieces of about this size.
PIECE = 256 * 1024
# An edited submission's count of earlier versions: the chain of `supersedes_id` behind it.
_EDITS = literal_column(
    "(CASE WHEN submissions.supersedes_id IS NULL THEN 0 ELSE ("
    "WITH RECURSIVE chain(id, prev) AS ("
    "SELECT p.id, p.supersedes_id FROM submissions AS p WHERE p.id = submissions.supersedes_id "
    "UNION ALL SELECT p.id, p.supersedes_id FROM submissions AS p JOIN chain ON p.id = chain.prev"
    ") SELECT count(*) FROM chain) END)"
)


def usable(session: Session, table: Table) -> bool:
    """Whether `table` can be made by COPY: on PostgreSQL, and without point lists (which
    layout.cell renders)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return not any(c.read == POINTS for c in table.columns)


def _text(value: Any) -> Any:
    return func.nullif(value, "")


def _cell(data: Any, column: Column) -> Any:
    """The SQL of one cell's text, as layout.cell renders the answer."""
    if column.part is not None:
        # `->` then `->>` rather than a JSON path: COPY's statement is quoted by psycopg, which
        # writes a path's tuple as a record, not as text[].
        return data[column.key].op("->>")(literal(column.part, String))
    if column.read != VALUE:
        return _text(data[column.key].as_string())
    value = data[column.key]
    is_list = func.jsonb_typeof(value) == "array"
    if column.choice is not None:
        return case((is_list & value.op("?")(literal(column.choice, String)), 1), else_=0)
    if not column.multiple:  # a boolean: "true" or "false", as the JSON writes it
        return _text(data[column.key].as_string())
    items = (
        func.jsonb_array_elements_text(value)
        .table_valued("value", with_ordinality="n")
        .render_derived()
    )
    joined = (
        select(func.string_agg(items.c.value, aggregate_order_by(" ", items.c.n)))
        .select_from(items)
        .scalar_subquery()
    )
    return case((is_list, _text(joined)), else_=_text(data[column.key].as_string()))


def top_query(tables: Sequence[Table], selection: Selection) -> Select[Any]:
    query, top = table_rows.top_source(selection)
    stamp = func.to_char(
        func.timezone("UTC", Submission.received_at), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
    )
    review = case(
        (Submission.review_state == "approved", "approved"),
        (Submission.review_state == "has_issues", "hasIssues"),
        (Submission.review_state == "rejected", "rejected"),
        (Submission.supersedes_id.is_not(None), "edited"),
        else_=literal(None, String),
    )
    query = query.with_only_columns(
        stamp,
        *(_cell(top.data, c) for c in tables[0].columns),
        Submission.instance_id,
        Submission.submitter_id,
        table_rows.submitter_name(selection),
        table_rows.present_count(),
        table_rows.expected_count(tables, top),
        literal(None, String),
        review,
        Submission.device_id,
        _EDITS,
        FormVersion.version,
        maintain_column_froms=False,
    )
    return table_rows.order(query, selection)


def repeat_query(tables: Sequence[Table], index: int, selection: Selection) -> Select[Any]:
    table = tables[index]
    query, rows, parent = repeat_rows.repeat_source(tables, index, selection)
    parent_key: Any = Submission.instance_id
    if parent is not None:
        parent_key = parent_key + "/" + parent.c.suffix
    key = parent_key + f"/{table.relative}[" + func.cast(rows.c.n, String) + "]"
    query = query.with_only_columns(
        *(_cell(rows.c.data, c) for c in table.columns),
        parent_key,
        key,
        maintain_column_froms=False,
    )
    return table_rows.order(query, selection, rows.c.position)


def copy_statement(connection: psycopg.Connection[Any], query: Select[Any]) -> str:
    """`COPY (query) TO STDOUT (FORMAT csv)` with the query's parameters written in: COPY
    takes none, so psycopg's client-side quoting merges them."""
    compiled = query.compile(dialect=postgresql.psycopg.dialect())  # type: ignore[attr-defined]
    statement = psycopg.ClientCursor(connection).mogrify(str(compiled), compiled.params)
    return f"COPY ({statement}) TO STDOUT (FORMAT csv)"


def copy_csv(session: Session, query: Select[Any]) -> Iterator[bytes]:
    """The rows of `query` as PostgreSQL writes CSV, in pieces, in the session's transaction."""
    connection = session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection)
    pending: list[bytes] = []
    size = 0
    with connection.cursor() as cursor, cursor.copy(copy_statement(connection, query)) as copy:
        for row in copy:
            pending.append(bytes(row))
            size += len(row)
            if size >= PIECE:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)
