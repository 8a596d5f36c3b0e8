"""PostgreSQL's CPU per new submission row, by rows per INSERT (what group commit changes).

    python bench/ingest/pg_rows.py [--rows 24000] [--threads 8]

Sets up what bench/ingest/run.py sets up, then `--threads` threads insert `--rows` new rows in
all through the receiver's own statement (server/services/ingest_insert.py), one, two and three
rows per INSERT, and prints the CPU time the PostgreSQL processes used per row and the wall
time per row. No web server: only the database's side of the receiver's work.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ingest import cpu
from bench.ingest import run as bench


def postgres_ticks() -> int:
    return sum(u + s for cmd, u, s in cpu.cpu_ticks().values() if cpu.group(cmd) == "postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with bench.database() as url, tempfile.TemporaryDirectory(prefix="dmip-pgrows-") as tmp:
        env = bench.server_env(url, Path(tmp) / "data")
        bench.prepare(env)
        os.environ.update(env)
        from sqlalchemy import select

        from server.db import Database
        from server.domain.xform.safe_xml import parse
        from server.domain.xform.submission_meta import read_meta
        from server.models import FormVersion, User
        from server.services.ingest import IncomingSubmission, new_row_values
        from server.services.ingest_insert import insert_new_rows

        db = Database(url, pool_size=args.threads, max_overflow=0)
        with db.session() as session:
            version = session.scalars(select(FormVersion)).one()
            user = session.scalars(select(User).where(User.username == bench.USERNAME)).one()
            form_id, version_id = version.form_id, version.id
            user_id, credentials = user.id, user.credentials_version
        template = bench.submission_template()

        def row() -> dict:
            xml = template.replace("INSTANCE_ID", f"uuid:{uuid.uuid4()}").encode()
            incoming = IncomingSubmission(
                form_id=form_id,
                form_version_id=version_id,
                submitter_id=user_id,
                meta=read_meta(parse(xml)),
                xml=xml,
                submitter_credentials_version=credentials,
            )
            return new_row_values(incoming, "0" * 64)

        for per_insert in (1, 2, 3):
            statements = args.rows // args.threads // per_insert
            batches = [
                [[row() for _ in range(per_insert)] for _ in range(statements)]
                for _ in range(args.threads)
            ]
            ready = threading.Barrier(args.threads + 1)

            def work(mine: list[list[dict]], ready: threading.Barrier) -> None:
                insert_new_rows(db.engine, [row() for _ in mine[0]])  # prepares the statement
                ready.wait()
                for rows in mine:
                    insert_new_rows(db.engine, rows)

            workers = [threading.Thread(target=work, args=(mine, ready)) for mine in batches]
            for worker in workers:
                worker.start()
            ready.wait()
            start_ticks, start = postgres_ticks(), time.perf_counter()
            for worker in workers:
                worker.join()
            wall, ticks = time.perf_counter() - start, postgres_ticks() - start_ticks
            done = statements * per_insert * args.threads
            print(
                f"{per_insert} row(s) per INSERT, {args.threads} threads: PostgreSQL "
                f"{ticks / cpu.HZ / done * 1000:.3f} ms CPU per row, "
                f"{wall / done * 1000:.3f} ms wall per row"
            )
        db.dispose()


if __name__ == "__main__":
    main()
