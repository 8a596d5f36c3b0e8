"""Reviewing a submission through the Central API (registered by server/central/submissions.py).

    PATCH .../submissions/<instanceId>    {"reviewState": "approved" | "hasIssues" | "rejected"}

through server/services/review.py, so each state keeps its meaning here (a rejection takes the
submission out of the indicators). Central's X-Action-Notes header (URI-encoded, as Central
decodes it) becomes the review's comment. "hasIssues" may come without one, as on Central,
whose clients (pyodk's `review(..., comment=)`) send the reason as a comment just after: that
comment then becomes the review's reason (server/services/review.py `explain_issue`), since
the enumerator reads it to know what to fix. Only a reviewer of the submission's area may
(server/central/submission_access.py).
"""

from __future__ import annotations

import urllib.parse

from flask import Blueprint, Response, request

from server.app_state import db_session
from server.central.auth import require_actor
from server.central.render import json_response
from server.central.sessions import json_body
from server.central.submission_access import form_or_404, require_reviews, submission_or_404
from server.central.submission_json import one_json
from server.domain.problems import Problem
from server.models.submissions import ReviewState
from server.services import review

# Central's review states a PATCH may set, by their names there.
REVIEW_STATES = {
    "approved": ReviewState.approved,
    "hasIssues": ReviewState.has_issues,
    "rejected": ReviewState.rejected,
}


def register(bp: Blueprint, one: str) -> None:
    bp.add_url_rule(one, "submission_review", review_submission, methods=["PATCH"])


def review_submission(xml_form_id: str, instance_id: str) -> Response:
    actor = require_actor()
    form = form_or_404(xml_form_id)
    found = submission_or_404(form, instance_id)
    require_reviews(actor, found)
    body = json_body()
    if "reviewState" not in body:
        raise Problem(
            400,
            "central.missing_parameter",
            "Required parameter reviewState missing.",
            {"field": "reviewState"},
        )
    value = body["reviewState"]
    state = REVIEW_STATES.get(value) if isinstance(value, str) else None
    if state is None:
        raise Problem(
            400,
            "central.unexpected_value",
            f"Unexpected reviewState value {value!r}; it must be one of "
            f"{', '.join(REVIEW_STATES)} (null and edited are set by the server: a new "
            "submission has none, an edit makes it edited).",
            {"field": "reviewState", "value": value if isinstance(value, str) else None},
        )
    notes = _action_notes()
    session = db_session()
    try:
        review.set_review_state(
            session, [found.current.id], state, notes, actor, reason_required=False
        )
    except review.ReviewError as exc:
        session.rollback()
        status = 403 if exc.forbidden else 400
        raise Problem(status, "submission.review_refused", exc.message) from None
    session.commit()
    return json_response(one_json(submission_or_404(form, instance_id)))


def _action_notes() -> str | None:
    """Central's X-Action-Notes header: URI-encoded text (Central decodes it so)."""
    raw = request.headers.get("X-Action-Notes")
    if raw is None:
        return None
    try:
        text = urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise Problem(
            400,
            "central.invalid_header",
            "The X-Action-Notes header is not URI-encoded UTF-8 text.",
            {"field": "X-Action-Notes"},
        ) from None
    if "\x00" in text:
        raise Problem(
            400,
            "central.invalid_header",
            "The X-Action-Notes header contains a NUL character, which the server cannot keep.",
            {"field": "X-Action-Notes"},
        )
    return text.strip() or None
