"""The SQL of a repeat's table in a form's OData feed: pages of its rows in their
submission's order and then in document order, the rows of some repeats of a page's
submissions (the places that name nested rows, the answers $expand=* nests) and which repeats
a row has rows of. The submissions a feed covers are server/queries/odata_feed.py's.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server.db import among, is_postgresql
from server.queries.odata_feed import (
    OWN,
    ROWS,
    TOP,
    FeedQuery,
    Ordering,
    S,
    add_roots,
    base_conditions,
    core,
    decoded,
    own_join,
    text_of,
)
from server.queries.odata_filter import Compiled


def repeats_present(
    session: Session, submission_ids: Sequence[int], repeat_paths: Sequence[str]
) -> set[tuple[int, str, int | None]]:
    """Which (submission, repeat, parent row position) have at least one row: a row links
    to a repeat's table only where it has rows of it, as in Central."""
    if not submission_ids or not repeat_paths:
        return set()
    query = (
        select(ROWS.c.submission_id, ROWS.c.repeat_path, ROWS.c.parent_position)
        .where(
            among(ROWS.c.submission_id, submission_ids, is_postgresql(session)),
            ROWS.c.repeat_path.in_(repeat_paths),
        )
        .distinct()
    )
    return {(r[0], r[1], r[2]) for r in core(session).execute(query)}


@dataclass
class RepeatData:
    """A submission's rows of some repeats: their places and answers."""

    rows: dict[str, list[tuple[int, int | None, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def places(self) -> Iterable[tuple[str, int, int | None]]:
        for path, rows in self.rows.items():
            for position, parent, _ in rows:
                yield path, position, parent


def repeat_rows(
    session: Session,
    submission_ids: Sequence[int],
    repeat_paths: Sequence[str],
    with_data: bool,
) -> dict[int, RepeatData]:
    """The rows of these repeats of these submissions, in document order."""
    out: dict[int, RepeatData] = defaultdict(RepeatData)
    if not submission_ids or not repeat_paths:
        return out
    columns = [ROWS.c.submission_id, ROWS.c.repeat_path, ROWS.c.position, ROWS.c.parent_position]
    if with_data:
        columns.append(text_of(ROWS.c.data))
    query = (
        select(*columns)
        .where(
            among(ROWS.c.submission_id, submission_ids, is_postgresql(session)),
            ROWS.c.repeat_path.in_(repeat_paths),
        )
        .order_by(ROWS.c.submission_id, ROWS.c.repeat_path, ROWS.c.position)
    )
    for row in core(session).execute(query):
        data = decoded(row[4]) if with_data else {}
        out[row[0]].rows[row[1]].append((row[2], row[3], data))
    return out


# --- a repeat's table ------------------------------------------------------------------------


@dataclass
class RepeatRow:
    submission_id: int
    received_at: dt.datetime
    instance_id: str
    supersedes_id: int | None
    position: int
    parent_position: int | None
    data: dict[str, Any]
    # The submission's first instanceID when it was edited (Central's __id of it).
    root_instance_id: str | None = None
    root_received_at: dt.datetime | None = None
    edits: int = 0

    @property
    def id(self) -> int:
        return self.submission_id


def _repeat_query(query: FeedQuery, compiled: Compiled | None, repeat_path: str) -> Select[Any]:
    q = (
        select(
            S.c.id,
            S.c.received_at,
            S.c.instance_id,
            S.c.supersedes_id,
            OWN.c.position,
            OWN.c.parent_position,
            text_of(OWN.c.data),
        )
        .select_from(S)
        .join(OWN, own_join(OWN, repeat_path))
    )
    if compiled is not None and compiled.uses_top_rows:
        q = q.outerjoin(TOP, own_join(TOP, ""))
    return q.where(*base_conditions(query, compiled))


def repeat_page(
    session: Session,
    query: FeedQuery,
    compiled: Compiled | None,
    order: Ordering,
    repeat_path: str,
    *,
    after: tuple[str, int, int] | None,
    offset: int,
    limit: int,
) -> list[RepeatRow]:
    """Up to `limit` rows of the repeat, after the keyset (sort value, submission, position)
    or `offset` rows. A keyset is read in two steps, the rest of its submission and then the
    submissions after it, each of which the indexes reach directly."""
    if limit <= 0:
        return []
    base = _repeat_query(query, compiled, repeat_path)
    rows: list[Any] = []
    if after is not None:
        sort_value, sub_id, position = after
        rows = list(
            core(session).execute(
                base.where(S.c.id == sub_id, OWN.c.position > position)
                .order_by(OWN.c.position)
                .limit(limit)
            )
        )
        base = base.where(order.after(sort_value, sub_id))
    if len(rows) < limit and offset:
        rows += _after_offset(session, base, order, repeat_path, offset, limit - len(rows))
    elif len(rows) < limit:
        rows += list(
            core(session).execute(
                base.order_by(*order.keys(OWN.c.position)).limit(limit - len(rows))
            )
        )
    out = [RepeatRow(*r[:6], decoded(r[6]) or {}) for r in rows]
    add_roots(session, out)
    return out


def _after_offset(
    session: Session, base: Select[Any], order: Ordering, repeat_path: str, offset: int, limit: int
) -> list[Any]:
    """The page `offset` rows in: its rows' places first, from the indexes alone, then their
    answers by submission. In one statement PostgreSQL would turn every skipped row's answers
    into text too, to throw them away."""
    keys = [
        (r[0], r[1])
        for r in core(session).execute(
            base.with_only_columns(S.c.id, OWN.c.position)
            .order_by(*order.keys(OWN.c.position))
            .offset(offset)
            .limit(limit)
        )
    ]
    if not keys:
        return []
    wanted = set(keys)
    found = {
        (r[0], r[4]): r
        for r in core(session).execute(
            base.where(among(S.c.id, sorted({k[0] for k in keys}), is_postgresql(session)))
        )
        if (r[0], r[4]) in wanted
    }
    return [found[k] for k in keys if k in found]


def count_repeat(
    session: Session, query: FeedQuery, compiled: Compiled | None, repeat_path: str
) -> int:
    q = _repeat_query(query, compiled, repeat_path).with_only_columns(func.count())
    return int(core(session).scalar(q) or 0)
