"""Where the CPU goes at 8 clients: each process's CPU time per request, real or bare endpoint.

    python bench/ingest/cpu.py [real|bare] [--runs 3] [--seconds 10] [--gunicorn-args "..."]
                               [--worker]

Starts the same throwaway database, form and enumerator as bench/ingest/run.py, serves the real
app (or the bare endpoint) with the production gunicorn settings, warms it (run.py's `warm`),
then for each run reads every process's CPU time from /proc before and after a wrk run at 8
clients and prints the rate, p50, p99 and the cores and milliseconds per request used by
gunicorn, PostgreSQL, Redis and wrk, with the share spent in the kernel. `--gunicorn-args`
goes to gunicorn as GUNICORN_CMD_ARGS (for example "--keep-alive 0", or "--workers 4 --threads
2"). `--worker` runs the production worker (run.py's) through the runs, processing what the real
endpoint stores, and counts it apart: its processes as "worker", and the PostgreSQL backends
that serve it (told apart by their application_name) as "postgres (worker)".
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Set as AbstractSet
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import run as bench

HZ = os.sysconf("SC_CLK_TCK")
APPS = {"real": "server.wsgi:app", "bare": "bench.ingest.bare_app:app"}


def process_ticks(pid: int | str) -> tuple[int, int]:
    """User and system CPU ticks of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_ticks() -> dict[str, tuple[str, int, int]]:
    """pid -> (command line, user ticks, system ticks) of every process."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            user, system = process_ticks(pid)
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        out[pid] = (cmd, user, system)
    return out


WORKER_APP = "dmip-bench-worker"


def group(cmd: str, pid: str = "", worker_backends: AbstractSet[str] = frozenset()) -> str | None:
    if pid in worker_backends:
        return "postgres (worker)"
    if "celery" in cmd:
        return "worker"
    for name in ("gunicorn", "postgres", "redis"):
        if name in cmd:
            return name
    return None


def worker_log_summary(log: Path) -> str:
    """How the worker took its work: tasks and batches, and the batches' mean size."""
    text = log.read_text(errors="replace")
    sizes = [int(n) for n in re.findall(r"processed a batch of (\d+) submissions", text)]
    tasks = len(re.findall(r"Task dmip\.process_submission\[[^]]*\] received", text))
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    return f"worker so far: {tasks} tasks, {len(sizes)} batches of {mean:.1f} on average"


def backends_of(url: str, application: str) -> set[str]:
    """The pids of the PostgreSQL backends connected under `application`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                {"a": application},
            )
            return {str(pid) for (pid,) in rows}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("app", nargs="?", choices=sorted(APPS), default="real")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--gunicorn-args", default="")
    parser.add_argument("--worker", action="store_true", help="the worker runs too")
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(bench.REDIS_URL).flushdb()
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-cpu-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        if args.gunicorn_args:
            env["GUNICORN_CMD_ARGS"] = args.gunicorn_args
        bench.prepare(env)
        port = bench.free_port()
        worker_env = bench.worker_env(env)
        worker_env["DMIP_DATABASE_URL"] = f"{url}?application_name={WORKER_APP}"
        worker = (
            bench.process(bench.worker_command(Path(tmp)), worker_env, Path(tmp) / "worker.log")
            if args.worker
            else contextlib.nullcontext()
        )
        with bench.gunicorn(APPS[args.app], port, env, Path(tmp) / "server.log"), worker:
            bench.wait_http(port)
            bench.warm(port, env)
            for _ in range(args.runs):
                if args.worker:
                    bench.drain(url, 900)
                before, start = cpu_ticks(), time.monotonic()
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                result = bench.run_wrk(port, 8, args.seconds, env)
                after, elapsed = cpu_ticks(), time.monotonic() - start
                worker_backends = backends_of(url, WORKER_APP) if args.worker else set()
                # wrk has exited by now, so /proc no longer has it; its rusage came back to us
                # (gunicorn, still running, is not in it).
                done = resource.getrusage(resource.RUSAGE_CHILDREN)
                used: collections.Counter[str] = collections.Counter()
                system: collections.Counter[str] = collections.Counter()
                for pid, (cmd, user_ticks, system_ticks) in after.items():
                    name = group(cmd, pid, worker_backends)
                    if name:
                        _, user_before, system_before = before.get(pid, (cmd, 0, 0))
                        used[name] += user_ticks - user_before + system_ticks - system_before
                        system[name] += system_ticks - system_before
                wrk_seconds = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
                used["wrk"] = round(wrk_seconds * HZ)
                system["wrk"] = round((done.ru_stime - children.ru_stime) * HZ)
                parts = ", ".join(
                    f"{name} {ticks / HZ / elapsed:.2f} cores "
                    f"({ticks / HZ / result['requests'] * 1000:.3f} ms/request, "
                    f"{system[name] / max(ticks, 1):.0%} in the kernel)"
                    for name, ticks in used.most_common()
                )
                print(
                    f"{args.app}: {result['rate']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
                    f"p99 {result['p99_ms']:.1f} ms; {parts}",
                    flush=True,
                )
                if args.worker:
                    print(worker_log_summary(Path(tmp) / "worker.log"), flush=True)


if __name__ == "__main__":
    main()
