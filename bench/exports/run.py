"""Central export benchmark: submissions.csv.zip of 100,000 submissions with a 5-row repeat,
served by gunicorn with the production settings, against PostgreSQL COPY of the same rows.

    python bench/exports/run.py [--submissions 100000] [--repeat 3]

It makes a throwaway database, publishes the issue's form (10 questions and a repeat of 5 rows
of 3 questions), and loads the submissions and their flattened rows straight into the tables
with INSERT ... SELECT (a read benchmark: how the rows got there does not matter, and the
ingest path has its own benchmark). gunicorn serves the real app (server/gunicorn_conf.py);
an admin downloads the zip with Basic auth, as curl would, and the time to the first and to the
last byte are taken while every web process's RSS is sampled from /proc. The floor, in the same
run: the export's own queries (both tables, same joins, same answers out of the JSON, same
order) run as `COPY (SELECT ...) TO STDOUT`, in one REPEATABLE READ transaction with the
export's settings (server/exports/central_csv.py SNAPSHOT_SETTINGS), read to the end by psycopg.

Targets (issue 27): the zip in 10 s at most, a web process growing by 100 MB at most, and the
goal of staying within 2x of COPY.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ADMIN_PG_URL = os.environ.get(
    "DMIP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DMIP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
USERNAME, PASSWORD = "bench-admin", "bench-admin-password"
FORM_ID = "bench_export"
XLSFORM = """
| survey |
| | type | name | label |
| | text | district | District |
| | text | subcounty | Sub-county |
| | text | school | School |
| | integer | pupils | Pupils |
| | integer | teachers | Teachers |
| | integer | classrooms | Classrooms |
| | decimal | budget | Budget |
| | select_one yn | water | Water |
| | select_multiple svc | services | Services |
| | date | visited | Visited |
| | begin_repeat | staff | Staff |
| | text | sname | Name |
| | select_one role | srole | Role |
| | integer | sage | Age |
| | end_repeat | | |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| | svc | meals | Meals |
| | svc | library | Library |
| | svc | clinic | Clinic |
| | role | head | Head |
| | role | teacher | Teacher |
| settings |
| | form_id | version | form_title |
| | bench_export | 1 | Export benchmark |
"""


def load(url: str, data_dir: Path, submissions: int) -> None:
    """Schema, the form, an admin, and the submissions with their flattened rows."""
    from server import migrate
    from server.db import Database
    from server.services.forms import publish_xlsform
    from server.services.orgunits import ensure_uganda
    from server.services.users import create_user
    from server.storage.blobs import BlobStore

    migrate.upgrade(url)
    db = Database(url)
    with db.session() as session:
        ensure_uganda(session)
        create_user(session, USERNAME, PASSWORD, "admin", "DMIP")
    with db.session() as session:
        publish_xlsform(
            session, BlobStore(data_dir / "attachments"), _workbook(XLSFORM), "bench.xlsx"
        )
    with db.engine.begin() as conn:
        ids = conn.execute(
            text(
                "SELECT f.id, v.id, (SELECT id FROM org_units WHERE level = 'district' "
                "ORDER BY code LIMIT 1), (SELECT id FROM users WHERE username = :u) "
                "FROM forms f JOIN form_versions v ON v.form_id = f.id WHERE f.xml_form_id = :f"
            ),
            {"u": USERNAME, "f": FORM_ID},
        ).one()
        params = {"form": ids[0], "version": ids[1], "unit": ids[2], "user": ids[3]}
        conn.execute(
            text(
                """
INSERT INTO submissions (form_id, form_version_id, instance_id, current, submitter_id,
    device_id, org_unit_id, received_at, updated_at, xml, xml_sha256, incomplete,
    processing_status, processed_at, attempts, review_state, demo, cycle, counted)
SELECT :form, :version, 'uuid:bench-' || g, true, :user, 'collect:bench-' || (g % 50),
    :unit, now() - make_interval(secs => :n - g), now(), '\\x3c646174612f3e'::bytea,
    repeat('0', 64), false, 'processed', now(), 1, 'received', false, '2025/26', false
FROM generate_series(1, :n) g"""
            ),
            {**params, "n": submissions},
        )
        conn.execute(
            text(
                """
INSERT INTO submission_rows (submission_id, repeat_path, position, parent_position, data)
SELECT s.id, '', 0, NULL, jsonb_build_object(
    'district', 'UG-' || (s.id % 130), 'subcounty', 'SC-' || (s.id % 1500),
    'school', 'Primary school number ' || s.id, 'pupils', 100 + s.id % 900,
    'teachers', 3 + s.id % 30, 'classrooms', 2 + s.id % 12, 'budget', (s.id % 997) * 1.5,
    'water', CASE WHEN s.id % 3 = 0 THEN 'no' ELSE 'yes' END,
    'services', CASE WHEN s.id % 2 = 0 THEN '["meals", "library"]'::jsonb
                     ELSE '["clinic"]'::jsonb END,
    'visited', '2025-10-' || lpad((1 + s.id % 28)::text, 2, '0'),
    'meta/instanceID', s.instance_id)
FROM submissions s WHERE s.form_id = :form"""
            ),
            params,
        )
        conn.execute(
            text(
                """
INSERT INTO submission_rows (submission_id, repeat_path, position, parent_position, data)
SELECT s.id, '/data/staff', p, NULL, jsonb_build_object(
    'sname', 'Teacher ' || p || ' of ' || s.id,
    'srole', CASE WHEN p = 1 THEN 'head' ELSE 'teacher' END, 'sage', 22 + (s.id + p) % 40)
FROM submissions s CROSS JOIN generate_series(1, 5) p WHERE s.form_id = :form"""
            ),
            params,
        )
        conn.execute(text("ANALYZE submissions"))
        conn.execute(text("ANALYZE submission_rows"))
    db.dispose()


def _workbook(markdown: str) -> bytes:
    """The XLSForm above as an .xlsx, as an admin would upload it."""
    import openpyxl

    book = openpyxl.Workbook()
    sheets: dict[str, object] = {}
    current = None
    for line in markdown.strip().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 1:
            current = book.create_sheet(cells[0])
            sheets[cells[0]] = current
            continue
        assert current is not None
        current.append(cells[1:])  # type: ignore[attr-defined]
    book.remove(book.worksheets[0])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the floor -------------------------------------------------------------------------------


def copy_floor(url: str) -> tuple[float, int]:
    """COPY of the export's own statements (both tables), with its settings; seconds, bytes."""
    import psycopg

    from server.db import Database
    from server.exports import central_csv, pg_copy, table_rows
    from server.models import Form
    from server.queries.submission_filters import SubmissionFilter

    db = Database(url)
    with db.session() as session:
        form = session.query(Form).filter_by(xml_form_id=FORM_ID).one()
        export = central_csv.CentralExport(form.id, SubmissionFilter(form_id=form.id))
        tables = central_csv.central_tables(session, form, export)
        selection = table_rows.Selection(export.filters, newest_first=True, central=True)
        queries = [pg_copy.top_query(tables, selection)] + [
            pg_copy.repeat_query(tables, i, selection) for i in range(1, len(tables))
        ]
    db.dispose()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    total = 0
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        statements = [pg_copy.copy_statement(conn, q) for q in queries]
        started = time.perf_counter()
        with conn.cursor() as cur:
            for setting in central_csv.SNAPSHOT_SETTINGS:
                cur.execute(setting)
            for statement in statements:
                with cur.copy(statement) as copy:
                    for chunk in copy:
                        total += len(chunk)
        return time.perf_counter() - started, total


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gunicorn(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    cmd = [
        sys.executable, "-m", "gunicorn", "--config", "python:server.gunicorn_conf",
        "server.wsgi:app",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
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


def wait_http(port: int, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/projects")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(c) for c in children]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    """Every web process's RSS, every 20 ms: the largest growth over its RSS at the start."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.start_rss = {p: rss_mb(p) for p in pids}
        self.peak = dict(self.start_rss)
        self.running = True

    def run(self) -> None:
        while self.running:
            for pid in self.peak:
                with contextlib.suppress(OSError):
                    self.peak[pid] = max(self.peak[pid], rss_mb(pid))
            time.sleep(0.02)

    def growth(self) -> float:
        self.running = False
        self.join()
        return max(self.peak[p] - self.start_rss[p] for p in self.peak)


def download(port: int, out: Path, pids: list[int]) -> dict[str, float]:
    sampler = RssSampler(pids)
    sampler.start()
    started = time.perf_counter()
    first = None
    url = f"http://127.0.0.1:{port}/v1/projects/1/forms/{FORM_ID}/submissions.csv.zip"
    with requests.get(url, auth=(USERNAME, PASSWORD), stream=True, timeout=600) as answer:
        answer.raise_for_status()
        with out.open("wb") as sink:
            for chunk in answer.iter_content(chunk_size=1 << 16):
                if first is None:
                    first = time.perf_counter() - started
                sink.write(chunk)
    total = time.perf_counter() - started
    return {"seconds": total, "first_byte": first or total, "rss_growth_mb": sampler.growth()}


def check(path: Path, submissions: int) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        lines = {}
        for name in archive.namelist():
            with archive.open(name) as entry:
                lines[name] = sum(1 for _ in entry) - 1
    expected = {f"{FORM_ID}.csv": submissions, f"{FORM_ID}-staff.csv": submissions * 5}
    assert lines == expected, lines
    return lines


def machine() -> dict[str, object]:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024**2, 1),
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    name = f"dmip_bench_exports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="dmip-bench-exports-"))
    results: dict[str, object] = {"machine": machine(), "submissions": args.submissions}
    try:
        started = time.perf_counter()
        load(url, work / "data", args.submissions)
        results["load_seconds"] = round(time.perf_counter() - started, 1)
        env = {
            **os.environ,
            "DMIP_DATABASE_URL": url,
            "DMIP_BROKER_URL": REDIS_URL,
            "DMIP_DATA_DIR": str(work / "data"),
            "DMIP_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        }
        port = free_port()
        runs: list[dict[str, float]] = []
        floors: list[float] = []
        with gunicorn(env, port, work / "gunicorn.log") as server:
            wait_http(port)
            time.sleep(1)
            pids = workers(server.pid)
            # A first export warms the processes and PostgreSQL's cache, as on a server that
            # has been running; it is reported, not counted.
            results["warm_up"] = download(port, work / "warm.zip", pids)
            for _ in range(args.repeat):
                floor, size = copy_floor(url)
                floors.append(floor)
                runs.append(download(port, work / "export.zip", pids))
        results["lines"] = check(work / "export.zip", args.submissions)
        results["zip_mb"] = round((work / "export.zip").stat().st_size / 2**20, 1)
        results["copy_mb"] = round(size / 2**20, 1)
        best = min(r["seconds"] for r in runs)
        floor = min(floors)
        results["runs"] = runs
        results["copy_seconds"] = floors
        results["summary"] = {
            "zip_seconds_best": round(best, 2),
            "zip_seconds_median": round(statistics.median(r["seconds"] for r in runs), 2),
            "first_byte_ms": round(1000 * min(r["first_byte"] for r in runs)),
            "rss_growth_mb_max": round(max(r["rss_growth_mb"] for r in runs), 1),
            "copy_seconds_best": round(floor, 2),
            "ratio_to_copy": round(best / floor, 2),
            "load_after": os.getloadavg(),
        }
    finally:
        admin.dispose()
        engine = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
