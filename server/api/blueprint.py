"""URL rules of the JSON API and its problem renderer: every error is a JSON body
{"status", "code", "message", "details"}, unknown paths under /api/v1/ included."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from server.api import indicators
from server.auth.http import challenge_headers
from server.db import RETRY_AFTER_SECONDS, is_database_unavailable
from server.domain.problems import Problem, not_found

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

bp.add_url_rule("/indicators", "indicators", indicators.indicators)
bp.add_url_rule("/indicators/<indicator_id>", "indicator", indicators.indicator)
bp.add_url_rule("/values", "values", indicators.values)
bp.add_url_rule("/values/<indicator_id>", "value", indicators.value)
bp.add_url_rule(
    "/values/<indicator_id>/submissions", "value_submissions", indicators.value_submissions
)
bp.add_url_rule("/gaps", "gaps", indicators.gaps)
bp.add_url_rule("/quality/flags", "quality_flags", indicators.quality_flags)
bp.add_url_rule("/quality/completeness", "completeness", indicators.completeness)


# Every method, so that a write to a known resource reaches this blueprint's renderer (routing
# errors otherwise go to the app's HTML handlers) and gets a JSON 405.
ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/", defaults={"rest": ""}, methods=ANY)
@bp.route("/<path:rest>", methods=ANY)
def unknown(rest: str) -> Response:
    if request.method != "GET":
        raise Problem(
            405,
            "api.method_not_allowed",
            "This API only reads data: use GET.",
            headers={"Allow": "GET, HEAD, OPTIONS"},
        )
    raise not_found("api.not_found", f"There is no API resource at /api/v1/{rest}.")


def problem_response(problem: Problem) -> Response:
    body = {
        "status": problem.status,
        "code": problem.code,
        "message": problem.message,
        "details": problem.details,
    }
    response = jsonify(body)
    response.status_code = problem.status
    response.content_type = "application/problem+json"
    for name, value in problem.headers.items():
        response.headers[name] = value
    if problem.status == 401:
        # Both challenges as separate headers: Digest for scripts, Basic for browsers.
        response.headers.remove("WWW-Authenticate")
        for name, value in challenge_headers(stale=bool(problem.details.get("stale"))):
            response.headers.add(name, value)
    return response


def http_problem(exc: HTTPException) -> Response:
    code = exc.code or 500
    return problem_response(
        Problem(code, f"http.{code}", exc.description or exc.name or "Request failed.")
    )


def database_unavailable(exc: BaseException) -> Response:
    """503 with Retry-After: the database is away for a moment; the same request will do."""
    log.warning("database unavailable on %s: %s", request.path, exc)
    return problem_response(
        Problem(
            503,
            "server.unavailable",
            "The server cannot reach its database for a moment; try again in a few seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    )


def unexpected(exc: Exception) -> Response:
    if is_database_unavailable(exc):
        return database_unavailable(exc)
    log.exception("API request failed")
    return problem_response(
        Problem(500, "server.error", "Something went wrong on the server; it has been logged.")
    )


bp.register_error_handler(Problem, problem_response)
bp.register_error_handler(HTTPException, http_problem)
bp.register_error_handler(Exception, unexpected)
