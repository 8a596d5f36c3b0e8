"""The OData benchmark's data: the issue's shape, a form of 10 questions and a repeat of 5
rows (3 questions each), and N submissions of it in two districts.

The form is published through the publishing service. The submissions' XML is generated,
flattened by the worker's own function (server/domain/xform/flatten.py, as the worker does),
and both the submission rows (marked processed) and their flattened rows are COPYed straight
into the tables: the benchmark measures reads, and a real ingest of 100,000 submissions would
take this machine most of an hour without changing what is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
from sqlalchemy import select

from server.db import Database
from server.domain.xform.flatten import FormSpec, process
from server.models import Form, FormVersion, OrgUnit
from server.models.org import OrgLevel
from server.services.forms import publish_xlsform
from server.services.orgunits import ensure_uganda
from server.services.users import create_user
from server.storage.blobs import BlobStore

FORM_ID = "bench_odata"
VERSION = "1"
ROWS_PER_REPEAT = 5
ADMIN = ("bench_admin", "bench-admin-password-1")
COORDINATOR = ("bench_coordinator", "bench-coordinator-password-1")
START = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
CHUNK = 5_000


def xlsform() -> bytes:
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in [
        ["type", "name", "label"],
        ["text", "district", "District"],
        ["text", "school", "School"],
        ["integer", "pupils", "Pupils"],
        ["integer", "teachers", "Teachers"],
        ["decimal", "budget", "Budget"],
        ["date", "visited", "Visited"],
        ["select_one yn", "water", "Water"],
        ["select_multiple fac", "facilities", "Facilities"],
        ["geopoint", "location", "Location"],
        ["text", "remarks", "Remarks"],
        ["begin_repeat", "member", "Member"],
        ["text", "name", "Name"],
        ["integer", "age", "Age"],
        ["select_one sex", "sex", "Sex"],
        ["end_repeat", "", ""],
    ]:
        survey.append(row)
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    for row in [
        ("yn", "yes", "Yes"),
        ("yn", "no", "No"),
        ("fac", "latrine", "Latrine"),
        ("fac", "power", "Power"),
        ("fac", "library", "Library"),
        ("sex", "f", "Female"),
        ("sex", "m", "Male"),
    ]:
        choices.append(list(row))
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append([FORM_ID, VERSION, "OData benchmark"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def prepare(db: Database, attachments_dir: Path) -> tuple[int, int, list[int], str]:
    """Uganda's units, the form, the two users; (form id, version id, two districts' unit
    ids, the first district's code)."""
    with db.session() as session:
        ensure_uganda(session)
    with db.session() as session:
        publish_xlsform(session, BlobStore(attachments_dir), xlsform(), f"{FORM_ID}.xlsx")
    with db.session() as session:
        districts = list(
            session.execute(
                select(OrgUnit.id, OrgUnit.code)
                .where(OrgUnit.level == OrgLevel.district)
                .order_by(OrgUnit.code)
                .limit(2)
            )
        )
        create_user(session, ADMIN[0], ADMIN[1], "admin", "DMIP")
        create_user(
            session, COORDINATOR[0], COORDINATOR[1], "coordinator", "DMIP", [districts[0][1]]
        )
        form = session.scalars(select(Form).where(Form.xml_form_id == FORM_ID)).one()
        version = session.get(FormVersion, form.current_version_id)
        assert version is not None
        return form.id, version.id, [d[0] for d in districts], districts[0][1]


def _xml(i: int, rng: random.Random) -> bytes:
    members = "".join(
        f"<member><name>Member {i}.{j}</name><age>{rng.randint(0, 90)}</age>"
        f"<sex>{rng.choice('fm')}</sex></member>"
        for j in range(ROWS_PER_REPEAT)
    )
    day = (START + dt.timedelta(days=i % 300)).date().isoformat()
    return (
        f'<?xml version="1.0"?><data xmlns:orx="http://openrosa.org/xforms" id="{FORM_ID}" '
        f'version="{VERSION}"><district>D{i % 2}</district><school>School {i}</school>'
        f"<pupils>{rng.randint(50, 1500)}</pupils><teachers>{rng.randint(2, 40)}</teachers>"
        f"<budget>{rng.randint(100, 99999) / 100}</budget><visited>{day}</visited>"
        f"<water>{rng.choice(['yes', 'no'])}</water><facilities>latrine power</facilities>"
        f"<location>{rng.uniform(-1, 4):.5f} {rng.uniform(29, 35):.5f} 1100 5</location>"
        f"<remarks>Visited on a weekday, all classes in session.</remarks>{members}"
        f"<meta><instanceID>uuid:bench-{i:08d}</instanceID></meta></data>"
    ).encode()


def generate(
    count: int, form_id: int, version_id: int, submitter_id: int, units: list[int], spec: FormSpec
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(submission row, its flattened rows) for each submission, oldest first."""
    rng = random.Random(27)
    for i in range(count):
        sub_id = i + 1
        xml = _xml(i, rng)
        result = process(xml, spec)
        assert result.ok, result.failure_reason()
        at = START + dt.timedelta(minutes=5 * i, seconds=rng.random())
        submission = (
            sub_id,
            form_id,
            version_id,
            f"uuid:bench-{i:08d}",
            True,
            submitter_id,
            units[i % 2],
            at,
            at,
            xml,
            hashlib.sha256(xml).hexdigest(),
            False,
            "processed",
            at,
            1,
            "received",
            False,
            "2025/26",
            False,
        )
        rows = [
            (sub_id, r.repeat_path, r.position, r.parent_position, json.dumps(r.data))
            for r in result.rows
        ]
        yield submission, rows


SUBMISSION_COLUMNS = (
    "id, form_id, form_version_id, instance_id, current, submitter_id, org_unit_id, "
    "received_at, updated_at, xml, xml_sha256, incomplete, processing_status, processed_at, "
    "attempts, review_state, demo, cycle, counted"
)


def load(db: Database, url: str, count: int, attachments_dir: Path) -> dict[str, Any]:
    """Publish the form and COPY `count` submissions with their rows, CHUNK at a time (the
    rows of a chunk follow its submissions on the same connection); returns what the
    measurements need."""
    form_id, version_id, units, district = prepare(db, attachments_dir)
    with db.session() as session:
        version = session.get(FormVersion, version_id)
        assert version is not None
        spec = FormSpec(FORM_ID, VERSION, version.schema)
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT id FROM users WHERE username = %s", (ADMIN[0],)).fetchone()
        assert found is not None
        made = generate(count, form_id, version_id, found[0], units, spec)
        while chunk := list(itertools.islice(made, CHUNK)):
            with conn.cursor() as cur:
                with cur.copy(f"COPY submissions ({SUBMISSION_COLUMNS}) FROM STDIN") as copy:
                    for submission, _ in chunk:
                        copy.write_row(submission)
                with cur.copy(
                    "COPY submission_rows (submission_id, repeat_path, position, "
                    "parent_position, data) FROM STDIN"
                ) as copy:
                    for _, rows in chunk:
                        for row in rows:
                            copy.write_row(row)
        conn.execute("SELECT setval(pg_get_serial_sequence('submissions', 'id'), %s)", (count,))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum does soon after a load: statistics, and the visibility map that
        # lets a count or a page of ids be read from the index alone.
        conn.execute("VACUUM ANALYZE submissions")
        conn.execute("VACUUM ANALYZE submission_rows")
    return {"form_id": form_id, "district": district}
