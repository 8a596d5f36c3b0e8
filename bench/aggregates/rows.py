"""The worker's insert of flattened rows, by statement per row and by COPY, on real DMIP rows.

    python bench/aggregates/rows.py [--submissions 50000] [--rows 10000] [--batch 200] [--repeat 4]

Uses the database `bench/aggregates/run.py` loaded for `--submissions` (run it first; the
same parameters find it). It reads `--rows` flattened rows of the seven DMIP forms back, then
inserts them again `--batch` at a time, each batch in a transaction rolled back afterwards,
alternately the two ways the worker can write them (`workers/processing.py`): `insert_rows`, one
INSERT run per row (pipelined by psycopg; what the worker did, and still does on SQLite), and
`copy_rows`, one COPY per batch (what it does on PostgreSQL). It prints this process's CPU
time and the database backend's per row, the best of `--repeat` rounds of each, their ratio,
and checks that both store the same values.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import Connection, Engine, text

from bench.aggregates.run import db_url, reuse_loaded
from bench.ingest.cpu import HZ, process_ticks
from server.db import make_engine
from workers.processing import copy_rows, insert_rows

COLUMNS = "submission_id, repeat_path, position, parent_position, data"
# The rows this transaction wrote.
READ_BACK = text(
    f"SELECT {COLUMNS} FROM submission_rows WHERE xmin = pg_current_xact_id()::xid ORDER BY id"
)
Writer = Callable[[Connection, Sequence[dict[str, Any]]], None]


def round_of(engine: Engine, write: Writer, rows: list[dict[str, Any]], batch: int) -> tuple:
    """CPU seconds of this process and of the backend for writing `rows`, and what the last
    batch stored, as read back before its rollback."""
    client = backend = 0.0
    stored: list[tuple] = []
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        conn.rollback()
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            with conn.begin() as transaction:
                ticks, cpu = sum(process_ticks(pid)), time.process_time()
                write(conn, part)
                client += time.process_time() - cpu
                backend += (sum(process_ticks(pid)) - ticks) / HZ
                if start + batch >= len(rows):
                    stored = [tuple(row) for row in conn.execute(READ_BACK)]
                transaction.rollback()
    return client, backend, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    name = reuse_loaded(args.submissions)
    engine = make_engine(db_url(name))
    with engine.connect() as conn:
        rows = [
            dict(row._mapping)
            for row in conn.execute(
                # Every form's rows: the sample interleaves them as the load did.
                text(f"SELECT {COLUMNS} FROM submission_rows ORDER BY id LIMIT :n"),
                {"n": args.rows},
            )
        ]
    keys = sum(len(row["data"]) for row in rows) / max(len(rows), 1)
    print(f"{len(rows)} rows of {name}, {keys:.0f} values each on average")
    best: dict[str, tuple[float, float]] = {}
    stored: dict[str, list[tuple]] = {}
    for _ in range(args.repeat):  # alternately, so both see the same machine
        for label, write in (("insert per row", insert_rows), ("copy", copy_rows)):
            client, backend, stored[label] = round_of(engine, write, rows, args.batch)
            old = best.get(label, (float("inf"), float("inf")))
            best[label] = (min(old[0], client), min(old[1], backend))
    if not stored["copy"] or stored["insert per row"] != stored["copy"]:
        raise SystemExit("the two ways stored different rows")
    for label, (client, backend) in best.items():
        print(
            f"{label:<15} worker {client / len(rows) * 1e6:5.1f} us, database "
            f"{backend / len(rows) * 1e6:5.1f} us CPU per row"
        )
    (c_old, b_old), (c_new, b_new) = best["insert per row"], best["copy"]
    print(
        f"copy / insert per row: worker {c_new / c_old:.2f}, database {b_new / b_old:.2f}, "
        f"both {(c_new + b_new) / (c_old + b_old):.2f}"
    )
    # Every rolled-back row is a dead tuple in the loaded database, which later runs of the
    # other benchmarks reuse, and autovacuum may be off (it is on the machines here).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM submission_rows")
    engine.dispose()


if __name__ == "__main__":
    main()
