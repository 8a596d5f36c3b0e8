"""The aggregates table's side of the sums: contributions rolled up an org unit's ancestors,
added to (or subtracted from) the stored partial sums in one statement, and read back.

server/aggregation/store.py decides what to add and when; the rebuild
(server/aggregation/rebuild.py) writes what it computes through the same roll-up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from server.db import among, is_postgresql, utcnow
from server.domain.partials import Partial
from server.models import Aggregate, OrgUnit

Key = tuple[str, int, str]  # (indicator id, org unit id, cycle)


@dataclass(frozen=True)
class Contribution:
    submission_id: int
    org_unit_id: int
    cycle: str
    indicator_id: str
    partial: Partial


def ancestors(session: Session, org_unit_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Each org unit with the ids of itself and every unit above it (one query: a unit's
    ancestors are the units whose path is a prefix of its own)."""
    wanted = set(org_unit_ids)
    if not wanted:
        return {}
    unit, above = aliased(OrgUnit), aliased(OrgUnit)
    rows = session.execute(
        select(unit.id, above.id, above.path)
        # An exact prefix test: codes may hold LIKE's wildcards.
        .join(above, func.substr(unit.path, 1, func.length(above.path)) == above.path)
        .where(among(unit.id, wanted, is_postgresql(session)))
    )
    chains: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for unit_id, ancestor_id, path in rows:
        chains[unit_id].append((len(path), ancestor_id))
    return {u: tuple(a for _, a in sorted(chain)) for u, chain in chains.items()}


def roll_up(session: Session, signed: Iterable[tuple[Contribution, int]]) -> dict[Key, Partial]:
    """Signed contributions summed at their org unit and every ancestor."""
    items = list(signed)
    chains = ancestors(session, {c.org_unit_id for c, _ in items})
    deltas: dict[Key, Partial] = defaultdict(Partial)
    for contribution, sign in items:
        partial = contribution.partial if sign > 0 else -contribution.partial
        for unit in chains.get(contribution.org_unit_id, (contribution.org_unit_id,)):
            key = (contribution.indicator_id, unit, contribution.cycle)
            deltas[key] = deltas[key] + partial
    return {k: p for k, p in deltas.items() if not p.is_empty}


# PostgreSQL: every delta of a batch in one statement, as arrays unnested in the database,
# adding to the stored sums. An executemany of one INSERT ... ON CONFLICT per row cost a
# statement execution each in PostgreSQL and per-row parameter handling here: a fifth of the
# worker's time for DMIP forms, whose submissions touch about forty aggregate rows each. The
# rows go in the order given (WITH ORDINALITY), so two transactions adding to the same rows
# lock them in the same order and never deadlock.
_SUMS = ("n", "total", "total_sq", "num", "den")
_UPSERT_PG = text(
    "INSERT INTO aggregates (indicator_id, org_unit_id, cycle, n, total, total_sq, num, den, "
    "updated_at) "
    "SELECT d.indicator_id, d.org_unit_id, d.cycle, d.n, d.total, d.total_sq, d.num, d.den, :now "
    "FROM unnest(CAST(:indicator_id AS varchar[]), CAST(:org_unit_id AS bigint[]), "
    "CAST(:cycle AS varchar[]), CAST(:n AS bigint[]), CAST(:total AS numeric[]), "
    "CAST(:total_sq AS numeric[]), CAST(:num AS numeric[]), CAST(:den AS numeric[])) "
    "WITH ORDINALITY AS d(indicator_id, org_unit_id, cycle, n, total, total_sq, num, den, i) "
    "ORDER BY d.i "
    "ON CONFLICT (indicator_id, org_unit_id, cycle) DO UPDATE SET "
    + ", ".join(f"{c} = aggregates.{c} + excluded.{c}" for c in _SUMS)
    + ", updated_at = excluded.updated_at"
).bindparams(bindparam("now", type_=Aggregate.__table__.c.updated_at.type))


def _upsert_sqlite() -> Any:
    stmt = sqlite_insert(Aggregate)
    return stmt.on_conflict_do_update(
        index_elements=["indicator_id", "org_unit_id", "cycle"],
        set_={c: stmt.excluded[c] for c in _SUMS} | {"updated_at": stmt.excluded.updated_at},
    )


_UPSERT_SQLITE = _upsert_sqlite()


def apply(session: Session, deltas: Mapping[Key, Partial]) -> None:
    """Add `deltas` to the stored aggregates; rows that come to zero are removed, so the
    table holds exactly what a rebuild would write."""
    if not deltas:
        return
    keys = sorted(deltas)
    now = utcnow()
    if is_postgresql(session):
        columns: dict[str, list[Any]] = {
            "indicator_id": [k[0] for k in keys],
            "org_unit_id": [k[1] for k in keys],
            "cycle": [k[2] for k in keys],
        }
        for name in _SUMS:
            columns[name] = [getattr(deltas[k], name) for k in keys]
        session.connection().execute(_UPSERT_PG, {**columns, "now": now})
    else:
        existing = _existing(session, keys)
        rows = [_row(k, existing.get(k, Partial()) + deltas[k], now) for k in keys]
        session.connection().execute(_UPSERT_SQLITE, rows)
    if any(deltas[k].n < 0 for k in keys):  # only a retraction can empty a row
        _drop_empty(session, keys)


def _existing(session: Session, keys: Sequence[Key]) -> dict[Key, Partial]:
    out: dict[Key, Partial] = {}
    indicators = {k[0] for k in keys}
    units = {k[1] for k in keys}
    wanted = set(keys)
    rows = session.execute(
        select(
            Aggregate.indicator_id,
            Aggregate.org_unit_id,
            Aggregate.cycle,
            Aggregate.n,
            Aggregate.total,
            Aggregate.total_sq,
            Aggregate.num,
            Aggregate.den,
        ).where(Aggregate.indicator_id.in_(indicators), Aggregate.org_unit_id.in_(units))
    )
    for indicator_id, unit, cycle, n, total, total_sq, num, den in rows:
        key = (indicator_id, unit, cycle)
        if key in wanted:
            out[key] = Partial(n, total, total_sq, num, den)
    return out


def _drop_empty(session: Session, keys: Sequence[Key]) -> None:
    table = Aggregate.__table__
    session.connection().execute(
        delete(table).where(
            table.c.indicator_id.in_({k[0] for k in keys}),
            table.c.org_unit_id.in_({k[1] for k in keys}),
            table.c.n == 0,
            table.c.total == 0,
            table.c.total_sq == 0,
            table.c.num == 0,
            table.c.den == 0,
        )
    )


def _row(key: Key, partial: Partial, now: dt.datetime) -> dict[str, Any]:
    indicator_id, unit, cycle = key
    return {
        "indicator_id": indicator_id,
        "org_unit_id": unit,
        "cycle": cycle,
        "n": partial.n,
        "total": partial.total,
        "total_sq": partial.total_sq,
        "num": partial.num,
        "den": partial.den,
        "updated_at": now,
    }


def partial_of(agg: Aggregate) -> Partial:
    return Partial(agg.n, agg.total, agg.total_sq, agg.num, agg.den)
