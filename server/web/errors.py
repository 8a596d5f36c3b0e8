"""Error pages in plain words for the web app (server/app.py sends OpenRosa and API requests' errors
to their own renderers)."""

from __future__ import annotations

import logging

from flask import Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from server.db import RETRY_AFTER_SECONDS
from server.domain.problems import Problem
from server.http_guards import MalformedInput

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The page could not understand what was sent. Please try again."),
    401: ("Please sign in", "You need to sign in to do this."),
    403: ("Not allowed", "Your account does not give access to this page or action."),
    404: ("Page not found", "There is no page at this address. Check the link or go home."),
    405: ("Not allowed here", "This page cannot be used that way. Go back and use its buttons."),
    413: ("File too large", "The file you sent is larger than the server accepts."),
    429: ("Too many attempts", "Please wait a little and try again."),
    507: (
        "The server's disk is full",
        "The server cannot store files just now. Nothing was saved; try again later, and tell "
        "your administrator.",
    ),
    503: (
        "Please try again in a moment",
        "The server cannot reach its database just now. Wait a few seconds, then reload the "
        "page or send the form again.",
    ),
}
SERVER_ERROR = (
    "Something went wrong",
    "The server had a problem with this page. Please try again; if it keeps happening, tell "
    "your administrator what you were doing.",
)
CSRF_MESSAGE = (
    "The form had expired or did not come from this site. Reload the page and send it again."
)


def render_error(status: int, message: str | None = None) -> tuple[str, int]:
    title, default = MESSAGES.get(status, SERVER_ERROR)
    return render_template("error.html", title=title, message=message or default), status


def message_for(status: int) -> str:
    """The plain-words message for a status (the server error's for an unknown one)."""
    return MESSAGES.get(status, SERVER_ERROR)[1]


def http_error_page(exc: HTTPException) -> Response | tuple[str, int]:
    """The HTML page for an HTTP error raised on a web page (or on no route at all)."""
    status = exc.code or 500
    if status >= 500:
        return server_error_page(exc)
    message = CSRF_MESSAGE if isinstance(exc, CSRFError) else None
    if isinstance(exc, MalformedInput):
        message = exc.description
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit:
            message = f"{MESSAGES[413][1]} The limit is {limit // (1024 * 1024)} MB."
    body, code = render_error(status, message)
    response = current_app.make_response((body, code))
    if exc.response is None:
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
    return response


def log_unexpected(exc: HTTPException) -> None:
    """Logs the exception a 500 stands for, with its traceback."""
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("unexpected error on %s", request.path, exc_info=original)


def unavailable_page(exc: BaseException) -> Response:
    """503 with Retry-After while the database is away: nothing is wrong with the request."""
    log.warning("database unavailable on %s: %s", request.path, exc)
    body, code = render_error(503)
    response = current_app.make_response((body, code))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def problem_page(problem: Problem) -> Response:
    """A coded problem (server/domain/problems.py) raised under a page, in its own words."""
    body, code = render_error(problem.status, problem.message)
    response = current_app.make_response((body, code))
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def server_error_page(exc: HTTPException) -> tuple[str, int]:
    log_unexpected(exc)
    return render_template("error.html", title=SERVER_ERROR[0], message=SERVER_ERROR[1]), 500
