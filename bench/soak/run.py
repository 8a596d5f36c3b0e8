"""Soak run: the fault harness's stack (tests/faults) under a steady stream for a long time,
with a fault every few minutes, cycling through a Redis restart, a PostgreSQL restart, a
worker SIGKILL (and a new worker) and a burst of poison submissions.

    python bench/soak/run.py [--duration 1800] [--rate 10] [--every 180] [--json FILE]
                             [--keep-logs DIR]

Reports submissions accepted, processed, failed, lost and duplicated, the 5xx answers other
than 503, and for each fault the seconds from its start until everything accepted up to its
end was processed; at the end, whether the aggregates equal a rebuild.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.faults.checks import compare_with_rebuild, outcome, wait_settled
from tests.faults.stack import Stack, StackConfig, running_stack
from tests.faults.stream import SubmissionStream, Template, templates

ROOT = Path(__file__).resolve().parents[2]
POISON = [("dmip_school", "teachers_payroll", "twelve"), ("dmip_school", "p1_boys", "9" * 29)]
RECOVERY_LIMIT = 600.0


def faults(
    stack: Stack, stream: SubmissionStream, pool: list[Template]
) -> list[tuple[str, Callable[[], None]]]:
    school = next(t for t in pool if t.form_id == "dmip_school")

    def kill_worker() -> None:
        stack.live_workers()[0].kill()
        time.sleep(1)
        stack.start_worker()

    def poison_burst() -> None:
        for form, field, value in POISON:
            if form == school.form_id:
                stream.send(school.spoilt(field, value), f"poison {field}")

    return [
        ("redis restart", lambda: stack.redis.restart(down_for=2)),
        ("postgresql restart", stack.postgres.restart),
        ("worker SIGKILL", kill_worker),
        ("poison burst", poison_burst),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=1800, help="seconds of stream")
    parser.add_argument("--rate", type=float, default=10, help="submissions a second")
    parser.add_argument("--every", type=int, default=180, help="seconds between faults")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-logs", type=Path, help="copy the stack's logs here")
    args = parser.parse_args()

    results: dict = {
        "machine": machine(),
        "commit": commit(),
        "args": vars(args) | {"json": str(args.json), "keep_logs": str(args.keep_logs)},
    }
    with running_stack(StackConfig(), keep=args.keep_logs) as stack:
        pool = templates(stack)
        stream = SubmissionStream(stack, pool, rate=args.rate).start()
        plan = faults(stack, stream, pool)
        started = time.monotonic()
        recoveries = []
        n = 0
        try:
            while time.monotonic() - started + args.every <= args.duration:
                time.sleep(args.every)
                name, fault = plan[n % len(plan)]
                n += 1
                stack.ensure_worker()
                began = time.monotonic()
                fault()
                backlog = stream.accepted("good")
                try:
                    wait_settled(stack, backlog, RECOVERY_LIMIT)
                    seconds: float | None = time.monotonic() - began
                except Exception as exc:  # a fault it does not recover from is the result
                    print(f"{name}: not recovered: {str(exc)[:300]}", flush=True)
                    seconds = None
                recoveries.append(
                    {
                        "fault": name,
                        "at_s": round(began - started, 1),
                        "recovered_s": seconds and round(seconds, 1),
                    }
                )
                print(f"{began - started:7.0f}s {name}: recovered in {seconds}", flush=True)
            time.sleep(max(0.0, args.duration - (time.monotonic() - started)))
        finally:
            stream.stop()
        good = stream.accepted("good")
        try:
            wait_settled(stack, good, RECOVERY_LIMIT)
        except Exception as exc:
            print(f"not everything processed at the end: {str(exc)[:300]}", flush=True)
        o = outcome(stack, stream.accepted())
        rebuild = compare_with_rebuild(stack)
        results.update(
            accepted=o.accepted,
            accepted_good=len(good),
            processed=o.processed,
            failed=o.failed,
            waiting=o.waiting,
            lost=len(o.lost),
            duplicated=len(o.duplicated),
            server_errors=stream.server_errors(),
            never_accepted=len(stream.unaccepted()),
            statuses={str(k): v for k, v in stream.statuses().items()},
            recoveries=recoveries,
            aggregates=rebuild.aggregates,
            aggregates_differing_from_rebuild=len(rebuild.differences),
        )
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout.strip()


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import os

    return {"cpu": cpu, "cores": os.cpu_count()}


if __name__ == "__main__":
    main()
