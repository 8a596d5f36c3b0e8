"""Exporting a form's submissions as CSV (a zip, one file per repeat) or XLSX (a sheet per
repeat), laid out as ODK Central lays out its exports, so the scripts people already have for
Central's files (R, Stata, Excel) read ours.

Layout. The top-level table has SubmissionDate, the form's questions in form order (a group's
name joined to its questions' with "-", a geopoint as four columns), then KEY (the instanceID),
SubmitterID, SubmitterName, AttachmentsPresent, AttachmentsExpected, Status, ReviewState,
DeviceID, Edits, FormVersion, and our own OrgUnit, Cycle, ProcessingStatus and Demo. Each
repeat has its own table: its questions, then PARENT_KEY and KEY, where a repeat row's KEY is
its parent's KEY followed by "/<repeat>[n]", n counting from 1 within that parent, so nested
repeats join back to their parents. A select_multiple is one column of space-separated choice
names, as Collect sends it. Answers come from the flattened rows, so a submission the worker
has not processed (or found invalid) has its metadata and no answers.

Memory does not grow with the number of submissions: submissions are read in chunks
(`yield_per`), each table streams to its own temporary file (CSV) or to openpyxl's write-only
workbook (which spools every sheet to disk), attachments are copied into the zip one at a time,
and the tables join the zip at the end. The result is written to a temporary name and renamed,
so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import jobs
from server.db import Database
from server.exports.csv_xlsx import CsvTables, XlsxTables, safe_name
from server.exports.layout import ExportError, Table, cell, tables_for
from server.models import (
    Attachment,
    ExportJob,
    Form,
    FormVersion,
    OrgUnit,
    Submission,
    SubmissionRow,
    User,
)
from server.models.submissions import CENTRAL_REVIEW_NAMES, ReviewState
from server.queries.submission_filters import SubmissionFilter
from server.storage.blobs import BlobStore

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
# Submissions read per database round trip; rows and attachments are fetched per chunk.
CHUNK = 200
# Exports of at most this many submissions, without attachments, are built in the request.
INLINE_LIMIT = 500

Progress = Callable[[float], None]
# Central's names for review states; a submission nobody reviewed has none.
CENTRAL_REVIEW = CENTRAL_REVIEW_NAMES


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    path: Path
    filename: str
    content_type: str
    submissions: int


def export_filename(form: Form, fmt: str, with_attachments: bool) -> tuple[str, str]:
    """The download's file name and content type."""
    stem = safe_name(form.xml_form_id)
    if fmt == "xlsx" and not with_attachments:
        return (
            f"{stem}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return f"{stem}-{fmt}.zip", "application/zip"


def count(session: Session, filters: SubmissionFilter) -> int:
    query = filters.select(func.count(Submission.id))
    return int(session.scalar(query) or 0)


def build_export(
    session: Session,
    filters: SubmissionFilter,
    fmt: str,
    out_path: Path,
    *,
    with_attachments: bool = False,
    blobs: BlobStore | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the export of the submissions `filters` selects to `out_path`."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: choose csv or xlsx.")
    if with_attachments and blobs is None:
        raise ExportError("Attachments were asked for, but no attachment store was given.")
    form = session.get(Form, filters.form_id)
    if form is None:
        raise ExportError(f"No form has the id {filters.form_id}.")
    version = _schema_version(session, form)
    tables = tables_for(version.schema if version else [], form.xml_form_id)
    total = count(session, filters)
    filename, content_type = export_filename(form, fmt, with_attachments)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    part = out_path.with_name(out_path.name + ".part")
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".export-") as work:
        workdir = Path(work)
        sink: CsvTables | XlsxTables = (
            CsvTables(tables, workdir) if fmt == "csv" else XlsxTables(tables)
        )
        zipped = fmt == "csv" or with_attachments
        archive = zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) if zipped else None
        try:
            done = 0
            media: set[str] = set()
            for chunk in _chunks(session, filters):
                _write_chunk(session, chunk, tables, sink)
                if archive is not None and with_attachments:
                    assert blobs is not None
                    _add_media(session, chunk, blobs, archive, media)
                done += len(chunk)
                if progress is not None and total:
                    progress(min(done / total, 1.0))
            if isinstance(sink, CsvTables):
                assert archive is not None
                sink.finish(archive)
            elif archive is not None:
                book = workdir / "book.xlsx"
                sink.save(book)
                archive.write(book, f"{safe_name(form.xml_form_id)}.xlsx")
            else:
                sink.save(part)
        finally:
            if archive is not None:
                archive.close()
    os.replace(part, out_path)
    if progress is not None:
        progress(1.0)
    return ExportResult(out_path, filename, content_type, total)


def _schema_version(session: Session, form: Form) -> FormVersion | None:
    """The version whose field list gives the columns: the current one, else the newest.
    Answers to questions a later version dropped are left out, as in Central."""
    if form.current_version_id is not None:
        return session.get(FormVersion, form.current_version_id)
    return session.scalars(
        select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.id.desc())
    ).first()


@dataclass(frozen=True)
class _Sub:
    id: int
    instance_id: str
    received_at: dt.datetime
    submitter_id: int | None
    submitter: str | None
    device_id: str | None
    incomplete: bool
    review_state: ReviewState
    processing_status: str
    version: str
    supersedes_id: int | None
    org_unit: str | None
    cycle: str | None
    demo: bool


def _chunks(session: Session, filters: SubmissionFilter) -> Iterator[list[_Sub]]:
    query = (
        filters.select(
            Submission.id,
            Submission.instance_id,
            Submission.received_at,
            Submission.submitter_id,
            User.username,
            Submission.device_id,
            Submission.incomplete,
            Submission.review_state,
            Submission.processing_status,
            FormVersion.version,
            Submission.supersedes_id,
            OrgUnit.code,
            Submission.cycle,
            Submission.demo,
        )
        .outerjoin(User, User.id == Submission.submitter_id)
        .join(FormVersion, FormVersion.id == Submission.form_version_id)
        .order_by(Submission.id)
        .execution_options(yield_per=CHUNK)
    )
    result = session.execute(query)
    for partition in result.partitions():
        yield [_Sub(*row[:8], row[8].value, *row[9:]) for row in partition]


def _write_chunk(
    session: Session, chunk: list[_Sub], tables: Sequence[Table], sink: CsvTables | XlsxTables
) -> None:
    ids = [s.id for s in chunk]
    rows: dict[int, dict[str, list[SubmissionRow]]] = defaultdict(lambda: defaultdict(list))
    for row in session.scalars(
        select(SubmissionRow)
        .where(SubmissionRow.submission_id.in_(ids))
        .order_by(SubmissionRow.submission_id, SubmissionRow.repeat_path, SubmissionRow.position)
    ):
        rows[row.submission_id][row.repeat_path].append(row)
    present = dict(
        session.execute(
            select(Attachment.submission_id, func.count(Attachment.id))
            .where(Attachment.submission_id.in_(ids))
            .group_by(Attachment.submission_id)
        ).all()
    )
    edits = _edit_counts(session, [s for s in chunk if s.supersedes_id is not None])
    for sub in chunk:
        by_path = rows.get(sub.id, {})
        # Attachments the answers name, over the top level and every repeat row.
        expected = sum(
            1
            for table in tables
            for row in by_path.get(table.repeat_path, [])
            for c in table.columns
            if c.binary and row.data.get(c.key)
        )
        keys: dict[tuple[str, int], str] = {}
        for index, table in enumerate(tables[1:], start=1):
            per_parent: Counter[str] = Counter()
            for row in by_path.get(table.repeat_path, []):
                parent_key = (
                    keys.get((table.parent, row.parent_position or 0), sub.instance_id)
                    if table.parent
                    else sub.instance_id
                )
                per_parent[parent_key] += 1
                key = f"{parent_key}/{table.relative}[{per_parent[parent_key]}]"
                keys[(table.repeat_path, row.position)] = key
                answers = [cell(row.data.get(c.key), c) for c in table.columns]
                sink.add(index, [*answers, parent_key, key])
        top = by_path.get("", [])
        top_answers = [cell(top[0].data.get(c.key), c) if top else None for c in tables[0].columns]
        sink.add(
            0,
            [
                _timestamp(sub.received_at),
                *top_answers,
                sub.instance_id,
                sub.submitter_id,
                sub.submitter,
                present.get(sub.id, 0),
                expected,
                "incomplete" if sub.incomplete else None,
                CENTRAL_REVIEW[sub.review_state],
                sub.device_id,
                edits.get(sub.id, 0),
                sub.version,
                sub.org_unit,
                sub.cycle,
                sub.processing_status,
                "true" if sub.demo else "false",
            ],
        )


def _edit_counts(session: Session, edited: Iterable[_Sub]) -> dict[int, int]:
    """How many earlier versions each edited submission has (edits are rare: a few lookups)."""
    counts: dict[int, int] = {}
    pending = {s.id: s.supersedes_id for s in edited}
    depth = 0
    while pending:
        depth += 1
        parents = dict(
            session.execute(
                select(Submission.id, Submission.supersedes_id).where(
                    Submission.id.in_({p for p in pending.values() if p is not None})
                )
            ).all()
        )
        next_pending: dict[int, int | None] = {}
        for sub_id, parent in pending.items():
            grand = parents.get(parent) if parent is not None else None
            if grand is None:
                counts[sub_id] = depth
            else:
                next_pending[sub_id] = grand
        pending = next_pending
    return counts


def _add_media(
    session: Session,
    chunk: list[_Sub],
    blobs: BlobStore,
    archive: zipfile.ZipFile,
    written: set[str],
) -> None:
    files = session.execute(
        select(Attachment.name, Attachment.sha256)
        .where(Attachment.submission_id.in_([s.id for s in chunk]))
        .order_by(Attachment.submission_id, Attachment.name)
    ).all()
    for name, sha in files:
        # Collect names files by the time they were taken, so names rarely repeat; where one
        # does, the first file is kept, as the CSV cells only hold the name.
        arcname = f"media/{safe_name(name)}"
        if arcname in written or not blobs.exists(sha):
            continue
        written.add(arcname)
        with blobs.open(sha) as source, archive.open(arcname, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target)


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- jobs ------------------------------------------------------------------------------------


def run_job(db: Database, job_id: int, out_dir: Path, blobs: BlobStore) -> ExportJob | None:
    """Build the file of one export job, committing progress as it goes so a browser polling
    the job sees it move; a failure is recorded with its reason. A job running elsewhere,
    done or failed is left alone: a second delivery of the task does nothing
    (server/jobs.py)."""
    if not jobs.claim(db, ExportJob, job_id):
        with db.session() as session:
            return session.get(ExportJob, job_id)
    progress = jobs.Progress(db, ExportJob, job_id, step=0.02)
    try:
        with db.session() as session:
            job = session.get(ExportJob, job_id)
            assert job is not None
            filters = SubmissionFilter.from_json(job.filters)
            form = session.get(Form, job.form_id)
            assert form is not None
            name, _ = export_filename(form, job.format, job.with_attachments)
            path = out_dir / f"{job.id}-{name}"
            build_export(
                session,
                filters,
                job.format,
                path,
                with_attachments=job.with_attachments,
                blobs=blobs,
                progress=progress,
            )
        return jobs.finish(db, ExportJob, job_id, str(path))  # type: ignore[return-value]
    except Exception as exc:
        log.exception("export job %s failed", job_id)
        return jobs.fail(db, ExportJob, job_id, str(exc))  # type: ignore[return-value]
