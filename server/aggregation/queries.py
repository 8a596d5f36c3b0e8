"""The SQL that computes each submission's contribution to every indicator of its form.

For one form version, `contribution_query` gives a SELECT with one row per submission: its id,
org unit and cycle, and for each indicator of the form whether the submission counts (`iN_in`),
its value (`iN_v`), numerator (`iN_num`) and denominator (`iN_den`) as fixed-point integers in
millionths (server/domain/partials.py). The incremental path runs it for the submissions it
is adding or retracting; the rebuild runs it for all of them and sums in the database. The same
SQL on both paths is what makes "incremental equals rebuild" exact.

What a submission contributes, by the indicator's aggregation (forms/catalog.yaml):
- sum: counts when its filter holds and the numerator is known; value = numerator.
- mean, score: counts when the per-submission value (numerator, or numerator / denominator) is
  known; the aggregate is the mean of those values.
- ratio_of_sums, proportion: counts when numerator and denominator are both known; the aggregate
  is sum(numerator) / sum(denominator). Its value (the submission's own ratio, 0 when the
  denominator is 0) is kept for screening outliers among submissions.

Nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.aggregation.expression_sql import (
    Context,
    SqlDialect,
    compile_condition,
    compile_number,
    dialect_of,
    quote,
)
from server.domain.catalog import Catalog, Indicator
from server.domain.expressions import ExpressionError

SCALE = 1_000_000


@dataclass(frozen=True)
class CompiledIndicator:
    id: str
    column: str  # "i3": the prefix of its columns in the contribution query


@dataclass(frozen=True)
class ContributionQuery:
    form_version_id: int
    sql: str  # holds "({where})": format with a filter on `s`
    indicators: tuple[CompiledIndicator, ...]
    skipped: tuple[tuple[str, str], ...]  # (indicator id, why) not computable on this version
    # The same SELECT in the form PostgreSQL evaluates once per submission (contribution_query
    # says how); empty on the other dialects, where it is `sql` itself.
    sql_once: str = ""

    def select(self, where: str) -> str:
        """The plain SELECT, on every dialect."""
        return self.sql.replace("{where}", where)

    def select_once(self, where: str) -> str:
        """The SELECT the worker, the rebuild and the readings run: the same rows."""
        return (self.sql_once or self.sql).replace("{where}", where)


# The top-level row, read through a LATERAL subquery that returns `data || '{}'`, which is
# `data` itself, detoasted once into memory for all the references that follow.
_DETOASTED = (
    " JOIN LATERAL (SELECT r.submission_id, r.data || '{{}}'::jsonb AS data FROM {rows} r "
    "WHERE r.submission_id = s.id AND r.repeat_path = '' OFFSET 0) t ON TRUE "
)


def root_path(fields: Sequence[Mapping[str, Any]]) -> str:
    for entry in fields:
        return "/" + str(entry["path"]).split("/")[1]
    return "/data"


def contribution_query(
    catalog: Catalog,
    form_id: str,
    form_version_id: int,
    fields: Sequence[Mapping[str, Any]],
    dialect: str | SqlDialect,
    tables: Mapping[str, str] | None = None,
) -> ContributionQuery:
    """The contribution SELECT for one version of form `form_id`, in `dialect` (by name, or
    a `SqlDialect`). `tables` may rename the submissions and submission_rows tables."""
    sql_dialect = dialect_of(dialect)
    names = {"submissions": "submissions", "submission_rows": "submission_rows", **(tables or {})}
    by_name = {str(f["name"]): f for f in fields}
    ctx = Context(
        dialect=sql_dialect,
        fields=by_name,
        derived=catalog.derived.get(form_id, {}),
        top="t",
        root=root_path(fields),
        rows_table=names["submission_rows"],
    )
    raw: list[str] = []
    outer: list[str] = []
    compiled: list[CompiledIndicator] = []
    skipped: list[tuple[str, str]] = []
    for indicator in catalog.for_form(form_id):
        column = f"i{len(compiled)}"
        try:
            parts = _raw_columns(indicator, ctx, column)
        except ExpressionError as exc:
            skipped.append((indicator.id, str(exc)))
            continue
        raw.extend(parts)
        outer.extend(_outer_columns(indicator, column, sql_dialect))
        compiled.append(CompiledIndicator(indicator.id, column))
    rows = names["submission_rows"]
    inner = (
        "SELECT s.id AS submission_id, s.org_unit_id AS org_unit_id, s.cycle AS cycle"
        + "".join(f", {c}" for c in raw)
        + f" FROM {names['submissions']} s"
    )
    where = f"WHERE s.form_version_id = {int(form_version_id)} AND ({{where}})"
    outer_select = "SELECT w.submission_id, w.org_unit_id, w.cycle" + "".join(
        f", {c}" for c in outer
    )
    top = f" JOIN {rows} t ON t.submission_id = s.id AND t.repeat_path = '' "
    sql = f"{outer_select} FROM ({inner}{top}{where}) w"
    # On PostgreSQL, the same rows with two changes that change no value, for the paths that
    # run it (the longest queries, the school's and the management capacity form's, gain the
    # most):
    # - OFFSET 0 on the inner SELECT, which PostgreSQL then never merges into the outer one:
    #   merged, each indicator's expressions were evaluated again wherever their result is
    #   used (the `in`, `v`, `num` and `den` columns: three to six times);
    # - the top-level row read through `_DETOASTED`: every `data -> 'key'` detoasted and
    #   decompressed the whole document again, and a school's top-level row is above the
    #   TOAST threshold.
    once = ""
    if sql_dialect.name == "postgresql":
        once = f"{outer_select} FROM ({inner}{_DETOASTED.format(rows=rows)}{where} OFFSET 0) w"
    return ContributionQuery(form_version_id, sql, tuple(compiled), tuple(skipped), once)


def _raw_columns(indicator: Indicator, ctx: Context, column: str) -> list[str]:
    formula = indicator.formula
    num = compile_number(formula.numerator, ctx)
    den = compile_number(formula.denominator, ctx) if formula.denominator is not None else "NULL"
    keep = compile_condition(formula.filter, ctx) if formula.filter is not None else "TRUE"
    if ctx.dialect.name == "sqlite" and keep == "TRUE":
        keep = "1"
    return [f"{num} AS {column}_n", f"{den} AS {column}_d", f"({keep}) AS {column}_k"]


def _outer_columns(indicator: Indicator, column: str, dialect: SqlDialect) -> list[str]:
    n, d, k = f"w.{column}_n", f"w.{column}_d", f"w.{column}_k"
    has_den = indicator.formula.denominator is not None
    kept = dialect.kept(k)
    ratio = dialect.divide(n, d)
    if indicator.aggregation == "sum":
        value, counts = n, f"{kept} AND {n} IS NOT NULL"
    elif indicator.aggregation in {"mean", "score"}:
        value = ratio if has_den else n
        counts = f"{kept} AND {value} IS NOT NULL"
    else:  # ratio_of_sums, proportion
        value = f"COALESCE({ratio}, 0)"
        counts = f"{kept} AND {n} IS NOT NULL AND {d} IS NOT NULL"
    counts_sql = f"(CASE WHEN {counts} THEN 1 ELSE 0 END)"
    return [
        f"{counts_sql} AS {column}_in",
        f"{dialect.to_fixed(value, SCALE)} AS {column}_v",
        f"{dialect.to_fixed(n, SCALE)} AS {column}_num",
        f"{dialect.to_fixed(d if has_den else 'NULL', SCALE)} AS {column}_den",
    ]


def eligible_sql(submissions_table: str = "submissions") -> str:
    """ "Counts", as SQL on alias `s` (the same rule as store.eligible_condition)."""
    return (
        "s.processing_status = 'processed' AND s.deleted_at IS NULL "
        "AND s.review_state <> 'rejected' AND s.org_unit_id IS NOT NULL AND s.cycle IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {submissions_table} e "
        "WHERE e.supersedes_id = s.id AND e.processing_status = 'processed')"
    )


def indicator_literal(indicator_id: str) -> str:
    return quote(indicator_id)
