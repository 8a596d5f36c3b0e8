"""Compiling a checked expression to SQL over the flattened submission rows.

Indicator values are computed by the database, from `submission_rows.data` (JSON), with the same
compiled SQL whether one submission is being added (the incremental path) or every submission
is being recomputed (`dmip aggregates rebuild`), so the two agree exactly by construction.
The compiled SQL follows the evaluator's rules (server/domain/expressions/evaluation.py), which
stays the reference: a missing answer or a division by zero gives NULL, logic is three-valued
(SQL's own NULL logic is exactly that), a sum over a repeat skips unknown terms.

Two dialects: PostgreSQL (JSONB) and SQLite (JSON1; the embedded mode), each a `SqlDialect`
that says how to read an answer out of a row's JSON and how to write numbers. Names and
strings come from the form schema and the catalog; they are emitted as quoted SQL literals,
never spliced raw.

Nothing here imports Flask, Celery or an ORM model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.domain.expressions.syntax import (
    Arith,
    Compare,
    Const,
    Count,
    ExpressionError,
    If,
    Logic,
    Node,
    Not,
    Ref,
    Selected,
    Sum,
)

_NUMBER_RE = r"^\s*[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?\s*$"


def quote(text: str) -> str:
    """A SQL string literal."""
    if "\x00" in text:
        raise ExpressionError("a name or string may not contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Rows:
    """Where a reference reads from: the SQL alias of a submission_rows row, and the schema
    path its data keys are relative to."""

    alias: str
    root: str


@dataclass
class Context:
    """What compiling one form version's expressions needs.

    `fields`: the version's field list by question name (server/domain/xform/schema.py entries);
    `derived`: the catalog's derived values of this form, already checked; `top`: the alias
    of the top-level row (repeat_path ''); `root`: the form's root path ("/data")."""

    dialect: SqlDialect
    fields: Mapping[str, Mapping[str, Any]]
    derived: Mapping[str, Node]
    top: str
    root: str
    rows_table: str = "submission_rows"


def compile_number(node: Node, ctx: Context) -> str:
    """SQL for a number-valued expression (NULL when unknown)."""
    return _Compiler(ctx).number(node, Rows(ctx.top, ctx.root))


def compile_condition(node: Node, ctx: Context) -> str:
    """SQL for a condition (TRUE, FALSE or NULL when unknown)."""
    return _Compiler(ctx).condition(node, Rows(ctx.top, ctx.root))


class SqlDialect:
    """What differs between the databases the compiled SQL runs on."""

    name: str
    # The type a number is cast to before dividing (SQL divides two integers as integers).
    real: str
    # The fixed-point type of the millionths the aggregates add.
    fixed: str

    def numeric_literal(self, value: float | int) -> str:
        raise NotImplementedError

    def json_text(self, alias: str, key: str) -> str:
        """The answer as text (NULL when absent or JSON null); a multi-select list comes back
        as its JSON text, which only selected() looks into."""
        raise NotImplementedError

    def json_number(self, alias: str, key: str) -> str:
        """The answer as a number: JSON numbers as they are, numeric strings (the choices of an
        ordinal select_one) converted, anything else unknown."""
        raise NotImplementedError

    def selected(self, alias: str, key: str, choice: str) -> str:
        """Whether the multi-select answer holds `choice` (a quoted literal)."""
        raise NotImplementedError

    def divide(self, left: str, right: str) -> str:
        return f"(CAST({left} AS {self.real}) / NULLIF({right}, 0))"

    def kept(self, condition: str) -> str:
        """SQL: the filter's value (a column) holds."""
        return f"({condition}) IS TRUE"

    def to_fixed(self, value: str, scale: int) -> str:
        """`value` in 1/`scale`, rounded once, here, so every path adds the same integers."""
        if value == "NULL":
            return f"CAST(NULL AS {self.fixed})"
        return f"CAST(ROUND({value} * {scale}) AS {self.fixed})"


class PostgresqlDialect(SqlDialect):
    name = "postgresql"
    real = "NUMERIC"
    fixed = "NUMERIC(65, 0)"

    def numeric_literal(self, value: float | int) -> str:
        return f"CAST({_literal(value)} AS NUMERIC)"

    def json_text(self, alias: str, key: str) -> str:
        return f"({alias}.data ->> {quote(key)})"

    def json_number(self, alias: str, key: str) -> str:
        node = f"({alias}.data -> {quote(key)})"
        raw = f"({alias}.data ->> {quote(key)})"
        return (
            f"(CASE jsonb_typeof({node}) WHEN 'number' THEN CAST({raw} AS NUMERIC) "
            f"WHEN 'string' THEN CASE WHEN {raw} ~ {quote(_NUMBER_RE)} "
            f"THEN CAST(TRIM({raw}) AS NUMERIC) END END)"
        )

    def selected(self, alias: str, key: str, choice: str) -> str:
        value = f"({alias}.data -> {quote(key)})"
        return (
            f"(CASE jsonb_typeof({value}) WHEN 'array' THEN ({value} ? {choice}) "
            f"WHEN 'string' THEN CASE WHEN TRIM({value} #>> '{{}}') = '' THEN NULL "
            f"ELSE {choice} = ANY(regexp_split_to_array(TRIM({value} #>> '{{}}'), "
            f"'\\s+')) END END)"
        )


class SqliteDialect(SqlDialect):
    name = "sqlite"
    real = "REAL"
    fixed = "INTEGER"

    def numeric_literal(self, value: float | int) -> str:
        return _literal(value)

    def json_text(self, alias: str, key: str) -> str:
        return f"CAST(json_extract({alias}.data, {quote(_sqlite_path(key))}) AS TEXT)"

    def json_number(self, alias: str, key: str) -> str:
        path = quote(_sqlite_path(key))
        value = f"json_extract({alias}.data, {path})"
        return (
            f"(CASE json_type({alias}.data, {path}) WHEN 'integer' THEN {value} "
            f"WHEN 'real' THEN {value} "
            f"WHEN 'text' THEN CASE WHEN TRIM({value}) <> '' "
            f"AND TRIM({value}) NOT GLOB '*[^0-9.eE+-]*' "
            f"AND TRIM({value}) GLOB '*[0-9]*' THEN CAST(TRIM({value}) AS NUMERIC) END END)"
        )

    def selected(self, alias: str, key: str, choice: str) -> str:
        path = quote(_sqlite_path(key))
        value = f"json_extract({alias}.data, {path})"
        return (
            f"(CASE json_type({alias}.data, {path}) "
            f"WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each({alias}.data, {path}) "
            f"WHERE json_each.value = {choice}) "
            f"WHEN 'text' THEN CASE WHEN TRIM({value}) = '' THEN NULL "
            f"ELSE (' ' || TRIM({value}) || ' ') LIKE '% ' || {choice} || ' %' END END)"
        )

    def kept(self, condition: str) -> str:
        # SQLite has no booleans: a condition is 1, 0 or NULL.
        return f"COALESCE({condition}, 0) = 1"

    def to_fixed(self, value: str, scale: int) -> str:
        if value == "NULL":
            return "NULL"
        return super().to_fixed(value, scale)


DIALECTS: dict[str, SqlDialect] = {"postgresql": PostgresqlDialect(), "sqlite": SqliteDialect()}


def dialect_of(dialect: str | SqlDialect) -> SqlDialect:
    """The dialect by the name SQLAlchemy gives it, or the one given."""
    if isinstance(dialect, SqlDialect):
        return dialect
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unknown SQL dialect {dialect!r}") from None


def _literal(value: float | int) -> str:
    return repr(value) if isinstance(value, float) else str(int(value))


def _sqlite_path(key: str) -> str:
    return '$."' + key.replace('"', '""') + '"'


class _Compiler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sql = ctx.dialect
        self._aliases = 0
        self._stack: tuple[str, ...] = ()

    # --- values ---------------------------------------------------------------------------

    def number(self, node: Node, where: Rows) -> str:
        if isinstance(node, Const):
            if isinstance(node.value, str):
                raise ExpressionError(f"expected a number, found the string {node.value!r}")
            return self.sql.numeric_literal(node.value)
        if isinstance(node, Ref):
            derived = self._derived(node)
            if derived is not None:
                return self._with_derived(node.name, lambda: self.number(derived, where))
            return self.sql.json_number(*self._locate(node.name, where))
        if isinstance(node, Arith):
            left, right = self.number(node.left, where), self.number(node.right, where)
            if node.op == "/":
                # Division by zero is unknown, as in the evaluator.
                return self.sql.divide(left, right)
            return f"({left} {node.op} {right})"
        if isinstance(node, If):
            cond = self.condition(node.cond, where)
            then, other = self.number(node.then, where), self.number(node.other, where)
            return f"(CASE WHEN ({cond}) THEN {then} WHEN NOT ({cond}) THEN {other} END)"
        if isinstance(node, Sum):
            repeat = self._repeat(node.repeat)
            alias = self._alias()
            inner = self.number(node.inner, Rows(alias, repeat))
            return (
                f"(SELECT COALESCE(SUM({inner}), 0) FROM {self.ctx.rows_table} {alias} "
                f"WHERE {alias}.submission_id = {self.ctx.top}.submission_id "
                f"AND {alias}.repeat_path = {quote(repeat)})"
            )
        if isinstance(node, Count):
            entry = self._field(node.name)
            if entry.get("kind") == "repeat":
                repeat = str(entry["path"])
                alias = self._alias()
                return (
                    f"(SELECT COUNT(*) FROM {self.ctx.rows_table} {alias} "
                    f"WHERE {alias}.submission_id = {self.ctx.top}.submission_id "
                    f"AND {alias}.repeat_path = {quote(repeat)})"
                )
            repeat = self._repeat(node.repeat)
            alias = self._alias()
            text = self.sql.json_text(alias, self._key(entry, repeat))
            return (
                f"(SELECT COUNT(CASE WHEN TRIM({text}) <> '' THEN 1 END) "
                f"FROM {self.ctx.rows_table} {alias} "
                f"WHERE {alias}.submission_id = {self.ctx.top}.submission_id "
                f"AND {alias}.repeat_path = {quote(repeat)})"
            )
        raise ExpressionError(f"expected a number, found {type(node).__name__}")

    def text(self, node: Node, where: Rows) -> str:
        if isinstance(node, Const):
            return quote(str(node.value))
        if isinstance(node, Ref):
            return f"NULLIF(TRIM({self.sql.json_text(*self._locate(node.name, where))}), '')"
        raise ExpressionError(f"expected text, found {type(node).__name__}")

    def condition(self, node: Node, where: Rows) -> str:
        if isinstance(node, Compare):
            op = "=" if node.op == "==" else ("<>" if node.op == "!=" else node.op)
            if self._is_text(node.left) or self._is_text(node.right):
                # Two answers compare as numbers when both read as numbers, as text otherwise;
                # the checker only lets text meet text, so this is text equality.
                return f"({self.text(node.left, where)} {op} {self.text(node.right, where)})"
            return f"({self.number(node.left, where)} {op} {self.number(node.right, where)})"
        if isinstance(node, Logic):
            joiner = f" {node.op.upper()} "
            return "(" + joiner.join(self.condition(o, where) for o in node.operands) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.condition(node.operand, where)})"
        if isinstance(node, Selected):
            alias, key = self._locate(node.name, where)
            return self.sql.selected(alias, key, quote(node.choice))
        if isinstance(node, Const | Ref | Arith | If | Sum | Count):
            # A number used as a condition: true when not zero.
            return f"({self.number(node, where)} <> 0)"
        raise ExpressionError(f"expected a condition, found {type(node).__name__}")

    # --- references -----------------------------------------------------------------------

    def _derived(self, node: Ref) -> Node | None:
        if node.name in self.ctx.fields:
            return None
        derived = self.ctx.derived.get(node.name)
        if derived is None:
            raise ExpressionError(f"unknown question {node.name!r}")
        return derived

    def _with_derived(self, name: str, build: Any) -> str:
        if name in self._stack:
            raise ExpressionError(f"circular definition: {' -> '.join((*self._stack, name))}")
        self._stack = (*self._stack, name)
        try:
            return str(build())
        finally:
            self._stack = self._stack[:-1]

    def _is_text(self, node: Node) -> bool:
        if isinstance(node, Const):
            return isinstance(node.value, str)
        if isinstance(node, Ref) and node.name in self.ctx.fields:
            entry = self.ctx.fields[node.name]
            if entry.get("select") == "one":
                choices = entry.get("choices") or []
                return not (choices and all(_reads_as_number(c) for c in choices))
            return entry.get("type") not in {"int", "integer", "decimal"} or bool(
                entry.get("calculate")
            )
        return False

    def _field(self, name: str) -> Mapping[str, Any]:
        entry = self.ctx.fields.get(name)
        if entry is None:
            raise ExpressionError(f"unknown question {name!r}")
        return entry

    def _repeat(self, name: str | None) -> str:
        """The schema path of the repeat called `name`."""
        if name is None:
            raise ExpressionError("sum() and count() need an expression checked against a form")
        entry = self._field(name)
        if entry.get("kind") != "repeat":
            raise ExpressionError(f"{name!r} is not a repeat")
        return str(entry["path"])

    def _locate(self, name: str, where: Rows) -> tuple[str, str]:
        """(alias, key) of question `name`: the repeat row being summed over when the question
        lives in that repeat, the top-level row otherwise."""
        entry = self._field(name)
        repeat = entry.get("repeat")
        if repeat is None:
            return self.ctx.top, self._key(entry, self.ctx.root)
        if repeat == where.root:
            return where.alias, self._key(entry, where.root)
        raise ExpressionError(f"{name!r} is inside a repeat: use it inside sum() or count()")

    @staticmethod
    def _key(entry: Mapping[str, Any], root: str) -> str:
        path = str(entry["path"])
        if not path.startswith(root + "/"):
            raise ExpressionError(f"{entry.get('name')!r} is not inside {root}")
        return path[len(root) + 1 :]

    def _alias(self) -> str:
        self._aliases += 1
        return f"rr{self._aliases}"


def _reads_as_number(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True
