"""The duckdb dialect of the compiled indicator SQL gives exactly what PostgreSQL gives.

The aggregation benchmark (bench/aggregates) runs the rebuild's computation in DuckDB as its
baseline; that comparison means something only if both engines compute the same numbers. The
DuckDB copy here is made the way the benchmark makes it: the same rows, `data` as JSON.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from bench.aggregates.load import form_versions, load_small
from server.aggregation import catalog_source
from server.aggregation.queries import contribution_query, eligible_sql
from server.db import Database
from server.expressions.sql import Context, compile_condition, compile_number
from server.expressions.syntax import Compare, Const, Ref, Selected


def _duck_copy(url: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE subs (id BIGINT, form_version_id BIGINT, org_unit_id BIGINT, cycle VARCHAR, "
        "processing_status VARCHAR, deleted_at TIMESTAMP, review_state VARCHAR, "
        "supersedes_id BIGINT)"
    )
    con.execute("CREATE TABLE srows (submission_id BIGINT, repeat_path VARCHAR, data JSON)")
    engine = create_engine(url)
    with engine.connect() as conn:
        subs = conn.execute(
            text(
                "SELECT id, form_version_id, org_unit_id, cycle, processing_status, deleted_at, "
                "review_state, supersedes_id FROM submissions"
            )
        ).all()
        rows = conn.execute(
            text("SELECT submission_id, repeat_path, CAST(data AS TEXT) FROM submission_rows")
        ).all()
    engine.dispose()
    con.executemany("INSERT INTO subs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [tuple(r) for r in subs])
    con.executemany("INSERT INTO srows VALUES (?, ?, ?)", [tuple(r) for r in rows])
    return con


def _normal(row: Any) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, Decimal) else v for v in row)


def test_every_indicator_of_the_demo_data_set_agrees(settings: Any) -> None:
    url = settings.database_url
    info = load_small(url, settings.data_dir / "blobs")
    assert info["submissions"] > 150 and info["failed_validation"] == 0
    duck = _duck_copy(url)
    db = Database(url)
    compared = 0
    with db.session() as session:
        loaded = catalog_source.load(session, None)
        for version_id, form_id, fields in form_versions(session):
            pg_query = contribution_query(loaded.catalog, form_id, version_id, fields, "postgresql")
            duck_query = contribution_query(
                loaded.catalog,
                form_id,
                version_id,
                fields,
                "duckdb",
                tables={"submissions": "subs", "submission_rows": "srows"},
            )
            assert [i.id for i in pg_query.indicators] == [i.id for i in duck_query.indicators]
            assert duck_query.skipped == pg_query.skipped
            order = " ORDER BY 1"
            expected = [
                _normal(r) for r in session.execute(text(pg_query.select(eligible_sql()) + order))
            ]
            got = [
                _normal(r)
                for r in duck.execute(duck_query.select(eligible_sql("subs")) + order).fetchall()
            ]
            assert got == expected, form_id
            compared += len(expected) * len(pg_query.indicators)
    db.dispose()
    # Something was compared, and the excluded submissions were left out by both engines.
    assert compared > 1000
    excluded = duck.execute(
        "SELECT COUNT(*) FROM subs s WHERE NOT (" + eligible_sql("subs") + ")"
    ).fetchone()
    assert excluded is not None and excluded[0] > 10


# --- one answer at a time ---------------------------------------------------------------------

FIELDS = {
    "n": {"name": "n", "path": "/data/n", "type": "int"},
    "pick": {"name": "pick", "path": "/data/pick", "type": "select multiple", "select": "multiple"},
}
ANSWERS = st.one_of(
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda f: round(f, 4)),
    st.sampled_from(["", " ", "12", " 7.5 ", "-3", "1e3", ".5", "abc", "1,000", "yes no", "a  b"]),
    st.lists(st.sampled_from(["a", "b", "yes"]), max_size=3),
)


@pytest.fixture(scope="module")
def engines(pg_url: str) -> Any:
    engine = create_engine(pg_url)
    yield engine, duckdb.connect()
    engine.dispose()


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=ANSWERS, missing=st.booleans())
def test_reading_one_answer_agrees(engines: Any, value: Any, missing: bool) -> None:
    """A number read from an answer, a comparison with it, and selected(): whatever the answer
    holds (numbers, numeric and other text, lists, null, absent), both engines agree."""
    engine, duck = engines
    data = {} if missing else {"n": value, "pick": value}
    nodes = [
        ("number", Ref("n")),
        ("condition", Compare(">", Ref("n"), Const(10))),
        ("condition", Selected("pick", "yes")),
    ]
    for kind, node in nodes:
        compile_ = compile_number if kind == "number" else compile_condition
        pg_sql = compile_(node, Context("postgresql", FIELDS, {}, "t", "/data"))
        duck_sql = compile_(node, Context("duckdb", FIELDS, {}, "t", "/data"))
        with engine.connect() as conn:
            expected = conn.execute(
                text(f"SELECT {pg_sql} FROM (SELECT CAST(:d AS JSONB) AS data) t"),
                {"d": json.dumps(data)},
            ).scalar()
        got = duck.execute(
            f"SELECT {duck_sql} FROM (SELECT CAST(? AS JSON) AS data) t", [json.dumps(data)]
        ).fetchone()[0]
        if isinstance(expected, Decimal):
            assert got is not None and float(expected) == pytest.approx(got, rel=1e-12), node
        else:
            assert got == expected, (node, data)
