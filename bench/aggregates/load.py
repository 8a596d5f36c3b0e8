"""Loading the demo data set at scale straight into PostgreSQL, for the aggregation benchmark.

HTTP and the worker would take hours for a million submissions, so this takes a shorter road
to the same rows: the demo generator (server/demo/dataset.py) writes each instance's XML,
the worker's own pure function (server/domain/xform `process`) validates and flattens it, and
`submissions` and `submission_rows` are filled with PostgreSQL COPY, every submission marked
processed and counted with its cycle and org unit, as the worker would leave it. Generation and
flattening run in a process pool; the parent streams the COPY.

The loaded database is kept and reused while its parameters (generator version, seed, size)
match: the key is part of its name and a row in `bench_meta` says the load finished.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from server.demo.dataset import (
    FORM_IDS,
    DemoDistrict,
    DemoSize,
    DemoSubcounty,
    FormShape,
    generate,
)
from server.domain.xform.flatten import FormSpec, process

ROOT = Path(__file__).resolve().parents[2]
CYCLE = "2025/26"
PARISHES = 4
# Per district the generator writes a profile, an HQ capacity assessment, a workshop and a
# milestones record; per sub-county a capacity and an OVC assessment besides its facilities
# and schools (server/services/demo_data.generate).
PER_DISTRICT, PER_SUBCOUNTY = 4, 2
# Raise when a change here changes the rows loaded: it is part of the cache key.
LOADER_VERSION = 1


@dataclass(frozen=True)
class Plan:
    submissions: int
    districts: int
    subcounties: int
    seed: int = 0

    @property
    def size(self) -> DemoSize:
        """Facilities and schools per sub-county so that the set has about `submissions`."""
        units = self.districts * self.subcounties
        left = max(0, self.submissions - self.districts * PER_DISTRICT) // units - PER_SUBCOUNTY
        facilities = max(1, left // 2)
        schools = max(1, left - facilities)
        return DemoSize((facilities, facilities), (schools, schools))

    def key(self) -> str:
        """Changes when anything that shapes the loaded rows changes."""
        digest = hashlib.sha256()
        for path in (
            "server/demo/dataset.py",
            "server/demo/answers.py",
            "server/demo/common.py",
            "server/domain/xform/flatten.py",
            "server/domain/xform/typed_answers.py",
        ):
            digest.update((ROOT / path).read_bytes())
        digest.update(
            repr((self, sorted(p.name for p in (ROOT / "forms").glob("*.xlsx")))).encode()
        )
        return digest.hexdigest()[:10]

    def database_name(self) -> str:
        return f"dmip_bench_agg_{self.submissions}_{self.key()}"


def district_codes(conn: Any, count: int) -> list[tuple[str, str]]:
    """The first `count` districts by code with their regions (a session or a connection)."""
    from sqlalchemy.orm import aliased

    from server.models import OrgUnit
    from server.models.org import OrgLevel

    region = aliased(OrgUnit)
    codes = conn.execute(
        select(OrgUnit.code, region.code)
        .join(region, region.id == OrgUnit.parent_id)
        .where(OrgUnit.level == OrgLevel.district)
        .order_by(OrgUnit.code)
    ).all()
    if len(codes) < count:
        raise SystemExit(f"only {len(codes)} districts in the shipped hierarchy")
    return [(str(c), str(r)) for c, r in codes[:count]]


def hierarchy(codes: Sequence[tuple[str, str]], subcounties: int) -> list[DemoDistrict]:
    return [
        DemoDistrict(
            code,
            region,
            tuple(
                DemoSubcounty(
                    f"{code}-S{s:02d}",
                    tuple(f"{code}-S{s:02d}-P{p:02d}" for p in range(1, PARISHES + 1)),
                )
                for s in range(1, subcounties + 1)
            ),
        )
        for code, region in codes
    ]


def prepare(url: str, plan: Plan, blobs_dir: Path) -> None:
    """Schema, Uganda's hierarchy with bench sub-counties and parishes, the seven forms."""
    from server import migrate
    from server.db import Database
    from server.services.orgunits import OrgRow, ensure_uganda, import_org_units
    from server.services.shipped_forms import publish_file, shipped_forms
    from server.storage.blobs import BlobStore

    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            ensure_uganda(session)
            codes = district_codes(session, plan.districts)
            rows: list[OrgRow] = []
            for district in hierarchy(codes, plan.subcounties):
                for sub in district.subcounties:
                    rows.append(
                        OrgRow(len(rows) + 1, sub.code, sub.code, "subcounty", district.code)
                    )
                    rows.extend(
                        OrgRow(len(rows) + 1 + i, p, p, "parish", sub.code)
                        for i, p in enumerate(sub.parishes)
                    )
            report = import_org_units(session, rows, demo=True)
            if report.rejected:
                raise SystemExit(f"org units rejected: {report.rejected[:3]}")
        blobs = BlobStore(blobs_dir)
        for path in shipped_forms(ROOT / "forms"):
            with db.session() as session:
                publish_file(session, blobs, path)
    finally:
        db.dispose()


# --- generation in worker processes ---------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init(forms: dict[str, FormShape], districts: list[DemoDistrict], plan: Plan) -> None:
    _STATE.update(forms=forms, districts=districts, plan=plan)


def _generate_group(group: list[int]) -> tuple[list[tuple[Any, ...]], int]:
    """Generate and flatten the instances of a group of districts: (form id, instance id,
    instance name, org code, xml, rows) per instance, and how many failed validation."""
    forms: dict[str, FormShape] = _STATE["forms"]
    plan: Plan = _STATE["plan"]
    districts = [_STATE["districts"][i] for i in group]
    specs = {f: FormSpec(f, s.version, list(s.fields)) for f, s in forms.items()}
    out: list[tuple[Any, ...]] = []
    failed = 0
    for instance in generate(districts, forms, plan.seed, CYCLE, plan.size):
        result = process(instance.xml, specs[instance.form_id])
        if not result.ok:
            failed += 1
            continue
        top = result.rows[0].data
        meta = top.get("meta") if isinstance(top.get("meta"), dict) else {}
        rows = [
            (r.repeat_path, r.position, r.parent_position, json.dumps(r.data, default=str))
            for r in result.rows
        ]
        name = (meta or {}).get("instanceName") or top.get("meta/instanceName")
        out.append(
            (instance.form_id, instance.instance_id, name, instance.org_code, instance.xml, rows)
        )
    return out, failed


def _groups(plan: Plan) -> list[list[int]]:
    """Districts in groups of about 20,000 submissions: each group is one call to the
    generator (a complete data set of its own: strong and weak districts, an unvisited
    sub-county), small enough to keep the pool's messages modest."""
    per_district = max(1, plan.submissions // plan.districts)
    size = max(1, min(plan.districts, 20_000 // per_district)) if per_district < 20_000 else 1
    return [list(range(i, min(i + size, plan.districts))) for i in range(0, plan.districts, size)]


def load(url: str, plan: Plan, processes: int = 2, say: Any = print) -> dict[str, Any]:
    """Generate, flatten and COPY the data set into the prepared database at `url`."""
    from server.models import Form, FormVersion, OrgUnit

    engine = create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(
            select(
                Form.xml_form_id, Form.id, FormVersion.id, FormVersion.version, FormVersion.schema
            )
            .join(FormVersion, FormVersion.id == Form.current_version_id)
            .where(Form.xml_form_id.in_(FORM_IDS))
        ).all()
        org_ids = dict(conn.execute(select(OrgUnit.code, OrgUnit.id)).all())
        codes = district_codes(conn, plan.districts)
    engine.dispose()
    forms = {f: FormShape(f, v, list(schema or [])) for f, _fid, _vid, v, schema in versions}
    ids = {f: (fid, vid) for f, fid, vid, _v, _s in versions}
    districts = hierarchy(codes, plan.subcounties)
    groups = _groups(plan)

    pg_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    started = time.monotonic()
    submissions = rows_total = failed = 0
    ctx = multiprocessing.get_context("fork")
    with (
        ctx.Pool(processes, _init, (forms, districts, plan)) as pool,
        psycopg.connect(pg_url) as conn,
    ):
        next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM submissions").fetchone()[0]
        row_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM submission_rows").fetchone()[0]
        with conn.cursor() as cur:
            for batch, bad in pool.imap(_generate_group, groups):
                failed += bad
                with cur.copy(
                    "COPY submissions (id, form_id, form_version_id, instance_id, current, "
                    "instance_name, device_id, org_unit_id, received_at, updated_at, xml, "
                    "xml_sha256, incomplete, processing_status, processed_at, attempts, "
                    "review_state, demo, cycle, counted) FROM STDIN"
                ) as copy:
                    for form_id, instance_id, name, org_code, xml, _rows in batch:
                        fid, vid = ids[form_id]
                        copy.write_row(
                            (
                                next_id + submissions,
                                fid,
                                vid,
                                instance_id,
                                True,
                                name,
                                "collect:dmip-bench",
                                org_ids[org_code],
                                now,
                                now,
                                xml,
                                hashlib.sha256(xml).hexdigest(),
                                False,
                                "processed",
                                now,
                                1,
                                "received",
                                True,
                                CYCLE,
                                True,
                            )
                        )
                        submissions += 1
                with cur.copy(
                    "COPY submission_rows (id, submission_id, repeat_path, position, "
                    "parent_position, data) FROM STDIN"
                ) as copy:
                    first = next_id + submissions - len(batch)
                    for offset, (*_head, rows) in enumerate(batch):
                        for repeat_path, position, parent, data in rows:
                            copy.write_row(
                                (
                                    row_id + rows_total,
                                    first + offset,
                                    repeat_path,
                                    position,
                                    parent,
                                    data,
                                )
                            )
                            rows_total += 1
                conn.commit()
                rate = submissions / (time.monotonic() - started)
                say(f"  loaded {submissions:,} submissions, {rows_total:,} rows ({rate:,.0f}/s)")
        for table in ("submissions", "submission_rows"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE submissions")
        conn.execute("VACUUM ANALYZE submission_rows")
    if failed > submissions // 1000:
        raise SystemExit(f"{failed} generated instances failed validation: not loaded")
    return {
        "submissions": submissions,
        "rows": rows_total,
        "failed_validation": failed,
        "seconds": time.monotonic() - started,
    }


def mark_loaded(url: str, info: dict[str, Any]) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_meta (info TEXT NOT NULL)"))
        conn.execute(text("DELETE FROM bench_meta"))
        conn.execute(text("INSERT INTO bench_meta VALUES (:i)"), {"i": json.dumps(info)})
    engine.dispose()


def loaded_info(url: str) -> dict[str, Any] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT info FROM bench_meta")).scalar()
    except Exception:  # no such database or table: not loaded
        return None
    finally:
        engine.dispose()
    return json.loads(raw) if raw else None


def form_versions(conn: Any) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """(version id, form id, field list) of every form version, as the rebuild goes through
    them (a session or a connection)."""
    from server.models import Form, FormVersion

    rows = conn.execute(
        select(FormVersion.id, Form.xml_form_id, FormVersion.schema)
        .join(Form, Form.id == FormVersion.form_id)
        .order_by(FormVersion.id)
    ).all()
    return [(int(v), str(f), list(s or [])) for v, f, s in rows]


def load_small(url: str, blobs_dir: Path, submissions: int = 300) -> dict[str, Any]:
    """A small data set for tests (two districts of two sub-counties), with a few submissions
    that must not count: rejected, deleted, and one superseded by a processed edit."""
    plan = Plan(submissions, 2, 2)
    prepare(url, plan, blobs_dir)
    info = load(url, plan, processes=1, say=lambda _m: None)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE submissions SET review_state = 'rejected' WHERE id % 17 = 1"))
        conn.execute(text("UPDATE submissions SET deleted_at = now() WHERE id % 19 = 2"))
        conn.execute(
            text(
                "UPDATE submissions SET supersedes_id = id - 1 WHERE id % 23 = 4 "
                "AND form_version_id = (SELECT form_version_id FROM submissions p "
                "WHERE p.id = submissions.id - 1)"
            )
        )
    engine.dispose()
    return info
