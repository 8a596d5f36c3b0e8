"""What a web process keeps for its app (settings, database, task sender) and the request's
database session. Handlers import these; only entry points import the app factory."""

from __future__ import annotations

import logging

from flask import current_app, g
from sqlalchemy.orm import Session

from server.db import Database
from server.settings import Settings
from server.task_queue import TaskSender

EXTENSION = "dmip"

log = logging.getLogger(__name__)


class AppState:
    """What one process keeps for the app: its settings, database and task sender."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.tasks = TaskSender(settings)


def state() -> AppState:
    return current_app.extensions[EXTENSION]


def db_session() -> Session:
    """The request's session; closed when the request ends. Handlers commit explicitly."""
    if "db_session" not in g:
        g.db_session = state().db.sessionmaker()
    return g.db_session


def open_db_session() -> Session | None:
    """The request's session if something already made one, else None (and none is made)."""
    session: Session | None = g.get("db_session")
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Ends the request's session (an app-context teardown).

    The response is already made when this runs, so nothing may escape: an exception here
    would replace that response with a bare 500. Closing returns the connection to the pool,
    whose reset of a broken one is what can fail; the pool discards such a connection.
    """
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except Exception:
        log.warning("closing the request's database session failed", exc_info=True)
