"""URL rules of the Central API under /v1/, and its renderers: every error is Central's JSON,
unknown paths included. The OpenRosa routes under /v1/ (app users' keys) are a blueprint of
their own, server/central/key_routes.py, answering in OpenRosa's dialect as Collect expects.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from server.central import (
    app_users,
    audits,
    exports,
    forms,
    odata,
    projects,
    sessions,
    submissions,
)
from server.central.errors import (
    render_database_unavailable,
    render_http_exception,
    render_problem,
    render_unexpected,
)
from server.central.render import PROJECT_ID
from server.db import DATABASE_UNAVAILABLE
from server.domain.problems import Problem

bp = Blueprint("central", __name__, url_prefix="/v1")

for _module in (sessions, projects, forms, submissions, app_users, audits, exports, odata):
    _module.register(bp)


def not_found_problem() -> Problem:
    return Problem(404, "central.not_found", "Could not find the resource you were looking for.")


@bp.url_value_preprocessor
def _one_project(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Every route under /projects/<id> is for project 1, the only one; handlers take no id."""
    if values and "project_id" in values and values.pop("project_id") != PROJECT_ID:
        raise not_found_problem()


ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/", defaults={"rest": ""}, methods=ANY)
@bp.route("/<path:rest>", methods=ANY)
def unknown(rest: str) -> Response:
    raise not_found_problem()


bp.register_error_handler(Problem, render_problem)
bp.register_error_handler(HTTPException, render_http_exception)
for _unavailable in DATABASE_UNAVAILABLE:
    bp.register_error_handler(_unavailable, render_database_unavailable)
bp.register_error_handler(Exception, render_unexpected)
