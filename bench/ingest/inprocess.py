"""The receiver's own CPU per submission, without gunicorn, wrk or the network.

    python bench/ingest/inprocess.py [--requests 3000] [--profile]

Sets up what bench/ingest/run.py sets up, then posts `--requests` submissions through Flask's
test client in this process (after 200 to warm the caches) and prints the process CPU time and
the wall time per request (the wall time includes PostgreSQL's insert and commit; the CPU time
is this process's, wake-up thread included). `--profile` then prints cProfile's top functions
by CPU time over 1,000 more requests.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import run as bench

BOUNDARY = "dmipbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-inproc-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        bench.prepare(env)
        os.environ.update(env)
        from server.app import create_app
        from server.openrosa.deps import wakeups
        from server.settings import Settings

        app = create_app(Settings.from_env())
        client = app.test_client()
        auth = base64.b64encode(f"{bench.USERNAME}:{bench.PASSWORD}".encode()).decode()
        template = bench.submission_template()
        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": "Basic " + auth,
            "X-OpenRosa-Version": "1.0",
        }

        def post() -> None:
            xml = template.replace("INSTANCE_ID", f"uuid:{uuid.uuid4()}")
            body = (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                f'filename="s.xml"\r\nContent-Type: text/xml\r\n\r\n{xml}\r\n--{BOUNDARY}--\r\n'
            ).encode()
            response = client.post("/submission", data=body, headers=headers)
            assert response.status_code == 201, response.data

        for _ in range(200):
            post()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            post()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{args.requests} submissions: {cpu / args.requests * 1000:.3f} ms CPU and "
            f"{wall / args.requests * 1000:.3f} ms wall per request"
        )
        if args.profile:
            # CPU time, not wall time: waits on PostgreSQL are not the receiver's cost.
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(1000):
                post()
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        with app.app_context():
            wakeups().flush()


if __name__ == "__main__":
    main()
