"""Errors in Central's shape: {"code": "404.1", "message": ..., "details": ...}, with the HTTP
statuses Central uses. Never an HTML page under /v1/.

Our own problem code (server/domain/problems.py) travels in `details.problem`, so a script can
tell two 400s apart the way it would on Central by `code`, and a person reads `message`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

from server.db import RETRY_AFTER_SECONDS, is_database_unavailable
from server.domain.problems import Problem

log = logging.getLogger(__name__)

# Central's code for a status when nothing more precise is known.
DEFAULT_CODES = {
    400: "400.1",
    401: "401.2",
    403: "403.1",
    404: "404.1",
    405: "405.1",
    406: "406.1",
    408: "408.1",
    409: "409.3",
    411: "411.1",
    413: "413.1",
    415: "415.1",
    429: "429.1",
    500: "500.1",
    501: "501.1",
    503: "503.1",
    507: "507.1",
}

# Our problem codes whose Central code is not the default of their status.
CENTRAL_CODES: dict[str, str] = {
    "central.missing_parameter": "400.2",
    "central.unexpected_value": "400.8",
    "central.invalid_value": "400.11",
    "central.xlsform_invalid": "400.15",
    "central.xlsform_warnings": "400.16",
    "central.unexpected_attributes": "400.5",
    "submission.form_mismatch": "400.8",
    "central.invalid_header": "400.6",
    "central.expected_deprecation": "400.19",
    "submission.edit_unknown": "404.5",
    "submission.version_unknown": "404.6",
    "submission.conflict": "409.1",
    "submission.form_closed": "409.2",
    "central.instance_id_conflict": "409.8",
    "central.deprecating_old_submission": "409.9",
    "submission.edit_outdated": "409.9",
    "form.version_taken": "409.6",
    "form.no_published_version": "409.7",
    "central.missing_meta": "400.27",
    # The OData feed (server/central/odata.py), with Central's codes for the same problems.
    "odata.invalid_option": "400.11",
    "odata.unknown_option": "400.8",
    "odata.unparseable_filter": "400.18",
    "odata.filter_type": "400.18",
    "odata.filter_value": "400.22",
    "odata.property_not_found": "400.23",
    "odata.unsupported_select": "400.24",
    "odata.skiptoken_not_found": "400.34",
    "odata.invalid_skiptoken": "400.35",
    "odata.unsupported_option": "501.1",
    "odata.unsupported_expression": "501.4",
    "odata.unsupported_field": "501.5",
    "odata.unsupported_expand": "501.6",
    "odata.select_with_expand": "501.11",
}


def central_code(problem: Problem) -> str:
    return CENTRAL_CODES.get(problem.code) or DEFAULT_CODES.get(
        problem.status, f"{problem.status}.1"
    )


def central_error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Problem:
    """A Problem whose rendering under /v1/ carries Central's `code` for it."""
    return Problem(status, code, message, dict(details or {}))


def render_problem(problem: Problem) -> Response:
    details: dict[str, Any] = {"problem": problem.code}
    details.update(problem.details)
    response = jsonify(code=central_code(problem), message=problem.message, details=details)
    response.status_code = problem.status
    for name, value in problem.headers.items():
        response.headers[name] = value
    if problem.status == 401:
        # Central challenges with Basic only (a script's retry with a password); Collect's key
        # routes carry no challenge at all, as nothing but a new QR code helps.
        response.headers.remove("WWW-Authenticate")
        if "/key/" not in request.path:
            response.headers["WWW-Authenticate"] = 'Basic realm="ODK Central", charset="UTF-8"'
    return response


def render_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = "Could not find the resource you were looking for."
    elif status == 405:
        message = f"This resource does not accept {request.method}."
    elif status == 413:
        message = "The request body is larger than the server accepts."
    else:
        message = exc.description or exc.name or "The request failed."
    response = render_problem(Problem(status, f"http.{status}", message))
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


def render_database_unavailable(exc: BaseException) -> Response:
    log.warning("database unavailable on %s: %s", request.path, exc)
    return render_problem(
        Problem(
            503,
            "server.unavailable",
            "The server cannot reach its database for a moment; try again in a few seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    )


def render_unexpected(exc: Exception) -> Response:
    if is_database_unavailable(exc):
        return render_database_unavailable(exc)
    log.exception("Central API request failed")
    return render_problem(
        Problem(500, "server.error", "Something went wrong on the server; it has been logged.")
    )
