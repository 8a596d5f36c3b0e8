"""What one worker process keeps: its settings and its database engine.

The engine is built lazily on first use, from the settings the Celery app was configured with
(`app.conf.dmip_settings`, see workers/celery_app.py) or else from the environment. A prefork
pool forks children after the parent may have opened connections; a child must never use its
parent's sockets, so each child drops the inherited engine in `worker_process_init`.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import current_app
from celery.signals import worker_process_init

from server.db import Database
from server.settings import Settings

_lock = threading.Lock()
_database: Database | None = None


def settings() -> Settings:
    configured = getattr(current_app.conf, "dmip_settings", None)
    return configured if isinstance(configured, Settings) else Settings.from_env()


def database() -> Database:
    global _database
    if _database is None:
        with _lock:
            if _database is None:
                _database = Database(settings().database_url)
    return _database


@worker_process_init.connect
def _forget_inherited_engine(**_kwargs: Any) -> None:
    global _database
    if _database is not None:
        # close=False: the connections belong to the parent; closing them here would break it.
        _database.engine.dispose(close=False)
        _database = None
