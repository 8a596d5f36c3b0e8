"""Waking the worker for committed submissions from a background thread, off the request.

Publishing a task is a round trip to the broker and a stretch of kombu's work; done inline it
would hold every 201 back by that much. The receiver only hands the id to this queue and
answers; one thread per web process publishes what has gathered as one task per `chunk`
ids (the worker processes a task's ids in one batch). The thread paces itself: at most one
publish per `interval` seconds, unless a full chunk is waiting. At a trickle that means each id
goes at once; under load, the ids of everything received during the interval go together,
a publish per many submissions rather than per submission (each costs the web process CPU
in Celery and kombu). Only the first id of a quiet queue and a full chunk wake the thread:
waking it for every id would cost the request threads more than the publishes do.

Under a sustained load the pace stretches: after a wake-up that carried ids at `BUSY_RATE` a
second or more, the next interval is twice as long, up to `max_interval`, and a task may carry
as many more ids (`chunk` per `interval` gathered); after one that carried fewer than half
that, it is back to `interval` and `chunk`. The worker pays the fixed part of a batch (the
claim, the aggregates' roll-up and upsert, the commit) per task, so in a burst of a thousand
submissions a second on two cores, fewer and larger batches leave the web processes more of
the cores. At the rates a district's field teams reach (about a hundred a
second in all) the pace never stretches.

Nothing durable depends on it: the row is committed before the id gets here, and the sweeper
re-sends the task of any row still `received` after its grace period. So an id lost with a
process that dies, or refused by a broker that is down, costs only a delay.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Ids a second, in one web process, from which the wake-ups count as under load. Well above
# what the field sends (about 100/s in all, spread over the web processes), below what a web
# process takes in a burst (300-400/s on two cores).
BUSY_RATE = 200.0


def next_pace(
    pace: float, sent: int, elapsed: float, interval: float, max_interval: float
) -> float:
    """The interval after a wake-up of `sent` ids gathered over `elapsed` seconds at `pace`."""
    rate = sent / elapsed if elapsed > 0 else 0.0
    if rate >= BUSY_RATE:
        return min(max_interval, pace * 2)
    if rate < BUSY_RATE / 2:
        return interval
    return pace  # in between: as it was, so that a rate near the threshold does not flap


class WakeUps:
    def __init__(
        self,
        send: Callable[[list[int]], bool],
        chunk: int = 50,
        interval: float = 0.1,
        max_interval: float | None = None,
    ) -> None:
        self._send = send
        self._chunk = max(1, chunk)
        self._interval = interval
        self._max_interval = max(interval, interval if max_interval is None else max_interval)
        self._pace = interval  # the interval in effect: `interval`, stretched under load
        self._last_send = 0.0
        self._pending: list[int] = []
        self._busy = False
        self._next_send = 0.0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def chunk(self) -> int:
        return self._chunk

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def max_interval(self) -> float:
        return self._max_interval

    @property
    def pace(self) -> tuple[float, int]:
        """The interval and chunk in effect now."""
        with self._condition:
            return self._pace, self._limit()

    def _limit(self) -> int:
        """The chunk in effect: `chunk` ids per `interval` of the pace."""
        return max(self._chunk, round(self._chunk * self._pace / self._interval))

    def add(self, submission_id: int) -> None:
        with self._condition:
            self._pending.append(submission_id)
            # A forked child (gunicorn worker) inherits the object but not the thread.
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="dmip-wakeups", daemon=True)
                self._thread.start()
            if len(self._pending) == 1 or len(self._pending) == self._limit():
                # All: `flush` may be waiting on the same condition, and must not take the
                # sending thread's wake-up.
                self._condition.notify_all()

    def flush(self) -> None:
        """Return once every id added so far has been handed to the broker (or refused)."""
        with self._condition:
            self._condition.wait_for(lambda: not self._pending and not self._busy)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: bool(self._pending))
                self._busy = True
                # Gather until the pace allows the next publish (or a chunk is full); `add`
                # notifies when the chunk fills.
                while len(self._pending) < self._limit():
                    left = self._next_send - time.monotonic()
                    if left <= 0:
                        break
                    self._condition.wait(left)
                batch, self._pending = self._pending, []
                now = time.monotonic()
                self._pace = next_pace(
                    self._pace,
                    len(batch),
                    now - self._last_send,
                    self._interval,
                    self._max_interval,
                )
                self._last_send = now
                self._next_send = now + self._pace
                limit = self._limit()
            for start in range(0, len(batch), limit):
                ids = batch[start : start + limit]
                try:
                    self._send(ids)
                except Exception:  # the thread must live on: later ids still need sending
                    log.exception("could not wake the worker for submissions %s", ids)
            with self._condition:
                self._busy = False
                self._condition.notify_all()
