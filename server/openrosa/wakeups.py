"""Waking the worker for committed submissions from a background thread, off the request.

Publishing a task is a round trip to the broker and a few hundred microseconds of kombu; done
inline it held every 201 back by that much. The receiver now only hands the id to this queue
and answers; one thread per web process publishes whatever has gathered.

Nothing durable depends on it: the row is committed before the id gets here, and the sweeper
re-sends the task of any row still `received` after its grace period. So an id lost with a
process that dies, or refused by a broker that is down, costs only a delay.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WakeUps:
    def __init__(self, send: Callable[[int], bool]) -> None:
        self._send = send
        self._pending: list[int] = []
        self._busy = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, submission_id: int) -> None:
        with self._condition:
            self._pending.append(submission_id)
            # A forked child (gunicorn worker) inherits the object but not the thread.
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="dmip-wakeups", daemon=True)
                self._thread.start()
            self._condition.notify()

    def flush(self) -> None:
        """Return once every id added so far has been handed to the broker (or refused)."""
        with self._condition:
            self._condition.wait_for(lambda: not self._pending and not self._busy)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: bool(self._pending))
                batch, self._pending = self._pending, []
                self._busy = True
            for submission_id in batch:
                try:
                    self._send(submission_id)
                except Exception:  # the thread must live on: later ids still need sending
                    log.exception("could not wake the worker for submission %s", submission_id)
            with self._condition:
                self._busy = False
                self._condition.notify_all()
