"""A form's OData feed: which form version's tables it has, and a page of one table for a
request's options (server/domain/odata/options.py), read by server/queries/odata_feed.py and
written by server/services/odata_rows.py.

The published feed has the tables of the form's current version (the newest published one if
none is current), as Central; answers to questions that version dropped are not in it. The
draft feed (draft.svc) has those of the form's draft, and the submissions made to the draft
(none, while the receiver refuses them, but the feed is Central's).

Paging: at most MAX_PAGE rows a response; when more rows follow, `next_token` is the
$skiptoken of the next page: the order and the last row's keyset, which stays right however
the rows before it change (Central puts the last instanceID or repeat id in it; so do we,
with the keyset beside it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from server.domain.odata.ids import Tree
from server.domain.odata.model import FeedModel, Table, build_model
from server.domain.odata.options import Options
from server.domain.odata.selection import resolve_order, resolve_select
from server.domain.odata.skiptoken import invalid_skiptoken, make_skiptoken
from server.domain.problems import Problem
from server.models import Form, FormVersion
from server.models.forms import VersionState
from server.queries import odata_feed as q
from server.queries import odata_repeats as rq
from server.queries.odata_filter import Compiled, Sources, compile_filter
from server.services.odata_rows import Renderer


def not_found() -> Problem:
    return Problem(404, "central.not_found", "Could not find the resource you were looking for.")


@dataclass(frozen=True)
class Feed:
    form_id: int
    xml_form_id: str
    model: FeedModel
    query: q.FeedQuery
    draft: bool


@dataclass
class Page:
    value: list[dict[str, Any]]
    next_token: str | None = None
    count: int | None = None


def open_feed(
    session: Session, xml_form_id: str, scope_paths: tuple[str, ...] | None, *, draft: bool
) -> Feed:
    """The feed of the form (its draft's with `draft`); 404 if there is none."""
    if "\x00" in xml_form_id or len(xml_form_id) > 255:
        raise not_found()
    form = session.scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None:
        raise not_found()
    versions = list(
        session.execute(
            select(FormVersion.id, FormVersion.state)
            .where(FormVersion.form_id == form.id)
            .order_by(FormVersion.id)
        )
    )
    drafts = [v for v in versions if v.state == VersionState.draft]
    published = [v for v in versions if v.state != VersionState.draft]
    if draft:
        if not drafts:
            raise not_found()
        version = drafts[-1]
        query = q.FeedQuery(form.id, scope_paths, version_id=version.id)
    else:
        if not published:
            raise not_found()
        version = next((v for v in published if v.id == form.current_version_id), published[-1])
        query = q.FeedQuery(form.id, scope_paths, excluded_versions=tuple(v.id for v in drafts))
    schema = session.scalar(select(FormVersion.schema).where(FormVersion.id == version.id))
    model = build_model(form.xml_form_id, schema or [])
    return Feed(form.id, form.xml_form_id, model, query, draft)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _compile(session: Session, feed: Feed, table: Table, options: Options) -> Compiled | None:
    if options.filter is None:
        return None
    sources = Sources(
        q.S,
        q.OWN,
        q.TOP,
        _dialect(session),
        current_row=lambda instance_id: q.current_row_of(session, feed.form_id, instance_id),
    )
    return compile_filter(options.filter, table, feed.model.main, sources)


def _keyset(token: dict[str, Any] | None, ordering: q.Ordering, repeat: bool) -> Any:
    if token is None:
        return None
    keys = token.get("k")
    expected = 3 if repeat else 2
    if (
        token.get("o") != f"{ordering.key} {'desc' if ordering.descending else 'asc'}"
        or not isinstance(keys, list)
        or len(keys) != expected
        or not isinstance(keys[0], str)
        or not all(isinstance(k, int) and not isinstance(k, bool) for k in keys[1:])
        or any(abs(k) >= 2**63 for k in keys[1:])
    ):
        raise invalid_skiptoken()
    if ordering.key == "submissionDate":
        try:
            ordering.bound(keys[0])
        except ValueError:
            raise invalid_skiptoken() from None
    return tuple(keys)


def read_table(
    session: Session,
    feed: Feed,
    table_name: str,
    options: Options,
    *,
    submission_id: int | None = None,
    parent_id: str | None = None,
) -> Page:
    """One page of a table; within one submission (Submissions('<id>')/...) when
    `submission_id` is given, and under one parent row when `parent_id` is."""
    table = feed.model.table(table_name)
    if table is None:
        raise not_found()
    try:
        if submission_id is not None:
            return _one_submission(session, feed, table, options, submission_id, parent_id)
        if table.primary:
            return _main(session, feed, table, options)
        return _repeat(session, feed, table, options)
    except DataError:
        # A value the database could not use as the filter asked (a number beyond its range).
        session.rollback()
        raise Problem(
            400,
            "odata.filter_value",
            "The filter could not be applied: one of its values is out of range for the "
            "property it is compared with.",
        ) from None


def _ordering(table: Table, options: Options) -> q.Ordering:
    key, descending = resolve_order(table, options.order)
    return q.Ordering(key, descending)


def _renderer(feed: Feed, table: Table, options: Options) -> Renderer:
    selection = resolve_select(table, options.select)
    return Renderer(feed.model, table, selection, options.wkt, options.expand)


def _main(session: Session, feed: Feed, table: Table, options: Options) -> Page:
    ordering = _ordering(table, options)
    compiled = _compile(session, feed, table, options)
    after = _keyset(options.skiptoken, ordering, repeat=False)
    renderer = _renderer(feed, table, options)
    limit = options.page_size
    rows = q.main_page(
        session,
        feed.query,
        compiled,
        ordering,
        after=after,
        offset=0 if after else options.skip,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    renderer.load(session, [r.id for r in rows])
    page = Page([renderer.main_json(r) for r in rows])
    if more and rows:
        last = rows[-1]
        page.next_token = make_skiptoken(
            {
                "instanceId": last.root_instance_id or last.instance_id,
                "o": f"{ordering.key} {'desc' if ordering.descending else 'asc'}",
                "k": [ordering.value(last.received_at, last.instance_id), last.id],
            }
        )
    if options.count:
        page.count = q.count_main(session, feed.query, compiled)
    return page


def _repeat(session: Session, feed: Feed, table: Table, options: Options) -> Page:
    ordering = _ordering(table, options)
    compiled = _compile(session, feed, table, options)
    after = _keyset(options.skiptoken, ordering, repeat=True)
    renderer = _renderer(feed, table, options)
    limit = options.page_size
    rows = rq.repeat_page(
        session,
        feed.query,
        compiled,
        ordering,
        table.repeat_path,
        after=after,
        offset=0 if after else options.skip,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    renderer.load(session, sorted({r.submission_id for r in rows}))
    page = Page([renderer.repeat_row_json(r) for r in rows])
    if more and rows:
        last = rows[-1]
        page.next_token = make_skiptoken(
            {
                "repeatId": renderer.row_id(last),
                "o": f"{ordering.key} {'desc' if ordering.descending else 'asc'}",
                "k": [
                    ordering.value(last.received_at, last.instance_id),
                    last.submission_id,
                    last.position,
                ],
            }
        )
    if options.count:
        page.count = rq.count_repeat(session, feed.query, compiled, table.repeat_path)
    return page


def _one_submission(
    session: Session,
    feed: Feed,
    table: Table,
    options: Options,
    submission_id: int,
    parent_id: str | None,
) -> Page:
    """Submissions('<id>') and the repeat tables under it: one submission's rows, paged here
    (Central's skiptoken of a repeat row's id)."""
    query = replace(feed.query, submission_id=submission_id)
    one = replace(feed, query=query)
    if table.primary:
        page = _main(session, one, table, replace(options, skip=0, skiptoken=None))
        if not page.value:
            raise not_found()
        page.count = 1 if options.count else None
        return page
    if not q.main_page(session, query, None, q.Ordering(), after=None, offset=0, limit=1):
        raise not_found()
    unpaged = replace(options, top=None, skip=0, skiptoken=None, count=False)
    renderer = _renderer(one, table, unpaged)
    rows = rq.repeat_page(
        session,
        query,
        _compile(session, one, table, options),
        q.Ordering(),
        table.repeat_path,
        after=None,
        offset=0,
        limit=1_000_000,
    )
    renderer.load(session, [submission_id])
    if parent_id is not None and table.parent is not None and not table.parent.primary:
        tree: Tree | None = None
        kept = []
        for row in rows:
            tree = tree or renderer.tree(row.submission_id, row.root_instance_id or row.instance_id)
            parent = tree.parent_id(table, row.position, row.parent_position)
            if parent == parent_id:
                kept.append(row)
        rows = kept
    ids = [renderer.row_id(r) for r in rows]
    start = options.skip
    if options.skiptoken is not None:
        wanted = options.skiptoken.get("repeatId")
        if not isinstance(wanted, str):
            raise invalid_skiptoken()
        if wanted not in ids:
            raise Problem(
                400,
                "odata.skiptoken_not_found",
                "Record associated with the provided $skiptoken not found.",
            )
        start = ids.index(wanted) + 1
    chosen = rows[start : start + options.page_size]
    page = Page([renderer.repeat_row_json(r) for r in chosen])
    if start + len(chosen) < len(rows) and chosen:
        page.next_token = make_skiptoken({"repeatId": renderer.row_id(chosen[-1])})
    if options.count:
        page.count = len(rows)
    return page
