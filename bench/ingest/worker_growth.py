"""Does the worker's cost per submission grow with the submissions already stored?

    python bench/ingest/worker_growth.py [--rounds 5] [--per-round 5000] [--batch 400]

Sets up what bench/ingest/run.py sets up and builds the real app in this process (as
bench/ingest/inprocess.py does). Each round receives `--per-round` submissions through it, then
processes them as the worker does (`workers/processing.py process_batch`, `--batch` at a time, one
transaction each) and prints the CPU the worker's PostgreSQL backend spent per submission and
the statements that took longest, by their total time in the round. The first round, on a
small table, is the baseline: the last line is the last round's cost as a ratio of it. A
statement whose time climbs round after round reads what the table holds rather than what the
batch holds (autovacuum off, as on the benchmark machine, makes the climb steeper: nothing
clears the dead row versions of the processed submissions).
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest.cpu import HZ, process_ticks
from bench.ingest.inprocess import caller, environ_factory, real_app

SHOWN = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=400)
    args = parser.parse_args()
    with real_app() as app:
        from sqlalchemy import event

        from server.openrosa.deps import wakeups
        from workers import processing, runtime

        receive = caller(app, environ_factory())
        database = runtime.database()
        seconds: collections.Counter[str] = collections.Counter()
        calls: collections.Counter[str] = collections.Counter()

        @event.listens_for(database.engine, "before_cursor_execute")
        def _started(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(database.engine, "after_cursor_execute")
        def _ended(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            key = " ".join(statement.split())[:100]
            seconds[key] += time.perf_counter() - conn.info["bench_started"]
            calls[key] += 1

        costs: list[float] = []
        stored = 0
        for round_number in range(args.rounds):
            for _ in range(args.per_round):
                receive()
            stored += args.per_round
            with app.app_context():
                wakeups().flush()
            seconds.clear()
            calls.clear()
            done, ticks = 0, 0
            while True:
                with database.session() as session:
                    backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()")
                    pid = backend.scalar()
                    before = sum(process_ticks(pid))
                    outcomes = processing.process_batch(session, [], args.batch)
                    session.commit()
                    ticks += sum(process_ticks(pid)) - before
                if not outcomes:
                    break
                done += len(outcomes)
            cost = ticks / HZ / max(done, 1) * 1e6
            costs.append(cost)
            print(
                f"round {round_number + 1}: {done} processed with {stored} stored; the worker's "
                f"PostgreSQL {cost:.0f} us CPU per submission",
                flush=True,
            )
            for key, total in seconds.most_common(SHOWN):
                print(f"    {total * 1e3:7.1f} ms in {calls[key]:3d} runs of  {key}")
        print(
            f"last round / first round: {costs[-1] / costs[0]:.2f} "
            f"({costs[0]:.0f} and {costs[-1]:.0f} us per submission)"
        )


if __name__ == "__main__":
    main()
