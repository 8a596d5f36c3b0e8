"""The receiver's own CPU per submission, without gunicorn, wrk or the network.

    python bench/ingest/inprocess.py [--requests 3000] [--rounds 5] [--profile]
                                     [--paths submission,rest,key]

Sets up what bench/ingest/run.py sets up, builds the real app and the bare endpoint
(bench/ingest/bare_app.py) in this process and calls each as gunicorn calls it: the WSGI app
with the environ gunicorn builds for one of wrk's requests (the same multipart body, the same
Basic credentials, a fresh instanceID each). After 300 calls of each to warm the caches, it
alternates rounds of `--requests / --rounds` calls of the real app and of the bare endpoint and
prints the median CPU time per call of each (this process's: the receiver's wake-up thread
included; PostgreSQL's time is its own process's), what the receiver adds to the bare endpoint
and the ratio of the two. `--paths` (as in bench/ingest/run.py) adds the Central API's create
and an app user's key path as further "real" callers in the same alternating rounds, each
reported against /submission.

One request at a time and counted in CPU time, this is steadier than a wrk run on a shared
machine, and so the measure to compare two versions of the receiver by. It leaves out what
concurrency adds under load (thread switches, the interpreter lock, PostgreSQL on the same two
cores): bench/ingest/cpu.py measures that. `--profile` then prints cProfile's top functions by
CPU time over 1,000 more requests of the real app, and how many context look-ups through
Flask's proxies (request, current_app, g) they made.

Then it processes the submissions the rounds stored as the worker does (`workers/processing.py`
`process_batch`, in batches of DMIP_WORKER_BATCH, 200 by default, one transaction each) and
prints the worker's CPU per submission, and its PostgreSQL backend's, beside the receiver's: on a
two-core machine the worker shares the cores with the web processes, so what it spends is taken
from ingest under load.
`--profile-worker` prints cProfile's top functions of that (1,000 submissions after the first
batch, which warms the caches and is left out of every figure; the CPU figure is then of the
rest).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import run as bench
from bench.ingest.cpu import process_ticks

BOUNDARY = "----dmipbenchboundary7MA4YWxkTrZu0gW"  # submit.lua's

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def environ_factory(path: str = "submission", token: str = "") -> Callable[[], dict[str, Any]]:
    """A new environ per call, as gunicorn would build it for one of submit.lua's requests
    through the way in `path` (bench/ingest/run.py `path_env`)."""
    template = bench.submission_template()
    credentials = base64.b64encode(f"{bench.USERNAME}:{bench.PASSWORD}".encode()).decode()
    target = {
        "submission": "/submission",
        "rest": "/v1/projects/1/forms/bench_ingest/submissions",
        "key": f"/v1/key/{token}/projects/1/submission",
    }[path]

    def environ() -> dict[str, Any]:
        xml = template.replace("INSTANCE_ID", f"uuid:{uuid.uuid4()}")
        if path == "rest":
            body, content_type = xml.encode(), "application/xml"
        else:
            body = (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n{xml}\r\n'
                f"--{BOUNDARY}--\r\n"
            ).encode()
            content_type = f"multipart/form-data; boundary={BOUNDARY}"
        headers = {"HTTP_AUTHORIZATION": f"Basic {credentials}"} if path != "key" else {}
        if path != "rest":
            headers["HTTP_X_OPENROSA_VERSION"] = "1.0"
        return {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": target,
            "QUERY_STRING": "",
            "RAW_URI": target,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "gunicorn/23.0.0",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "40000",
            "HTTP_HOST": "127.0.0.1:8000",
            **headers,
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    return environ


def caller(
    app: WsgiApp, environ: Callable[[], dict[str, Any]], expected: str = "201"
) -> Callable[[], None]:
    """One request through `app`, its body read to the end and closed as a server would."""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        if not status.startswith(expected):
            raise RuntimeError(f"expected {expected}, got {status}")

    def call() -> None:
        body = app(environ(), start_response)
        try:
            b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return call


def cpu_per_call(call: Callable[[], None], count: int) -> float:
    """Microseconds of this process's CPU per call, over `count` calls."""
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


@contextlib.contextmanager
def real_app() -> Iterator[tuple[Any, str]]:
    """The real app, built in this process on a throwaway database set up as
    bench/ingest/run.py sets it up (its settings in this process's environment), and the
    token of the app user it made."""
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-inproc-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        token = bench.prepare(env)
        os.environ.update(env)
        from server.app import create_app, prepare_for_requests
        from server.settings import Settings

        app = create_app(Settings.from_env())
        prepare_for_requests(app)
        yield app, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="of each app, in all")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-worker", action="store_true")
    parser.add_argument("--paths", default="submission", help="as bench/ingest/run.py's")
    args = parser.parse_args()
    paths = [x.strip() for x in args.paths.split(",") if x.strip()]
    with real_app() as (app, token):
        from bench.ingest.bare_app import app as bare_app
        from server.openrosa.deps import wakeups
        from server.settings import Settings

        environ = environ_factory()
        bare = caller(bare_app, environ)
        callers = {
            name: caller(app, environ_factory(name, token), "200" if name == "rest" else "201")
            for name in paths
        }
        real = callers[paths[0]]
        for _ in range(300):
            for call in callers.values():
                call()
            bare()
        per_round = max(args.requests // args.rounds, 1)
        times: dict[str, list[float]] = {"bare": [], **{name: [] for name in paths}}
        for _ in range(args.rounds):
            for name, call in callers.items():
                times[name].append(cpu_per_call(call, per_round))
            times["bare"].append(cpu_per_call(bare, per_round))
        times["real"] = times[paths[0]]
        real_us, bare_us = statistics.median(times["real"]), statistics.median(times["bare"])
        print(
            f"{per_round} x {args.rounds} requests each: real {real_us:.0f} us CPU per request, "
            f"bare {bare_us:.0f} us, the receiver adds {real_us - bare_us:.0f} us "
            f"(bare / real {bare_us / real_us:.2f})"
        )
        print("  rounds, real:", ", ".join(f"{t:.0f}" for t in times["real"]))
        print("  rounds, bare:", ", ".join(f"{t:.0f}" for t in times["bare"]))
        for name in paths[1:]:
            us = statistics.median(times[name])
            against = (
                f", / /submission {us / statistics.median(times['submission']):.2f}"
                if "submission" in times
                else ""
            )
            print(
                f"  {name}: {us:.0f} us CPU per request (rounds "
                f"{', '.join(f'{t:.0f}' for t in times[name])}){against}"
            )
        if args.profile:
            # CPU time, not wall time: waits on PostgreSQL are not the receiver's cost.
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(1000):
                real()
            profile.disable()
            stats = pstats.Stats(profile).sort_stats("cumulative")
            stats.print_stats(40)
            # Context look-ups through Flask's proxies (request, current_app, g): ncalls.
            stats.print_stats(r"werkzeug/local\.py:\d+\(__get__\)")
        with app.app_context():
            wakeups().flush()
        worker_us, database_us, processed = worker_cpu_per_submission(args.profile_worker)
        print(
            f"worker: {worker_us:.0f} us CPU per submission, and {database_us:.0f} us of its "
            f"PostgreSQL backend's, {processed} submissions in batches of "
            f"{Settings.from_env().worker_batch} (the receiver: {real_us:.0f} us; worker / "
            f"receiver {worker_us / real_us:.2f})"
        )


def worker_cpu_per_submission(profile: bool) -> tuple[float, float, int]:
    """Process every waiting submission as the worker's tasks do; this process's CPU and its
    PostgreSQL backend's per submission, and how many there were."""
    from workers import processing, runtime

    database, batch = runtime.database(), runtime.settings().worker_batch
    profiler = cProfile.Profile(time.process_time) if profile else None
    cpu, backend_ticks, timed, done = 0.0, 0, 0, 0
    while True:
        # The first batch warms the process's caches (the catalog, compiled statements) and is
        # neither timed nor profiled; then the next 1,000 under the profiler when asked, the
        # rest timed (the profiler's own cost would inflate the figure).
        warming = done == 0
        profiling = profiler is not None and not warming and done < 1000 + batch
        with database.session() as session:
            backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            ticks_before, started = sum(process_ticks(backend)), time.process_time()
            if profiling:
                profiler.enable()  # type: ignore[union-attr]
            outcomes = processing.process_batch(session, [], batch)
            session.commit()
            if profiling:
                profiler.disable()  # type: ignore[union-attr]
            elif not warming:
                cpu += time.process_time() - started
                backend_ticks += sum(process_ticks(backend)) - ticks_before
                timed += len(outcomes)
        if not outcomes:
            break
        done += len(outcomes)
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    backend_s = backend_ticks / os.sysconf("SC_CLK_TCK")
    return cpu / max(timed, 1) * 1e6, backend_s / max(timed, 1) * 1e6, timed


if __name__ == "__main__":
    main()
