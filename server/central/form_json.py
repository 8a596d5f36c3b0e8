"""Forms, versions and form attachments as Central's JSON.

form        projectId, xmlFormId, name, version, hash (md5 of the XForm served), state,
            enketoId and keyId (null: no Enketo, no managed encryption here), createdAt,
            updatedAt (the last recorded change, null while there was none after
            creation), publishedAt (null for a draft)
extended    + submissions, lastSubmission, reviewStates {received, hasIssues, edited}
              (of the submissions the caller may see), createdBy (an actor, null for a
              form the server published by itself), excelContentType, entityRelated
attachment  name, type (image | audio | video | file), hash, exists, blobExists,
            datasetExists (false: no datasets here), updatedAt
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from sqlalchemy.orm import Session

from server.central.form_access import FormView
from server.central.render import PROJECT_ID, actor_json, iso
from server.domain.roles import Role
from server.domain.xform.xform_files import ExpectedMedia, expected_media
from server.models import FormVersion, MediaFile, User
from server.models.forms import VersionState
from server.queries.form_summaries import (
    FormHistory,
    SubmissionSummary,
    form_histories,
    submission_summaries,
)

EXCEL_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
}
# Central's reviewStates of a form, by our review state's value.
_REVIEW_STATES = {"received": "received", "has_issues": "hasIssues", "edited": "edited"}


def excel_type(version: FormVersion) -> str | None:
    if version.xlsform_filename is None:
        return None
    return EXCEL_TYPES.get(PurePath(version.xlsform_filename).suffix.lower())


def version_json(
    view: FormView, version: FormVersion, history: FormHistory | None = None
) -> dict[str, Any]:
    """The form as Central describes it through one of its versions."""
    changed = history is not None and history.changes > 1
    return {
        "projectId": PROJECT_ID,
        "xmlFormId": view.form.xml_form_id,
        "name": version.title or None,
        "version": version.version,
        "enketoId": None,
        "enketoOnceId": None,
        "hash": version.md5,
        "keyId": None,
        "state": view.state,
        "publishedAt": iso(version.published_at)
        if version.state is not VersionState.draft
        else None,
        "createdAt": iso(view.form.created_at),
        "updatedAt": iso(history.last_change) if changed and history is not None else None,
    }


def _extended_fields(
    version: FormVersion, summary: SubmissionSummary, history: FormHistory | None
) -> dict[str, Any]:
    states = dict.fromkeys(_REVIEW_STATES.values(), 0)
    for state, count in summary.by_review_state.items():
        name = _REVIEW_STATES.get(state.value)
        if name is not None:
            states[name] += count
    creator = history.created_by if history is not None else None
    return {
        "submissions": summary.count,
        "lastSubmission": iso(summary.last),
        "reviewStates": states,
        "createdBy": actor_json(creator) if creator is not None else None,
        "excelContentType": excel_type(version),
        "entityRelated": False,
    }


def _visible_submissions(actor: User) -> tuple[tuple[str, ...] | None, int | None]:
    """The scope paths and submitter whose submissions the caller may count: an enumerator
    sees their own, everyone else the submissions of their areas."""
    submitter = actor.id if actor.role is Role.enumerator else None
    return actor.scope.areas, submitter


def forms_json(
    actor: User,
    views: Sequence[FormView],
    session: Session,
    extended_fields: bool,
    draft: bool = False,
) -> list[dict[str, Any]]:
    """Each form through its shown version (or, with `draft`, its draft)."""
    histories = form_histories(session, [v.form.xml_form_id for v in views])
    summaries: dict[int, SubmissionSummary] = {}
    if extended_fields:
        scope_paths, submitter = _visible_submissions(actor)
        summaries = submission_summaries(
            session, [v.form.id for v in views], scope_paths, submitter
        )
    out = []
    for view in views:
        version = view.draft if draft and view.draft is not None else view.shown
        history = histories.get(view.form.xml_form_id)
        body = version_json(view, version, history)
        if draft:
            # No draft testing links here (Central's /v1/test/<draftToken>/...).
            body["draftToken"] = None
        if extended_fields:
            summary = (
                SubmissionSummary()
                if version.state is VersionState.draft
                else summaries.get(view.form.id, SubmissionSummary())
            )
            body.update(_extended_fields(version, summary, history))
        out.append(body)
    return out


def attachments_json(version: FormVersion) -> list[dict[str, Any]]:
    """The files the version's XForm expects, each with whether the server has it."""
    stored = {m.filename: m for m in version.media}
    return [attachment_json(item, stored.get(item.name)) for item in expected_media(version.xform)]


def attachment_json(item: ExpectedMedia, media: MediaFile | None) -> dict[str, Any]:
    return {
        "name": item.name,
        "type": item.kind,
        "hash": media.md5 if media is not None else None,
        "exists": media is not None,
        "blobExists": media is not None,
        "datasetExists": False,
        "updatedAt": iso(media.updated_at) if media is not None else None,
    }
