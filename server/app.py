"""The application factory."""

from __future__ import annotations

import gc
from typing import Any

from flask import Flask, g
from sqlalchemy.orm import Session

from server.db import Database
from server.settings import Settings

EXTENSION = "dmip"


class AppState:
    """What one process keeps for the app: its settings, database and task sender."""

    def __init__(self, settings: Settings) -> None:
        from server.task_queue import TaskSender

        self.settings = settings
        self.db = Database(settings.database_url)
        self.tasks = TaskSender(settings)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or Settings.from_env()
    if overrides:
        settings = settings.with_overrides(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    settings.attachments_dir.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_submission_bytes,
        # Large form parts go straight to disk rather than memory (see server/openrosa).
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    state = AppState(settings)
    app.extensions[EXTENSION] = state

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()

    _register_blueprints(app)
    return app


def prepare_for_requests(app: Flask) -> None:
    """Ready a long-running web process for its requests, once its app is built.

    Loads now what it would load at its first requests, then moves every object that exists
    (modules, the models' metadata, the app: all kept for the process's life) out of the
    garbage collector's sight. Without that, a full collection walked them all: about 100 ms
    during which the process answered nothing, the 8-client p99 spikes of the ingest benchmark
    (`bench/ingest/hotspots.py --gc` measures the pauses).
    """
    app.extensions[EXTENSION].tasks.prepare()
    gc.collect()
    gc.freeze()


def _register_blueprints(app: Flask) -> None:
    from server.api.blueprint import bp as api_bp
    from server.health import bp as health_bp
    from server.openrosa.blueprint import bp as openrosa_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(openrosa_bp)

    from server.web import init_web

    # After the OpenRosa blueprint: the web app's error pages leave OpenRosa's bodies alone.
    init_web(app)
    app.register_blueprint(api_bp)
    from server.plans.api import bp as plans_api_bp

    app.register_blueprint(plans_api_bp)


def state() -> AppState:
    from flask import current_app

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
