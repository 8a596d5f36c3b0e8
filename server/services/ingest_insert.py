"""The receiver's hottest statement on PostgreSQL: new submissions, one INSERT for one or many.

Each row is inserted unless its instance already exists (ON CONFLICT DO NOTHING on the unique
(form_id, instance_id)) and only while its submitter is active and still has the credentials
version the receiver authenticated against (the snapshot it cached may be seconds old). The
statement runs in autocommit, so PostgreSQL commits it durably before answering: no BEGIN and
COMMIT round trips. It goes to psycopg directly as a prepared statement, built once per row
count, with PostgreSQL's own $n placeholders (a raw cursor: psycopg parses a statement with
more than 50 named parameters again at every call): SQLAlchemy's execution and session
bookkeeping would cost about as much CPU as the insert itself. Many rows come from concurrent
requests gathered by server/group_commit.py, written on the one connection it keeps
(server/held_connection.py).
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from sqlalchemy import String
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from server.held_connection import HeldConnection
from server.models import Submission, User

# Parameters of each row besides its columns: who the submitter was authenticated as.
CHECKS = ("check_user_id", "check_version")

# Where a connection keeps its cursor for the INSERT (in the pool's per-connection `info`).
_CURSOR = "dmip.ingest_insert.cursor"

# An outcome per row: the new id, None when nothing was inserted (the instance exists, or the
# submitter's snapshot is stale), or the error that row's request should raise.
Outcome = int | None | BaseException


def insert_new_rows(engine: Engine, rows: list[dict[str, Any]]) -> list[Outcome]:
    """INSERT `rows` (column values plus CHECKS, the same keys in each) in one statement, on a
    connection of `engine`'s pool."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            return _insert_on(pooled, rows)
        finally:
            if not driver.closed:
                driver.autocommit = False
    finally:
        pooled.close()  # back to the pool


def insert_new_rows_held(held: HeldConnection, rows: list[dict[str, Any]]) -> list[Outcome]:
    """As `insert_new_rows`, on the connection the receiver's group commit keeps."""
    with held.use() as pooled:
        return _insert_on(pooled, rows)


def _insert_on(pooled: PoolProxiedConnection, rows: list[dict[str, Any]]) -> list[Outcome]:
    """The INSERT on `pooled`, which is in autocommit."""
    columns = tuple(rows[0])
    sql = _insert_sql(columns, len(rows))
    params = [row[name] for row in rows for name in columns]
    try:
        returned = _cursor(pooled).execute(sql, params, prepare=True).fetchall()
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # The database went away under us: drop the connection (the pool makes a new one)
        # and report it as SQLAlchemy would, so the receiver answers 503, not 500.
        pooled.invalidate(exc)
        raise _wrapped(sql, params, exc) from exc
    except psycopg.Error as exc:
        pooled.info.pop(_CURSOR, None)  # a fresh one for what comes next, to be safe
        if len(rows) == 1:
            raise _wrapped(sql, params, exc) from exc
        # A value the database refuses fails only its own request: the rows go one by one.
        outcomes: list[Outcome] = []
        for row in rows:
            if not pooled.is_valid:
                # The connection was lost on the row before: the rest fail with its error.
                outcomes.append(outcomes[-1])
                continue
            try:
                outcomes.extend(_insert_on(pooled, [row]))
            except DBAPIError as error:
                outcomes.append(error)
        return outcomes
    return _match(rows, returned)


def _cursor(pooled: PoolProxiedConnection) -> psycopg.RawCursor[Any]:
    """The connection's cursor for this statement, made once per connection: a new cursor sets
    up its adapters afresh (a type look-up for every parameter and returned column), a good
    part of the statement's cost in this process. The pool clears `info` when it replaces the
    connection; the check on `connection` is for anything else that might."""
    driver = pooled.driver_connection
    cursor = pooled.info.get(_CURSOR)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = psycopg.RawCursor(driver)  # type: ignore[arg-type]
        pooled.info[_CURSOR] = cursor
    return cursor


def _match(rows: list[dict[str, Any]], returned: list[tuple[Any, ...]]) -> list[Outcome]:
    """Each row's new id, or None. Two rows of one instance in one statement (a resend racing
    its original, or different XML under one instanceID) insert one row: the row whose XML
    was stored gets the id, and the other request then finds that row (a resend, or a 409).
    Matching on the XML's hash as well is what keeps a request from being told its XML was
    stored when another's was."""
    inserted = {
        (form_id, instance_id, sha256): new_id for new_id, form_id, instance_id, sha256 in returned
    }
    outcomes: list[Outcome] = []
    for row in rows:
        new_id = inserted.pop((row["form_id"], row["instance_id"], row["xml_sha256"]), None)
        outcomes.append(None if new_id is None else int(new_id))
    return outcomes


def _wrapped(sql: str, params: list[Any], exc: psycopg.Error) -> DBAPIError:
    return DBAPIError.instance(sql, params, exc, psycopg.Error)


@functools.cache
def _insert_sql(columns: tuple[str, ...], count: int) -> str:
    """The statement for `count` rows, its parameters row by row in the order of `columns`."""
    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    table = Submission.__table__
    given = [name for name in columns if name not in CHECKS]
    # Every column a Python-side default would fill must be given: nothing computes defaults.
    missing = sorted(c.name for c in table.columns if c.default is not None and c.name not in given)
    if missing or set(CHECKS) - set(columns):
        raise RuntimeError(f"the receiver's INSERT lacks values for {missing or CHECKS}")

    def sql_type(column: Any) -> str:
        # Strings are cast without their length: a cast to VARCHAR(255) would cut a longer
        # value silently, where the column itself refuses it.
        return "VARCHAR" if isinstance(column.type, String) else column.type.compile(dialect)

    types = [sql_type(table.c[name]) for name in given]
    types += [sql_type(User.__table__.c.id), sql_type(User.__table__.c.credentials_version)]
    names = [*given, *CHECKS]
    by_position = {name: (columns.index(name), t) for name, t in zip(names, types, strict=True)}
    width = len(columns)
    values = ", ".join(
        "("
        + ", ".join(
            f"CAST(${row * width + by_position[name][0] + 1} AS {by_position[name][1]})"
            for name in names
        )
        + ")"
        for row in range(count)
    )
    listed = ", ".join(quote(name) for name in given)
    return (
        f"INSERT INTO {table.name} ({listed}) "
        f"SELECT {', '.join(f'v.{quote(name)}' for name in given)} "
        f"FROM (VALUES {values}) AS v({', '.join(quote(name) for name in names)}) "
        f"WHERE EXISTS (SELECT 1 FROM users WHERE users.id = v.check_user_id "
        f"AND users.active IS true AND users.credentials_version = v.check_version) "
        f"ON CONFLICT (form_id, instance_id) DO NOTHING "
        f"RETURNING id, form_id, instance_id, xml_sha256"
    )
