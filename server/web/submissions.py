"""Submission pages: a form's submissions (filters, stable pages, repeat counts, bulk review),
one submission (answers in form order, repeats as tables, photos, review and history), its
attachments, and an enumerator's list of submissions marked "has issues".

Who sees what: admins everything; coordinators their districts; sub-county staff their
sub-county; enumerators only what they submitted themselves. Only coordinators and admins
review or delete (server/services/review.py says so too).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.domain.roles import Role
from server.exports.layout import Table, cell, tables_for
from server.models import (
    Attachment,
    ExportJob,
    Form,
    FormVersion,
    OrgUnit,
    Submission,
    SubmissionReview,
    SubmissionRow,
    User,
)
from server.models.org import OrgLevel
from server.models.submissions import ProcessingStatus, ReviewState
from server.queries.org_units import visible_units
from server.queries.submission_filters import FilterError, SubmissionFilter
from server.services import review
from server.storage.blobs import BlobStore
from server.web.indicators import refuse
from server.web.permissions import login_required, require_user, roles_required

bp = Blueprint("submissions", __name__, url_prefix="/submissions")

PAGE_SIZE = 50
# Top-level answers shown in the table; the rest are one click away.
TABLE_FIELDS = 4
# Served inline (shown on the page); anything else is a download, never rendered by us.
INLINE_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
REVIEWERS = (Role.admin, Role.coordinator)
STATE_WORDS = {
    ReviewState.received: "Not reviewed",
    ReviewState.approved: "Approved",
    ReviewState.has_issues: "Has issues",
    ReviewState.rejected: "Rejected",
    ReviewState.edited: "Edited",
}


def user_filter(form_id: int, args: Any) -> SubmissionFilter:
    """The request's filters within what the signed-in user may see; 400 in words if bad."""
    user = require_user()
    try:
        filters = SubmissionFilter.from_args(form_id, args, user.scope.areas)
    except FilterError as exc:
        refuse(400, str(exc))
    return filters.restricted_to(user.id) if user.role is Role.enumerator else filters


def form_or_404(form_id: int) -> Form:
    form = db_session().get(Form, form_id)
    if form is None:
        refuse(404, f"There is no form with the number {form_id}.")
    return form


def visible_submission(submission_id: int) -> Submission:
    """The submission, if the signed-in user may see it: 404 if there is none, 403 if not."""
    session = db_session()
    sub = session.get(Submission, submission_id)
    if sub is None or sub.deleted_at is not None:
        refuse(404, f"There is no submission with the number {submission_id}.")
    user = require_user()
    if user.role is Role.enumerator:
        allowed = sub.submitter_id == user.id
    else:
        unit = session.get(OrgUnit, sub.org_unit_id) if sub.org_unit_id else None
        allowed = user.scope.everywhere or (unit is not None and user.scope.covers(unit.path))
    if not allowed:
        abort(403)
    return sub


@bp.get("")
@login_required
def index() -> str:
    """The forms, with how many of their submissions the user may see."""
    session = db_session()
    forms = session.scalars(select(Form).order_by(Form.title)).all()
    counts = {
        form.id: session.scalar(user_filter(form.id, {}).select(func.count(Submission.id))) or 0
        for form in forms
    }
    return render_template("submissions/forms.html", forms=forms, counts=counts)


@bp.get("/forms/<int:form_id>")
@login_required
def table(form_id: int) -> str:
    session = db_session()
    form = form_or_404(form_id)
    filters = user_filter(form.id, request.args)
    before, after = _cursor("before"), _cursor("after")
    query = (
        filters.select(Submission, OrgUnit.code, User.username)
        .outerjoin(User, User.id == Submission.submitter_id)
        .limit(PAGE_SIZE + 1)
    )
    # Keyset pages on the id (newest first): rows arriving meanwhile never shift a page.
    if after is not None:
        query = query.where(Submission.id > after).order_by(Submission.id.asc())
    else:
        if before is not None:
            query = query.where(Submission.id < before)
        query = query.order_by(Submission.id.desc())
    found = session.execute(query).all()
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    if after is not None:
        found.reverse()
    ids = [row[0].id for row in found]
    version = session.get(FormVersion, form.current_version_id) if form.current_version_id else None
    tables = tables_for(version.schema if version else [], form.xml_form_id)
    columns = tables[0].columns[:TABLE_FIELDS]
    top = {
        r.submission_id: r.data
        for r in session.scalars(
            select(SubmissionRow).where(
                SubmissionRow.submission_id.in_(ids), SubmissionRow.repeat_path == ""
            )
        )
    }
    repeats: dict[int, dict[str, int]] = defaultdict(dict)
    for sid, path, n in session.execute(
        select(SubmissionRow.submission_id, SubmissionRow.repeat_path, func.count())
        .where(SubmissionRow.submission_id.in_(ids), SubmissionRow.repeat_path != "")
        .group_by(SubmissionRow.submission_id, SubmissionRow.repeat_path)
    ):
        repeats[sid][path] = n
    newest, oldest = (ids[0], ids[-1]) if ids else (None, None)
    has_older = more if after is None else True
    has_newer = (before is not None) if after is None else more
    user = require_user()
    return render_template(
        "submissions/table.html",
        form=form,
        rows=[
            {
                "sub": sub,
                "unit": unit,
                "submitter": submitter,
                "answers": [cell(top.get(sub.id, {}).get(c.key), c) for c in columns],
                "repeats": repeats.get(sub.id, {}),
            }
            for sub, unit, submitter in found
        ],
        columns=columns,
        repeat_tables=tables[1:],
        filters=filters,
        args=filters.query_args(),
        older=url_for(".table", form_id=form.id, before=oldest, **filters.query_args())
        if has_older and oldest is not None
        else None,
        newer=url_for(".table", form_id=form.id, after=newest, **filters.query_args())
        if has_newer and newest is not None
        else None,
        units=_unit_choices(session, user),
        submitters=_submitters(session, form.id, filters)
        if user.role is not Role.enumerator
        else [],
        review_states=list(ReviewState),
        processing_states=list(ProcessingStatus),
        state_words=STATE_WORDS,
        can_review=user.role in REVIEWERS,
        can_export=user.role is not Role.enumerator,
        jobs=_recent_jobs(session, form.id, user),
    )


def _cursor(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        refuse(400, f"{name}: {value!r} is not a submission number.")
    return int(value)


def _unit_choices(session: Session, user: User) -> list[OrgUnit]:
    return [
        u
        for u in visible_units(session, user.scope)
        if u.level in (OrgLevel.district, OrgLevel.subcounty)
    ]


def _submitters(session: Session, form_id: int, filters: SubmissionFilter) -> list[User]:
    """Who submitted to this form within the user's scope (the other filters left out, so
    changing one filter does not empty the list)."""
    scoped = SubmissionFilter(form_id=form_id, scope_paths=filters.scope_paths)
    ids = scoped.select(Submission.submitter_id).distinct()
    return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.username)))


def _recent_jobs(session: Session, form_id: int, user: User) -> list[ExportJob]:
    return list(
        session.scalars(
            select(ExportJob)
            .where(ExportJob.form_id == form_id, ExportJob.requested_by == user.id)
            .order_by(ExportJob.id.desc())
            .limit(5)
        )
    )


@bp.post("/forms/<int:form_id>/review")
@roles_required(*REVIEWERS)
def bulk_review(form_id: int) -> Response:
    form = form_or_404(form_id)
    ids = _ids(request.form.getlist("submission"))
    filters = user_filter(form.id, {})
    _review(ids, filters)
    flash(f"{len(ids)} submission{'s' if len(ids) != 1 else ''} marked “{_words()}”.", "success")
    back = request.form.get("back", "")
    # Only back to this form's table (no open redirect through a crafted field).
    prefix = url_for(".table", form_id=form.id)
    return redirect(back if back.startswith(prefix) else prefix)


def _ids(values: list[str]) -> list[int]:
    if not values:
        refuse(400, "Select at least one submission.")
    if any(not v.isdigit() or len(v) > 18 for v in values):
        refuse(400, "The selection names something that is not a submission number.")
    return [int(v) for v in values]


def _words() -> str:
    value = request.form.get("state")
    return next((w for s, w in STATE_WORDS.items() if s.value == value), value or "")


def _review(ids: list[int], filters: SubmissionFilter) -> None:
    """Apply the posted decision to `ids`, all of which must be visible through `filters`."""
    session = db_session()
    try:
        state_value = review.parse_state(request.form.get("state"))
    except review.ReviewError as exc:
        refuse(400, exc.message)
    visible = set(session.scalars(filters.select(Submission.id).where(Submission.id.in_(ids))))
    if visible != set(ids):
        # Outside the user's districts or not of this form: refused, nothing changed.
        abort(403)
    try:
        review.set_review_state(
            session, ids, state_value, request.form.get("comment"), require_user()
        )
    except review.ReviewError as exc:
        session.rollback()
        if exc.forbidden:
            abort(403)
        refuse(400, exc.message)
    session.commit()


@bp.get("/<int:submission_id>")
@login_required
def detail(submission_id: int) -> str:
    session = db_session()
    sub = visible_submission(submission_id)
    form = session.get(Form, sub.form_id)
    version = session.get(FormVersion, sub.form_version_id)
    assert form is not None and version is not None
    tables = tables_for(version.schema, form.xml_form_id)
    rows: dict[str, list[SubmissionRow]] = defaultdict(list)
    for row in session.scalars(
        select(SubmissionRow)
        .where(SubmissionRow.submission_id == sub.id)
        .order_by(SubmissionRow.repeat_path, SubmissionRow.position)
    ):
        rows[row.repeat_path].append(row)
    reviews = session.execute(
        select(SubmissionReview, User.username)
        .outerjoin(User, User.id == SubmissionReview.reviewer_id)
        .where(SubmissionReview.submission_id == sub.id)
        .order_by(SubmissionReview.created_at.desc(), SubmissionReview.id.desc())
    ).all()
    user = require_user()
    return render_template(
        "submissions/detail.html",
        sub=sub,
        form=form,
        version=version,
        unit=session.get(OrgUnit, sub.org_unit_id) if sub.org_unit_id else None,
        submitter=session.get(User, sub.submitter_id) if sub.submitter_id else None,
        top=_display(tables[0], rows.get("", [])[:1]),
        repeats=[(t, _display(t, rows.get(t.repeat_path, []))) for t in tables[1:]],
        attachments={a.name: a for a in sub.attachments},
        inline_images=INLINE_IMAGES,
        reviews=reviews,
        review_states=review.REVIEW_STATES,
        state_words=STATE_WORDS,
        can_review=user.role in REVIEWERS and sub.current,
    )


def _display(table: Table, rows: list[SubmissionRow]) -> list[dict[str, Any]]:
    return [
        {
            "position": row.position,
            "parent": row.parent_position,
            "cells": [(c, cell(row.data.get(c.key), c)) for c in table.columns],
        }
        for row in rows
    ]


@bp.post("/<int:submission_id>/review")
@roles_required(*REVIEWERS)
def review_one(submission_id: int) -> Response:
    sub = visible_submission(submission_id)
    filters = user_filter(sub.form_id, {})
    _review([sub.id], filters)
    flash(f"Submission marked “{_words()}”.", "success")
    return redirect(url_for(".detail", submission_id=sub.id))


@bp.post("/<int:submission_id>/delete")
@roles_required(*REVIEWERS)
def delete(submission_id: int) -> Response:
    sub = visible_submission(submission_id)
    session = db_session()
    try:
        review.soft_delete(session, [sub.id], require_user(), request.form.get("comment"))
    except review.ReviewError as exc:
        session.rollback()
        refuse(403 if exc.forbidden else 400, exc.message)
    session.commit()
    flash(f"Submission {sub.instance_id} deleted: it no longer counts anywhere.", "success")
    return redirect(url_for(".table", form_id=sub.form_id))


@bp.get("/<int:submission_id>/attachments/<path:name>")
@login_required
def attachment(submission_id: int, name: str) -> Response:
    sub = visible_submission(submission_id)
    found = db_session().scalar(
        select(Attachment).where(Attachment.submission_id == sub.id, Attachment.name == name)
    )
    blobs = BlobStore(state().settings.attachments_dir)
    if found is None or not blobs.exists(found.sha256):
        refuse(404, f"Submission {sub.instance_id} has no attachment named {name!r}.")
    inline = found.content_type in INLINE_IMAGES
    response = send_file(
        blobs.path(found.sha256),
        mimetype=found.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=found.name,
        etag=found.sha256,
        conditional=True,
        max_age=3600,
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/issues")
@login_required
def issues() -> str:
    """What the signed-in user sent that a reviewer marked "has issues", with the reviewer's
    latest comment: the list an enumerator opens on a phone."""
    session = db_session()
    user = require_user()
    latest = (
        select(func.max(SubmissionReview.id))
        .where(SubmissionReview.submission_id == Submission.id)
        .correlate(Submission)
        .scalar_subquery()
    )
    found = session.execute(
        select(Submission, Form.title, SubmissionReview.comment, SubmissionReview.created_at)
        .join(Form, Form.id == Submission.form_id)
        .outerjoin(SubmissionReview, SubmissionReview.id == latest)
        .where(
            Submission.submitter_id == user.id,
            Submission.review_state == ReviewState.has_issues,
            Submission.deleted_at.is_(None),
            Submission.current.is_(True),
        )
        .order_by(Submission.id.desc())
        .limit(200)
    ).all()
    return render_template("submissions/issues.html", found=found)
