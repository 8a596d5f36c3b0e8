"""The SQL compiled from a catalog expression computes what the reference evaluator computes,
for any expression over a form with a group, a repeat, selects and numbers, and any answers
(hypothesis), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pyxform.xls2xform import convert
from sqlalchemy.engine import make_url

from server.aggregation.expression_sql import Context, compile_condition, compile_number, dialect_of
from server.domain.expressions import ExpressionError, Scope, check, evaluate, parse_expression
from server.domain.xform.schema import read_form
from tests.fixtures import aggregation as fx

FIELDS = read_form(convert(fx.xlsform(), file_type=".xlsx").xform.encode()).fields
BY_NAME = {str(f["name"]): f for f in FIELDS}

numbers = st.one_of(st.none(), st.integers(-5, 60), st.sampled_from([0.5, 2.25, 10.0]))
answers = st.fixed_dictionaries(
    {
        "pupils": numbers,
        "teachers": numbers,
        "present": numbers,
        "services": st.one_of(
            st.none(),
            st.lists(st.sampled_from(["meals", "library", "sports"]), unique=True),
        ),
        "water": st.sampled_from([None, "yes", "no"]),
        "staff": st.lists(
            st.fixed_dictionaries(
                {
                    "dept": st.sampled_from([None, "health", "education"]),
                    "filled": numbers,
                    "approved": numbers,
                }
            ),
            max_size=3,
        ),
    }
)

top_numbers = st.sampled_from(["pupils", "teachers", "present", "3", "0", "2.5"])
staff_numbers = st.sampled_from(["filled", "approved", "1", "0"])


def _arith(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


staff_conditions = st.one_of(
    st.sampled_from(["dept == 'health'", "dept != 'education'", "filled > 1"]),
    st.tuples(staff_numbers, st.sampled_from(["<", ">=", "=="]), staff_numbers).map(" ".join),
)
staff_expr = st.recursive(
    staff_numbers,
    lambda inner: st.one_of(
        _arith(inner),
        st.tuples(staff_conditions, inner, inner).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
    ),
    max_leaves=4,
)
aggregates = st.one_of(
    staff_expr.map(lambda e: f"sum({e})"),
    st.sampled_from(["count(staff)", "count(filled)", "count(dept)"]),
)


def _conditions(num: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    base = st.one_of(
        st.sampled_from(
            [
                "water == 'yes'",
                "water != 'no'",
                "selected(services, 'meals')",
                "selected(services, 'library')",
                "selected(water, 'yes')",
            ]
        ),
        st.tuples(num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num).map(" ".join),
    )
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda c: f"not ({c})"),
        ),
        max_leaves=4,
    )


number_expr = st.recursive(
    st.one_of(top_numbers, aggregates),
    lambda inner: st.one_of(
        _arith(inner),
        st.tuples(_conditions(top_numbers), inner, inner).map(
            lambda t: f"if({t[0]}, {t[1]}, {t[2]})"
        ),
    ),
    max_leaves=6,
)
condition_expr = _conditions(st.one_of(top_numbers, aggregates))


def _rows(values: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(repeat_path, data) rows as the worker stores them: paths inside groups as keys."""
    top = {}
    for name in ("pupils", "teachers", "present", "services", "water"):
        key = str(BY_NAME[name]["path"])[len("/data/") :]
        top[key] = values[name]
    top["cycle"] = "2025/26"
    rows = [("", top)]
    rows.extend(("/data/staff", dict(member)) for member in values["staff"])
    return rows


def _python_row(values: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in values.items() if k != "staff"}
    row["staff"] = [dict(m) for m in values["staff"]]
    return row


def _same(sql_value: Any, py_value: Any) -> bool:
    if py_value is None or sql_value is None:
        return py_value is None and sql_value is None
    if isinstance(py_value, bool):
        return bool(sql_value) == py_value
    return abs(float(sql_value) - float(py_value)) <= 1e-9 * max(1.0, abs(float(py_value)))


class Backend:
    dialect: str
    conn: Any

    def run(self, sql: str, rows: list[tuple[str, dict[str, Any]]]) -> Any:
        raise NotImplementedError


class SqliteBackend(Backend):
    dialect = "sqlite"

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(
            "CREATE TABLE submission_rows (submission_id INTEGER, repeat_path TEXT, data TEXT)"
        )

    def run(self, sql: str, rows: list[tuple[str, dict[str, Any]]]) -> Any:
        self.conn.execute("DELETE FROM submission_rows")
        self.conn.executemany(
            "INSERT INTO submission_rows VALUES (1, ?, ?)", [(p, json.dumps(d)) for p, d in rows]
        )
        return self.conn.execute(
            f"SELECT {sql} FROM submission_rows t WHERE t.repeat_path = ''"
        ).fetchone()[0]


class PostgresBackend(Backend):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        u = make_url(url)
        self.conn = psycopg.connect(
            host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True
        )
        self.conn.execute(
            "CREATE TEMP TABLE submission_rows "
            "(submission_id INTEGER, repeat_path TEXT, data JSONB)"
        )

    def run(self, sql: str, rows: list[tuple[str, dict[str, Any]]]) -> Any:
        self.conn.execute("DELETE FROM submission_rows")
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO submission_rows VALUES (1, %s, %s::jsonb)",
                [(p, json.dumps(d)) for p, d in rows],
            )
            cur.execute(
                f"SELECT {sql} FROM submission_rows t WHERE t.repeat_path = ''".replace("%", "%%")
            )
            row = cur.fetchone()
        assert row is not None
        return row[0]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    backend = (
        SqliteBackend()
        if request.param == "sqlite"
        else PostgresBackend(request.getfixturevalue("pg_url"))
    )
    yield backend
    backend.conn.close()


def _compare(backend: Backend, source: str, values: dict[str, Any], kind: str) -> None:
    scope = Scope(fx.FORM_ID, BY_NAME, {})
    try:
        node, _ = check(parse_expression(source), scope)
    except ExpressionError:
        reject()  # e.g. sum(1): the catalog checker refuses it before any SQL is made
    ctx = Context(dialect_of(backend.dialect), BY_NAME, {}, top="t", root="/data")
    sql = compile_number(node, ctx) if kind == "number" else compile_condition(node, ctx)
    got = backend.run(sql, _rows(values))
    want = evaluate(node, _python_row(values))
    assert _same(got, want), f"{source}: SQL gave {got!r}, the evaluator {want!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=number_expr, values=answers)
def test_numbers_agree_with_the_evaluator(backend: Backend, source: str, values: dict) -> None:  # type: ignore[type-arg]
    _compare(backend, source, values, "number")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=condition_expr, values=answers)
def test_conditions_agree_with_the_evaluator(backend: Backend, source: str, values: dict) -> None:  # type: ignore[type-arg]
    _compare(backend, source, values, "condition")
