"""Flask responses in the OpenRosa dialect, and rendering of Problems for Collect."""

from __future__ import annotations

import logging

from flask import Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from server.app_state import state
from server.auth.http import challenge_headers
from server.db import RETRY_AFTER_SECONDS, is_database_unavailable
from server.domain.problems import Problem
from server.http_guards import MalformedInput
from server.openrosa.xml_documents import openrosa_response

log = logging.getLogger(__name__)

XML_MIMETYPE = "text/xml; charset=utf-8"


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML_MIMETYPE)


def message_response(message: str, status: int, nature: str = "error") -> Response:
    return xml_response(openrosa_response(message, nature), status)


def add_protocol_headers(response: Response) -> Response:
    """Every OpenRosa response names the protocol version and carries a Date; every answer of
    the submission endpoint, errors included, the largest body it accepts (the Form Submission
    API requires it of successful responses and recommends it for errors)."""
    response.headers["X-OpenRosa-Version"] = "1.0"
    if request.endpoint == "openrosa.submission":
        response.headers["X-OpenRosa-Accept-Content-Length"] = str(
            state().settings.max_submission_bytes
        )
    # gunicorn always writes its own Date; a second one would be a duplicate header. Other
    # servers (and the test client) may not, and OpenRosa requires it.
    if not str(request.environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn"):
        response.headers.setdefault("Date", http_date())
    return response


def render_problem(problem: Problem) -> Response:
    response = message_response(problem.message, problem.status)
    for name, value in problem.headers.items():
        response.headers[name] = value
    if problem.status == 401:
        # Both challenges (Digest and Basic) as separate headers, which a dict cannot carry.
        response.headers.remove("WWW-Authenticate")
        for name, value in challenge_headers(stale=bool(problem.details.get("stale"))):
            response.headers.add(name, value)
    return response


_HTTP_MESSAGES = {
    400: "The request could not be understood by the server.",
    404: "There is nothing at this address on the server.",
    405: "This address does not accept that kind of request.",
}


def render_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 413:
        limit = state().settings.max_submission_bytes
        message = (
            f"The submission is larger than the server accepts ({limit} bytes). "
            "Send fewer or smaller attachments at a time."
        )
    elif isinstance(exc, MalformedInput):
        message = exc.description or _HTTP_MESSAGES[400]
    else:
        message = _HTTP_MESSAGES.get(status) or exc.description or exc.name
    response = message_response(message, status)
    if exc.response is None:
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers.add(name, value)
    return response


def render_unexpected(exc: Exception) -> Response:
    if is_database_unavailable(exc):
        return render_database_unavailable(exc)
    log.exception("unexpected error on an OpenRosa endpoint")
    return message_response(
        "The server had a problem with this request. Please try again later; sending a "
        "submission again never stores it twice.",
        500,
    )


def render_database_unavailable(exc: Exception) -> Response:
    """503 with Retry-After: nothing was committed (or a commit's answer was lost, which a
    resend then finds stored), so Collect keeps the submission and sends it again later."""
    log.warning("database unavailable on an OpenRosa endpoint: %s", exc)
    response = message_response(
        "The server cannot reach its database for a moment. Please send again shortly; "
        "sending a submission again never stores it twice.",
        503,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
