"""The worker's contribution query, per submission, in its two forms on the same data.

    python bench/aggregates/contribution.py [--submissions 50000] [--batch 200] [--repeat 5]

Uses the database `bench/aggregates/run.py` loaded for `--submissions` (run it first; the
same parameters find it). For each form version with indicators it takes the first `--batch`
submissions, as a worker batch would, and times the query that computes their contributions
in PostgreSQL in two forms, alternately, the fastest of `--repeat` each: the plain SELECT
(`ContributionQuery.select`, which PostgreSQL merges into its outer SELECT) and the form the
worker, the rebuild and the readings run (`ContributionQuery.select_once`: each expression
evaluated and each row's JSON detoasted once). It checks that both return the same rows and
prints the time per submission of each and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.aggregates import load
from bench.aggregates.run import db_url, reuse_loaded
from server.aggregation import catalog_source
from server.db import make_engine

WHERE = "s.id = ANY(CAST(:ids AS bigint[]))"


def timed(session: Session, sql: str, ids: list[int]) -> tuple[float, list]:
    started = time.perf_counter()
    rows = session.execute(text(sql), {"ids": ids}).all()
    return time.perf_counter() - started, sorted(tuple(row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(db_url(reuse_loaded(args.submissions)))
    with Session(engine) as session:
        loaded = catalog_source.load(session)
        for version_id, form_id, fields in load.form_versions(session):
            query = catalog_source.query_for(loaded, form_id, version_id, fields, "postgresql")
            if not query.indicators:
                continue
            ids = list(
                session.scalars(
                    text(
                        "SELECT id FROM submissions WHERE form_version_id = :v ORDER BY id LIMIT :n"
                    ),
                    {"v": version_id, "n": args.batch},
                )
            )
            if not ids:
                continue
            plain_sql, once_sql = query.select(WHERE), query.select_once(WHERE)
            plain_s = once_s = float("inf")
            for _ in range(args.repeat):  # alternately, so both see the same machine
                seconds, plain_rows = timed(session, plain_sql, ids)
                plain_s = min(plain_s, seconds)
                seconds, once_rows = timed(session, once_sql, ids)
                once_s = min(once_s, seconds)
            if plain_rows != once_rows:
                raise SystemExit(f"{form_id}: the two forms of the query gave different rows")
            print(
                f"{form_id:<28} {len(query.indicators):>3} indicators, {len(ids):>4} submissions: "
                f"plain {plain_s / len(ids) * 1e6:7.0f} us, once {once_s / len(ids) * 1e6:6.0f} "
                f"us per submission (plain / once {plain_s / once_s:5.1f})",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    main()
