"""Keeping the aggregates in line with the submissions, one short transaction at a time.

A submission counts when it is processed, not deleted, not rejected, and no processed edit
supersedes it (`eligible`). `Submission.counted` records whether its contribution is in the
aggregates. `refresh` compares the two for some submissions and, where they differ, adds or
subtracts the contribution (computed by the same SQL the rebuild uses) at the submission's org
unit and every ancestor, then flips the flag: O(depth x indicators of the form) per submission,
whatever the number of submissions already there.

Concurrency. On PostgreSQL every change to `aggregates` is one INSERT ... ON CONFLICT DO UPDATE
adding to the stored sums (server/aggregation/sums.py), atomic per row, so workers updating the
same district at once lose nothing; rows are written in one sorted statement so two
transactions never wait on each other in opposite orders. Each transaction first takes the
aggregates table in ROW EXCLUSIVE mode, which a rebuild's EXCLUSIVE lock waits for and blocks
(server/aggregation/rebuild.py). The submissions being refreshed are locked FOR UPDATE, so one
submission is never added twice.
On SQLite (one writer at a time) the first statement is a write, which takes the database's
write lock before anything is read.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import exists, select, text, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter

from server.aggregation import catalog_source, catalog_state
from server.aggregation.catalog_source import LoadedCatalog
from server.aggregation.sums import Contribution, apply, roll_up
from server.db import among, id_list, is_postgresql
from server.domain.cycles import financial_year, is_cycle
from server.domain.partials import Partial
from server.models import Form, FormVersion, Submission
from server.models.submissions import ProcessingStatus, ReviewState

log = logging.getLogger(__name__)

# An (org unit, cycle) pair whose sums moved: its district's draft DMIP is then out of date.
Moved = set[tuple[int, str]]


@dataclass
class Recount:
    """What a refresh changed: how many submissions started or stopped counting, and where
    the sums moved (the caller marks those districts' plans stale in the same transaction)."""

    submissions: int = 0
    moved: Moved = field(default_factory=set)


class Counting(Protocol):
    """A submission as the worker holds it while recording its processing
    (workers/processing.py `Claimed`)."""

    id: int
    form_version_id: int
    processing_status: ProcessingStatus
    cycle: str | None
    counted: bool
    supersedes_id: int | None


C = TypeVar("C", bound=Counting)


def eligible_condition(s: Any, among_ids: tuple[BindParameter[Any], bool] | None = None) -> Any:
    """The SQL condition for "counts", on a submissions table or alias `s`; `among_ids` as
    for `standing_condition`."""
    return (
        (s.processing_status == ProcessingStatus.processed)
        & s.cycle.is_not(None)
        & standing_condition(s, among_ids)
    )


def standing_condition(s: Any, among_ids: tuple[BindParameter[Any], bool] | None = None) -> Any:
    """The part of "counts" that processing a submission does not change: not deleted, not
    rejected, placed, and not superseded by a processed edit.

    `among_ids` (an `id_list` parameter and whether the database is PostgreSQL) is for a
    statement that only looks at the submissions of those ids: the edits superseding them are
    then looked up once, through the index on `supersedes_id`, by those ids. Correlated
    (each row's own EXISTS), PostgreSQL may plan the check as a hash of every processed
    submission's `supersedes_id`, built at each execution: a worker's batch would then read
    the whole table, at a cost growing with every submission stored.
    """
    successor = aliased(Submission)
    processed = successor.processing_status == ProcessingStatus.processed
    if among_ids is None:
        superseded = exists().where(successor.supersedes_id == s.id, processed)
    else:
        ids, pg = among_ids
        superseded = s.id.in_(
            select(successor.supersedes_id).where(
                among(successor.supersedes_id, ids, pg), processed
            )
        )
    return (
        s.deleted_at.is_(None)
        & (s.review_state != ReviewState.rejected)
        & s.org_unit_id.is_not(None)
        & ~superseded
    )


# Built once: the conditions' aliased successor is costly to build, and would be built at
# every batch before SQLAlchemy found the statement in its compiled cache.
# By whether the database is PostgreSQL: the ids one array parameter there (server/db.py
# `among`: the statement's text is then the same for every batch), and the rows locked.
_IDS = {pg: id_list(pg, "ids") for pg in (False, True)}
_STANDING = {
    pg: select(Submission.id, standing_condition(Submission, (_IDS[pg], pg))).where(
        among(Submission.id, _IDS[pg], pg)
    )
    for pg in (False, True)
}
_ELIGIBLE = {
    pg: select(Submission, eligible_condition(Submission, (_IDS[pg], pg)).label("eligible"))
    .where(among(Submission.id, _IDS[pg], pg))
    .order_by(Submission.id)
    for pg in (False, True)
}
_ELIGIBLE[True] = _ELIGIBLE[True].with_for_update(of=Submission)


def refresh(
    session: Session, submission_ids: Iterable[int | None], catalog_path: Path | None = None
) -> Recount:
    """Bring the aggregates in line with these submissions. The caller commits (in the same
    transaction as whatever changed their eligibility)."""
    ids = sorted({int(i) for i in submission_ids if i is not None})
    if not ids:
        return Recount()
    pg = _lock(session, ids)
    rows = session.execute(_ELIGIBLE[pg], {"ids": ids}).all()
    changed = [(sub, bool(should)) for sub, should in rows if bool(should) != sub.counted]
    return _count(session, changed, catalog_path)


def _lock(session: Session, ids: Sequence[int]) -> bool:
    """Take what an update of the aggregates needs before reading anything it depends on:
    the aggregates table (PostgreSQL; a rebuild waits for it) or SQLite's write lock. Returns
    whether the database is PostgreSQL."""
    if is_postgresql(session):
        session.execute(text("LOCK TABLE aggregates IN ROW EXCLUSIVE MODE"))
        return True
    session.execute(
        update(Submission).where(Submission.id.in_(ids)).values(counted=Submission.counted)
    )
    return False


def _count(
    session: Session, changed: Sequence[tuple[Submission, bool]], catalog_path: Path | None
) -> Recount:
    """Add (True) or retract (False) the contributions of `changed` submissions, whose rows
    the database has, and set their `counted` flags."""
    if not changed:
        return Recount()
    moved = _add_contributions(session, changed, catalog_path)
    for sub, should in changed:
        sub.counted = should
    session.flush()
    return Recount(len(changed), moved)


def _add_contributions(
    session: Session, changed: Sequence[tuple[Counting, bool]], catalog_path: Path | None
) -> Moved:
    """Add (True) or retract (False) the contributions of `changed` submissions, whose rows
    and outcomes the database has, at their org units and every ancestor."""
    loaded = catalog_source.load(session, catalog_path)
    # A catalog other than the one the sums were built with: add and retract as usual (the
    # rebuild this asks for recomputes everything, these changes included).
    catalog_state.check(session, loaded.fingerprint)
    contributions = compute(session, loaded, [sub for sub, _ in changed])
    signs = {sub.id: (1 if should else -1) for sub, should in changed}
    deltas = roll_up(
        session,
        ((c, signs[c.submission_id]) for c in contributions),
    )
    apply(session, deltas)
    return {(unit, cycle) for _, unit, cycle in deltas}


def decide_counted(session: Session, submissions: Sequence[C]) -> list[tuple[C, bool]]:
    """The worker's first hook, for a batch it processed in one transaction, holding their
    locks, with their outcomes not yet written: set each one's `counted` flag to whether it
    counts now, in one query, and return those whose flag changed, for `batch_processed`.
    The worker writes outcome and flag in one UPDATE of each row in between."""
    ids = sorted(s.id for s in submissions)
    changed: list[tuple[C, bool]] = []
    pg = _lock(session, ids)
    standing = {sid: bool(ok) for sid, ok in session.execute(_STANDING[pg], {"ids": ids})}
    for sub in submissions:
        should = (
            sub.processing_status == ProcessingStatus.processed
            and sub.cycle is not None
            and standing[sub.id]
        )
        if should != sub.counted:
            changed.append((sub, should))
            sub.counted = should
    return changed


def batch_processed(
    session: Session,
    submissions: Sequence[Counting],
    changed: Sequence[tuple[Counting, bool]],
    catalog_path: Path | None = None,
) -> Moved:
    """The worker's second hook, once the batch's outcomes, flags and flattened rows are
    written: one contribution query per form version, one roll-up and one upsert for the
    `changed` ones, and the submissions they edit in line after. Returns where the sums
    moved."""
    moved = _add_contributions(session, changed, catalog_path) if changed else set()
    # An edit processed here no longer leaves the submission it edits counting.
    return moved | refresh(session, [s.supersedes_id for s in submissions], catalog_path).moved


def cycle_of_row(data: Mapping[str, Any], received_at: dt.datetime) -> str:
    """The cycle a submission's top-level row `data` names (every DMIP form asks for it), else
    the financial year of its `today` answer, else of the day it was received."""
    values = _top_level(data)
    named = values.get("cycle")
    if isinstance(named, str) and is_cycle(named.strip()):
        return named.strip()
    today = values.get("today")
    if isinstance(today, str):
        try:
            return financial_year(dt.date.fromisoformat(today[:10]))
        except ValueError:
            pass
    return financial_year(received_at.date())


def _top_level(data: Mapping[str, Any]) -> dict[str, Any]:
    """Row data keyed by question name (the keys are paths inside groups)."""
    return {key.rsplit("/", 1)[-1]: value for key, value in data.items()}


def compute(
    session: Session, loaded: LoadedCatalog, submissions: Sequence[Counting]
) -> list[Contribution]:
    """What each submission contributes to each indicator of its form, by the compiled SQL."""
    dialect = session.get_bind().dialect.name
    by_version: dict[int, list[int]] = defaultdict(list)
    for sub in submissions:
        by_version[sub.form_version_id].append(sub.id)
    out: list[Contribution] = []
    for version_id, ids in sorted(by_version.items()):
        # The version's field list (a long JSON document for the DMIP forms) only to compile
        # its query, once per catalog.
        query = catalog_source.cached_query(loaded, version_id, dialect)
        if query is None:
            form_id, fields = session.execute(
                select(Form.xml_form_id, FormVersion.schema)
                .join(Form, Form.id == FormVersion.form_id)
                .where(FormVersion.id == version_id)
            ).one()
            query = catalog_source.query_for(loaded, form_id, version_id, fields or [], dialect)
        if not query.indicators:
            continue
        if dialect == "postgresql":
            # The ids as one array parameter: the statement's text is then the same for every
            # batch of a form version, so the driver prepares it and PostgreSQL does not plan
            # the DMIP forms' long queries afresh each time.
            where, params = "s.id = ANY(CAST(:ids AS bigint[]))", {"ids": ids}
        else:
            where, params = f"s.id IN ({', '.join(str(int(i)) for i in ids)})", {}
        # The form of the query that evaluates each expression and reads each row's JSON once.
        result = session.execute(text(query.select_once(where)), params).mappings()
        for row in result:
            out.extend(unpivot(row, query.indicators))
    return out


def unpivot(row: Mapping[str, Any], indicators: Iterable[Any]) -> list[Contribution]:
    """The contributions in one row of a contribution query."""
    if row["org_unit_id"] is None or row["cycle"] is None:
        return []
    out = []
    for ind in indicators:
        if not row[f"{ind.column}_in"]:
            continue
        v = int(row[f"{ind.column}_v"] or 0)
        num = row[f"{ind.column}_num"]
        den = row[f"{ind.column}_den"]
        partial = Partial(
            n=1,
            total=v,
            total_sq=v * v,
            num=int(num) if num is not None else 0,
            den=int(den) if den is not None else 0,
        )
        out.append(
            Contribution(
                int(row["submission_id"]),
                int(row["org_unit_id"]),
                str(row["cycle"]),
                ind.id,
                partial,
            )
        )
    return out
