"""What a web process keeps for its app (settings, database, task sender) and the request's
database session. Handlers import these; only entry points import the app factory."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from server.db import Database
from server.settings import Settings
from server.task_queue import TaskSender

EXTENSION = "dmip"


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
    """Ends the request's session (an app-context teardown)."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
