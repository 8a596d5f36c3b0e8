"""The rebuild's grouped query on PostgreSQL, written so each submission's JSON is read once.

`rebuild._grouped_pg` wraps the contribution SELECT in a LATERAL VALUES unpivot. PostgreSQL
pulls the contribution subquery up into the unpivot, so every indicator expression is
evaluated again wherever its result is used (the `in`, `v`, `num` and `den` columns: three to
six times), and every `data -> 'key'` in it detoasts and decompresses the whole `data` document
again (a school's top-level row is about 4 kB, above the TOAST threshold). On the benchmark's
data (bench/aggregates) that is about 4 ms per school submission.

`grouped_pg` gives the same rows through `ContributionQuery.select_once`, the form of the
contribution SELECT that evaluates each expression once and detoasts each top-level row once
(the incremental path and the readings use it too).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.aggregation.queries import ContributionQuery, indicator_literal
from server.aggregation.sums import Key
from workers.aggregate.partials import Partial


def grouped_sql(query: ContributionQuery, where: str) -> str:
    values = ", ".join(
        f"({indicator_literal(i.id)}, w.{i.column}_in, w.{i.column}_v, "
        f"w.{i.column}_num, w.{i.column}_den)"
        for i in query.indicators
    )
    return (
        "SELECT u.ind, w.org_unit_id, w.cycle, COUNT(*), COALESCE(SUM(u.v), 0), "
        "COALESCE(SUM(u.v * u.v), 0), COALESCE(SUM(u.num), 0), COALESCE(SUM(u.den), 0) "
        f"FROM ({query.select_once(where)}) w "
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
