"""Projects. One server is one project, id 1, holding every form.

Central uses projects to keep teams apart: each has its own forms, app users and roles. Here
that separation is already done, finer, by roles and org-unit scopes (a coordinator sees only
their districts, an enumerator only their areas and forms), and every DMIP form belongs to the
same cycle of district plans; a second project would split what the plans must read together.
So /v1/projects lists one project; any other id is not found.

    GET /v1/projects[?forms=true]          the one project (with its forms)
    GET /v1/projects/1[?forms=true]
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import func, select

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.forms import forms_json
from server.central.render import PROJECT_ID, extended, iso, json_response
from server.models import AppUserKey, Form, Submission

PROJECT_NAME = "District Management Improvement Plans"
PROJECT_DESCRIPTION = (
    "Every form of this server: the DMIP assessments and any form an admin publishes."
)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/projects", "projects", list_projects, methods=["GET"])
    bp.add_url_rule("/projects/<int:project_id>", "project", get_project, methods=["GET"])


def _flag(name: str) -> bool:
    return (request.args.get(name) or "").strip().lower() == "true"


def project_json() -> dict[str, Any]:
    session = db_session()
    first_form = session.scalar(select(func.min(Form.created_at)))
    body: dict[str, Any] = {
        "id": PROJECT_ID,
        "name": PROJECT_NAME,
        "description": PROJECT_DESCRIPTION,
        "archived": False,
        "keyId": None,
        "createdAt": iso(first_form) if first_form is not None else "2025-07-01T00:00:00.000Z",
        "updatedAt": None,
        "deletedAt": None,
    }
    if extended() or _flag("forms"):
        body["forms"] = session.scalar(select(func.count(Form.id)))
        body["appUsers"] = session.scalar(select(func.count()).select_from(AppUserKey))
        body["lastSubmission"] = iso(session.scalar(select(func.max(Submission.received_at))))
        body["datasets"] = 0
    if _flag("forms"):
        body["formList"] = forms_json(require_actor(), extended_fields=True)
    return body


def list_projects() -> Response:
    require_actor()
    return json_response([project_json()])


def get_project() -> Response:
    require_actor()
    return json_response(project_json())
