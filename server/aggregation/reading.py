"""Reading the aggregates: stored values by indicator, org unit and cycle (one row per stored
aggregate, nothing recomputed), and the submissions behind a value.

"The submissions behind a value" are the eligible submissions of the indicator's form, located
in the org unit or under it, of that cycle, that the indicator includes (the contribution
query's `iN_in` = 1): exactly the contributions whose sum is the stored aggregate.

Paging is keyset paging: a page starts strictly after the key of the previous page's last row,
so rows added or removed between two requests never make a page repeat or skip a row that was
there throughout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from server.aggregation import catalog_source
from server.aggregation.catalog_source import LoadedCatalog
from server.aggregation.queries import eligible_sql
from server.aggregation.sums import partial_of
from server.domain.partials import Partial
from server.models import Aggregate, Form, FormVersion, OrgUnit, Submission
from server.models.org import OrgLevel, under

ValueKey = tuple[str, int, str]  # (indicator id, org unit id, cycle): the aggregates' key


@dataclass(frozen=True)
class Unit:
    id: int
    code: str
    name: str
    level: str
    path: str
    parent_id: int | None = None


@dataclass(frozen=True)
class StoredValue:
    indicator_id: str
    unit: Unit
    cycle: str
    partial: Partial
    updated_at: dt.datetime

    @property
    def key(self) -> ValueKey:
        return (self.indicator_id, self.unit.id, self.cycle)


@dataclass(frozen=True)
class ValueFilter:
    """Which aggregates to read. `areas` limits to units under any of these paths (a user's
    scope; None: everywhere); `within` to units under one path; `org_unit_id` to one unit."""

    indicator_ids: Sequence[str] | None = None
    org_unit_id: int | None = None
    within: str | None = None
    level: OrgLevel | None = None
    cycle: str | None = None
    areas: Sequence[str] | None = None


def unit_of(row: OrgUnit) -> Unit:
    return Unit(row.id, row.code, row.name, str(row.level), row.path, row.parent_id)


def _filtered(query: Select[Any], where: ValueFilter) -> Select[Any]:
    if where.indicator_ids is not None:
        query = query.where(Aggregate.indicator_id.in_(list(where.indicator_ids)))
    if where.org_unit_id is not None:
        query = query.where(Aggregate.org_unit_id == where.org_unit_id)
    if where.within is not None:
        query = query.where(under(OrgUnit.path, [where.within]))
    if where.level is not None:
        query = query.where(OrgUnit.level == where.level)
    if where.cycle is not None:
        query = query.where(Aggregate.cycle == where.cycle)
    if where.areas is not None:
        query = query.where(under(OrgUnit.path, where.areas))
    return query


def read_values(
    session: Session, where: ValueFilter, after: ValueKey | None = None, limit: int = 100
) -> list[StoredValue]:
    """Stored aggregates in key order (indicator, org unit id, cycle), after `after`."""
    query = _filtered(
        select(Aggregate, OrgUnit).join(OrgUnit, OrgUnit.id == Aggregate.org_unit_id), where
    )
    if after is not None:
        query = query.where(
            tuple_(Aggregate.indicator_id, Aggregate.org_unit_id, Aggregate.cycle) > tuple_(*after)
        )
    query = query.order_by(Aggregate.indicator_id, Aggregate.org_unit_id, Aggregate.cycle)
    return [
        StoredValue(agg.indicator_id, unit_of(unit), agg.cycle, partial_of(agg), agg.updated_at)
        for agg, unit in session.execute(query.limit(limit)).all()
    ]


def values_by_unit(
    session: Session, org_unit_ids: Sequence[int], cycle: str
) -> dict[int, dict[str, Partial]]:
    """{org unit id: {indicator id: partial}} for these units in one cycle, in one query."""
    out: dict[int, dict[str, Partial]] = {u: {} for u in org_unit_ids}
    if not org_unit_ids:
        return out
    rows = session.scalars(
        select(Aggregate).where(
            Aggregate.org_unit_id.in_(list(org_unit_ids)), Aggregate.cycle == cycle
        )
    )
    for agg in rows:
        out[agg.org_unit_id][agg.indicator_id] = partial_of(agg)
    return out


# --- The submissions behind a value ------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """One submission's part in an indicator value (fixed point, millionths, as stored)."""

    submission_id: int
    org_unit_id: int
    cycle: str
    value: int | None
    numerator: int | None
    denominator: int | None


@dataclass(frozen=True)
class ContributionScan:
    """Every indicator's contribution columns for the submissions a where-clause selects."""

    submission_id: int
    org_unit_id: int
    cycle: str
    # indicator id -> (included, value, numerator, denominator)
    columns: Mapping[str, tuple[bool, int | None, int | None, int | None]]


def _versions(session: Session, form_id: str) -> list[tuple[int, list[dict[str, Any]]]]:
    rows = session.execute(
        select(FormVersion.id, FormVersion.schema)
        .join(Form, Form.id == FormVersion.form_id)
        .where(Form.xml_form_id == form_id)
        .order_by(FormVersion.id)
    ).all()
    return [(vid, list(schema or [])) for vid, schema in rows]


# Submissions located in the org unit at :prefix (a LIKE pattern from like_prefix) or under it.
_AREA_SQL = "s.org_unit_id IN (SELECT o.id FROM org_units o WHERE o.path LIKE :prefix ESCAPE '!')"


def like_prefix(path: str) -> str:
    return path.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def submissions_behind(
    session: Session,
    indicator_id: str,
    area_path: str,
    cycle: str,
    after_id: int = 0,
    limit: int = 100,
    loaded: LoadedCatalog | None = None,
) -> list[Contribution]:
    """The contributions to indicator `indicator_id` from eligible submissions under
    `area_path` in `cycle`, by submission id, after `after_id`. Raises KeyError for an
    indicator the catalog of published forms does not have."""
    loaded = loaded or catalog_source.load(session)
    indicator = loaded.catalog.indicators[indicator_id]
    dialect = session.get_bind().dialect.name
    where = f"({eligible_sql()}) AND s.cycle = :cycle AND s.id > :after AND {_AREA_SQL}"
    params = {"cycle": cycle, "after": int(after_id), "prefix": like_prefix(area_path)}
    found: list[Contribution] = []
    for version_id, fields in _versions(session, indicator.form):
        query = catalog_source.query_for(loaded, indicator.form, version_id, fields, dialect)
        column = next((c.column for c in query.indicators if c.id == indicator_id), None)
        if column is None:
            continue
        sql = (
            f"SELECT q.submission_id, q.org_unit_id, q.cycle, q.{column}_v, q.{column}_num, "
            f"q.{column}_den FROM ({query.select_once(where)}) q WHERE q.{column}_in = 1 "
            "ORDER BY q.submission_id LIMIT :limit"
        )
        for sid, unit, cyc, v, num, den in session.execute(
            text(sql), {**params, "limit": int(limit)}
        ):
            found.append(Contribution(int(sid), int(unit), str(cyc), _int(v), _int(num), _int(den)))
    found.sort(key=lambda c: c.submission_id)
    return found[:limit]


def scan_contributions(
    session: Session,
    form_id: str,
    area_path: str,
    cycle: str,
    loaded: LoadedCatalog | None = None,
) -> Iterator[ContributionScan]:
    """Every eligible submission of `form_id` under `area_path` in `cycle`, with each of its
    indicators' contribution columns (the data-quality screens read these)."""
    loaded = loaded or catalog_source.load(session)
    dialect = session.get_bind().dialect.name
    where = f"({eligible_sql()}) AND s.cycle = :cycle AND {_AREA_SQL}"
    params = {"cycle": cycle, "prefix": like_prefix(area_path)}
    for version_id, fields in _versions(session, form_id):
        query = catalog_source.query_for(loaded, form_id, version_id, fields, dialect)
        if not query.indicators:
            continue
        # The form of the query that reads each submission's JSON once: the same rows, without
        # detoasting a district's thousands of documents again for every reference.
        sql = query.select_once(where)
        for row in session.execute(text(sql), params).mappings():
            yield ContributionScan(
                int(row["submission_id"]),
                int(row["org_unit_id"]),
                str(row["cycle"]),
                {
                    c.id: (
                        bool(row[f"{c.column}_in"]),
                        _int(row[f"{c.column}_v"]),
                        _int(row[f"{c.column}_num"]),
                        _int(row[f"{c.column}_den"]),
                    )
                    for c in query.indicators
                },
            )


def submission_details(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What a reviewer needs to find each submission: instance id and name, place, when."""
    if not ids:
        return {}
    rows = session.execute(
        select(Submission, OrgUnit.code)
        .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(Submission.id.in_(list(ids)))
    ).all()
    return {
        sub.id: {
            "id": sub.id,
            "instance_id": sub.instance_id,
            "instance_name": sub.instance_name,
            "org_unit": code,
            "cycle": sub.cycle,
            "received_at": sub.received_at.isoformat(),
            "review_state": str(sub.review_state),
            "demo": sub.demo,
        }
        for sub, code in rows
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
