"""Draft DMIP benchmark: regenerating every district's draft from the aggregates, and exporting
one district's DOCX and PDF, on PostgreSQL.

    python bench/plans/run.py [--districts 24] [--repeat 3]

It makes a throwaway database, loads the demo data set for N districts (about 15 sub-counties
each) through the real ingest path, processes it with the worker's own function (so the
aggregates are the incremental ones), then times, for every district:

- reading its facts from the stored aggregates and submissions (the floor a draft cannot beat),
- drafting all nine sections from those facts,
- the whole regeneration (read, draft, store the sections keeping edits),

and the DOCX and PDF export of one district, with the peak memory (RSS) of this process.
Targets (from the issue): a district draft regenerates in under 1 s; DOCX export under 5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ADMIN_PG_URL = os.environ.get(
    "DMIP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from server import migrate
    from server.db import Database
    from server.demo.load import load_demo_data
    from server.domain.drafting import draft_dmip
    from server.models import DmipPlan, OrgUnit
    from server.plans import documents
    from server.plans.read_facts import district_facts
    from server.plans.regenerate import load, regenerate
    from server.settings import Settings
    from workers import processing

    name = f"dmip_bench_plans_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        data_dir = Path(tempfile.mkdtemp(prefix="dmip-bench-plans-"))
        settings = Settings(
            data_dir=data_dir,
            database_url=url,
            broker_url="redis://127.0.0.1:6379/13",
            secret_key="bench-secret-key-0123456789",
            forms_dir=ROOT / "forms",
            embedded=False,
        )
        started = time.perf_counter()
        report = load_demo_data(settings, args.districts, seed=7, cycle="2025/26")
        assert report is not None
        db = Database(url)
        count = processing.process_waiting(db)
        print(
            f"loaded and processed {count} submissions for {args.districts} districts "
            f"in {time.perf_counter() - started:.0f} s"
        )

        read_s, draft_s, regen_s = [], [], []
        with db.session() as s:
            plans = list(s.scalars(select(DmipPlan.id)))
        for _ in range(args.repeat):
            for plan_id in plans:
                with db.session() as s:
                    plan = s.get(DmipPlan, plan_id)
                    assert plan is not None
                    district = s.get(OrgUnit, plan.district_id)
                    assert district is not None
                    loaded, library = load(s)
                    t0 = time.perf_counter()
                    facts = district_facts(s, loaded, district, plan.cycle)
                    t1 = time.perf_counter()
                    draft_dmip(facts, library)
                    t2 = time.perf_counter()
                    regenerate(s, plan)
                    s.flush()
                    t3 = time.perf_counter()
                read_s.append(t1 - t0)
                draft_s.append(t2 - t1)
                regen_s.append(t3 - t2)

        exports = {}
        with db.session() as s:
            plan = s.get(DmipPlan, plans[0])
            assert plan is not None
            for fmt in ("docx", "pdf"):
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    data = documents.plan_document(s, plan, fmt)
                    times.append(time.perf_counter() - t0)
                exports[fmt] = (statistics.median(times), max(times), len(data))
        db.dispose()

        def row(label: str, values: list[float], target: float | None) -> str:
            p50 = statistics.median(values)
            worst = max(values)
            verdict = "" if target is None else f"{worst / target:.2f} of target"
            return f"| {label} | {p50 * 1000:.0f} ms | {worst * 1000:.0f} ms | {verdict} |"

        print(
            f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {args.districts} districts x {args.repeat} runs\n"
        )
        print("| step (per district) | median | worst | worst vs target |")
        print("|---|---|---|---|")
        print(row("read facts from aggregates (floor)", read_s, None))
        print(row("draft nine sections", draft_s, None))
        print(row("regenerate (read + draft + store)", regen_s, 1.0))
        for fmt, (median, worst, size) in exports.items():
            target = 5.0 if fmt == "docx" else None
            verdict = f"{worst / target:.2f} of target" if target else ""
            print(
                f"| export {fmt.upper()} ({size // 1024} KB) | {median * 1000:.0f} ms | "
                f"{worst * 1000:.0f} ms | {verdict} |"
            )
        print(
            f"\nregeneration / floor (median): "
            f"{statistics.median(regen_s) / statistics.median(read_s):.1f}x; "
            f"peak RSS of this process: {peak_rss_mb():.0f} MB"
        )
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


if __name__ == "__main__":
    main()
