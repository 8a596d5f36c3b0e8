"""The rebuild's grouped query on PostgreSQL, written so each submission's JSON is read once.

`rebuild._grouped_pg` wraps the contribution SELECT in a LATERAL VALUES unpivot. PostgreSQL
pulls the contribution subquery up into the unpivot, so every indicator expression is
evaluated again wherever its result is used (the `in`, `v`, `num` and `den` columns: three to
six times), and every `data -> 'key'` in it detoasts and decompresses the whole `data` document
again (a school's top-level row is about 4 kB, above the TOAST threshold). On the benchmark's
data (bench/aggregates) that is about 4 ms per school submission.

`grouped_pg` gives the same rows with two changes to the SQL, neither of which changes a value:
- `OFFSET 0` on the contribution subquery, which PostgreSQL never pulls up: each indicator's
  expressions are evaluated once per submission;
- the top-level row is read through a LATERAL subquery that returns `data || '{}'`, which is
  `data` itself, detoasted once into memory for all the references that follow.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.aggregation.queries import ContributionQuery, indicator_literal
from server.aggregation.store import Key
from workers.aggregate.partials import Partial

_JOIN = " JOIN {rows} t ON t.submission_id = s.id AND t.repeat_path = '' "
_DETOASTED = (
    " JOIN LATERAL (SELECT r.submission_id, r.data || '{{}}'::jsonb AS data FROM {rows} r "
    "WHERE r.submission_id = s.id AND r.repeat_path = '' OFFSET 0) t ON TRUE "
)


class QueryShapeError(RuntimeError):
    """The contribution SQL no longer has the shape this module rewrites."""


def contribution_sql(query: ContributionQuery, where: str, rows: str = "submission_rows") -> str:
    """The contribution SELECT of `query`, evaluated once per submission."""
    sql = query.select(where)
    join = _JOIN.format(rows=rows)
    if sql.count(join) != 1 or not sql.endswith(") w"):
        raise QueryShapeError("the contribution query changed shape; update fast_rebuild")
    sql = sql.replace(join, _DETOASTED.format(rows=rows))
    return sql[: -len(") w")] + " OFFSET 0) w"


def grouped_sql(query: ContributionQuery, where: str) -> str:
    values = ", ".join(
        f"({indicator_literal(i.id)}, w.{i.column}_in, w.{i.column}_v, "
        f"w.{i.column}_num, w.{i.column}_den)"
        for i in query.indicators
    )
    return (
        "SELECT u.ind, w.org_unit_id, w.cycle, COUNT(*), COALESCE(SUM(u.v), 0), "
        "COALESCE(SUM(u.v * u.v), 0), COALESCE(SUM(u.num), 0), COALESCE(SUM(u.den), 0) "
        f"FROM ({contribution_sql(query, where)}) w "
        f"CROSS JOIN LATERAL (VALUES {values}) AS u(ind, inside, v, num, den) "
        "WHERE u.inside = 1 GROUP BY u.ind, w.org_unit_id, w.cycle"
    )


def grouped_pg(
    session: Session, query: ContributionQuery, where: str
) -> Iterator[tuple[Key, Partial]]:
    """What `rebuild._grouped_pg` yields: the summed contributions per (indicator, org unit,
    cycle) of the submissions of one form version."""
    for ind, unit, cyc, n, total, total_sq, num, den in session.execute(
        text(grouped_sql(query, where))
    ):
        yield (
            (str(ind), int(unit), str(cyc)),
            Partial(int(n), int(total), int(total_sq), int(num), int(den)),
        )
