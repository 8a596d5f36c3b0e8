"""Ingest benchmark: durable OpenRosa submissions against a bare Flask baseline, same run.

    python bench/ingest/run.py [--duration 15] [--connections 1,8,32] [--repeat 3] [--warm 3]
                               [--sustained 60] [--burst-worker] [--server-times]
                               [--paths submission,rest,key] [--keep-logs DIR] [--json FILE]

Needs PostgreSQL and Redis (the same defaults as the tests) and `wrk` (Debian package). It makes
a throwaway database, publishes a small form, creates an enumerator, starts gunicorn with the
real app and, with the same gunicorn settings, the bare endpoint (bench/ingest/bare_app.py) that
only reads the multipart body and answers 201. It warms both (--warm seconds of load, a new
connection per request, so that every process serves some), then, for each client count, runs
wrk against both, alternately, `--repeat` times, and reports the fastest run of each (its p50
and p99 with it) and the ratio of the two. Every wrk run opens new connections, and gunicorn
keeps each in the process that accepted it: now and then one process takes most of them, and
that run measures one process instead of the server (BENCHMARKS.md: in one run of three, or
two). That only ever lowers a rate, for either endpoint, so the fastest of a few runs is the
server's rate, as timeit takes the fastest of its repeats. The bursts run without the worker
unless `--burst-worker` says otherwise: then the worker (2 processes and beat) processes what
the real endpoint stores while it stores it, on the same two cores, and every run starts with
nothing left to process. With a Celery worker running it then reports the sustained rate
(accepted and processed over --sustained seconds), and streams a 100 MB attachment to measure
the web process's memory growth. `--server-times` adds, for every real run, the server's own
time per request from its access log (bench/ingest/access_times.py), beside wrk's latency.
`--paths` names the ways in the real server is measured by, in the same alternating runs:
`submission` (POST /submission, Collect's, the default), `rest` (the Central API's create,
POST /v1/projects/1/forms/<f>/submissions with the raw XML, as the same enumerator) and `key`
(Collect's multipart body to /v1/key/<token>/projects/1/submission, as an app user the
benchmark makes, with no password); each is reported against the bare endpoint and, with
`submission` among them, against /submission.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openpyxl
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import access_times

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ADMIN_PG_URL = os.environ.get(
    "DMIP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DMIP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
USERNAME, PASSWORD = "bench_enumerator", "bench-password-1"
APP_USER = "bench_app_user"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
DISTRICT = "UG-101"
# Unset: as many as server/gunicorn_conf.py starts in production.
GUNICORN_WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "")
# A line of gunicorn's access log: host, ident, user, [time], "request".
ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_xlsform() -> bytes:
    wb = openpyxl.Workbook()
    survey = wb.active
    survey.title = "survey"
    for row in [
        ["type", "name", "label::English (en)", "required", "choice_filter"],
        ["start", "start", "", "", ""],
        ["end", "end", "", "", ""],
        ["select_one_from_file regions.csv", "region", "Region", "yes", ""],
        ["select_one_from_file districts.csv", "district", "District", "yes", "region=${region}"],
        ["integer", "pupils", "Pupils enrolled", "yes", ""],
        ["integer", "teachers", "Teachers on payroll", "yes", ""],
        ["text", "remarks", "Remarks", "", ""],
    ]:
        survey.append(row)
    settings = wb.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append(["Ingest benchmark", "bench_ingest", "1", "English (en)"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def submission_template() -> str:
    return (
        '<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        'xmlns:orx="http://openrosa.org/xforms" id="bench_ingest" version="1">'
        "<start>2026-11-28T10:00:00.000+03:00</start><end>2026-11-28T10:20:00.000+03:00</end>"
        f"<region>UG-C</region><district>{DISTRICT}</district><pupils>812</pupils>"
        "<teachers>14</teachers><remarks>Benchmark submission</remarks>"
        "<meta><instanceID>INSTANCE_ID</instanceID></meta></data>"
    )


@contextlib.contextmanager
def database() -> Iterator[str]:
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    name = f"dmip_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def server_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment of the servers and workers under test (this process's, plus theirs),
    with what submit.lua reads: the submission template and the enumerator's credentials."""
    return {
        **os.environ,
        "DMIP_DATABASE_URL": url,
        "DMIP_BROKER_URL": REDIS_URL,
        "DMIP_DATA_DIR": str(data_dir),
        "DMIP_SECRET_KEY": SECRET_KEY,
        "BENCH_TEMPLATE": submission_template(),
        "BENCH_AUTH": base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),
    }


def prepare(env: dict[str, str]) -> str:
    """Schema, Uganda's hierarchy, the form, the enumerator and the app user, through the
    project's services; the app user's token."""
    code = f"""
from server.settings import Settings
from server.db import Database
from server import migrate
from server.storage.blobs import BlobStore
from server.services.forms import publish_xlsform
from server.services.orgunits import ensure_uganda
from server.services.users import create_user
import sys
s = Settings.from_env()
migrate.upgrade(s.database_url)
db = Database(s.database_url)
with db.session() as session:
    ensure_uganda(session)
with db.session() as session:
    publish_xlsform(session, BlobStore(s.attachments_dir), sys.stdin.buffer.read(),
                    "bench_ingest.xlsx", {{}}, None)
with db.session() as session:
    create_user(session, {USERNAME!r}, {PASSWORD!r}, "enumerator", s.auth_realm, ["{DISTRICT}"])
# The app user of the key path: a user flagged as one, with a key whose token is the HMAC of
# its nonce (server/models/central.py), the password random and never used.
import secrets
from server.auth.app_user_keys import new_nonce, token_for, token_sha256
from server.models import AppUserKey
with db.session() as session:
    user = create_user(session, {APP_USER!r}, secrets.token_urlsafe(24), "enumerator",
                       s.auth_realm, ["{DISTRICT}"])
    user.app_user = True
    session.flush()
    nonce = new_nonce()
    session.add(AppUserKey(user_id=user.id, project_id=1, nonce=nonce,
                           token_sha256=token_sha256(token_for(s.secret_key, nonce))))
    print(token_for(s.secret_key, nonce))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=bench_xlsform(),
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return done.stdout.decode().strip().splitlines()[-1]


def compare(by_path: dict[str, dict], bare: dict) -> dict[str, dict]:
    """Each way in's fastest run, with its ratio to the bare endpoint and to /submission."""
    base = by_path.get("submission")
    return {
        name: {
            **run,
            "ratio_to_bare": run["rate"] / bare["rate"] if bare["rate"] else 0.0,
            "ratio_to_submission": run["rate"] / base["rate"] if base and base["rate"] else None,
        }
        for name, run in by_path.items()
    }


def describe(name: str, run: dict) -> str:
    against = run["ratio_to_submission"]
    return (
        f"{name}: {run['rate']:8.1f}/s p50 {run['p50_ms']:.1f} ms p99 {run['p99_ms']:.1f} ms"
        f" | ratio to bare {run['ratio_to_bare']:.2f}"
        + (f" | to /submission {against:.2f}" if against is not None else "")
    )


def path_env(env: dict[str, str], path: str, token: str) -> dict[str, str]:
    """What submit.lua reads to send through one way in (`--paths`)."""
    if path == "submission":
        return env
    if path == "rest":
        return {
            **env,
            "BENCH_PATH": "/v1/projects/1/forms/bench_ingest/submissions",
            "BENCH_RAW": "1",
        }
    if path == "key":
        return {**env, "BENCH_PATH": f"/v1/key/{token}/projects/1/submission", "BENCH_AUTH": ""}
    raise ValueError(f"unknown path {path!r}: use submission, rest or key")


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def gunicorn(app: str, port: int, env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    """gunicorn with the production settings (server/gunicorn_conf.py), for both apps."""
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    if GUNICORN_WORKERS:
        env["GUNICORN_WORKERS"] = GUNICORN_WORKERS
    cmd = [sys.executable, "-m", "gunicorn", "--config", "python:server.gunicorn_conf", app]
    return process(cmd, env, log)


def wait_http(port: int, path: str = "/", deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("HEAD", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def warm(port: int, env: dict[str, str], seconds: int = 3) -> None:
    """Load every web process before measuring, as a server that has been running is.

    A process's first requests verify the password and fill its caches (hundreds of ms on a
    slow core). gthread keeps a kept-alive connection in the process that accepted it, and one
    process often accepts every connection of a burst, so a warm-up over kept-alive
    connections can leave the others cold: here each request comes on a new connection, which
    any process may accept.
    """
    if seconds:
        run_wrk(port, 8, seconds, {**env, "BENCH_CLOSE": "1"})


def run_wrk(port: int, connections: int, duration: int, env: dict[str, str]) -> dict:
    threads = min(connections, 2)
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--latency",
        "-s",
        str(HERE / "submit.lua"),
        f"http://127.0.0.1:{port}",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    out = done.stdout
    if done.stderr.strip():  # submit.lua reports the first few non-201 answers there
        print(done.stderr.strip()[:1000], file=sys.stderr, flush=True)
    match = re.search(r"^JSON (\{.*\})$", out, flags=re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in data if k.startswith("errors_"))
    return {
        "connections": connections,
        "requests": data["requests"],
        "errors": errors,
        "rate": (data["requests"] - errors) / seconds,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
    }


def server_times(log: Path, offset: int) -> dict:
    """The server's own times for the lines the log gained after `offset` bytes."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", errors="replace").splitlines()
    return access_times.summarise(lines)


def fastest_run(runs: list[dict]) -> dict:
    return max(runs, key=lambda run: run["rate"])


def count(url: str, status: str | None = None) -> int:
    from server.models import Submission

    engine = create_engine(url)
    with engine.connect() as conn:
        query = select(func.count()).select_from(Submission)
        if status:
            query = query.where(Submission.processing_status == status)
        n = conn.execute(query).scalar_one()
    engine.dispose()
    return int(n)


def big_upload(port: int, size: int) -> int:
    """POST a submission with a `size`-byte attachment, streamed with chunked encoding."""
    xml = submission_template().replace("INSTANCE_ID", f"uuid:{uuid.uuid4()}").encode()
    boundary = "dmipbigupload"
    head = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="evidence.bin"; '
            f'filename="evidence.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        block = os.urandom(1024 * 1024)
        sent = 0
        while sent < size:
            chunk = block[: min(len(block), size - sent)]
            sent += len(chunk)
            yield chunk
        yield tail

    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(
        "POST",
        "/submission",
        body=body(),
        encode_chunked=True,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Basic {auth}",
            "X-OpenRosa-Version": "1.0",
            "Transfer-Encoding": "chunked",
        },
    )
    return conn.getresponse().status


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per endpoint and count")
    parser.add_argument("--warm", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--sustained", type=int, default=60, help="seconds; 0 skips it")
    parser.add_argument("--big-mb", type=int, default=100, help="attachment size; 0 skips it")
    parser.add_argument(
        "--burst-worker",
        action="store_true",
        help="run the bursts with the worker running too (drained before each run)",
    )
    parser.add_argument(
        "--server-times",
        action="store_true",
        help="log the server's own time per request (both endpoints) and report it per real run",
    )
    parser.add_argument(
        "--paths",
        default="submission",
        help="ways in to measure the real server by: submission, rest, key (comma-separated)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the servers' and worker's logs here")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    import redis

    # The bench's own Redis database: tasks left by an interrupted run would skew the worker.
    redis.Redis.from_url(REDIS_URL).flushdb()
    results: dict = {"machine": machine(), "gunicorn_workers": GUNICORN_WORKERS or "default"}
    with database() as url, tempfile.TemporaryDirectory(prefix="dmip-bench-") as tmp:
        env = server_env(url, Path(tmp) / "data")
        if args.server_times:
            env["GUNICORN_CMD_ARGS"] = f"--access-logformat '{access_times.FORMAT}'"
        token = prepare(env)
        paths = [x.strip() for x in args.paths.split(",") if x.strip()]
        envs = {name: path_env(env, name, token) for name in paths}
        results["paths"] = paths
        logs = Path(tmp)
        real_port, bare_port = free_port(), free_port()
        rows = []
        with (
            gunicorn("server.wsgi:app", real_port, env, logs / "real.log") as real_server,
            gunicorn("bench.ingest.bare_app:app", bare_port, env, logs / "bare.log"),
        ):
            wait_http(real_port)
            wait_http(bare_port)
            warm(bare_port, env, args.warm)
            for name in paths:
                warm(real_port, envs[name], args.warm)
            # The worker, when asked for, runs through every burst and is stopped before the
            # sustained phase starts its own.
            burst_worker = (
                process(worker_command(logs), worker_env(env), logs / "burst-worker.log")
                if args.burst_worker
                else contextlib.nullcontext()
            )
            results["burst_worker"] = args.burst_worker
            with burst_worker:
                for c in [int(x) for x in args.connections.split(",")]:
                    runs: dict[str, list[dict]] = {"bare": [], **{name: [] for name in paths}}
                    # "real": the first way in, as the single-path report has always named it.
                    runs["real"] = runs[paths[0]]
                    for _ in range(max(args.repeat, 1)):
                        # With the worker running, each run starts with nothing left to process:
                        # what the real runs leave is the worker's work, not the next bare run's.
                        if args.burst_worker:
                            drain(url, 900)
                        runs["bare"].append(run_wrk(bare_port, c, args.duration, env))
                        for name in paths:
                            if args.burst_worker:
                                drain(url, 900)
                                done_before = count(url, "processed")
                            log_offset = (logs / "real.log").stat().st_size
                            run = run_wrk(real_port, c, args.duration, envs[name])
                            runs[name].append(run)
                            if args.server_times:
                                run["server"] = server_times(logs / "real.log", log_offset)
                            if args.burst_worker:
                                # What the worker got through while the run lasted (stored,
                                # checked, flattened and in the aggregates), read the moment wrk
                                # stops.
                                run["processed_during"] = count(url, "processed") - done_before
                    bare, real = fastest_run(runs["bare"]), fastest_run(runs["real"])
                    by_path = {name: fastest_run(runs[name]) for name in paths}
                    rows.append(
                        {
                            "connections": c,
                            "bare": bare,
                            "real": real,
                            "ratio": real["rate"] / bare["rate"] if bare["rate"] else 0.0,
                            "paths": compare(by_path, bare),
                            # "real" stands for the first way in (results["paths"][0]).
                            "runs": {k: v for k, v in runs.items() if k != paths[0]},
                        }
                    )
                    print(
                        f"{c:>3} clients: real {real['rate']:8.1f}/s p50 {real['p50_ms']:.1f} ms "
                        f"p99 {real['p99_ms']:.1f} ms | bare {bare['rate']:8.1f}/s "
                        f"p50 {bare['p50_ms']:.1f} ms p99 {bare['p99_ms']:.1f} ms | "
                        f"ratio {rows[-1]['ratio']:.2f}",
                        flush=True,
                    )
                    for name in paths[1:]:
                        print(f"     {describe(name, rows[-1]['paths'][name])}", flush=True)
                    if "processed_during" in real:
                        print(
                            f"     the worker processed {real['processed_during']} of the "
                            f"{real['requests'] - real['errors']} submissions of that run while it "
                            f"lasted ({real['processed_during'] / args.duration:.0f}/s)",
                            flush=True,
                        )
                    if len(runs["real"]) > 1:
                        rates = {
                            k: ", ".join(f"{r['rate']:.0f}" for r in v) for k, v in runs.items()
                        }
                        shown = " | ".join(f"{name} {rates[name]}" for name in paths)
                        print(f"     runs/s: {shown} | bare {rates['bare']}", flush=True)
                    if args.server_times:
                        times = ", ".join(
                            f"{r['server'].get('p99_ms', 0):.1f}/{r['server'].get('max_ms', 0):.0f}"
                            for r in runs["real"]
                        )
                        print(f"     server's own p99/max ms, real runs: {times}", flush=True)
            results["burst"] = rows
            if args.sustained:
                results["sustained"] = sustained(url, real_port, env, logs, args.sustained)
            if args.big_mb:
                results["big_upload"] = big(real_server.pid, real_port, args.big_mb)
        # The server's own messages (warnings, tracebacks); the access log's lines are noise here.
        messages = [
            line
            for line in (logs / "real.log").read_text().splitlines()
            if not ACCESS_LINE.match(line)
        ]
        if messages:
            print("server log (tail):", *messages[-30:], sep="\n", file=sys.stderr)
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            for log in logs.glob("*.log"):
                shutil.copy(log, args.keep_logs / log.name)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def worker_command(logs: Path) -> list[str]:
    """The production worker: 2 processes, with beat."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--beat",
        "--schedule",
        str(logs / "celerybeat-schedule"),
        "--loglevel=INFO",
        "--concurrency=2",
    ]


def worker_env(env: dict[str, str]) -> dict[str, str]:
    # As in production, beat runs the sweeper, which re-sends any lost wake-up call.
    return {**env, "DMIP_SWEEP_INTERVAL": "5", "DMIP_SWEEP_GRACE": "5"}


def drain(url: str, limit: float) -> float:
    """Wait (at most `limit` seconds) until no submission is left to process; seconds waited."""
    started = time.monotonic()
    while count(url, "received") and time.monotonic() - started < limit:
        time.sleep(0.5)
    return time.monotonic() - started


def sustained(url: str, port: int, env: dict[str, str], logs: Path, seconds: int) -> dict:
    before_done = count(url, "processed")
    print("sustained: draining the burst backlog first", flush=True)
    with process(worker_command(logs), worker_env(env), logs / "worker.log"):
        # Drain what the burst runs left behind first, so the window measures a steady state.
        backlog_s = drain(url, 900)
        before = count(url)
        start_done = count(url, "processed")
        load = run_wrk(port, 8, seconds, env)
        accepted = count(url) - before
        processed_in_window = count(url, "processed") - start_done
        # Then give the worker time to drain what is left, to report the lag.
        drained = drain(url, 600)
    result = {
        "seconds": seconds,
        "accepted": accepted,
        "accepted_per_s": accepted / seconds,
        "processed_in_window": processed_in_window,
        "processed_per_s": processed_in_window / seconds,
        "drain_after_s": drained,
        "burst_backlog_drained_in_s": backlog_s,
        "failed": count(url, "failed"),
        "processed_total": count(url, "processed") - before_done,
        "p99_ms": load["p99_ms"],
    }
    print(
        f"sustained {seconds}s at 8 clients: accepted {result['accepted_per_s']:.1f}/s, "
        f"processed {result['processed_per_s']:.1f}/s, drained the rest in {drained:.1f}s",
        flush=True,
    )
    return result


def big(master: int, port: int, megabytes: int) -> dict:
    pids = worker_pids(master)
    before = {pid: rss_kb(pid) for pid in pids}
    for pid in pids:  # reset each process's peak-RSS mark, so VmHWM measures this upload alone
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    status = big_upload(port, megabytes * 1024 * 1024)
    growth = max(rss_kb(pid, "VmHWM") - before[pid] for pid in pids)
    result = {"megabytes": megabytes, "status": status, "peak_rss_growth_mb": growth / 1024}
    print(
        f"{megabytes} MB attachment: HTTP {status}, worst web process peak RSS growth "
        f"{growth / 1024:.1f} MB",
        flush=True,
    )
    return result


def machine() -> dict:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024**2, 1),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    main()
