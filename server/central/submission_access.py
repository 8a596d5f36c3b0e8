"""Finding a form's submission for a Central API request, and who may do what with it.

    read (list, get, XML, versions, attachments, comments)   admin, coordinator, sub-county
                                                              staff; enumerators and app users
                                                              read none (Central's data
                                                              collectors cannot list)
    review, comment                                           admin, coordinator
    edit (PUT), add or remove a file                          its sender, or a reviewer
                                                              (server/services/ingest_edits.py)

and each only for a submission whose place lies in the caller's areas (its current version's
place; one without a place is an admin's alone). A role that may not do a thing at all is 403;
so is a submission outside the caller's areas, as on the submission pages: a list never shows
it, and naming it by its instanceID is refused, not hidden. An unknown form or submission, or a
deleted one, is 404.
"""

from __future__ import annotations

from flask import request
from sqlalchemy import select

from server.app_state import db_session
from server.domain.problems import Problem
from server.domain.roles import READERS
from server.domain.scope import Scope
from server.models import Form, User
from server.services.ingest_edits import REVIEWERS, Editor, may_edit
from server.services.submission_versions import Logical, logical

NOT_FOUND = "Could not find the resource you were looking for."
XML_TYPES = frozenset({"application/xml", "text/xml"})


def not_found() -> Problem:
    return Problem(404, "central.not_found", NOT_FOUND)


def form_or_404(xml_form_id: str) -> Form:
    form = db_session().scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise not_found()
    return form


def submission_or_404(form: Form, instance_id: str) -> Logical:
    found = logical(db_session(), form.id, instance_id)
    if found is None:
        raise not_found()
    return found


def covers(scope: Scope, place_path: str | None) -> bool:
    """Whether a submission at `place_path` (None: no place) lies in `scope`."""
    if place_path is None:
        return scope.everywhere
    return scope.covers(place_path)


def require_reader(actor: User) -> None:
    if actor.app_user or actor.role not in READERS:
        raise Problem(
            403,
            "central.insufficient_rights",
            "Your account sends submissions but may not read them.",
        )


def require_reads(actor: User, found: Logical) -> None:
    require_reader(actor)
    if not covers(actor.scope, found.place_path):
        raise _outside(found)


def require_reviews(actor: User, found: Logical) -> None:
    if actor.app_user or actor.role not in REVIEWERS:
        raise Problem(
            403,
            "central.insufficient_rights",
            "Only coordinators and admins may review or comment on submissions.",
        )
    if not covers(actor.scope, found.place_path):
        raise _outside(found)


def may_change(actor_id: int, editor: Editor, found: Logical) -> bool:
    """Whether the caller may edit the submission or change its files."""
    return may_edit(actor_id, editor, found.current.submitter_id, found.place_path)


def require_changes(actor: User, found: Logical) -> None:
    if not may_change(actor.id, Editor(actor.role, actor.scope), found):
        raise Problem(
            403,
            "submission.edit_forbidden",
            f"You may not change submission {found.root.instance_id}: only the person who sent "
            "it or a coordinator of its area may.",
        )


def _outside(found: Logical) -> Problem:
    return Problem(
        403,
        "central.out_of_scope",
        f"Submission {found.root.instance_id} lies outside the area your account covers.",
    )


def xml_body(limit: int) -> bytes:
    """The request's raw XML body (at most `limit` bytes), or a 4xx saying what is wrong."""
    if request.mimetype not in XML_TYPES:
        raise Problem(
            415,
            "central.unsupported_media_type",
            "Send the submission's XML as the body, with Content-Type application/xml "
            f"(or text/xml), not {request.mimetype or 'no Content-Type'}.",
        )
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise Problem(
            413,
            "submission.xml_too_large",
            f"The submission's XML is larger than {limit} bytes.",
        )
    return data
