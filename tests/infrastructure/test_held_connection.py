"""The connection the receiver's writer keeps between uses, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server.db import make_engine
from server.held_connection import HeldConnection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    # The pool's own ping is off, so only HeldConnection's ping can mend a dead connection.
    made = make_engine(pg_url, idle_ping_after=3600.0, pool_size=2, max_overflow=0)
    yield made
    made.dispose()


def _pid(pooled) -> int:  # type: ignore[no-untyped-def]
    with pooled.driver_connection.cursor() as cursor:
        return int(cursor.execute("SELECT pg_backend_pid()").fetchone()[0])


def _kill(pg_url: str, pid: int) -> None:
    admin = make_engine(pg_url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    admin.dispose()


def _used_once_then_killed(engine: Engine, pg_url: str) -> tuple[HeldConnection, Clock, int]:
    """A HeldConnection (pinged after 1 s idle) used once, its backend then terminated."""
    clock = Clock()
    held = HeldConnection(engine, idle_ping_after=1.0, clock=clock)
    with held.use() as pooled:
        first = _pid(pooled)
    _kill(pg_url, first)
    return held, clock, first


def test_one_connection_is_kept_in_autocommit_and_given_back_on_close(engine: Engine) -> None:
    held = HeldConnection(engine)
    with held.use() as pooled:
        first = _pid(pooled)
        assert pooled.driver_connection.autocommit is True
    assert engine.pool.checkedout() == 1  # kept between uses, not returned
    with held.use() as pooled:
        assert _pid(pooled) == first
    held.close()
    assert engine.pool.checkedout() == 0
    with engine.connect() as conn:  # back in the pool, out of autocommit as the pool expects
        assert conn.connection.driver_connection.autocommit is False
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced_unseen(
    engine: Engine, pg_url: str
) -> None:
    held, clock, first = _used_once_then_killed(engine, pg_url)
    clock.now += 1.5  # idle long enough to be pinged before its next use
    with held.use() as pooled:
        assert _pid(pooled) != first
    assert engine.pool.checkedout() == 1
    held.close()


def test_a_connection_lost_during_a_use_is_given_back_and_the_next_use_reconnects(
    engine: Engine, pg_url: str
) -> None:
    held, _clock, first = _used_once_then_killed(engine, pg_url)
    # Used again at once: no ping, so the use itself finds it dead and invalidates it, as the
    # receiver's INSERT does.
    with pytest.raises(psycopg.OperationalError), held.use() as pooled:
        try:
            _pid(pooled)
        except psycopg.OperationalError as exc:
            pooled.invalidate(exc)
            raise
    assert engine.pool.checkedout() == 0
    with held.use() as pooled:
        assert _pid(pooled) != first
    held.close()
