"""Draft regeneration at the aggregation benchmark's scale (about 42,000 submissions a district).

    python bench/plans/at_scale.py [--submissions 1080000] [--districts 3]

Reuses the database bench/aggregates/run.py loaded for `--submissions` (run that first), marks
the plans of the first `--districts` districts stale and times `regenerate_due` redrawing each
of them, one at a time, with the number of the district's counted submissions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import func, select

from bench.aggregates import load
from bench.aggregates.run import db_url, reuse_loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=1_080_000)
    parser.add_argument("--districts", type=int, default=3)
    args = parser.parse_args()
    from server.db import Database
    from server.models import OrgUnit, Submission
    from server.plans import staleness
    from workers.regeneration import regenerate_due

    db = Database(db_url(reuse_loaded(args.submissions)))
    with db.session() as s:
        codes = [code for code, _ in load.district_codes(s, args.districts)]
    for code in codes:
        with db.session() as s:
            district = s.scalars(select(OrgUnit).where(OrgUnit.code == code)).one()
            count = s.scalar(
                select(func.count())
                .select_from(Submission)
                .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                .where(Submission.counted, OrgUnit.path.startswith(district.path))
            )
            staleness.mark_stale(s, {(district.id, load.CYCLE)})
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        start = time.perf_counter()
        drawn = regenerate_due(db, debounce=0, now=later)
        seconds = time.perf_counter() - start
        print(f"{code}: {count:,} submissions, {drawn} plan redrawn in {seconds:.2f} s", flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
