"""Recomputing every aggregate from the submissions (`dmip aggregates rebuild`).

One pass per form version over its eligible submissions, with the same contribution SQL as the
incremental path, so the result is exactly what the incremental updates produce. On PostgreSQL
the database sums the contributions per (indicator, org unit, cycle) itself and only the sums
come back; on SQLite (the embedded mode, whose integers would overflow in SQL) the rows are
streamed in batches and summed in Python. Either way memory grows with the number of org units
and indicators, never with the number of submissions. The sums are then rolled up the
hierarchy and written, and `Submission.counted` is set to match, in one transaction.

While a rebuild runs on PostgreSQL it holds the aggregates table in EXCLUSIVE mode: the receiver
keeps accepting submissions, and workers wait to add theirs until the rebuild commits (then add
them on top of it, which is correct because the rebuild saw the state before their change).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from server.aggregation import catalog_source, catalog_state
from server.aggregation.queries import ContributionQuery, eligible_sql, indicator_literal
from server.aggregation.store import eligible_condition, unpivot
from server.aggregation.sums import Key, ancestors
from server.db import utcnow
from server.domain.partials import Partial
from server.models import Aggregate, Form, FormVersion, Submission

log = logging.getLogger(__name__)

BATCH = 5_000


@dataclass
class RebuildReport:
    cycle: str | None
    submissions: int = 0
    aggregates: int = 0
    recounted: int = 0  # submissions whose `counted` flag was wrong and was corrected
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (indicator, why)
    # The (org unit, cycle) pairs that have sums now: the caller marks their plans stale.
    moved: set[tuple[int, str]] = field(default_factory=set)


def rebuild_in(
    session: Session,
    cycle: str | None = None,
    catalog_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Rebuild inside the caller's transaction (the caller commits)."""
    say = progress or (lambda _m: None)
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        session.execute(text("LOCK TABLE aggregates IN EXCLUSIVE MODE"))
    wipe = delete(Aggregate)
    if cycle is not None:
        wipe = wipe.where(Aggregate.cycle == cycle)
    # On SQLite this first write also takes the write lock for the whole rebuild.
    session.execute(wipe)
    report = RebuildReport(cycle)
    loaded = catalog_source.load(session, catalog_path)
    dialect = session.get_bind().dialect.name
    leaves: dict[Key, Partial] = defaultdict(Partial)
    versions = session.execute(
        select(FormVersion.id, Form.xml_form_id, FormVersion.schema)
        .join(Form, Form.id == FormVersion.form_id)
        .order_by(FormVersion.id)
    ).all()
    cycle_sql = "TRUE" if cycle is None else f"s.cycle = {indicator_literal(cycle)}"
    where = f"({eligible_sql()}) AND {cycle_sql}"
    for version_id, form_id, fields in versions:
        query = catalog_source.query_for(loaded, form_id, version_id, fields or [], dialect)
        report.skipped.extend(s for s in query.skipped if s not in report.skipped)
        if not query.indicators:
            continue
        say(f"form {form_id}, version #{version_id}")
        sums = _grouped_pg(session, query, where) if pg else _grouped_stream(session, query, where)
        for key, partial in sums:
            leaves[key] = leaves[key] + partial
    chains = ancestors(session, {unit for _, unit, _ in leaves})
    totals: dict[Key, Partial] = defaultdict(Partial)
    for (indicator_id, unit, cyc), partial in leaves.items():
        for ancestor in chains.get(unit, (unit,)):
            key = (indicator_id, ancestor, cyc)
            totals[key] = totals[key] + partial
    say(f"writing {len(totals)} aggregates")
    _write(session, {k: p for k, p in totals.items() if not p.is_empty})
    report.aggregates = len(totals)
    report.recounted = _recount(session, cycle)
    report.submissions = _counted(session, cycle)
    if cycle is None:
        catalog_state.record_build(session, loaded.fingerprint)
    report.moved = {(unit, cyc) for _, unit, cyc in totals}
    return report


def _grouped_pg(
    session: Session, query: ContributionQuery, where: str
) -> Iterator[tuple[Key, Partial]]:
    """The summed contributions per (indicator, org unit, cycle) of the submissions of one
    form version, summed by PostgreSQL. The contribution SELECT is wrapped in a LATERAL VALUES
    unpivot in its evaluate-once form (`ContributionQuery.select_once`): with the plain one,
    PostgreSQL pulls it up into the unpivot and evaluates every indicator expression again
    wherever its result is used, detoasting the whole `data` document each time."""
    values = ", ".join(
        f"({indicator_literal(i.id)}, w.{i.column}_in, w.{i.column}_v, "
        f"w.{i.column}_num, w.{i.column}_den)"
        for i in query.indicators
    )
    sql = (
        "SELECT u.ind, w.org_unit_id, w.cycle, COUNT(*), COALESCE(SUM(u.v), 0), "
        "COALESCE(SUM(u.v * u.v), 0), COALESCE(SUM(u.num), 0), COALESCE(SUM(u.den), 0) "
        f"FROM ({query.select_once(where)}) w "
        f"CROSS JOIN LATERAL (VALUES {values}) AS u(ind, inside, v, num, den) "
        "WHERE u.inside = 1 GROUP BY u.ind, w.org_unit_id, w.cycle"
    )
    for ind, unit, cyc, n, total, total_sq, num, den in session.execute(text(sql)):
        yield (
            (str(ind), int(unit), str(cyc)),
            Partial(int(n), int(total), int(total_sq), int(num), int(den)),
        )


def _grouped_stream(
    session: Session, query: ContributionQuery, where: str
) -> Iterator[tuple[Key, Partial]]:
    sums: dict[Key, Partial] = defaultdict(Partial)
    result = session.execute(
        text(query.select(where)), execution_options={"yield_per": BATCH}
    ).mappings()
    for row in result:
        for c in unpivot(row, query.indicators):
            key = (c.indicator_id, c.org_unit_id, c.cycle)
            sums[key] = sums[key] + c.partial
    yield from sums.items()


def _write(session: Session, totals: dict[Key, Partial]) -> None:
    keys = sorted(totals)
    now = utcnow()
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        session.execute(
            Aggregate.__table__.insert(),
            [
                {
                    "indicator_id": k[0],
                    "org_unit_id": k[1],
                    "cycle": k[2],
                    "n": totals[k].n,
                    "total": totals[k].total,
                    "total_sq": totals[k].total_sq,
                    "num": totals[k].num,
                    "den": totals[k].den,
                    "updated_at": now,
                }
                for k in chunk
            ],
        )


def _recount(session: Session, cycle: str | None) -> int:
    """Set `counted` to eligibility where they differ (nowhere, unless something went wrong
    or the submissions predate aggregation)."""
    changed = 0
    for flag in (True, False):
        condition = eligible_condition(Submission)
        stmt = update(Submission).where(
            Submission.counted.is_(not flag), condition if flag else ~condition
        )
        if cycle is not None:
            stmt = stmt.where(Submission.cycle == cycle)
        result = session.execute(
            stmt.values(counted=flag).execution_options(synchronize_session=False)
        )
        changed += result.rowcount or 0
    return changed


def _counted(session: Session, cycle: str | None) -> int:
    query = select(func.count()).select_from(Submission).where(Submission.counted.is_(True))
    if cycle is not None:
        query = query.where(Submission.cycle == cycle)
    return int(session.scalar(query) or 0)
