"""A form's published versions (drafts are not among them), for whoever may read the form.

    GET .../forms/<id>/versions                     newest first
    GET .../forms/<id>/versions/<version>           "___" names the empty version, as Central
    GET .../forms/<id>/versions/<version>.xml|.xlsx|.xls
    GET .../forms/<id>/versions/<version>/attachments[/<name>]

X-Extended-Metadata adds each version's publishedBy (the actor who opened it, null for a
version the server published by itself).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select
from sqlalchemy.orm import defer

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.form_access import FormView, not_found, readable_view
from server.central.form_files import (
    attachment_download,
    attachments_response,
    blob_store,
    xls_download,
    xml_download,
)
from server.central.form_json import excel_type, version_json
from server.central.render import actor_json, extended, json_response
from server.models import AuditEvent, FormVersion, User
from server.models.forms import VersionState
from server.queries.form_summaries import form_histories

# Central's stand-in for an empty version in a URL (also OpenRosa's here).
EMPTY_VERSION = "___"
PUBLISHING = ("form.publish", "form.open")


def register(bp: Blueprint, form: str) -> None:
    versions = form + "/versions"
    one = versions + "/<version>"
    bp.add_url_rule(versions, "form_versions", list_versions, methods=["GET"])
    bp.add_url_rule(one, "form_version", get_version, methods=["GET"])
    bp.add_url_rule(one + ".xml", "form_version_xml", version_xml, methods=["GET"])
    bp.add_url_rule(one + ".xlsx", "form_version_xlsx", version_xlsx, methods=["GET"])
    bp.add_url_rule(one + ".xls", "form_version_xls", version_xls, methods=["GET"])
    bp.add_url_rule(
        one + "/attachments", "form_version_attachments", version_attachments, methods=["GET"]
    )
    bp.add_url_rule(
        one + "/attachments/<name>",
        "form_version_attachment",
        version_attachment,
        methods=["GET"],
    )


def _published(view: FormView) -> list[FormVersion]:
    return list(
        db_session().scalars(
            select(FormVersion)
            .where(FormVersion.form_id == view.form.id, FormVersion.state != VersionState.draft)
            .options(defer(FormVersion.xform), defer(FormVersion.xlsform))
            .order_by(FormVersion.published_at.desc().nulls_last(), FormVersion.id.desc())
        )
    )


def _version(xml_form_id: str, version: str) -> tuple[FormView, FormVersion]:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    wanted = "" if version == EMPTY_VERSION else version
    found = next((v for v in _published(view) if v.version == wanted), None)
    if found is None:
        raise not_found()
    return view, found


def _publishers(xml_form_id: str) -> dict[str, User]:
    """Who opened each version of the form, by version (the latest opening wins)."""
    rows = db_session().execute(
        select(AuditEvent.details, User)
        .join(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.target_type == "form",
            AuditEvent.target_id == xml_form_id,
            AuditEvent.action.in_(PUBLISHING),
        )
        .order_by(AuditEvent.id)
    )
    found: dict[str, User] = {}
    for details, user in rows:
        version = (details or {}).get("version")
        if isinstance(version, str):
            found[version] = user
    return found


def _versions_json(view: FormView, versions: list[FormVersion]) -> list[dict[str, Any]]:
    history = form_histories(db_session(), [view.form.xml_form_id]).get(view.form.xml_form_id)
    publishers = _publishers(view.form.xml_form_id) if extended() else {}
    out = []
    for version in versions:
        body = version_json(view, version, history)
        if extended():
            publisher = publishers.get(version.version)
            body["publishedBy"] = actor_json(publisher) if publisher is not None else None
            body["excelContentType"] = excel_type(version)
        out.append(body)
    return out


def list_versions(xml_form_id: str) -> Response:
    view = readable_view(require_actor(), db_session(), xml_form_id)
    return json_response(_versions_json(view, _published(view)))


def get_version(xml_form_id: str, version: str) -> Response:
    view, found = _version(xml_form_id, version)
    return json_response(_versions_json(view, [found])[0])


def version_xml(xml_form_id: str, version: str) -> Response:
    return xml_download(_version(xml_form_id, version)[1])


def version_xlsx(xml_form_id: str, version: str) -> Response:
    view, found = _version(xml_form_id, version)
    return xls_download(view, found, ".xlsx")


def version_xls(xml_form_id: str, version: str) -> Response:
    view, found = _version(xml_form_id, version)
    return xls_download(view, found, ".xls")


def version_attachments(xml_form_id: str, version: str) -> Response:
    return attachments_response(_version(xml_form_id, version)[1])


def version_attachment(xml_form_id: str, version: str, name: str) -> Response:
    return attachment_download(_version(xml_form_id, version)[1], name, blob_store())
