"""Group commit: the items of threads that arrive while a write is in flight go in one write.

A web process serves several requests at once on its threads. Each new submission is one row
and one durable commit; alone, each pays PostgreSQL's per-statement and per-commit work and a
round trip. Here the first thread to arrive writes its item at once (no added wait when the
process is quiet); threads that arrive while that write is in flight queue their items, and
when it finishes one of them writes everything queued in one statement. Under load a write
carries as many items as there are threads waiting, which spreads PostgreSQL's per-statement
and per-commit work over them, and no thread waits longer than the write in flight and its
own (unless more than `max_items` are queued ahead of it).

Nothing here knows about databases: `write` takes the queued items and returns one outcome per
item, in order (a value, or the exception that item's caller should raise), so one bad item
need not fail the others. An exception raised by `write` itself goes to every caller of that
write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Entry(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    def __init__(
        self, write: Callable[[list[T]], list[R | BaseException]], max_items: int = 64
    ) -> None:
        self._write = write
        self._max_items = max(1, max_items)
        self._queue: list[_Entry[T, R]] = []
        self._writing = False
        self._condition = threading.Condition()

    def submit(self, item: T) -> R:
        """Write `item` (with whatever else is queued) and return its outcome."""
        entry: _Entry[T, R] = _Entry(item)
        with self._condition:
            self._queue.append(entry)
        while True:
            with self._condition:
                while self._writing and not entry.done:
                    self._condition.wait()
                if entry.done:
                    break
                # Nobody is writing: this thread writes the queue, its own item included
                # unless more than max_items were queued ahead of it (then it goes round again).
                self._writing = True
                batch = self._queue[: self._max_items]
                del self._queue[: self._max_items]
            try:
                self._run(batch)
            finally:
                with self._condition:
                    self._writing = False
                    self._condition.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _run(self, batch: list[_Entry[T, R]]) -> None:
        try:
            outcomes = self._write([entry.item for entry in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a write of {len(batch)} items gave {len(outcomes)} outcomes")
        except BaseException as exc:
            outcomes = [exc] * len(batch)
        for entry, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                entry.error = outcome
            else:
                entry.result = outcome
            entry.done = True
