"""Error pages in plain words for the web app; OpenRosa routes keep their own error bodies."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The page could not understand what was sent. Please try again."),
    401: ("Please sign in", "You need to sign in to do this."),
    403: ("Not allowed", "Your account does not give access to this page or action."),
    404: ("Page not found", "There is no page at this address. Check the link or go home."),
    405: ("Not allowed here", "This page cannot be used that way. Go back and use its buttons."),
    413: ("File too large", "The file you sent is larger than the server accepts."),
    429: ("Too many attempts", "Please wait a little and try again."),
}
SERVER_ERROR = (
    "Something went wrong",
    "The server had a problem with this page. Please try again; if it keeps happening, tell "
    "your administrator what you were doing.",
)
CSRF_MESSAGE = (
    "The form had expired or did not come from this site. Reload the page and send it again."
)


def _openrosa_prefixes(app: Flask) -> tuple[str, ...]:
    """The fixed start of every OpenRosa URL (/formList, /forms/, /submission)."""
    prefixes = {
        rule.rule.split("<", 1)[0]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("openrosa.")
    }
    return tuple(sorted(prefixes))


def render_error(status: int, message: str | None = None) -> tuple[str, int]:
    title, default = MESSAGES.get(status, SERVER_ERROR)
    return render_template("error.html", title=title, message=message or default), status


def register(app: Flask) -> None:
    prefixes = _openrosa_prefixes(app)

    def is_openrosa() -> bool:
        return request.blueprint == "openrosa" or request.path.startswith(prefixes)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if is_openrosa():
            from server.openrosa.responses import render_http_exception

            return render_http_exception(exc)
        if request.path.startswith("/api/"):
            return jsonify(error=MESSAGES.get(status, SERVER_ERROR)[1]), status
        if status >= 500:
            return server_error(exc)
        message = CSRF_MESSAGE if isinstance(exc, CSRFError) else None
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            if limit:
                message = f"{MESSAGES[413][1]} The limit is {limit // (1024 * 1024)} MB."
        body, code = render_error(status, message)
        response = app.make_response((body, code))
        if exc.response is None:
            for name, value in exc.get_headers():
                if name.lower() not in ("content-type", "content-length"):
                    response.headers[name] = value
        return response

    @app.errorhandler(InternalServerError)
    def server_error(exc: HTTPException) -> Response | tuple[str, int]:
        original = getattr(exc, "original_exception", None)
        if is_openrosa():
            from server.openrosa.responses import render_unexpected

            return render_unexpected(original or exc)
        if original is not None:
            log.error("unexpected error on %s", request.path, exc_info=original)
        if request.path.startswith("/api/"):
            return jsonify(error=SERVER_ERROR[1]), 500
        return render_template("error.html", title=SERVER_ERROR[0], message=SERVER_ERROR[1]), 500
