"""The application factory. Only entry points import it (wsgi, the CLI, tests); handlers reach
the process's state and the request's session through server/app_state.py."""

from __future__ import annotations

import gc
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from server.api.blueprint import bp as api_bp
from server.api.blueprint import database_unavailable as api_database_unavailable
from server.api.blueprint import http_problem as api_http_problem
from server.api.blueprint import problem_response as api_problem
from server.api.plan_documents import bp as plans_api_bp  # the plans API, with its documents
from server.app_state import EXTENSION, AppState, close_db_session
from server.central import errors as central_errors
from server.central.blueprint import bp as central_bp
from server.central.key_routes import STREAMED_ENDPOINTS
from server.central.key_routes import bp as central_openrosa_bp
from server.central.submission_attachments import STREAMED_ENDPOINTS as STREAMED_UPLOADS
from server.db import DATABASE_UNAVAILABLE, is_database_unavailable
from server.domain.problems import Problem
from server.health import bp as health_bp
from server.http_guards import BoundedIntegerConverter, chunked_input_errors_as_400, guard_request
from server.openrosa.blueprint import bp as openrosa_bp
from server.openrosa.blueprint import openrosa_request
from server.openrosa.responses import (
    render_database_unavailable,
    render_http_exception,
    render_problem,
    render_unexpected,
)
from server.settings import Settings
from server.web import errors
from server.web.wiring import init_web


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or Settings.from_env()
    if overrides:
        settings = settings.with_overrides(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    settings.attachments_dir.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__)
    # Before any rule is added: every `<int:...>` is bounded, so an id too large for its
    # column is a 404 rather than the database's out-of-range error.
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_submission_bytes,
        # Large form parts go straight to disk rather than memory (see server/openrosa).
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.wsgi_app = chunked_input_errors_as_400(app.wsgi_app)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = AppState(settings)
    app.teardown_appcontext(close_db_session)
    # First of the hooks, so nothing reads a request the guard would refuse.
    app.before_request(guard_request(_address_checked_by_handler, _body_read_by_handler))

    app.register_blueprint(health_bp)
    app.register_blueprint(openrosa_bp)
    # After the OpenRosa blueprint: the web app's error pages leave OpenRosa's bodies alone.
    init_web(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(plans_api_bp)
    # The key routes first: their rules under /v1/ are more specific than the API's catch-all.
    app.register_blueprint(central_openrosa_bp)
    app.register_blueprint(central_bp)
    _register_error_handlers(app)
    return app


def _address_checked_by_handler(req: Request) -> bool:
    """The indicator API parses its query itself (server/api/params.py), refusing NUL with
    its own problem codes, and reads its path parameters from the catalog, not the database."""
    return req.blueprint == "api"


def _body_read_by_handler(req: Request) -> bool:
    """Requests whose body the guard leaves alone: Collect's, which the receiver streams to
    disk itself, a file uploaded to a submission through the Central API (streamed to the blob
    store whatever its Content-Type), and those for no route, which are refused without
    reading it."""
    return (
        req.blueprint == "openrosa"
        or req.endpoint in STREAMED_ENDPOINTS
        or req.endpoint in STREAMED_UPLOADS
        or req.routing_exception is not None
    )


def _register_error_handlers(app: Flask) -> None:
    """Errors no blueprint handled (an unknown URL or method, a body too large, an unexpected
    exception) in the dialect of the client: OpenRosa XML for Collect, JSON under /api/, plain
    words on a page for a person. A database that is away is a 503 with Retry-After wherever it
    shows: in a handler, a hook, or while a response is finished."""
    is_openrosa = openrosa_request(app)

    def is_central() -> bool:
        return request.path == "/v1" or request.path.startswith("/v1/")

    def database_unavailable(exc: BaseException) -> Response:
        if is_openrosa():
            return render_database_unavailable(exc)
        if is_central():
            return central_errors.render_database_unavailable(exc)
        if request.path.startswith("/api/"):
            return api_database_unavailable(exc)
        return errors.unavailable_page(exc)

    for unavailable in DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(Problem)
    def problem(exc: Problem) -> Response | tuple[str, int]:
        # A Problem raised below a web page's handler (a full disk under an upload, say): the
        # OpenRosa and API blueprints render their own before this is reached.
        if is_openrosa():
            return render_problem(exc)
        if is_central():
            return central_errors.render_problem(exc)
        if request.path.startswith("/api/"):
            return api_problem(exc)
        return errors.problem_page(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int] | tuple[Response, int]:
        if is_openrosa():
            return render_http_exception(exc)
        if is_central():
            return central_errors.render_http_exception(exc)
        if request.path.startswith("/api/"):
            # The API's problem document, as for its own routes: an id beyond its column's
            # range matches no rule, and reaches only this handler.
            return api_http_problem(exc)
        return errors.http_error_page(exc)

    @app.errorhandler(InternalServerError)
    def server_error(exc: HTTPException) -> Response | tuple[str, int] | tuple[Response, int]:
        original = getattr(exc, "original_exception", None)
        if is_database_unavailable(original):
            return database_unavailable(original)  # type: ignore[arg-type]
        if is_openrosa():
            return render_unexpected(getattr(exc, "original_exception", None) or exc)
        if is_central():
            return central_errors.render_unexpected(original or exc)
        if request.path.startswith("/api/"):
            errors.log_unexpected(exc)
            return jsonify(error=errors.message_for(500)), 500
        return errors.server_error_page(exc)


def prepare_for_requests(app: Flask) -> None:
    """Ready a long-running web process for its requests, once its app is built.

    Loads now what it would load at its first requests, then moves every object that exists
    (modules, the models' metadata, the app: all kept for the process's life) out of the
    garbage collector's sight, so that a full collection does not walk them all and pause
    the process's requests while it does.
    """
    app.extensions[EXTENSION].tasks.prepare()
    gc.collect()
    gc.freeze()
