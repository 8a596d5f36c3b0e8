"""The two timed computations, each run in a fresh process so its peak memory is its own.

`python -m bench.aggregates.measure rebuild URL [original|fast]` runs `rebuild()`
(server/aggregation/rebuild.py) on PostgreSQL; `python -m bench.aggregates.measure duckdb URL
DUCKFILE` runs the same indicator computation in DuckDB: for every form version the duckdb
dialect of the same contribution SQL (server/aggregation/queries.py), the same unpivot and
grouping, and the roll-up up the org hierarchy as a join on each unit's ancestors. Each prints
one line of JSON.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

DUCKDB_MEMORY = os.environ.get("BENCH_DUCKDB_MEMORY", "6GB")
ANCESTORS_SQL = (
    "SELECT u.id, a.id FROM org_units u JOIN org_units a ON u.path LIKE a.path || '%' ORDER BY u.id"
)


def _status_kb(pid: int, field: str) -> int:
    """A memory figure of a process. VmHWM, not getrusage's ru_maxrss: Linux carries the
    latter over an exec from the parent's image, so a child of a big parent looks big."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class BackendMemory(threading.Thread):
    """Samples the private memory (RssAnon) of a PostgreSQL backend and its parallel workers.

    RssAnon leaves out shared buffers, which every backend maps and which would make each one
    look as big as the buffer cache it touched."""

    def __init__(self, url: str, leader: int) -> None:
        super().__init__(daemon=True)
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.leader = leader
        self.peak_kb = 0
        self.peak_processes = 1
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            pids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE pid = %s OR leader_pid = %s",
                    (self.leader, self.leader),
                )
            ]
            total = sum(_status_kb(pid, "RssAnon") for pid in pids)
            self.peak_kb = max(self.peak_kb, total)
            self.peak_processes = max(self.peak_processes, len(pids))

    def finish(self) -> None:
        self.stop.set()
        self.join()
        self.conn.close()


def rebuild_main(url: str, variant: str = "fast") -> dict[str, Any]:
    """`rebuild_in` as it is ("fast"), or with the plain grouped query its evaluate-once form
    replaced ("original", put in its place from bench/aggregates/duckdb_sql.py)."""
    from sqlalchemy import text

    from bench.aggregates.duckdb_sql import plain_grouped_pg
    from server.aggregation import rebuild as module
    from server.aggregation.rebuild import rebuild_in
    from server.db import Database
    from server.plans import staleness

    if variant == "original":
        module._grouped_pg = plain_grouped_pg  # type: ignore[assignment]

    db = Database(url)
    marks: list[tuple[str, float]] = []
    start = time.monotonic()
    with db.session() as session:
        leader = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        plain = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        memory = BackendMemory(plain, leader)
        memory.start()
        start = time.monotonic()
        report = rebuild_in(session, progress=lambda m: marks.append((m, time.monotonic())))
        # As `dmip aggregates rebuild` does (server/services/aggregate_rebuild.py): every
        # district's plan is then redrawn by the worker, during the freshness run too.
        staleness.mark_stale(session, report.moved)
        computed = next((t for m, t in marks if m.startswith("writing")), time.monotonic())
        session.commit()
    seconds = time.monotonic() - start
    memory.finish()
    db.dispose()
    return {
        "seconds": seconds,
        "compute_seconds": computed - start,
        "write_seconds": seconds - (computed - start),
        "aggregates": report.aggregates,
        "submissions": report.submissions,
        "recounted": report.recounted,
        "skipped": len(report.skipped),
        "peak_rss_mb": _status_kb(os.getpid(), "VmHWM") / 1024,
        "backend_peak_private_mb": memory.peak_kb / 1024,
        "backend_processes": memory.peak_processes,
    }


def duckdb_queries(url: str, submissions: str, rows: str) -> list[tuple[str, list[str]]]:
    """(SQL, indicator ids) per form version: the duckdb dialect of the rebuild's queries."""
    from bench.aggregates.duckdb_sql import DUCKDB, plain_grouped_sql
    from bench.aggregates.load import form_versions
    from server.aggregation import catalog_source
    from server.aggregation.queries import contribution_query, eligible_sql
    from server.db import Database

    db = Database(url)
    out: list[tuple[str, list[str]]] = []
    with db.session() as session:
        loaded = catalog_source.load(session, None)
        versions = form_versions(session)
    db.dispose()
    tables = {"submissions": submissions, "submission_rows": rows}
    where = eligible_sql(submissions)
    for version_id, form_id, fields in versions:
        query = contribution_query(
            loaded.catalog, form_id, version_id, fields or [], DUCKDB, tables=tables
        )
        if not query.indicators:
            continue
        out.append((plain_grouped_sql(query, where), [i.id for i in query.indicators]))
    return out


def duckdb_main(url: str, path: str) -> dict[str, Any]:
    import duckdb

    queries = duckdb_queries(url, "subs", "srows")
    # Bounded like the rebuild's target (DuckDB spills to disk beyond it), on both cores.
    con = duckdb.connect(
        path,
        read_only=True,
        config={
            "memory_limit": DUCKDB_MEMORY,
            "threads": int(os.environ.get("BENCH_DUCKDB_THREADS", "2")),
            "temp_directory": str(Path(path).with_suffix(".tmp.d")),
        },
    )
    start = time.monotonic()
    # One query per form version, as the rebuild does: their leaves in a temporary table, then
    # the roll-up as a join on each unit's ancestors.
    con.execute(
        "CREATE TEMP TABLE leaves (ind VARCHAR, org_unit_id BIGINT, cycle VARCHAR, n BIGINT, "
        "v HUGEINT, sq HUGEINT, num HUGEINT, den HUGEINT)"
    )
    for sql, _ids in queries:
        con.execute(f"INSERT INTO leaves {sql}")
    totals = con.execute(
        "SELECT l.ind, a.ancestor_id, l.cycle, SUM(l.n), SUM(l.v), SUM(l.sq), SUM(l.num), "
        "SUM(l.den) FROM leaves l JOIN ancestors a ON a.unit_id = l.org_unit_id "
        "GROUP BY l.ind, a.ancestor_id, l.cycle"
    ).fetchall()
    seconds = time.monotonic() - start
    con.close()
    return {
        "seconds": seconds,
        "aggregates": len(totals),
        "peak_rss_mb": _status_kb(os.getpid(), "VmHWM") / 1024,
        "totals": [[str(t[0]), int(t[1]), str(t[2]), *(int(x) for x in t[3:])] for t in totals],
    }


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    result = rebuild_main(*rest) if kind == "rebuild" else duckdb_main(*rest)
    print(json.dumps(result))
