"""What the worker's claim of waiting submissions costs as processed ones pile up.

    python bench/ingest/claim.py [--runs 3] [--seconds 15]

Sets up what bench/ingest/run.py sets up, serves the real app with the production gunicorn
settings and runs the production worker beside it. Each run posts submissions at 8 clients for
`--seconds`, waits until the worker has processed them all, then times (EXPLAIN ANALYZE, the
second of two, so both sides meet warm buffers) the query by which a worker claims the oldest
waiting submissions (`workers/processing.py`), and, as the baseline, the same query without the
index of waiting submissions (ix_submissions_waiting, migration 0008), dropped inside a
transaction that is rolled back: what a claim cost before. With nothing waiting, the claim
finds nothing; what it costs is the index entries of submissions processed since the last
vacuum that it visits on the way (the output says whether autovacuum is on).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import postgresql

from bench.ingest import run as bench
from server.models import Submission
from server.models.submissions import ProcessingStatus
from workers.processing import _claim

OWN = [0]  # a task's own ids; none of them waiting


def claim_query() -> str:
    waiting = Submission.processing_status == ProcessingStatus.received
    query = _claim(
        select(Submission).where(waiting, Submission.id.not_in(OWN)).order_by(Submission.id), 200
    )
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def explain(conn, sql: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Execution time (ms) and shared buffers touched, of the second of two runs."""
    for _ in range(2):
        plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")).scalar()[0]
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return plan["Execution Time"], buffers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(bench.REDIS_URL).flushdb()
    sql = claim_query()
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-claim-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        bench.prepare(env)
        port = bench.free_port()
        engine = create_engine(url)
        worker = bench.process(
            bench.worker_command(Path(tmp)), bench.worker_env(env), Path(tmp) / "worker.log"
        )
        with bench.gunicorn("server.wsgi:app", port, env, Path(tmp) / "server.log"), worker:
            bench.wait_http(port)
            with engine.connect() as conn:
                autovacuum = conn.execute(text("SHOW autovacuum")).scalar()
            print(f"autovacuum: {autovacuum}", flush=True)
            for _ in range(args.runs):
                result = bench.run_wrk(port, 8, args.seconds, env)
                bench.drain(url, 900)
                processed = bench.count(url, "processed")
                with engine.connect() as conn:
                    claim = explain(conn, sql)
                    conn.rollback()  # FOR UPDATE took nothing; leave no transaction open
                    conn.execute(text("DROP INDEX ix_submissions_waiting"))
                    before = explain(conn, sql)
                    conn.rollback()  # the index is back
                print(
                    json.dumps(
                        {
                            "posted_per_s": round(result["rate"]),
                            "processed": processed,
                            "claim_ms": round(claim[0], 2),
                            "claim_buffers": claim[1],
                            "without_index_ms": round(before[0], 2),
                            "without_index_buffers": before[1],
                            "without_over_with": round(before[0] / max(claim[0], 1e-3), 1),
                        }
                    ),
                    flush=True,
                )
        engine.dispose()


if __name__ == "__main__":
    main()
