"""OData feed benchmark: pages of a form's feed on PostgreSQL against COPY of the same rows.

    .venv/bin/python bench/odata/run.py [--submissions 100000] [--runs 20] [--json FILE]

1. A throwaway PostgreSQL database, migrated; the issue's form (10 questions, a repeat of 5
   rows) and `--submissions` submissions of it in two districts, flattened by the worker's own
   function and COPYed in (bench/odata/load.py says why), then VACUUM ANALYZE.
2. The production web stack (gunicorn with server/gunicorn_conf.py) on it; the client signs
   in as pyodk does (a bearer token from POST /v1/sessions) and GETs each case `--runs` times
   after two warm-ups, one request at a time, timing the whole response (read to the end).
3. The floor, in the same run: PostgreSQL `COPY (SELECT ...) TO STDOUT` of the same rows (the
   submissions' metadata and flattened answers of the page, in the feed's order, with the
   same offset or keyset), timed the same way from this process.

Targets (issue 27): every 1,000-row page of the main and the repeat table, the first one and
the one at row 50,000 ($skip or the $skiptoken the feed hands out there), p95 <= 100 ms;
$count <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg
import requests
from sqlalchemy.engine import make_url

from bench.ingest.run import database, free_port, gunicorn, machine, wait_http
from bench.odata import load
from server import migrate
from server.db import Database

REDIS_URL = os.environ.get("DMIP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PAGE = 1000
DEEP = 50_000


def say(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def timed(call: Any, runs: int) -> dict[str, float]:
    for _ in range(2):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50": statistics.median(times),
        "p95": percentile(times, 95),
        "max": max(times),
    }


# The floor's queries: the rows a page shows, as the feed reads them (the ids of the page from
# the index, then their rows; a repeat's rows after a keyset as the rest of the keyset's
# submission and then the submissions after it), with the same offset or keyset; COPY writes
# them out as fast as PostgreSQL can.
FEED_WHERE = "s.form_id = {form} AND s.current AND s.deleted_at IS NULL"
MAIN_ROWS = (
    "SELECT s.id, s.instance_id, s.received_at, s.updated_at, s.submitter_id, s.device_id, "
    "s.review_state, s.deleted_at, r.data FROM submissions s "
    "LEFT JOIN submission_rows r ON r.submission_id = s.id AND r.repeat_path = '' "
    "WHERE s.id = ANY(ARRAY(SELECT s.id FROM submissions s WHERE " + FEED_WHERE + " {after} "
    "ORDER BY s.received_at DESC, s.id DESC LIMIT {limit} OFFSET {offset})) "
    "ORDER BY s.received_at DESC, s.id DESC"
)
REPEAT_SELECT = (
    "SELECT s.id, s.instance_id, r.position, r.parent_position, r.data FROM submissions s "
    "JOIN submission_rows r ON r.submission_id = s.id AND r.repeat_path = '/data/member' "
)
REPEAT_ROWS = (
    REPEAT_SELECT + "WHERE " + FEED_WHERE + " {after} "
    "ORDER BY s.received_at DESC, s.id DESC, r.position LIMIT {limit} OFFSET {offset}"
)
REPEAT_AFTER = (
    "(" + REPEAT_SELECT + "WHERE " + FEED_WHERE + " AND s.id = {id} AND r.position > {position} "
    "ORDER BY r.position) UNION ALL (" + REPEAT_SELECT + "WHERE " + FEED_WHERE + " "
    "AND (s.received_at, s.id) < ('{at}', {id}) "
    "ORDER BY s.received_at DESC, s.id DESC, r.position LIMIT {limit}) LIMIT {limit}"
)
COUNT = "SELECT count(*) FROM submissions s WHERE " + FEED_WHERE
REPEAT_COUNT = (
    "SELECT count(*) FROM submissions s JOIN submission_rows r ON r.submission_id = s.id "
    "AND r.repeat_path = '/data/member' WHERE " + FEED_WHERE
)


def copy_of(conn: psycopg.Connection, sql: str) -> Any:
    def run() -> None:
        with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT") as copy:
            for _ in copy:
                pass

    return run


def keyset(token_url: str) -> tuple[str, list[Any]]:
    """The $skiptoken of a nextLink and the keyset inside it."""
    import base64

    token = parse_qs(urlparse(token_url).query)["$skiptoken"][0]
    return token, json.loads(base64.b64decode(token[2:]))["k"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "submissions": args.submissions}
    with database() as url, tempfile.TemporaryDirectory(prefix="dmip-bench-odata-") as tmp:
        migrate.upgrade(url)
        db = Database(url)
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        start = time.perf_counter()
        loaded = load.load(db, plain, args.submissions, Path(tmp) / "attachments")
        db.dispose()
        say(f"loaded {args.submissions:,} submissions in {time.perf_counter() - start:.0f} s")
        port = free_port()
        env = {
            **os.environ,
            "DMIP_DATABASE_URL": url,
            "DMIP_BROKER_URL": REDIS_URL,
            "DMIP_DATA_DIR": str(Path(tmp) / "data"),
            "DMIP_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        }
        with gunicorn("server.wsgi:app", port, env, Path(tmp) / "web.log"):
            wait_http(port)
            deep = min(DEEP, args.submissions // 2)
            results["cases"] = measure(port, plain, loaded, args.runs, deep)
        results["load_average"] = os.getloadavg()
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def measure(
    port: int, url: str, loaded: dict[str, Any], runs: int, deep: int
) -> list[dict[str, Any]]:
    """Each case through the feed and its floor through COPY; `deep` is the row of the deep
    pages (50,000, or half the submissions in a smaller run)."""
    base = f"http://127.0.0.1:{port}"
    feed = f"{base}/v1/projects/1/forms/{load.FORM_ID}.svc"
    http = requests.Session()

    def sign_in(user: tuple[str, str]) -> dict[str, str]:
        answer = http.post(
            f"{base}/v1/sessions", json={"email": user[0], "password": user[1]}, timeout=60
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    admin, coordinator = sign_in(load.ADMIN), sign_in(load.COORDINATOR)

    def fetch(path: str, headers: dict[str, str], **params: Any) -> requests.Response:
        answer = http.get(f"{feed}{path}", params=params, headers=headers, timeout=120)
        answer.raise_for_status()
        return answer

    # The tokens the feed hands out for the page at row 50,000.
    main_link = fetch("/Submissions", admin, **{"$top": PAGE, "$skip": deep - PAGE}).json()
    repeat_link = fetch("/Submissions.member", admin, **{"$top": PAGE, "$skip": deep - PAGE}).json()
    main_token, main_keys = keyset(main_link["@odata.nextLink"])
    repeat_token, repeat_keys = keyset(repeat_link["@odata.nextLink"])
    form = loaded["form_id"]
    main_after = f"AND (s.received_at, s.id) < ('{main_keys[0]}', {main_keys[1]})"
    cases = [
        ("Submissions, first page", "/Submissions", admin, {"$top": PAGE},
         MAIN_ROWS.format(form=form, after="", limit=PAGE, offset=0)),
        (f"Submissions, $skip={deep}", "/Submissions", admin, {"$top": PAGE, "$skip": deep},
         MAIN_ROWS.format(form=form, after="", limit=PAGE, offset=deep)),
        (f"Submissions, $skiptoken at {deep}", "/Submissions", admin,
         {"$top": PAGE, "$skiptoken": main_token},
         MAIN_ROWS.format(form=form, after=main_after, limit=PAGE, offset=0)),
        ("Submissions, first page, coordinator", "/Submissions", coordinator, {"$top": PAGE},
         MAIN_ROWS.format(form=form, after="", limit=PAGE, offset=0)),
        ("Submissions.member, first page", "/Submissions.member", admin, {"$top": PAGE},
         REPEAT_ROWS.format(form=form, after="", limit=PAGE, offset=0)),
        (f"Submissions.member, $skip={deep}", "/Submissions.member", admin,
         {"$top": PAGE, "$skip": deep},
         REPEAT_ROWS.format(form=form, after="", limit=PAGE, offset=deep)),
        (f"Submissions.member, $skiptoken at {deep}", "/Submissions.member", admin,
         {"$top": PAGE, "$skiptoken": repeat_token},
         REPEAT_AFTER.format(form=form, at=repeat_keys[0], id=repeat_keys[1],
                             position=repeat_keys[2], limit=PAGE)),
        ("Submissions $count", "/Submissions", admin, {"$top": 0, "$count": "true"},
         COUNT.format(form=form)),
        ("Submissions.member $count", "/Submissions.member", admin,
         {"$top": 0, "$count": "true"}, REPEAT_COUNT.format(form=form)),
    ]  # fmt: skip
    out = []
    with psycopg.connect(url) as conn:
        for name, path, headers, params, sql in cases:
            rows = len(fetch(path, headers, **params).json()["value"])
            feed_times = timed(lambda p=path, h=headers, q=params: fetch(p, h, **q).content, runs)
            copy_times = timed(copy_of(conn, sql), runs)
            case = {"case": name, "rows": rows, "feed": feed_times, "copy": copy_times}
            say(
                f"{name}: {rows} rows, p95 {feed_times['p95']:.1f} ms, "
                f"COPY p95 {copy_times['p95']:.1f} ms"
            )
            out.append(case)
    return out


def report(results: dict[str, Any]) -> None:
    say("")
    say("| case | rows | p50 | p95 | max | COPY p95 | ratio |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    for c in results["cases"]:
        f, k = c["feed"], c["copy"]
        say(
            f"| {c['case']} | {c['rows']:,} | {f['p50']:.1f} ms | {f['p95']:.1f} ms | "
            f"{f['max']:.1f} ms | {k['p95']:.1f} ms | {f['p95'] / k['p95']:.1f}x |"
        )
    say(f"machine: {results['machine']}; load average after: {results['load_average']}")


if __name__ == "__main__":
    main()
