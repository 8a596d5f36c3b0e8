"""Submission exports: the CSV zip and the XLSX read back cell by cell on a form with a group, a
geopoint, a select_multiple, a photo and a repeat nested in a repeat; filters and scope; memory
that does not grow with the number of submissions; a real Celery worker running an export job
on PostgreSQL."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from server.db import Database, utcnow
from server.domain.roles import Role
from server.domain.xform.safe_xml import parse
from server.domain.xform.submission_meta import read_meta
from server.exports.layout import Column as ExportColumn
from server.exports.layout import ExportError, cell
from server.exports.submissions import build_export, run_job
from server.models import ExportJob, Form, FormVersion, OrgUnit, Submission, SubmissionRow
from server.models.org import OrgLevel
from server.models.submissions import ProcessingStatus, ReviewState
from server.queries.submission_filters import SubmissionFilter
from server.services.ingest import IncomingAttachment, IncomingSubmission, ingest_submission
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from server.task_queue import EXPORT_TASK, TaskSender
from tests.fixtures.openrosa import seed_org
from tests.workers.test_worker_support import add_form
from workers import processing as worker_ingest

PASSWORD = "password-123"
PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes to carry"

EX_FORM = """
| survey |
| | type | name | label |
| | text | school_name | School |
| | begin_group | loc | Location |
| | geopoint | gps | GPS |
| | select_multiple svc | services | Services |
| | end_group | | |
| | image | photo | Photo |
| | begin_repeat | classes | Class |
| | text | cname | Name |
| | integer | pupils | Pupils |
| | begin_repeat | learners | Learner |
| | text | lname | Name |
| | end_repeat | | |
| | end_repeat | | |
| choices |
| | list_name | name | label |
| | svc | meals | Meals |
| | svc | library | Library |
| settings |
| | form_id | version | form_title |
| | ex_school | 1 | Example school |
"""


def school_xml(
    instance_id: str,
    name: str = "Alpha",
    classes: tuple[tuple[str, int, tuple[str, ...]], ...] = (),
    photo: str | None = None,
    gps: str = "0.31 32.58 1200 5",
    services: str = "meals library",
) -> bytes:
    reps = "".join(
        f"<classes><cname>{c}</cname><pupils>{n}</pupils>"
        + "".join(f"<learners><lname>{ln}</lname></learners>" for ln in learners)
        + "</classes>"
        for c, n, learners in classes
    )
    return (
        f'<data id="ex_school" version="1"><school_name>{name}</school_name>'
        f"<loc><gps>{gps}</gps><services>{services}</services></loc>"
        f"<photo>{photo or ''}</photo>{reps}"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


@dataclass
class World:
    """Two schools' worth of submissions in D1/S1 and one in D2/S2, processed by the worker."""

    db: Database
    blobs: BlobStore
    form_id: int
    version_id: int
    units: dict[str, int]
    users: dict[str, int]
    ids: dict[str, int]


def publish(session: Session) -> tuple[Form, FormVersion]:
    version = add_form(session, EX_FORM)
    return version.form, version


def submit(
    session: Session,
    blobs: BlobStore,
    version: FormVersion,
    xml: bytes,
    unit_id: int,
    submitter_id: int | None,
    photo: tuple[str, bytes] | None = None,
) -> int:
    attachments = (
        [IncomingAttachment(photo[0], "image/jpeg", io.BytesIO(photo[1]))] if photo else []
    )
    result = ingest_submission(
        session,
        blobs,
        IncomingSubmission(
            form_id=version.form_id,
            form_version_id=version.id,
            submitter_id=submitter_id,
            meta=read_meta(parse(xml)),
            xml=xml,
            attachments=attachments,
            org_unit_id=unit_id,
            device_id="collect:abc",
        ),
    )
    worker_ingest.process_submission(session, result.submission_id)
    session.commit()
    return result.submission_id


def build_world(settings: Settings) -> World:
    db = Database(settings.database_url)
    blobs = BlobStore(settings.attachments_dir)
    with db.session() as s:
        units = {c: u.id for c, u in seed_org(s).items()}
        users = {
            "admin": create_user(s, "admin", PASSWORD, Role.admin, "DMIP"),
            "coordinator": create_user(
                s, "coordinator", PASSWORD, Role.coordinator, "DMIP", ["D1"]
            ),
            "subcounty_staff": create_user(
                s, "subcounty_staff", PASSWORD, Role.subcounty_staff, "DMIP", ["S1"]
            ),
            "enumerator": create_user(s, "enumerator", PASSWORD, Role.enumerator, "DMIP", ["S1"]),
            "other_enum": create_user(s, "other_enum", PASSWORD, Role.enumerator, "DMIP", ["S2"]),
        }
        s.commit()
        user_ids = {k: u.id for k, u in users.items()}
        form, version = publish(s)
        ids = {
            "alpha": submit(
                s, blobs, version,
                school_xml(
                    "uuid:ex-1", "Alpha =1+1",
                    (("P1", 30, ("Ann", "Bob")), ("P2", 25, ("Cy",))),
                    photo="p1.jpg",
                ),
                units["S1"], user_ids["enumerator"], photo=("p1.jpg", PHOTO),
            ),
            "bravo": submit(
                s, blobs, version, school_xml("uuid:ex-2", "Bravo", (), services="", gps=""),
                units["S1"], user_ids["enumerator"],
            ),
            "charlie": submit(
                s, blobs, version, school_xml("uuid:ex-3", "Charlie", (("P7", 12, ()),)),
                units["S2"], user_ids["other_enum"],
            ),
        }  # fmt: skip
        return World(db, blobs, form.id, version.id, units, user_ids, ids)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    w = build_world(settings)
    yield w
    w.db.dispose()


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


TOP_HEADER = [
    "SubmissionDate", "school_name", "loc-gps-Latitude", "loc-gps-Longitude", "loc-gps-Altitude",
    "loc-gps-Accuracy", "loc-services", "photo", "meta-instanceID", "KEY", "SubmitterID",
    "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status", "ReviewState",
    "DeviceID", "Edits", "FormVersion", "OrgUnit", "Cycle", "ProcessingStatus", "Demo",
]  # fmt: skip


def export(world: World, fmt: str, tmp_path: Path, **kw: object) -> Path:
    scope = kw.pop("scope", None)
    with world.db.session() as s:
        filters = SubmissionFilter(form_id=world.form_id, scope_paths=scope, **kw)  # type: ignore[arg-type]
        out = tmp_path / f"out.{fmt}"
        build_export(s, filters, fmt, out)
    return out


def test_csv_zip_has_a_file_per_repeat_with_central_keys(world: World, tmp_path: Path) -> None:
    with world.db.session() as s:
        s.get(Submission, world.ids["bravo"]).review_state = ReviewState.has_issues  # type: ignore[union-attr]
    files = read_zip(export(world, "csv", tmp_path))
    assert sorted(files) == ["ex_school-classes.csv", "ex_school-learners.csv", "ex_school.csv"]

    top = read_csv(files["ex_school.csv"])
    assert top[0] == TOP_HEADER
    assert len(top) == 4
    enum_id = str(world.users["enumerator"])
    alpha = dict(zip(TOP_HEADER, top[1], strict=True))
    assert alpha["SubmissionDate"].endswith("Z")
    assert {k: v for k, v in alpha.items() if k != "SubmissionDate"} == {
        "school_name": "Alpha =1+1",
        "loc-gps-Latitude": "0.31",
        "loc-gps-Longitude": "32.58",
        "loc-gps-Altitude": "1200.0",
        "loc-gps-Accuracy": "5.0",
        "loc-services": "meals library",
        "photo": "p1.jpg",
        "meta-instanceID": "uuid:ex-1",
        "KEY": "uuid:ex-1",
        "SubmitterID": enum_id,
        "SubmitterName": "enumerator",
        "AttachmentsPresent": "1",
        "AttachmentsExpected": "1",
        "Status": "",
        "ReviewState": "",
        "DeviceID": "collect:abc",
        "Edits": "0",
        "FormVersion": "1",
        "OrgUnit": "S1",
        "Cycle": alpha["Cycle"],
        "ProcessingStatus": "processed",
        "Demo": "false",
    }
    bravo = dict(zip(TOP_HEADER, top[2], strict=True))
    # Blank answers are empty cells, not "None"; Central's name for "has issues".
    assert bravo["loc-gps-Latitude"] == bravo["loc-services"] == bravo["photo"] == ""
    assert (bravo["ReviewState"], bravo["AttachmentsExpected"]) == ("hasIssues", "0")
    assert top[3][TOP_HEADER.index("KEY")] == "uuid:ex-3"

    assert read_csv(files["ex_school-classes.csv"]) == [
        ["cname", "pupils", "PARENT_KEY", "KEY"],
        ["P1", "30", "uuid:ex-1", "uuid:ex-1/classes[1]"],
        ["P2", "25", "uuid:ex-1", "uuid:ex-1/classes[2]"],
        ["P7", "12", "uuid:ex-3", "uuid:ex-3/classes[1]"],
    ]
    # Nested: counted from 1 within each parent class, joined by the parent's KEY.
    assert read_csv(files["ex_school-learners.csv"]) == [
        ["lname", "PARENT_KEY", "KEY"],
        ["Ann", "uuid:ex-1/classes[1]", "uuid:ex-1/classes[1]/learners[1]"],
        ["Bob", "uuid:ex-1/classes[1]", "uuid:ex-1/classes[1]/learners[2]"],
        ["Cy", "uuid:ex-1/classes[2]", "uuid:ex-1/classes[2]/learners[1]"],
    ]


def test_xlsx_has_a_sheet_per_repeat_and_keeps_numbers_and_text(
    world: World, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(export(world, "xlsx", tmp_path))
    assert book.sheetnames == ["ex_school", "classes", "learners"]
    top = [list(r) for r in book["ex_school"].iter_rows(values_only=True)]
    assert list(top[0]) == TOP_HEADER
    alpha = dict(zip(TOP_HEADER, top[1], strict=True))
    assert alpha["loc-gps-Latitude"] == 0.31 and alpha["AttachmentsPresent"] == 1
    assert alpha["loc-services"] == "meals library" and alpha["SubmitterName"] == "enumerator"
    # An answer that starts with "=" stays text: opening the file never runs it as a formula.
    name_cell = book["ex_school"].cell(row=2, column=2)
    assert (name_cell.value, name_cell.data_type) == ("Alpha =1+1", "s")
    assert [list(r) for r in book["classes"].iter_rows(values_only=True)] == [
        ["cname", "pupils", "PARENT_KEY", "KEY"],
        ["P1", 30, "uuid:ex-1", "uuid:ex-1/classes[1]"],
        ["P2", 25, "uuid:ex-1", "uuid:ex-1/classes[2]"],
        ["P7", 12, "uuid:ex-3", "uuid:ex-3/classes[1]"],
    ]
    assert [r[2] for r in book["learners"].iter_rows(values_only=True)][1:] == [
        "uuid:ex-1/classes[1]/learners[1]",
        "uuid:ex-1/classes[1]/learners[2]",
        "uuid:ex-1/classes[2]/learners[1]",
    ]


def test_formula_text_is_a_string_cell_in_xlsx(world: World, tmp_path: Path) -> None:
    with world.db.session() as s:
        version = s.get(FormVersion, world.version_id)
        assert version is not None
        submit(
            s,
            world.blobs,
            version,
            school_xml("uuid:ex-f", "=HYPERLINK(1)"),
            world.units["S2"],
            None,
        )
    book = openpyxl.load_workbook(export(world, "xlsx", tmp_path, org_unit="S2"))
    names = [c.value for c in book["ex_school"]["B"]][1:]
    types = [c.data_type for c in book["ex_school"]["B"]][1:]
    assert names == ["Charlie", "=HYPERLINK(1)"] and types == ["s", "s"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_attachments_go_under_media(world: World, tmp_path: Path, fmt: str) -> None:
    with world.db.session() as s:
        out = tmp_path / f"with-media-{fmt}.zip"
        build_export(
            s, SubmissionFilter(form_id=world.form_id), fmt, out,
            with_attachments=True, blobs=world.blobs,
        )  # fmt: skip
    files = read_zip(out)
    assert files["media/p1.jpg"] == PHOTO
    assert [n for n in files if n.startswith("media/")] == ["media/p1.jpg"]
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(files["ex_school.xlsx"]))
        assert book.sheetnames == ["ex_school", "classes", "learners"]
    else:
        assert "ex_school.csv" in files


def keys_of(path: Path) -> list[str]:
    top = read_csv(read_zip(path)["ex_school.csv"])
    return [r[TOP_HEADER.index("KEY")] for r in top[1:]]


def test_filters_and_scope_choose_the_rows(world: World, tmp_path: Path) -> None:
    d1 = ("/UG/UG-C/D1/",)
    assert keys_of(export(world, "csv", tmp_path, scope=d1)) == ["uuid:ex-1", "uuid:ex-2"]
    assert keys_of(export(world, "csv", tmp_path, scope=())) == []
    assert keys_of(export(world, "csv", tmp_path, org_unit="D2")) == ["uuid:ex-3"]
    # A unit outside the scope gives nothing, not the unit's rows.
    assert keys_of(export(world, "csv", tmp_path, scope=d1, org_unit="S2")) == []
    assert keys_of(export(world, "csv", tmp_path, submitter_id=world.users["other_enum"])) == [
        "uuid:ex-3"
    ]
    with world.db.session() as s:
        s.get(Submission, world.ids["alpha"]).deleted_at = utcnow()  # type: ignore[union-attr]
    assert keys_of(export(world, "csv", tmp_path)) == ["uuid:ex-2", "uuid:ex-3"]


def test_unknown_format_is_refused(world: World, tmp_path: Path) -> None:
    with world.db.session() as s, pytest.raises(ExportError, match="csv or xlsx"):
        build_export(s, SubmissionFilter(form_id=world.form_id), "ods", tmp_path / "x")


def test_cells_render_answers_as_collect_sends_them() -> None:
    plain = ExportColumn("x", "x")
    assert cell(["a", "b"], plain) == "a b"
    assert cell(True, plain) == "true"
    assert cell(None, plain) is None and cell("", plain) is None
    trace = [{"lat": 1.5, "lon": 2.0, "alt": None, "acc": None}, {"lat": 3.0, "lon": 4.25}]
    assert cell(trace, plain) == "1.5 2;3 4.25"
    assert cell({"lat": 1.0, "lon": 2.0}, ExportColumn("x-Longitude", "x", "lon")) == 2.0
    assert cell(None, ExportColumn("x-Longitude", "x", "lon")) is None


def _bulk(db: Database, count: int) -> int:
    """`count` processed submissions, each with two repeat rows, inserted in bulk."""
    with db.session() as s:
        form, version = publish(s)
        now = utcnow()
        first = s.scalar(select(Submission.id).order_by(Submission.id.desc())) or 0
        s.execute(
            insert(Submission),
            [
                {
                    "form_id": form.id,
                    "form_version_id": version.id,
                    "instance_id": f"uuid:bulk-{i}",
                    "xml": b"<data/>",
                    "xml_sha256": "0" * 64,
                    "processing_status": ProcessingStatus.processed,
                    "received_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
        ids = s.scalars(select(Submission.id).where(Submission.id > first)).all()
        s.execute(
            insert(SubmissionRow),
            [
                row
                for sid in ids
                for row in (
                    {"submission_id": sid, "repeat_path": "", "position": 0,
                     "data": {"school_name": f"School {sid}", "loc/services": ["meals"]}},
                    {"submission_id": sid, "repeat_path": "/data/classes", "position": 1,
                     "data": {"cname": "P1", "pupils": 40}},
                    {"submission_id": sid, "repeat_path": "/data/classes", "position": 2,
                     "data": {"cname": "P2", "pupils": 41}},
                )
            ],
        )  # fmt: skip
        return form.id


def _peak(db: Database, form_id: int, fmt: str, out: Path) -> tuple[int, list[float]]:
    seen: list[float] = []
    with db.session() as s:
        tracemalloc.start()
        build_export(s, SubmissionFilter(form_id=form_id), fmt, out, progress=seen.append)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, seen


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_memory_does_not_grow_with_the_number_of_submissions(
    settings: Settings, tmp_path: Path, fmt: str
) -> None:
    db = Database(settings.database_url)
    small_form = _bulk(db, 400)
    with db.session() as s:
        s.get(Form, small_form).xml_form_id = "small"  # type: ignore[union-attr]
    large_form = _bulk(db, 4000)
    small, _ = _peak(db, small_form, fmt, tmp_path / f"small.{fmt}")
    large, seen = _peak(db, large_form, fmt, tmp_path / f"large.{fmt}")
    db.dispose()
    # Ten times the submissions (12,000 rows), about the same peak: the chunk, not the export.
    assert large < small * 1.5, (small, large)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    if fmt == "csv":
        top = read_csv(read_zip(tmp_path / "large.csv")["ex_school.csv"])
        classes = read_csv(read_zip(tmp_path / "large.csv")["ex_school-classes.csv"])
        assert (len(top), len(classes)) == (4001, 8001)


def test_job_run_directly_is_idempotent_and_failures_say_why(world: World, tmp_path: Path) -> None:
    with world.db.session() as s:
        job = ExportJob(
            form_id=world.form_id,
            requested_by=world.users["admin"],
            format="csv",
            with_attachments=True,
            filters=SubmissionFilter(form_id=world.form_id, org_unit="S1").to_json(),
        )
        broken = ExportJob(
            form_id=world.form_id,
            requested_by=world.users["admin"],
            format="csv",
            with_attachments=False,
            filters={"form_id": world.form_id, "received_from": "yesterday"},
        )
        s.add_all([job, broken])
        s.flush()
        job_id, broken_id = job.id, broken.id
    done = run_job(world.db, job_id, tmp_path / "exports", world.blobs)
    assert done is not None and done.state == "done" and done.progress == 1.0
    path = Path(done.file_path or "")
    assert path.parent == tmp_path / "exports" and path.name.endswith("ex_school-csv.zip")
    assert keys_of(path) == ["uuid:ex-1", "uuid:ex-2"]
    assert read_zip(path)["media/p1.jpg"] == PHOTO
    stamp = path.stat().st_mtime_ns
    again = run_job(world.db, job_id, tmp_path / "exports", world.blobs)
    assert again is not None and again.state == "done" and path.stat().st_mtime_ns == stamp

    failed = run_job(world.db, broken_id, tmp_path / "exports", world.blobs)
    assert failed is not None and failed.state == "failed"
    assert "'yesterday' is not a date" in (failed.error or "")
    assert not list((tmp_path / "exports").glob("*.part"))


@pytest.mark.integration
def test_a_real_worker_runs_an_export_job(world: World, settings: Settings, tmp_path: Path) -> None:
    from tests.workers.celery_processes import wait_for, worker

    with world.db.session() as s:
        job = ExportJob(
            form_id=world.form_id,
            requested_by=world.users["coordinator"],
            format="xlsx",
            with_attachments=False,
            filters=SubmissionFilter(
                form_id=world.form_id, scope_paths=("/UG/UG-C/D1/",)
            ).to_json(),
        )
        s.add(job)
        s.flush()
        job_id = job.id
    log = tmp_path / "worker.log"
    with worker(settings, log, "--pool=solo", "--concurrency=1"):
        assert TaskSender(settings).send(EXPORT_TASK, job_id)

        def finished() -> bool:
            with world.db.session() as s:
                row = s.get(ExportJob, job_id)
                return row is not None and row.state in {"done", "failed"}

        wait_for(finished, "the export job to finish", [log])
    with world.db.session() as s:
        row = s.get(ExportJob, job_id)
        assert row is not None
        assert (row.state, row.progress, row.error) == ("done", 1.0, None)
        assert row.finished_at is not None
        path = Path(row.file_path or "")
    assert path.parent == settings.data_dir / "exports"
    book = openpyxl.load_workbook(path)
    keys = [r[TOP_HEADER.index("KEY")] for r in book["ex_school"].iter_rows(values_only=True)]
    assert keys[1:] == ["uuid:ex-1", "uuid:ex-2"]


def test_org_unit_filter_is_an_exact_prefix_whatever_the_code(world: World, tmp_path: Path) -> None:
    """ "_" in a code is a LIKE wildcard; the filter must not let "K_1" take in "KX1"."""
    with world.db.session() as s:
        region = s.get(OrgUnit, world.units["UG-C"])
        version = s.get(FormVersion, world.version_id)
        assert region is not None and version is not None
        for code in ("K_1", "KX1"):
            path = f"{region.path}{code}/"
            unit = OrgUnit(code=code, name=code, level=OrgLevel.district, path=path)
            unit.parent = region
            s.add(unit)
            s.flush()
            submit(s, world.blobs, version, school_xml(f"uuid:in-{code}"), unit.id, None)
    assert keys_of(export(world, "csv", tmp_path, org_unit="K_1")) == ["uuid:in-K_1"]
    assert keys_of(export(world, "csv", tmp_path, org_unit="KX1")) == ["uuid:in-KX1"]
    assert keys_of(export(world, "csv", tmp_path, org_unit="nowhere")) == []
