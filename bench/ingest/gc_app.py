"""The real app, with each garbage collection's pause written to $DMIP_BENCH_GC_LOG.

Served by gunicorn in place of server.wsgi:app (bench/ingest/hotspots.py --gc). With
DMIP_BENCH_GC_UNFROZEN=1 the app is built as it was before server.app.prepare_for_requests
collected and froze what a worker holds for life, to measure the pauses as they were.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

if os.environ.get("DMIP_BENCH_GC_UNFROZEN") == "1":
    from server.app import create_app
    from server.app_state import EXTENSION

    app = create_app()
    app.extensions[EXTENSION].tasks.prepare()
else:
    from server.wsgi import app

_LOG = os.environ["DMIP_BENCH_GC_LOG"]
_started = [0.0]


def _pause(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    milliseconds = (time.perf_counter() - _started[0]) * 1000
    with open(_LOG, "a") as log:
        log.write(f"{info['generation']} {milliseconds:.3f}\n")


gc.callbacks.append(_pause)

__all__ = ["app"]
