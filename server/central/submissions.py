"""Submissions of a form, as Central's REST API has them.

    GET    /v1/projects/1/forms/<f>/submissions                    list (Central's JSON)
    POST   /v1/projects/1/forms/<f>/submissions[?deviceID=]        create from the raw XML body
    GET    /v1/projects/1/forms/<f>/submissions/<instanceId>       one submission
    GET    /v1/projects/1/forms/<f>/submissions/<instanceId>.xml   its current XML, byte for byte
    PUT    /v1/projects/1/forms/<f>/submissions/<instanceId>       edit (meta/deprecatedID)

and, registered here from their own modules, its review (PATCH, server/central/
submission_review.py), its comments and versions (server/central/submission_history.py) and
its attachments (server/central/submission_attachments.py). Who may do what is server/central/
submission_access.py's.

A create and an edit go through the receiver's own path (server/openrosa/accept.py): the same
checks (form access, form version state, the place known and in the sender's areas, edit
rights) and the same durable storage as POST /submission. What Central answers differently, so
do we:

- A create is a plain insert in Central (`Submissions.createNew` in getodk/central-backend's
  lib/resources/submissions.js): an instanceID the form already has is 409.3 ("A resource
  already exists with xmlFormId,instanceId value(s) of ...") whether its XML is the same or
  not; only the OpenRosa endpoint treats the same XML as a resend (and different XML as
  409.1). So a create never resends here either: 409, with `details.sameXml` telling a retry
  that its first attempt was stored.
- An edit's deprecatedID must name the current version (else 409.9); without one it is 400.19;
  a new instanceID the server has is 409.8; the XML's form must be the URL's (400.8).
- A closed form refuses with 409.2, where Collect's endpoint says 403.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for

from server.app_state import db_session
from server.auth.http import principal_cache
from server.auth.principal import Principal
from server.central import submission_attachments, submission_history, submission_review
from server.central.auth import require_actor, require_submitter
from server.central.render import PROJECT_ID, extended, json_response
from server.central.submission_access import (
    form_or_404,
    may_change,
    not_found,
    require_reader,
    require_reads,
    submission_or_404,
    xml_body,
)
from server.central.submission_json import created_json, one_json, submissions_json
from server.domain.problems import Problem
from server.domain.xform.submission_meta import SubmissionMeta
from server.openrosa.accept import Accepted, Rules, Sent, accept
from server.openrosa.deps import receiver
from server.openrosa.submission import MAX_XML_BYTES, device_id
from server.services.ingest_edits import Editor
from server.services.submission_versions import (
    Logical,
    logical,
    root_of,
    row_by_instance,
    visible,
)

BASE = "/projects/<int:project_id>/forms/<xml_form_id>/submissions"
ONE = BASE + "/<instance_id>"

# Problems of the receiver that Central answers with another status.
CENTRAL_STATUS = {"submission.form_closed": 409}


def register(bp: Blueprint) -> None:
    bp.add_url_rule(BASE, "submissions", list_submissions, methods=["GET"])
    bp.add_url_rule(BASE, "submission_create", create_submission, methods=["POST"])
    bp.add_url_rule(ONE + ".xml", "submission_xml", submission_xml, methods=["GET"])
    bp.add_url_rule(ONE, "submission", get_submission, methods=["GET"])
    bp.add_url_rule(ONE, "submission_edit", edit_submission, methods=["PUT"])
    submission_review.register(bp, ONE)
    submission_history.register(bp, ONE)
    submission_attachments.register(bp, ONE)


def list_submissions(xml_form_id: str) -> Response:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    require_reader(actor)
    session = db_session()
    found = visible(session, form.id, actor.scope)
    return json_response(submissions_json(session, found, extended()))


def get_submission(xml_form_id: str, instance_id: str) -> Response:
    found = _readable(xml_form_id, instance_id, "central.submission_version")
    if isinstance(found, Response):
        return found
    return json_response(one_json(found))


def submission_xml(xml_form_id: str, instance_id: str) -> Response:
    found = _readable(xml_form_id, instance_id, "central.submission_version_xml")
    if isinstance(found, Response):
        return found
    return Response(found.current.xml, content_type="application/xml")


def _readable(xml_form_id: str, instance_id: str, version_endpoint: str) -> Logical | Response:
    """The submission the caller may read; for a later version's instanceID, as in Central, a
    redirect to that version's own address."""
    actor = require_actor()
    form = form_or_404(xml_form_id)
    require_reader(actor)
    session = db_session()
    found = logical(session, form.id, instance_id)
    if found is None:
        row = row_by_instance(session, form.id, instance_id)
        if row is None or row.supersedes_id is None:
            raise not_found()
        return redirect(
            url_for(
                version_endpoint,
                project_id=PROJECT_ID,
                xml_form_id=xml_form_id,
                instance_id=root_of(session, row).instance_id,
                version_id=instance_id,
            )
        )
    require_reads(actor, found)
    return found


def create_submission(xml_form_id: str) -> Response:
    principal = require_submitter()
    sent = Sent(xml_body(MAX_XML_BYTES), device_id=device_id(request))
    accepted = _accept(principal, sent, Rules(xml_form_id=xml_form_id, new_only=True))
    meta, result = accepted.meta, accepted.result
    return json_response(
        created_json(
            meta.instance_id,
            meta.instance_name,
            accepted.principal.id,
            sent.device_id,
            result.received_at,
        )
    )


def edit_submission(xml_form_id: str, instance_id: str) -> Response:
    principal = require_submitter()
    sent = Sent(xml_body(MAX_XML_BYTES), device_id=device_id(request))
    form = form_or_404(xml_form_id)

    def check(meta: SubmissionMeta) -> None:
        if meta.deprecated_id is None:
            raise Problem(
                400,
                "central.expected_deprecation",
                "An edit names the version it replaces in meta/deprecatedID (the current "
                "version's instanceID); this XML has none.",
            )
        found = submission_or_404(form, instance_id)
        if not may_change(principal.id, Editor(principal.role, principal.scope), found):
            raise Problem(
                403,
                "submission.edit_forbidden",
                f"You may not edit submission {instance_id}: only the person who sent it or "
                "a coordinator of its area may change it. Nothing was saved.",
            )
        if found.current.instance_id != meta.deprecated_id:
            raise Problem(
                409,
                "central.deprecating_old_submission",
                f"You tried to update a submission, but the copy you were editing "
                f"({meta.deprecated_id}) is not its current version "
                f"({found.current.instance_id}). Get the current version and edit that.",
                {"deprecatedId": meta.deprecated_id},
            )

    try:
        _accept(principal, sent, Rules(xml_form_id=xml_form_id, new_only=True, check=check))
    except Problem as problem:
        if problem.code != "submission.exists":
            raise
        raise Problem(
            409,
            "central.instance_id_conflict",
            "You tried to update a submission, but the instanceID you provided already exists "
            "on this server. Try again with a new instanceID.",
            problem.details,
        ) from None
    return json_response(one_json(submission_or_404(form, instance_id)))


def _accept(principal: Principal, sent: Sent, rules: Rules) -> Accepted:
    """The receiver's accept path, with Central's statuses for its refusals."""
    rx = receiver()

    def reauthenticate() -> Principal:
        principal_cache().forget(principal.username)
        return require_submitter(fresh=True)

    try:
        accepted = accept(rx, principal, sent, reauthenticate, rules)
    except Problem as problem:
        if problem.code == "submission.exists":
            # Central's details of a uniqueness violation, and whether it was this very XML.
            details = {
                "fields": ["xmlFormId", "instanceId"],
                "values": [rules.xml_form_id, problem.details.get("instance_id")],
                "sameXml": bool(problem.details.get("same_xml")),
            }
            raise Problem(409, problem.code, problem.message, details) from None
        status = CENTRAL_STATUS.get(problem.code)
        if status is None:
            raise
        raise Problem(status, problem.code, problem.message, problem.details) from None
    if accepted.result.needs_processing:
        rx.wakeups.add(accepted.result.submission_id)
    return accepted
