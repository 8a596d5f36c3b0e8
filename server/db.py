"""Engine, sessions and the declarative base.

No module opens a connection at import time: `Database` is built from Settings by the app
factory, the Celery worker and the CLI, each for itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    all_,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator

from server.held_connection import HeldConnection

# Constraint names are fixed so Alembic migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class ExactInt(TypeDecorator[int]):
    """An integer of any size, exactly: NUMERIC on PostgreSQL (so sums can run in SQL), text on
    SQLite, whose NUMERIC would round big values through a float."""

    impl = Numeric(65, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(65, 0))

    def process_bind_param(self, value: int | None, dialect: Any) -> Any:
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else int(value)

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY, so BIGINT is used elsewhere.
intpk = Annotated[
    int, mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
]
str64 = Annotated[str, mapped_column(String(64))]
str255 = Annotated[str, mapped_column(String(255))]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
# JSONB on PostgreSQL: indicator queries read fields out of it without re-parsing text.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[dict[str, Any]]: JSON(),
    }


def dialect_insert(dialect: str) -> Any:
    """The INSERT construct of `dialect` ("postgresql" or "sqlite"): both have ON CONFLICT."""
    if dialect == "postgresql":
        return pg_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


ID_ARRAY = ARRAY(BigInteger)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def id_list(
    postgresql: bool, name: str | None = None, ids: Collection[int] | None = None
) -> BindParameter[Any]:
    """A list of ids as one parameter: an array on PostgreSQL, an expanding IN list on SQLite;
    named, to build a statement once and bind the ids at each execution, or with its `ids`."""
    value = None if ids is None else list(ids)
    if postgresql:
        return bindparam(name, value, type_=ID_ARRAY)
    return bindparam(name, value, expanding=True)


def among(
    column: Any,
    ids: Collection[int] | BindParameter[Any],
    postgresql: bool,
    *,
    negate: bool = False,
) -> Any:
    """`column IN ids` (`NOT IN` with `negate`); on PostgreSQL as one array parameter,
    `column = ANY(:ids)`. The text of an IN list changes with the number of ids, so SQLAlchemy
    would render it and psycopg convert it afresh at every execution; the array's statement is
    the same every time, found in both their caches and prepared once. `ids` may be a
    parameter of `id_list`."""
    values = ids if isinstance(ids, BindParameter) else id_list(postgresql, ids=ids)
    if postgresql:
        return column != all_(values) if negate else column == any_(values)
    return column.not_in(values) if negate else column.in_(values)


# What a database that restarts or is unreachable raises: the connection broke or could not be
# made (OperationalError, InterfaceError, SQLite's "database is locked" included), a pooled one
# failed its ping (DisconnectionError), or the pool could not hand one out in time. psycopg's
# own classes are there for code that talks to a raw connection (the receiver's held one).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# Seconds a client is asked to wait before trying again while the database is away: a restart
# takes a few, and Collect keeps the submission meanwhile.
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or the exception it was raised from) says the database is away for the
    moment, rather than that the request or the code is wrong: such a request answers 503."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, DATABASE_UNAVAILABLE):
            return True
        exc = exc.__cause__
        seen += 1
    return False


# Seconds a connection may sit unused before it is pinged ahead of its next use.
IDLE_PING_AFTER = 1.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the embedded worker read while the receiver writes; foreign keys are off
            # by default in SQLite and we rely on them.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    # pool_pre_ping, but only for connections that sat idle in the pool for `idle_ping_after`
    # seconds. A ping is a round trip; under load every checkout paid it for a connection
    # used a millisecond before. A restarted database kills connections while they sit idle,
    # so those are the ones tested: a dead one is replaced before anyone sees it (the pool
    # retries the checkout on DisconnectionError). One that dies while in use fails that
    # request, which answers 503 (or retries, in a worker), as it would with pre-ping.

    idle_ping_after = float(kwargs.pop("idle_ping_after", IDLE_PING_AFTER))
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    if kwargs.get("pool_pre_ping"):
        return engine

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("checked_in_at")
        if checked_in is None or time.monotonic() - checked_in < idle_ping_after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc

    return engine


class Database:
    """An engine and a session factory for one process, and one connection its single serial
    writer keeps (`held_connection`: the receiver's new-row INSERT)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # No connection is made until the first use.
        self.held_connection = HeldConnection(
            self.engine, float(engine_kwargs.get("idle_ping_after", IDLE_PING_AFTER))
        )

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back otherwise."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.held_connection.close()
        self.engine.dispose()
