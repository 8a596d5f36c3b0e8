"""The SQL of a form's OData feed: which submissions it covers, and pages of them (their
metadata and top-level answers) and their count, read from the submissions table and the
worker's flattened rows (never from XML). A repeat's table: server/queries/odata_repeats.py.

Order and paging. Rows come newest first (submissionDate, then the row id), as Central lists
them, or by __id; a repeat's rows in their submission's order, then in document order. A page
starts after a keyset (the last row's sort values, carried in $skiptoken), which the indexes
reach directly however deep the page, or after an offset ($skip). The indexes
(migration 0012): ix_submissions_feed (form_id, received_at, id) carrying what the conditions
read (current, deleted_at, org_unit_id, form_version_id) so a page of ids or a count is read
from the index alone, and ix_submission_rows_place (submission_id, repeat_path, position), so
a submission's rows of one repeat come in order from one probe.

An edited submission is named and dated by its first version (as Central shows it:
server/services/odata_rows.py), but ordered, paged and filtered on __system/submissionDate by
when its current version came in: its row carries that date, and following the chain of every
row to its first would cost every page a walk for what edits, rare here, change.

Which submissions: the form's current versions (an edit replaces its original), not deleted
(unless the filter names __system/deletedAt), inside the caller's scope (their org units and
everything under them), of the feed's form versions. A submission the worker has not
processed yet (or found invalid) is listed with its metadata and no answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from server.db import among, is_postgresql
from server.models import Attachment, FormVersion, OrgUnit, Submission, SubmissionRow, User
from server.models.org import under
from server.queries.odata_filter import Compiled

S = Submission.__table__
ROWS = SubmissionRow.__table__
# The table's own rows, and a repeat row's submission's top-level row (for $root/ filters).
OWN = ROWS.alias("own")
TOP = ROWS.alias("top_row")
# Edits of one submission, at most (a longer chain would be a bug elsewhere).
MAX_CHAIN = 1_000


@dataclass(frozen=True)
class FeedQuery:
    """Which submissions a feed covers."""

    form_id: int
    # Org-unit paths the caller may see; None for everywhere (admins).
    scope_paths: tuple[str, ...] | None
    # The draft feed: only submissions of this version. The published feed: none of these.
    version_id: int | None = None
    excluded_versions: tuple[int, ...] = ()
    # One submission (Submissions('<id>') and the tables under it), by row id.
    submission_id: int | None = None


@dataclass(frozen=True)
class Ordering:
    """ "submissionDate" or "id", and whether it descends."""

    key: str = "submissionDate"
    descending: bool = True

    def column(self) -> Any:
        return S.c.received_at if self.key == "submissionDate" else S.c.instance_id

    def keys(self, *extra: Any) -> list[Any]:
        columns = [self.column(), S.c.id, *extra]
        return [c.desc() if self.descending else c.asc() for c in columns[:2]] + list(extra)

    def value(self, received_at: dt.datetime, instance_id: str) -> str:
        return received_at.isoformat() if self.key == "submissionDate" else instance_id

    def bound(self, text: str) -> Any:
        if self.key == "submissionDate":
            return literal(dt.datetime.fromisoformat(text), type_=S.c.received_at.type)
        return literal(text)

    def after(self, sort_value: str, row_id: int) -> ColumnElement[bool]:
        """SQL: the submission comes after the one with these sort values."""
        here = tuple_(self.column(), S.c.id)
        there = tuple_(self.bound(sort_value), literal(row_id))
        return here < there if self.descending else here > there


def core(session: Session) -> Connection:
    """The session's connection: these statements read plain rows, and the ORM's result
    handling (for objects they never load) cost a page a third of its database time."""
    return session.connection()


def base_conditions(query: FeedQuery, compiled: Compiled | None) -> list[ColumnElement[bool]]:
    parts: list[ColumnElement[bool]] = [S.c.form_id == query.form_id, S.c.current.is_(True)]
    if compiled is None or not compiled.mentions_deleted:
        parts.append(S.c.deleted_at.is_(None))
    if query.scope_paths is not None:
        units = select(OrgUnit.id).where(under(OrgUnit.path, query.scope_paths))
        parts.append(S.c.org_unit_id.in_(units))
    if query.version_id is not None:
        parts.append(S.c.form_version_id == query.version_id)
    elif query.excluded_versions:
        parts.append(S.c.form_version_id.notin_(query.excluded_versions))
    if query.submission_id is not None:
        parts.append(S.c.id == query.submission_id)
    if compiled is not None:
        parts.append(compiled.condition)
    return parts


def own_join(rows: Any, repeat_path: str) -> ColumnElement[bool]:
    return and_(rows.c.submission_id == S.c.id, rows.c.repeat_path == repeat_path)


# --- Submissions -----------------------------------------------------------------------------


@dataclass
class MainRow:
    id: int
    instance_id: str
    received_at: dt.datetime
    updated_at: dt.datetime
    submitter_id: int | None
    submitter_name: str | None
    device_id: str | None
    review_state: str
    deleted_at: dt.datetime | None
    supersedes_id: int | None
    form_version: str | None
    data: dict[str, Any] | None
    attachments_present: int = 0
    # Set for an edited submission from its first version: its id and date (Central's).
    root_instance_id: str | None = None
    root_received_at: dt.datetime | None = None
    edits: int = 0


def _ids_query(
    query: FeedQuery, compiled: Compiled | None, order: Ordering, own_path: str | None
) -> Select[Any]:
    ids = select(S.c.id, S.c.received_at, S.c.instance_id).select_from(S)
    if compiled is not None and compiled.uses_own_rows and own_path is not None:
        ids = ids.outerjoin(OWN, own_join(OWN, own_path))
    return ids.where(*base_conditions(query, compiled))


def main_page(
    session: Session,
    query: FeedQuery,
    compiled: Compiled | None,
    order: Ordering,
    *,
    after: tuple[str, int] | None,
    offset: int,
    limit: int,
) -> list[MainRow]:
    """Up to `limit` submissions in order, after the keyset `after` or `offset` rows."""
    if limit <= 0:
        return []
    ids = _ids_query(query, compiled, order, "").with_only_columns(S.c.id)
    if after is not None:
        ids = ids.where(order.after(*after))
    # The page's ids first, from the index alone however far the offset; then their rows by
    # primary key. As one statement the planner would join the page back to every submission
    # of the form by hash.
    page = list(core(session).scalars(ids.order_by(*order.keys()).offset(offset).limit(limit)))
    if not page:
        return []
    top = ROWS.alias("top_data")
    name = func.coalesce(func.nullif(User.display_name, ""), User.username)
    found = {
        r[0]: r
        for r in core(session).execute(
            select(
                S.c.id,
                S.c.instance_id,
                S.c.received_at,
                S.c.updated_at,
                S.c.submitter_id,
                name,
                S.c.device_id,
                S.c.review_state,
                S.c.deleted_at,
                S.c.supersedes_id,
                FormVersion.version,
                text_of(top.c.data),
            )
            .select_from(S)
            .outerjoin(top, own_join(top, ""))
            .outerjoin(User, User.id == S.c.submitter_id)
            .outerjoin(FormVersion, FormVersion.id == S.c.form_version_id)
            .where(among(S.c.id, page, is_postgresql(session)))
        )
    }
    rows = [found[i] for i in page if i in found]
    out = [MainRow(*(r[:7]), _state(r[7]), *r[8:11], decoded(r[11])) for r in rows]
    _add_attachments(session, out)
    add_roots(session, out)
    return out


def _state(value: Any) -> str:
    return getattr(value, "value", value)


def text_of(data: Any) -> Any:
    """The flattened answers as their JSON text, decoded here by orjson: decoding them with
    the json module (as the column type would) took a third of a page's time."""
    return cast(data, Text)


def decoded(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def count_main(session: Session, query: FeedQuery, compiled: Compiled | None) -> int:
    counted = _ids_query(query, compiled, Ordering(), "").with_only_columns(func.count())
    return int(core(session).scalar(counted) or 0)


def _add_attachments(session: Session, rows: list[MainRow]) -> None:
    if not rows:
        return
    present = dict(
        core(session)
        .execute(
            select(Attachment.submission_id, func.count(Attachment.id))
            .where(among(Attachment.submission_id, [r.id for r in rows], is_postgresql(session)))
            .group_by(Attachment.submission_id)
        )
        .all()
    )
    for row in rows:
        row.attachments_present = int(present.get(row.id, 0))


def add_roots(session: Session, rows: Sequence[Any]) -> None:
    """For each edited submission among `rows` (`supersedes_id` set), its first version's
    instanceID and date and how many edits followed it: Central names and dates a submission
    by its first version. Edits are rare; a few lookups serve a page."""
    pending = {r.id: r.supersedes_id for r in rows if r.supersedes_id is not None}
    depth = 0
    found: dict[int, tuple[str, dt.datetime, int]] = {}
    while pending and depth < MAX_CHAIN:
        depth += 1
        parents = {
            row.id: row
            for row in core(session).execute(
                select(S.c.id, S.c.supersedes_id, S.c.instance_id, S.c.received_at).where(
                    among(S.c.id, set(pending.values()), is_postgresql(session))
                )
            )
        }
        following: dict[int, int] = {}
        for sub_id, parent_id in pending.items():
            parent = parents.get(parent_id)
            if parent is None:
                continue
            if parent.supersedes_id is None:
                found[sub_id] = (parent.instance_id, parent.received_at, depth)
            else:
                following[sub_id] = parent.supersedes_id
        pending = following
    for row in rows:
        if row.id in found:
            row.root_instance_id, row.root_received_at, row.edits = found[row.id]


def current_row_of(session: Session, form_id: int, instance_id: str) -> int | None:
    """The current version's row id of the submission first sent as (or now being)
    `instance_id`: Central names a submission by its first instanceID."""
    row = (
        core(session)
        .execute(
            select(S.c.id, S.c.current).where(
                S.c.form_id == form_id, S.c.instance_id == instance_id
            )
        )
        .first()
    )
    steps = 0
    while row is not None and not row.current and steps < MAX_CHAIN:
        row = (
            core(session)
            .execute(select(S.c.id, S.c.current).where(S.c.supersedes_id == row.id))
            .first()
        )
        steps += 1
    return row.id if row is not None and row.current else None
