"""A submission's attachments (registered by server/central/submissions.py).

    GET    .../submissions/<instanceId>/attachments           [{"name", "exists"}]
    GET    .../submissions/<instanceId>/attachments/<name>    the file
    POST   .../submissions/<instanceId>/attachments/<name>    the raw body, any content type
    DELETE .../submissions/<instanceId>/attachments/<name>

The attachments are those of the current version: the files its XML names in the form's binary
fields, and whether the server has each. A name the XML does not name is 404, as in Central
(even on POST: a file the submission does not use is not taken). Reading needs the right to
read the submission; adding or removing a file, the right to change it (its sender, or a
reviewer of its area: server/central/submission_access.py), as a resend with files does on
Collect's endpoint. The body is streamed into the blob store (pyodk sends it chunked); a disk
that will not take it is 507, with nothing stored.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, send_file

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.render import json_response, success
from server.central.submission_access import (
    form_or_404,
    not_found,
    require_changes,
    submission_or_404,
)
from server.central.submission_history import readable
from server.openrosa.deps import blob_store
from server.services.submission_files import attach, detach, file_state, file_states

# The endpoints whose handler reads the body itself (server/app.py's request guard).
STREAMED_ENDPOINTS = frozenset({"central.submission_attachment_upload"})


def register(bp: Blueprint, one: str) -> None:
    files = one + "/attachments"
    bp.add_url_rule(files, "submission_attachments", list_attachments, methods=["GET"])
    bp.add_url_rule(files + "/<name>", "submission_attachment", get_attachment, methods=["GET"])
    bp.add_url_rule(
        files + "/<name>", "submission_attachment_upload", upload_attachment, methods=["POST"]
    )
    bp.add_url_rule(
        files + "/<name>", "submission_attachment_delete", delete_attachment, methods=["DELETE"]
    )


def list_attachments(xml_form_id: str, instance_id: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    states = file_states(db_session(), found.current)
    return json_response([{"name": f.name, "exists": f.attachment is not None} for f in states])


def get_attachment(xml_form_id: str, instance_id: str, name: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    state = file_state(db_session(), found.current, name)
    blobs = blob_store()
    if state is None or state.attachment is None or not blobs.exists(state.attachment.sha256):
        raise not_found()
    return send_file(
        blobs.path(state.attachment.sha256),
        mimetype=state.attachment.content_type,
        as_attachment=True,
        download_name=name,
        conditional=True,
        etag=state.attachment.sha256,
    )


def upload_attachment(xml_form_id: str, instance_id: str, name: str) -> Response:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    found = submission_or_404(form, instance_id)
    require_changes(actor, found)
    session = db_session()
    if file_state(session, found.current, name) is None:
        raise not_found()
    try:
        attach(session, blob_store(), found.current, name, request.stream, request.mimetype)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return success()


def delete_attachment(xml_form_id: str, instance_id: str, name: str) -> Response:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    found = submission_or_404(form, instance_id)
    require_changes(actor, found)
    session = db_session()
    if file_state(session, found.current, name) is None:
        raise not_found()
    detach(session, found.current, name)
    session.commit()
    return success()
