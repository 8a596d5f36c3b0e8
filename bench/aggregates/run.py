"""Aggregation benchmark: full rebuild on PostgreSQL against DuckDB, and freshness.

    .venv/bin/python bench/aggregates/run.py --submissions 1000000 --freshness-seconds 60

1. Load (or reuse) a PostgreSQL database holding the demo data set at scale: `--districts`
   districts of `--sub-counties` sub-counties each, all seven forms, about `--submissions`
   submissions (bench/aggregates/load.py: generated, flattened by the worker's own function and
   COPYed in; kept between runs while the parameters and the generator are the same).
2. Copy the same submissions and submission_rows rows into a DuckDB file (JSON data column)
   and the org hierarchy as (unit, ancestor) pairs.
3. Time `rebuild()` on PostgreSQL and the same computation in DuckDB, each in a fresh process
   (bench/aggregates/measure.py), and check that both give the same aggregates.
4. Freshness: the production stack (gunicorn, Redis, the two Celery workers, beat) on the loaded
   database; a paced client posts real OpenRosa submissions at `--rate` per second for
   `--freshness-seconds`, and for each one the time from its 201 to the first moment the
   database shows it counted (the flag the worker sets in the same transaction that adds it to
   its district's aggregates) is measured.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.aggregates import load
from bench.aggregates.measure import ANCESTORS_SQL
from bench.ingest.run import (
    ADMIN_PG_URL,
    ROOT,
    free_port,
    gunicorn,
    machine,
    process,
    wait_http,
)
from server import migrate

REDIS_URL = os.environ.get("DMIP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CACHE = Path(os.environ.get("DMIP_BENCH_CACHE", "/var/tmp/dmip-bench-aggregates"))
USERNAME, PASSWORD = "bench_fresh", "bench-fresh-password-1"


def say(message: str) -> None:
    print(message, flush=True)


def db_url(name: str) -> str:
    return make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def admin_exec(sql: str) -> list[Any]:
    engine = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(sql))
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def reuse_loaded(submissions: int) -> str:
    """The name of the database a run of this benchmark loaded for `submissions`: the other
    benchmarks that work on the loaded data (contribution.py, rows.py, bench/plans) need one."""
    name, _info = ensure_loaded(load.Plan(submissions, 24, 15, 0), True, 1)
    return name


def ensure_loaded(plan: load.Plan, skip_load: bool, processes: int) -> tuple[str, dict]:
    if skip_load:
        prefix = f"dmip_bench_agg_{plan.submissions}_"
        names = [
            r[0]
            for r in admin_exec(
                f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%' ORDER BY oid DESC"
            )
        ]
        for name in names:
            info = load.loaded_info(db_url(name))
            if info:
                say(f"reusing {name} (--skip-load)")
                migrate.upgrade(db_url(name))  # loaded under an older schema, perhaps
                return name, info
        raise SystemExit(f"--skip-load: no loaded database for {plan.submissions} submissions")
    name = plan.database_name()
    info = load.loaded_info(db_url(name))
    if info:
        say(f"reusing {name}: {info['submissions']:,} submissions, {info['rows']:,} rows")
        migrate.upgrade(db_url(name))  # loaded under an older schema, perhaps
        return name, info
    admin_exec(f'DROP DATABASE IF EXISTS "{name}"')
    admin_exec(f'CREATE DATABASE "{name}"')
    url = db_url(name)
    say(f"loading {name}: {plan}, {plan.size}")
    load.prepare(url, plan, CACHE / name / "blobs")
    info = load.load(url, plan, processes, say)
    info["plan"] = plan.__dict__
    load.mark_loaded(url, info)
    say(f"loaded in {info['seconds']:.0f}s")
    return name, info


def duckdb_copy(name: str) -> tuple[Path, float]:
    """A DuckDB file with the same rows (kept beside the PostgreSQL cache); seconds to make."""
    import duckdb
    import psycopg

    path = CACHE / f"{name}.duckdb"
    if path.exists():
        return path, 0.0
    start = time.monotonic()
    work = CACHE / name
    work.mkdir(parents=True, exist_ok=True)
    exports = {
        "subs": "SELECT id, form_version_id, org_unit_id, cycle, processing_status, deleted_at, "
        "review_state, supersedes_id FROM submissions",
        "srows": "SELECT submission_id, repeat_path, data FROM submission_rows",
        "ancestors": ANCESTORS_SQL,
    }
    with psycopg.connect(plain(db_url(name))) as conn, conn.cursor() as cur:
        for table, sql in exports.items():
            with (
                (work / f"{table}.csv").open("wb") as out,
                cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute(
        "CREATE TABLE subs AS SELECT * FROM read_csv(?, header = false, columns = {"
        "'id': 'BIGINT', 'form_version_id': 'BIGINT', 'org_unit_id': 'BIGINT', "
        "'cycle': 'VARCHAR', 'processing_status': 'VARCHAR', 'deleted_at': 'TIMESTAMP', "
        "'review_state': 'VARCHAR', 'supersedes_id': 'BIGINT'})",
        [str(work / "subs.csv")],
    )
    con.execute(
        "CREATE TABLE srows AS SELECT * FROM read_csv(?, header = false, max_line_size = 10000000, "
        "force_not_null = ['repeat_path'], columns = {'submission_id': 'BIGINT', "
        "'repeat_path': 'VARCHAR', 'data': 'JSON'})",
        [str(work / "srows.csv")],
    )
    con.execute(
        "CREATE TABLE ancestors AS SELECT * FROM read_csv(?, header = false, columns = {"
        "'unit_id': 'BIGINT', 'ancestor_id': 'BIGINT'})",
        [str(work / "ancestors.csv")],
    )
    con.close()
    tmp.rename(path)
    for table in exports:
        (work / f"{table}.csv").unlink()
    return path, time.monotonic() - start


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.aggregates.measure", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"measure {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def pg_totals(url: str) -> dict[tuple[str, int, str], tuple[int, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT indicator_id, org_unit_id, cycle, n, total, total_sq, num, den "
                "FROM aggregates"
            )
        ).all()
    engine.dispose()
    return {(r[0], int(r[1]), r[2]): tuple(int(x) for x in r[3:]) for r in rows}


def compare(pg: dict, duck_rows: list[list[Any]]) -> dict[str, Any]:
    duck = {(r[0], r[1], r[2]): tuple(r[3:]) for r in duck_rows}
    differ = [k for k in pg.keys() & duck.keys() if pg[k] != duck[k]]
    return {
        "pg_only": len(pg.keys() - duck.keys()),
        "duckdb_only": len(duck.keys() - pg.keys()),
        "differ": len(differ),
        "differ_examples": [[*k, pg[k], duck[k]] for k in sorted(differ)[:3]],
        "identical": not differ and pg.keys() == duck.keys(),
    }


def compare_rebuilds(url: str, path: Path, variants: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    say(f"same computation in DuckDB (load average {load_average()})")
    results["load_average_before"] = load_average()
    duck = child("duckdb", url, str(path))
    totals = duck.pop("totals")
    say(
        f"  {duck['seconds']:.1f}s, {duck['aggregates']:,} aggregates, "
        f"peak RSS {duck['peak_rss_mb']:.0f} MB"
    )
    results["duckdb"] = duck
    for variant in variants:
        say(f"rebuild on PostgreSQL, {variant} (load average {load_average()})")
        pg = child("rebuild", url, variant)
        pg["comparison"] = compare(pg_totals(url), totals)
        pg["ratio"] = pg["seconds"] / duck["seconds"]
        pg["compute_ratio"] = pg["compute_seconds"] / duck["seconds"]
        say(
            f"  {pg['seconds']:.1f}s ({pg['compute_seconds']:.1f}s computing, "
            f"{pg['write_seconds']:.1f}s writing), {pg['aggregates']:,} aggregates, "
            f"process peak RSS {pg['peak_rss_mb']:.0f} MB, backend private peak "
            f"{pg['backend_peak_private_mb']:.0f} MB over {pg['backend_processes']} process(es)"
        )
        say(
            f"  rebuild / DuckDB: {pg['ratio']:.1f}x (computation alone "
            f"{pg['compute_ratio']:.1f}x); same aggregates as DuckDB: "
            f"{pg['comparison']['identical']}"
        )
        results[f"rebuild_{variant}"] = pg
    results["load_average_after"] = load_average()

    return results


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


# --- freshness ----------------------------------------------------------------------------------


def freshness(
    url: str, plan: load.Plan, seconds: int, rate: float, logs: Path, workers: str
) -> dict[str, Any]:
    """`workers`: "separate", as docker-compose.yml runs them (one worker for the default
    queue, one for the slow queue), or "shared", one worker taking both queues (the baseline:
    how every deployment ran before the slow queue)."""
    from sqlalchemy import select

    from server.db import Database
    from server.demo.dataset import FormShape, generate
    from server.services.users import create_user

    db = Database(url)
    with db.session() as session:
        district, region = load.district_codes(session, 1)[0]
        if not session.execute(
            text("SELECT 1 FROM users WHERE username = :u"), {"u": USERNAME}
        ).first():
            create_user(session, USERNAME, PASSWORD, "enumerator", "DMIP", [district])
        from server.models import Form, FormVersion

        shapes = {
            f: FormShape(f, v, list(s or []))
            for f, v, s in session.execute(
                select(Form.xml_form_id, FormVersion.version, FormVersion.schema).join(
                    FormVersion, FormVersion.id == Form.current_version_id
                )
            )
        }
        start_id = int(
            session.execute(text("SELECT COALESCE(MAX(id), 0) FROM submissions")).scalar_one()
        )
    db.dispose()
    # Instances of one district written by the same generator (another seed), each sent with a
    # fresh instanceID: new submissions of every form for the district's aggregates.
    districts = load.hierarchy([(district, region)], 3)
    templates = [
        (i.xml.decode(), i.instance_id)
        for i in generate(districts, shapes, seed=plan.seed + 1, cycle=load.CYCLE)
    ]
    port = free_port()
    env = {
        **os.environ,
        "DMIP_DATABASE_URL": url,
        "DMIP_BROKER_URL": REDIS_URL,
        "DMIP_DATA_DIR": str(logs / "data"),
        "DMIP_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "DMIP_SWEEP_INTERVAL": "5",
        "DMIP_SWEEP_GRACE": "5",
    }
    celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker"]
    worker = [
        *celery, "--beat", "--schedule", str(logs / "celerybeat-schedule"),
        "--loglevel=WARNING", "--concurrency=2",
    ]  # fmt: skip
    slow_worker = [*celery, "--loglevel=WARNING", "--concurrency=1", "-Q", "slow", "-n", "slow@%h"]
    if workers == "separate":
        worker += ["-Q", "celery"]
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    auth = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    sent: dict[str, float] = {}  # instanceID -> monotonic time of its 201
    statuses: dict[int, int] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()

    def post(n: int) -> None:
        xml, old_id = templates[n % len(templates)]
        new_id = f"uuid:{uuid.uuid4()}"
        body_xml = xml.replace(old_id, new_id).encode()
        boundary = "----dmipfreshness"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
            ).encode()
            + body_xml
            + f"\r\n--{boundary}--\r\n".encode()
        )
        # A connection per request: gunicorn's sync workers close it after each response.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(
                "POST",
                "/submission",
                body,
                {
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "X-OpenRosa-Version": "1.0",
                    "Authorization": auth,
                },
            )
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
        finally:
            conn.close()
        done = time.monotonic()
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                sent[new_id] = done

    stop = threading.Event()

    def poll() -> None:
        import psycopg

        with psycopg.connect(plain(url), autocommit=True) as conn:
            since = None
            while not stop.is_set():
                rows = conn.execute(
                    "SELECT instance_id, processed_at FROM submissions "
                    "WHERE id > %s AND counted AND (%s::timestamp IS NULL OR processed_at > %s)",
                    (start_id, since, since),
                ).fetchall()
                now = time.monotonic()
                latest = None
                for instance_id, processed_at in rows:
                    if instance_id not in seen:
                        seen[instance_id] = now
                    latest = processed_at if latest is None else max(latest, processed_at)
                if latest is not None:
                    # Only look back a little: a worker transaction lasts well under this.
                    import datetime as dt

                    since = latest - dt.timedelta(seconds=30)
                time.sleep(0.02)

    with (
        gunicorn("server.wsgi:app", port, env, logs / "web.log"),
        process(worker, env, logs / "worker.log"),
        process(slow_worker, env, logs / "worker-slow.log")
        if workers == "separate"
        else contextlib.nullcontext(),
    ):
        wait_http(port)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        total = int(seconds * rate)
        say(f"freshness: {total} submissions at {rate:.0f}/s (load average {load_average()})")
        begin = time.monotonic()
        lag = 0.0
        with ThreadPoolExecutor(32) as pool:
            for n in range(total):
                due = begin + n / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    lag = max(lag, -pause)
                pool.submit(post, n)
        sending = time.monotonic() - begin
        end = time.monotonic() + 120
        while time.monotonic() < end:
            with lock:
                waiting = [i for i in sent if i not in seen]
            if not waiting:
                break
            time.sleep(0.2)
        stop.set()
        poller.join()
    latencies = sorted(seen[i] - t for i, t in sent.items() if i in seen)
    if not latencies:
        raise SystemExit(f"freshness: nothing was counted; statuses {statuses}")
    qs = statistics.quantiles(latencies, n=100, method="inclusive")
    result = {
        "workers": workers,
        "district": district,
        "sent_per_s": len(sent) / sending,
        "statuses": statuses,
        "counted": len(latencies),
        "never_counted": len(sent) - len(latencies),
        "p50_s": qs[49],
        "p95_s": qs[94],
        "max_s": latencies[-1],
        "client_max_lag_s": lag,
        "start_id": start_id,
    }
    say(
        f"freshness ({workers} workers): {result['sent_per_s']:.1f}/s accepted, "
        f"p50 {result['p50_s']:.2f}s, p95 {result['p95_s']:.2f}s, max {result['max_s']:.2f}s, "
        f"{result['never_counted']} never counted"
    )
    return result


def mark_all_plans_stale(url: str) -> int:
    """Mark every district's plan of the loaded cycle stale (drawn anew if it has none yet), as
    a rebuild that moved every district's sums does (server/services/aggregate_rebuild.py);
    returns how many."""
    from server.db import Database
    from server.models import OrgUnit
    from server.models.org import OrgLevel
    from server.plans import staleness

    db = Database(url)
    try:
        with db.session() as session:
            districts = session.scalars(
                select(OrgUnit.id).where(OrgUnit.level == OrgLevel.district)
            )
            marked = staleness.mark_stale(session, {(d, load.CYCLE) for d in districts})
            session.commit()
    finally:
        db.dispose()
    return marked


def forget_freshness(url: str, start_id: int) -> None:
    """Take the freshness submissions out again, so the cached data set stays as loaded."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM submissions WHERE id > :i"), {"i": start_id})
    except Exception as exc:  # a table that refers to them: load afresh next time
        say(f"could not remove the freshness submissions ({exc}); the cache is dropped")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bench_meta"))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--districts", type=int, default=24)
    parser.add_argument("--sub-counties", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-load", action="store_true", help="use the loaded database")
    parser.add_argument("--freshness-seconds", type=int, default=60, help="0 skips it")
    parser.add_argument("--rate", type=float, default=100.0, help="freshness submissions/s")
    parser.add_argument(
        "--rebuilds",
        default="fast",
        help="the rebuild as it is (fast) and with the plain grouped query its evaluate-once "
        "form replaced (original); empty: no rebuild and no DuckDB",
    )
    parser.add_argument(
        "--workers",
        default="shared,separate",
        help="freshness with one worker taking both queues (shared, the baseline) and/or with "
        "a worker per queue as docker-compose.yml runs them (separate)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    plan = load.Plan(args.submissions, args.districts, args.sub_counties, args.seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "plan": plan.__dict__}
    name, info = ensure_loaded(plan, args.skip_load, args.processes)
    url = db_url(name)
    results["loaded"] = info
    path, copy_s = duckdb_copy(name) if args.rebuilds else (Path(), 0.0)
    results["duckdb_copy_seconds"] = copy_s

    if args.rebuilds:
        results.update(compare_rebuilds(url, path, args.rebuilds.split(",")))
    if args.freshness_seconds:
        logs = CACHE / name / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        results["freshness"] = []
        for workers in args.workers.split(","):
            # Every district's plan to redraw, as a rebuild leaves them.
            say(f"freshness: {mark_all_plans_stale(url)} plans marked stale")
            fresh = freshness(url, plan, args.freshness_seconds, args.rate, logs, workers)
            results["freshness"].append(fresh)
            forget_freshness(url, fresh["start_id"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
