"""One pooled connection, in autocommit, kept between the uses of a single serial user.

The receiver's new-row INSERT (server/group_commit.py runs one at a time per process) keeps
its connection between writes rather than checking one out of the pool and back in for each:
that bookkeeping (the pool's checkout, its reset on return, switching autocommit on and off)
is a noticeable part of a submission's cost on busy cores, and the statement stays prepared
on the connection.

It behaves as the pool would: a connection idle for `idle_ping_after` seconds is pinged before
use (server/db.py pings pooled connections the same way), so a database restart while the
receiver is quiet goes unseen; one that fails during a use (the user invalidates it, as
server/services/ingest_insert.py does on a lost connection) is given back and the next use
takes a fresh one. `close()` gives the connection back to the pool, out of autocommit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection


class HeldConnection:
    def __init__(
        self,
        engine: Engine,
        idle_ping_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._idle_ping_after = idle_ping_after
        self._clock = clock
        self._held: PoolProxiedConnection | None = None
        self._last_used = 0.0
        # Uses are serial by design; the lock also keeps close() (from dispose, maybe in
        # another thread) from giving the connection back in the middle of a use.
        self._lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[PoolProxiedConnection]:
        """The held connection (in autocommit), for the duration of the block."""
        with self._lock:
            pooled = self._ready()
            try:
                yield pooled
            finally:
                self._last_used = self._clock()
                if not pooled.is_valid:  # the user found it dead: the pool reconnects it
                    self._release()

    def close(self) -> None:
        with self._lock:
            self._release()

    def _ready(self) -> PoolProxiedConnection:
        pooled = self._held
        if pooled is not None and self._clock() - self._last_used >= self._idle_ping_after:
            try:
                self._engine.dialect.do_ping(pooled.dbapi_connection)
            except self._engine.dialect.loaded_dbapi.Error as exc:
                pooled.invalidate(exc)
                self._release()
                pooled = None
        if pooled is None:
            pooled = self._engine.raw_connection()
            pooled.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._held = pooled
        return pooled

    def _release(self) -> None:
        pooled, self._held = self._held, None
        if pooled is None:
            return
        driver = pooled.driver_connection
        if pooled.is_valid and driver is not None and not driver.closed:
            driver.autocommit = False  # as every other user of the pool expects it
        pooled.close()
