"""Two parts of the receiver's work alone, each against what it replaced, in the same run.

    python bench/ingest/micro.py [--bodies 20000] [--writes 3000]

1. Reading a submission's multipart body (the one XML part wrk sends): Flask's own
   `request.files` (werkzeug's form parser, what the bare endpoint does) against the
   receiver's `server/openrosa/spool.py parse_multipart`, each on a fresh request.
2. A prepared 26-parameter INSERT ... RETURNING in autocommit, like the receiver's new-row
   INSERT: a new psycopg cursor per write against one cursor kept for the connection (needs
   PostgreSQL, DMIP_TEST_POSTGRES_URL as for the tests; a temporary table).

Each prints microseconds of this process's CPU per operation, best of three rounds, and the
ratio of the two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest.inprocess import cpu_per_call, environ_factory

ROUNDS = 3


def best_us(call: Callable[[], None], count: int) -> float:
    """This process's CPU per call, in microseconds: the best of ROUNDS rounds of `count`."""
    return min(cpu_per_call(call, count) for _ in range(ROUNDS))


def report(what: str, before: tuple[str, float], after: tuple[str, float]) -> None:
    print(
        f"{what}: {before[0]} {before[1]:.1f} us, {after[0]} {after[1]:.1f} us "
        f"({after[0]} / {before[0]} {after[1] / before[1]:.2f})",
        flush=True,
    )


def multipart(bodies: int) -> None:
    from flask import Request

    from server.openrosa.spool import parse_multipart

    # One of submit.lua's requests, as gunicorn hands it over; a fresh body stream per call.
    environ = environ_factory()()
    body = environ["wsgi.input"].getvalue()

    def request() -> Request:
        return Request({**environ, "wsgi.input": io.BytesIO(body)})

    def flask_files() -> None:
        request().files.get("xml_submission_file")

    with tempfile.TemporaryDirectory() as uploads:

        def receiver() -> None:
            parse_multipart(request(), Path(uploads), 1024 * 1024).close()

        report(
            "multipart body",
            ("request.files", best_us(flask_files, bodies)),
            ("parse_multipart", best_us(receiver, bodies)),
        )


def cursor(writes: int) -> None:
    import psycopg

    url = os.environ.get("DMIP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    columns = [(f"{kind}{i}", sql) for i in range(8) for kind, sql in
               (("i", "INT"), ("s", "VARCHAR"), ("b", "BOOLEAN"))]  # fmt: skip
    columns += [("t", "TIMESTAMP"), ("x", "BYTEA")]
    conn.execute(
        "CREATE TEMPORARY TABLE bench_cursor (id BIGSERIAL PRIMARY KEY, "
        + ", ".join(f"{name} {sql}" for name, sql in columns)
        + ")"
    )
    statement = (
        f"INSERT INTO bench_cursor ({', '.join(name for name, _ in columns)}) VALUES ("
        + ", ".join(f"CAST(${i + 1} AS {sql})" for i, (_, sql) in enumerate(columns))
        + ") RETURNING id, i0, s0"
    )
    now, xml = dt.datetime.now(), b"<data/>" * 100

    def params(n: int) -> list[object]:
        row: list[object] = []
        for _ in range(8):
            row += [n, f"value {n}", n % 2 == 0]
        return [*row, now, xml]

    numbers = itertools.count()

    def fresh() -> None:
        with psycopg.RawCursor(conn) as cur:
            cur.execute(statement, params(next(numbers)), prepare=True).fetchall()

    kept = psycopg.RawCursor(conn)

    def reused() -> None:
        kept.execute(statement, params(next(numbers)), prepare=True).fetchall()

    try:
        report(
            "INSERT through psycopg",
            ("a cursor per write", best_us(fresh, writes)),
            ("one cursor kept", best_us(reused, writes)),
        )
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bodies", type=int, default=20000)
    parser.add_argument("--writes", type=int, default=3000)
    args = parser.parse_args()
    multipart(args.bodies)
    cursor(args.writes)


if __name__ == "__main__":
    main()
