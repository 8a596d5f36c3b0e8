"""The server's own time per request, read from gunicorn's access log.

    python bench/ingest/access_times.py LOG [--slow-ms 100]

wrk's latency is what a client sees: the server's time plus the wait for a gunicorn thread and
the network. When a run's p99 jumps, the server's own time tells whether the request itself was
slow (a query, a commit, a lock) or only waited to be served. `run.py --server-times` starts
both gunicorns with `FORMAT`, which ends each line with the status and the microseconds the
request took (`%(D)s`), and reports these figures for every real run; `--keep-logs DIR` keeps
the logs for this script.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# gunicorn's default line up to the request, then the status and the request's microseconds.
FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(D)s'
# The time of day (to the second), the status and the microseconds of one line of FORMAT.
LINE = re.compile(r'\[[^:\]]+:(\d\d:\d\d:\d\d) [^\]]*\] "[^"]*" (\d{3}) (\d+)$')


def summarise(lines: Iterable[str], slow_ms: float = 100.0) -> dict:
    """p50, p99, p99.9 and the slowest of the answered requests (status below 500), and how many
    took over `slow_ms`, with the seconds most of them fell in."""
    times: list[float] = []
    slow: Counter[str] = Counter()
    for line in lines:
        match = LINE.search(line)
        if not match or int(match.group(2)) >= 500:
            continue
        ms = int(match.group(3)) / 1000
        times.append(ms)
        if ms > slow_ms:
            slow[match.group(1)] += 1
    if len(times) < 2:
        return {"requests": len(times)}
    # 999 cut points: the 500th is the median, the 990th p99, the 999th p99.9.
    cuts = statistics.quantiles(times, n=1000, method="inclusive")
    return {
        "requests": len(times),
        "p50_ms": cuts[499],
        "p99_ms": cuts[989],
        "p999_ms": cuts[998],
        "max_ms": max(times),
        f"over_{slow_ms:g}_ms": sum(slow.values()),
        "slowest_seconds": dict(slow.most_common(5)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--slow-ms", type=float, default=100.0)
    args = parser.parse_args()
    with args.log.open(encoding="utf-8", errors="replace") as lines:
        print(json.dumps(summarise(lines, args.slow_ms), indent=2))


if __name__ == "__main__":
    main()
