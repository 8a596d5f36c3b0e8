"""Where the receiver's time goes under load, and how long its garbage collections pause it.

    python bench/ingest/hotspots.py [--seconds 10]            # py-spy (pip install py-spy)
    python bench/ingest/hotspots.py --gc [--unfrozen] [--seconds 30]   # collection pauses

Sets up what bench/ingest/run.py sets up and serves the real app with the production gunicorn
settings under wrk at 8 clients. By default py-spy samples the gunicorn workers, only the
thread holding the interpreter lock (`--gil`), and prints the share of samples under each of
the functions that matter to the receiver. `--gc` instead logs every collection's pause in the
workers (bench/ingest/gc_app.py) and prints their count and durations per generation;
`--unfrozen` builds the app without the start-up collection and freeze, to compare with the
pauses before them.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import run as bench

# (label, function, the end of its file's path); a sample counts for each of these on its stack.
PARTS = [
    ("gunicorn request handling", "handle_request", "gunicorn/workers/gthread.py"),
    ("gunicorn access log", "access", "gunicorn/glogging.py"),
    ("Flask", "wsgi_app", "flask/app.py"),
    ("the receiver", "submission", "openrosa/submission.py"),
    ("multipart parsing", "parse_multipart", "openrosa/spool.py"),
    ("credentials", "require_principal", "auth/http.py"),
    ("XML parsing", "parse", "xform/safe_xml.py"),
    ("meta", "read_meta", "xform/submission_meta.py"),
    ("the INSERT", "insert_new_rows_held", "services/ingest_insert.py"),
    ("pool checkout", "raw_connection", "sqlalchemy/engine/base.py"),
    ("wake-up publishing", "_run", "openrosa/wakeups.py"),
]


def _frame(frame: str) -> tuple[str, str]:
    """py-spy's "Class.function (path:line)" as (function, path)."""
    name, _, where = frame.rpartition(" (")
    return name.rsplit(".", 1)[-1], where.rsplit(":", 1)[0]


def shares(raw: Path) -> tuple[int, dict[str, float]]:
    total, hits = 0, collections.Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [_frame(f) for f in stack.split(";")]
        total += int(count)
        for label, function, path in PARTS:
            if any(name == function and where.endswith(path) for name, where in frames):
                hits[label] += int(count)
    return total, {label: hits[label] / max(total, 1) for label, _, _ in PARTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--gc", action="store_true")
    parser.add_argument("--unfrozen", action="store_true")
    parser.add_argument("--warm", type=int, default=3, help="seconds of load before measuring")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not args.gc and not Path(spy).exists():
        sys.exit("py-spy is needed: pip install py-spy")
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-profile-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        bench.prepare(env)
        gc_log = Path(tmp) / "gc.log"
        app = "server.wsgi:app"
        if args.gc:
            app = "bench.ingest.gc_app:app"
            env = {**env, "DMIP_BENCH_GC_LOG": str(gc_log)}
            if args.unfrozen:
                env["DMIP_BENCH_GC_UNFROZEN"] = "1"
        port = bench.free_port()
        with bench.gunicorn(app, port, env, Path(tmp) / "server.log") as server:
            bench.wait_http(port)
            bench.warm(port, env, args.warm)
            gc_log.unlink(missing_ok=True)
            raw = Path(tmp) / "profile.txt"
            sampler = None
            if not args.gc:
                sampler = subprocess.Popen(
                    [spy, "record", "--gil", "--nonblocking", "-r", "250", "-f", "raw",
                     "-d", str(args.seconds + 1), "-o", str(raw), "--pid", str(server.pid),
                     "--subprocesses"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(0.5)
            result = bench.run_wrk(port, 8, args.seconds, env)
            print(
                f"{result['rate']:.0f} submissions/s, p50 {result['p50_ms']:.1f} ms, "
                f"p99 {result['p99_ms']:.1f} ms"
            )
            if sampler is not None:
                sampler.wait()
                total, parts = shares(raw)
                per_request = total / max(result["requests"], 1)
                print(f"{total} samples holding the interpreter lock ({per_request:.3f}/request)")
                for label, share in parts.items():
                    print(f"  {share:6.1%}  {label}")
            else:
                pauses: dict[int, list[float]] = collections.defaultdict(list)
                for line in gc_log.read_text().splitlines() if gc_log.exists() else []:
                    generation, milliseconds = line.split()
                    pauses[int(generation)].append(float(milliseconds))
                for generation in sorted(pauses):
                    found = pauses[generation]
                    print(
                        f"  generation {generation}: {len(found)} collections, median "
                        f"{statistics.median(found):.2f} ms, max {max(found):.1f} ms"
                    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
