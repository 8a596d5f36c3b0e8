"""Collect's OpenRosa routes under /v1/, as Central has them:

    /v1/key/<token>/projects/1/formList, /submission, /forms/...    an app user's phone
                                     (and Central's unversioned /forms/<id>.xml, /manifest,
                                     /attachments/<name>: server/central/key_forms.py)
    /v1/projects/1/formList, /submission, /forms/...                a person's, with a password

They are the OpenRosa endpoints of server/openrosa themselves (same durability, idempotence
and answers to bad input), under Central's addresses: the token of a key route is the only
credential it takes (server/auth/app_user_keys.py), and every URL a formList or manifest gives
out stays under the prefix it was asked on, so a phone with an app-user key never needs a
password.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Request, Response, g, request
from werkzeug.exceptions import HTTPException

from server.app_state import state
from server.auth.app_user_keys import KEY_ENVIRON, request_key
from server.central import key_forms
from server.central.render import PROJECT_ID
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

bp = Blueprint("central_openrosa", __name__, url_prefix="/v1")

_PREFIXES = {
    "key": "/key/<token>/projects/<int:project_id>",
    "project": "/projects/<int:project_id>",
}
_RULES: list[tuple[str, str, Any, list[str]]] = [
    ("/formList", "form_list", forms.form_list, ["GET"]),
    ("/forms/<xml_form_id>/versions/<version>/form.xml", "form_xml", forms.form_xml, ["GET"]),
    ("/forms/<xml_form_id>/versions/<version>/manifest", "manifest", forms.manifest, ["GET"]),
    (
        "/forms/<xml_form_id>/versions/<version>/media/<filename>",
        "media",
        forms.media,
        ["GET"],
    ),
    ("/submission", "submission", submission.submission, ["GET", "HEAD", "POST"]),
]
for _kind, _prefix in _PREFIXES.items():
    for _rule, _endpoint, _view, _methods in _RULES:
        # "<prefix kind>_<OpenRosa's endpoint>": server/openrosa/forms.py finds its sibling
        # endpoints by that name.
        bp.add_url_rule(_prefix + _rule, f"{_kind}_{_endpoint}", _view, methods=_methods)
# Central's unversioned addresses, under the key prefix only (server/central/key_forms.py).
for _rule, _endpoint, _view in [
    ("/forms/<xml_form_id>.xml", "current_form_xml", key_forms.form_xml),
    ("/forms/<xml_form_id>/manifest", "current_manifest", key_forms.manifest),
    ("/forms/<xml_form_id>/attachments/<filename>", "current_attachment", key_forms.attachment),
]:
    bp.add_url_rule(_PREFIXES["key"] + _rule, f"key_{_endpoint}", _view, methods=["GET"])

# The endpoints whose handlers stream the body themselves (server/app.py's request guard).
STREAMED_ENDPOINTS = frozenset(f"central_openrosa.{kind}_submission" for kind in _PREFIXES)


@bp.url_value_preprocessor
def _take_route_values(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    if not values:
        return
    project_id = values.pop("project_id", None)
    token = values.pop("token", None)
    g.central_route = {"project_id": project_id} | ({"token": token} if token else {})
    if token is not None:
        request.environ[KEY_ENVIRON] = token
    if project_id != PROJECT_ID:
        raise Problem(404, "form.not_found", "There is no such project on this server.")


@bp.url_defaults
def _keep_route_values(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint.startswith("central_openrosa."):
        for name, value in g.get("central_route", {}).items():
            values.setdefault(name, value)


def is_key_route(req: Request) -> bool:
    return req.blueprint == "central_openrosa"


def _render_problem(problem: Problem) -> Response:
    response = render_problem(problem)
    if problem.status == 401 and request_key(request) is not None:
        # A refused key is no question of a password: a challenge would only make Collect ask
        # for one. Nothing but a new QR code helps, as the message says.
        response.headers.remove("WWW-Authenticate")
    return response


def _submission_headers(response: Response) -> Response:
    response = add_protocol_headers(response)
    if request.endpoint in STREAMED_ENDPOINTS:
        # As /submission: Collect reads the largest body it may send from every answer of the
        # submission endpoint (HEAD's 204 first) and splits bigger submissions.
        response.headers["X-OpenRosa-Accept-Content-Length"] = str(
            state().settings.max_submission_bytes
        )
    return response


bp.register_error_handler(Problem, _render_problem)
bp.register_error_handler(HTTPException, render_http_exception)
for _unavailable in DATABASE_UNAVAILABLE:
    bp.register_error_handler(_unavailable, render_database_unavailable)
bp.register_error_handler(Exception, render_unexpected)
bp.after_request(_submission_headers)
