"""A submission's versions and comments (registered by server/central/submissions.py).

    GET  .../submissions/<instanceId>/versions                     every version, newest first
    GET  .../submissions/<instanceId>/versions/<versionId>         one version
    GET  .../submissions/<instanceId>/versions/<versionId>.xml     its XML, byte for byte
    GET  .../submissions/<instanceId>/comments                     newest first
    POST .../submissions/<instanceId>/comments                     {"body": "..."}

A version is named by its own instanceID; the submission by its first one. Reading needs the
right to read the submission, commenting the right to review it (server/central/
submission_access.py).
"""

from __future__ import annotations

from flask import Blueprint, Response

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.render import extended, json_response
from server.central.sessions import json_body
from server.central.submission_access import (
    form_or_404,
    not_found,
    require_reader,
    require_reads,
    require_reviews,
    submission_or_404,
)
from server.central.submission_json import Extras, comment_json, version_json
from server.domain.problems import Problem
from server.models import Submission, User
from server.services.review import explain_issue
from server.services.submission_comments import CommentError, add_comment, comments
from server.services.submission_versions import Logical, chain


def register(bp: Blueprint, one: str) -> None:
    bp.add_url_rule(one + "/versions", "submission_versions", list_versions, methods=["GET"])
    version = one + "/versions/<version_id>"
    bp.add_url_rule(version + ".xml", "submission_version_xml", version_xml, methods=["GET"])
    bp.add_url_rule(version, "submission_version", get_version, methods=["GET"])
    bp.add_url_rule(one + "/comments", "submission_comments", list_comments, methods=["GET"])
    bp.add_url_rule(one + "/comments", "submission_comment", create_comment, methods=["POST"])


def readable(xml_form_id: str, instance_id: str) -> tuple[User, Logical]:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    require_reader(actor)
    found = submission_or_404(form, instance_id)
    require_reads(actor, found)
    return actor, found


def version_of(found: Logical, version_id: str) -> Submission:
    """The version of `found` whose instanceID is `version_id`, or 404."""
    for row in chain(db_session(), found.root):
        if row.instance_id == version_id:
            return row
    raise not_found()


def list_versions(xml_form_id: str, instance_id: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    session = db_session()
    versions = list(reversed(chain(session, found.root)))
    extras = Extras(session, versions, extended())
    return json_response([version_json(row, extras) for row in versions])


def get_version(xml_form_id: str, instance_id: str, version_id: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    row = version_of(found, version_id)
    return json_response(version_json(row, Extras(db_session(), [row], extended())))


def version_xml(xml_form_id: str, instance_id: str, version_id: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    return Response(version_of(found, version_id).xml, content_type="application/xml")


def list_comments(xml_form_id: str, instance_id: str) -> Response:
    _actor, found = readable(xml_form_id, instance_id)
    session = db_session()
    found_comments = comments(session, found.root.id)
    wanted = extended()
    actors: dict[int, User] = {}
    if wanted:
        ids = sorted({c.actor_id for c in found_comments if c.actor_id is not None})
        actors = {u.id: u for u in (session.get(User, i) for i in ids) if u is not None}
    return json_response(
        [
            comment_json(c, actors.get(c.actor_id) if c.actor_id else None, wanted)
            for c in found_comments
        ]
    )


def create_comment(xml_form_id: str, instance_id: str) -> Response:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    found = submission_or_404(form, instance_id)
    require_reviews(actor, found)
    body = json_body()
    text = body.get("body")
    if not isinstance(text, str):
        raise Problem(
            400,
            "central.missing_parameter",
            'Required parameter body missing: send {"body": "the comment\'s text"}.',
            {"field": "body"},
        )
    session = db_session()
    try:
        comment = add_comment(session, found.root.id, actor, text)
        explain_issue(session, found.current.id, text)
    except CommentError as exc:
        session.rollback()
        raise Problem(400, "central.invalid_comment", str(exc), {"field": "body"}) from None
    session.commit()
    return json_response(comment_json(comment, actor, extended()))
