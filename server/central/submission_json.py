"""Submissions, their versions and comments as Central's JSON.

A submission is named by the instanceID it was first sent with; `currentVersion` is its newest
version; `reviewState` is null until someone reviews it, "edited" after an edit.
X-Extended-Metadata adds the submitter (actor JSON) and the form version's name, to the
submission and to each version. Central's `userAgent` is null: the server keeps none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.app_state import db_session
from server.central.render import actor_json, extended, iso
from server.models import FormVersion, Submission, SubmissionComment, User
from server.models.submissions import CENTRAL_REVIEW_NAMES, ReviewState
from server.services.submission_versions import Logical


class Extras:
    """The submitters and form versions an extended answer names, each looked up once."""

    def __init__(self, session: Session, rows: Iterable[Submission], wanted: bool) -> None:
        self.wanted = wanted
        self.users: dict[int, User] = {}
        self.versions: dict[int, str] = {}
        if not wanted:
            return
        rows = list(rows)
        user_ids = {r.submitter_id for r in rows if r.submitter_id is not None}
        version_ids = {r.form_version_id for r in rows}
        if user_ids:
            found = session.scalars(select(User).where(User.id.in_(sorted(user_ids))))
            self.users = {u.id: u for u in found}
        if version_ids:
            self.versions = dict(
                session.execute(
                    select(FormVersion.id, FormVersion.version).where(
                        FormVersion.id.in_(sorted(version_ids))
                    )
                ).all()
            )

    def actor(self, user_id: int | None) -> dict[str, Any] | None:
        user = self.users.get(user_id) if user_id is not None else None
        return actor_json(user) if user is not None else None

    def add(self, body: dict[str, Any], row: Submission) -> dict[str, Any]:
        """`body` (of `row`) with the submitter and form version, when they were asked for."""
        if self.wanted:
            body["submitter"] = self.actor(row.submitter_id)
            body["formVersion"] = self.versions.get(row.form_version_id)
        return body


def _version(
    instance_id: str,
    instance_name: str | None,
    submitter_id: int | None,
    device_id: str | None,
    created_at: dt.datetime | None,
    current: bool,
) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "instanceName": instance_name,
        "submitterId": submitter_id,
        "deviceId": device_id,
        "userAgent": None,
        "createdAt": iso(created_at),
        "current": current,
    }


def version_json(row: Submission, extras: Extras) -> dict[str, Any]:
    body = _version(
        row.instance_id,
        row.instance_name,
        row.submitter_id,
        row.device_id,
        row.received_at,
        row.current,
    )
    return extras.add(body, row)


def _updated_at(found: Logical) -> dt.datetime | None:
    """When anything happened to the submission after it came in (a review, an edit, a file):
    None if nothing did, as in Central."""
    root, current = found.root, found.current
    latest = max(root.updated_at, current.updated_at)
    return None if latest <= root.received_at else latest


def submission_json(found: Logical, extras: Extras) -> dict[str, Any]:
    root, current = found.root, found.current
    body: dict[str, Any] = {
        "instanceId": root.instance_id,
        "submitterId": root.submitter_id,
        "deviceId": root.device_id,
        "userAgent": None,
        "instanceName": current.instance_name,
        "reviewState": CENTRAL_REVIEW_NAMES[current.review_state],
        "createdAt": iso(root.received_at),
        "updatedAt": iso(_updated_at(found)),
        "deletedAt": None,
    }
    if extras.wanted:
        # The submission's submitter is its first sender; its form version, its current one's.
        body["submitter"] = extras.actor(root.submitter_id)
        body["formVersion"] = extras.versions.get(current.form_version_id)
    body["currentVersion"] = version_json(current, extras)
    return body


def one_json(found: Logical) -> dict[str, Any]:
    """The submission as GET .../submissions/<instanceId> answers (extended when asked)."""
    extras = Extras(db_session(), (found.root, found.current), extended())
    return submission_json(found, extras)


def submissions_json(session: Session, found: Sequence[Logical], extended: bool) -> list[Any]:
    extras = Extras(session, [r for f in found for r in (f.root, f.current)], extended)
    return [submission_json(f, extras) for f in found]


def created_json(
    instance_id: str,
    instance_name: str | None,
    submitter_id: int,
    device_id: str | None,
    received_at: dt.datetime | None,
) -> dict[str, Any]:
    """A submission just created, from what the request knew: no read of the stored row."""
    return {
        "instanceId": instance_id,
        "submitterId": submitter_id,
        "deviceId": device_id,
        "userAgent": None,
        "instanceName": instance_name,
        "reviewState": CENTRAL_REVIEW_NAMES[ReviewState.received],
        "createdAt": iso(received_at),
        "updatedAt": None,
        "deletedAt": None,
        "currentVersion": _version(
            instance_id, instance_name, submitter_id, device_id, received_at, True
        ),
    }


def comment_json(comment: SubmissionComment, actor: User | None, extended: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "body": comment.body,
        "actorId": comment.actor_id,
        "createdAt": iso(comment.created_at),
    }
    if extended:
        body["actor"] = actor_json(actor) if actor is not None else None
    return body
