"""Forms (who may read which: server/central/form_access.py; their JSON: form_json.py).

    GET    /v1/projects/1/forms                    the forms the caller may read
    POST   /v1/projects/1/forms[?ignoreWarnings=true&publish=true]
                                                   a new form from an XLSForm or an XForm,
                                                   stored as a draft unless publish=true
    GET    /v1/projects/1/forms/<id>               one form
    PATCH  /v1/projects/1/forms/<id>               {"state": "open" | "closing" | "closed"}
    DELETE /v1/projects/1/forms/<id>               405: forms are closed here, never deleted
    GET    /v1/projects/1/forms/<id>.xml|.xlsx|.xls
    GET    /v1/projects/1/forms/<id>/attachments[/<name>]

Drafts are server/central/form_drafts.py, versions server/central/form_versions.py. Only admins
create, change or publish forms (403.1 for anyone else). Every definition goes through the
compiler and services `dmip forms publish` and the admin page use (server/services/forms.py,
server/services/form_drafts.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from server.app_state import db_session
from server.central import form_drafts, form_versions
from server.central.auth import require_actor
from server.central.form_access import (
    admin_view,
    load_views,
    readable,
    readable_view,
    require_admin,
)
from server.central.form_bodies import query_flag, read_definition
from server.central.form_files import (
    attachment_download,
    attachments_response,
    blob_store,
    xls_download,
    xml_download,
)
from server.central.form_json import forms_json as render_forms
from server.central.form_problems import definition_problem, state_problem
from server.central.render import extended, json_response
from server.central.sessions import json_body
from server.domain.problems import Problem
from server.models import User
from server.models.forms import VersionState
from server.services import form_definitions
from server.services import form_drafts as drafts
from server.services.form_states import FormStateError, set_form_state

FORMS = "/projects/<int:project_id>/forms"
FORM = FORMS + "/<xml_form_id>"
STATES = {s.value: s for s in (VersionState.open, VersionState.closing, VersionState.closed)}


def register(bp: Blueprint) -> None:
    bp.add_url_rule(FORMS, "forms", list_forms, methods=["GET"])
    bp.add_url_rule(FORMS, "form_create", create_form, methods=["POST"])
    bp.add_url_rule(FORM, "form", get_form, methods=["GET"])
    bp.add_url_rule(FORM, "form_update", update_form, methods=["PATCH"])
    bp.add_url_rule(FORM, "form_delete", delete_form, methods=["DELETE"])
    bp.add_url_rule(FORM + ".xml", "form_xml", form_xml, methods=["GET"])
    bp.add_url_rule(FORM + ".xlsx", "form_xlsx", form_xlsx, methods=["GET"])
    bp.add_url_rule(FORM + ".xls", "form_xls", form_xls, methods=["GET"])
    bp.add_url_rule(FORM + "/attachments", "form_attachments", attachments, methods=["GET"])
    bp.add_url_rule(FORM + "/attachments/<name>", "form_attachment", attachment, methods=["GET"])
    form_drafts.register(bp, FORM)
    form_versions.register(bp, FORM)


def forms_json(actor: User, extended_fields: bool = False) -> list[dict[str, Any]]:
    """The forms the caller may read, as Central lists them (also for ?forms=true on a
    project)."""
    session = db_session()
    views = readable(actor, load_views(session), session)
    return render_forms(actor, views, session, extended_fields)


def list_forms() -> Response:
    return json_response(forms_json(require_actor(), extended()))


def _one_form(actor: User, xml_form_id: str) -> dict[str, Any]:
    session = db_session()
    view = readable_view(actor, session, xml_form_id)
    return render_forms(actor, [view], session, extended())[0]


def get_form(xml_form_id: str) -> Response:
    return json_response(_one_form(require_actor(), xml_form_id))


def create_form() -> Response:
    actor = require_actor()
    require_admin(actor)
    definition = read_definition()
    session = db_session()
    try:
        compiled = form_definitions.compile_definition(definition)
        drafts.create_form(
            session,
            blob_store(),
            compiled,
            actor,
            publish=query_flag("publish"),
            ignore_warnings=query_flag("ignoreWarnings"),
        )
    except drafts.FormExists as exc:
        session.rollback()
        raise Problem(
            409,
            "form.exists",
            f"A resource already exists with projectId,xmlFormId value(s) of 1,{exc}. A new "
            "version of a form is made through its draft (POST .../forms/<id>/draft).",
            {"fields": ["projectId", "xmlFormId"], "values": [1, str(exc)]},
        ) from None
    except (form_definitions.DefinitionError, form_definitions.DefinitionWarnings) as exc:
        session.rollback()
        raise definition_problem(exc) from None
    except FormStateError as exc:
        session.rollback()
        assert compiled.result.info is not None
        raise state_problem(exc, compiled.xml_form_id, compiled.result.info.version) from None
    session.commit()
    return json_response(_one_form(actor, compiled.xml_form_id))


def update_form(xml_form_id: str) -> Response:
    actor = require_actor()
    session = db_session()
    view = admin_view(actor, session, xml_form_id)
    body = json_body()
    wanted = body.get("state")
    if wanted is not None:
        if not isinstance(wanted, str) or wanted not in STATES:
            raise Problem(
                400,
                "central.unexpected_value",
                f"Unexpected state value {wanted!r}; expected one of open, closing, closed.",
                {"field": "state", "value": wanted if isinstance(wanted, str) else None},
            )
        try:
            set_form_state(session, blob_store(), view.form, STATES[wanted], actor)
        except FormStateError as exc:
            session.rollback()
            raise state_problem(exc, xml_form_id) from None
        session.commit()
    return json_response(_one_form(actor, xml_form_id))


def delete_form(xml_form_id: str) -> Response:
    actor = require_actor()
    admin_view(actor, db_session(), xml_form_id)
    raise Problem(
        405,
        "form.not_deleted",
        "Forms are not deleted on this server: their submissions feed the indicators and the "
        'district plans. Close the form instead (PATCH with {"state": "closed"}).',
        headers={"Allow": "GET, PATCH"},
    )


def form_xml(xml_form_id: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return xml_download(view.shown)


def form_xlsx(xml_form_id: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return xls_download(view, view.shown, ".xlsx")


def form_xls(xml_form_id: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return xls_download(view, view.shown, ".xls")


def attachments(xml_form_id: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return attachments_response(view.shown)


def attachment(xml_form_id: str, name: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return attachment_download(view.shown, name, blob_store())
