"""The benchmark's DuckDB baseline: the rebuild's contribution SQL in DuckDB's dialect, and the
plain grouping both the baseline and the "original" rebuild variant run.

DuckDB reads the same rows with `data` as JSON; the compiled expressions differ only in how an
answer is read out of the JSON and in the types of numbers (server/aggregation/expression_sql.py
`SqlDialect`).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from server.aggregation.expression_sql import SqlDialect, quote
from server.aggregation.queries import ContributionQuery, indicator_literal
from server.aggregation.sums import Key
from server.domain.partials import Partial


class DuckdbDialect(SqlDialect):
    name = "duckdb"
    real = "DOUBLE"
    fixed = "HUGEINT"

    def numeric_literal(self, value: float | int) -> str:
        text_ = repr(value) if isinstance(value, float) else str(int(value))
        return f"CAST({text_} AS DOUBLE)"

    def json_text(self, alias: str, key: str) -> str:
        return f"json_extract_string({alias}.data, {quote(_path(key))})"

    def json_number(self, alias: str, key: str) -> str:
        path = quote(_path(key))
        raw = f"json_extract_string({alias}.data, {path})"
        return (
            f"(CASE json_type({alias}.data, {path}) "
            f"WHEN 'BIGINT' THEN CAST({raw} AS DOUBLE) WHEN 'UBIGINT' THEN CAST({raw} AS DOUBLE) "
            f"WHEN 'DOUBLE' THEN CAST({raw} AS DOUBLE) "
            f"WHEN 'VARCHAR' THEN TRY_CAST(TRIM({raw}) AS DOUBLE) END)"
        )

    def selected(self, alias: str, key: str, choice: str) -> str:
        path = quote(_path(key))
        value = f"json_extract_string({alias}.data, {path})"
        return (
            f"(CASE json_type({alias}.data, {path}) "
            f"WHEN 'ARRAY' THEN list_contains(CAST(json_extract({alias}.data, {path}) "
            f"AS VARCHAR[]), {choice}) "
            f"WHEN 'VARCHAR' THEN CASE WHEN TRIM({value}) = '' THEN NULL "
            f"ELSE list_contains(string_split(TRIM({value}), ' '), {choice}) END END)"
        )


DUCKDB = DuckdbDialect()


def _path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def plain_grouped_sql(query: ContributionQuery, where: str) -> str:
    """The summed contributions per (indicator, org unit, cycle) over the plain contribution
    SELECT (the rebuild runs its evaluate-once form on PostgreSQL)."""
    values = ", ".join(
        f"({indicator_literal(i.id)}, w.{i.column}_in, w.{i.column}_v, "
        f"w.{i.column}_num, w.{i.column}_den)"
        for i in query.indicators
    )
    return (
        "SELECT u.ind, w.org_unit_id, w.cycle, COUNT(*) AS n, COALESCE(SUM(u.v), 0) AS v, "
        "COALESCE(SUM(u.v * u.v), 0) AS sq, COALESCE(SUM(u.num), 0) AS num, "
        "COALESCE(SUM(u.den), 0) AS den "
        f"FROM ({query.select(where)}) w "
        f"CROSS JOIN LATERAL (VALUES {values}) AS u(ind, inside, v, num, den) "
        "WHERE u.inside = 1 GROUP BY u.ind, w.org_unit_id, w.cycle"
    )


def plain_grouped_pg(
    session: Session, query: ContributionQuery, where: str
) -> Iterator[tuple[Key, Partial]]:
    """The rebuild's grouping as it was before its evaluate-once form (the "original"
    variant the benchmark can still measure)."""
    for ind, unit, cyc, n, total, total_sq, num, den in session.execute(
        text(plain_grouped_sql(query, where))
    ):
        yield (
            (str(ind), int(unit), str(cyc)),
            Partial(int(n), int(total), int(total_sq), int(num), int(den)),
        )
