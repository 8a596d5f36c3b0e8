"""URL rules of the OpenRosa endpoints ODK Collect talks to (no URL prefix)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, request
from werkzeug.exceptions import HTTPException

from server.db import DATABASE_UNAVAILABLE
from server.domain.problems import Problem
from server.openrosa import forms, submission
from server.openrosa.responses import (
    add_protocol_headers,
    render_database_unavailable,
    render_http_exception,
    render_problem,
    render_unexpected,
)

bp = Blueprint("openrosa", __name__)

bp.add_url_rule("/formList", "form_list", forms.form_list, methods=["GET"])
bp.add_url_rule("/forms/<xml_form_id>/versions/<version>/form.xml", "form_xml", forms.form_xml)
bp.add_url_rule("/forms/<xml_form_id>/versions/<version>/manifest", "manifest", forms.manifest)
bp.add_url_rule("/forms/<xml_form_id>/versions/<version>/media/<filename>", "media", forms.media)
bp.add_url_rule("/submission", "submission", submission.submission, methods=["GET", "HEAD", "POST"])

bp.register_error_handler(Problem, render_problem)
bp.register_error_handler(HTTPException, render_http_exception)
for _unavailable in DATABASE_UNAVAILABLE:
    bp.register_error_handler(_unavailable, render_database_unavailable)
bp.register_error_handler(Exception, render_unexpected)
bp.after_request(add_protocol_headers)


def openrosa_request(app: Flask) -> Callable[[], bool]:
    """A test of whether the current request is for an OpenRosa URL, routed or not (the fixed
    start of every OpenRosa URL: /formList, /forms/, /submission)."""
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("openrosa.")]
    # A rule without parameters is one exact path: /submission, not /submissions/... too.
    exact = frozenset(rule for rule in rules if "<" not in rule)
    prefixes = tuple(sorted({rule.split("<", 1)[0] for rule in rules if "<" in rule}))

    def is_openrosa() -> bool:
        path = request.path
        return (
            request.blueprint in ("openrosa", "central_openrosa")
            or path in exact
            or path.startswith(prefixes)
        )

    return is_openrosa
