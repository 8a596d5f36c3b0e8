"""Exporting a form's submissions as CSV (a zip, one file per repeat) or XLSX (a sheet per
repeat), laid out as ODK Central lays out its exports (server/exports/layout.py), so the
scripts people already have for Central's files (R, Stata, Excel) read ours; the top-level
table adds our OrgUnit, Cycle, ProcessingStatus and Demo after Central's metadata. Answers come
from the flattened rows (server/exports/table_rows.py), so a submission the worker has not
processed (or found invalid) has its metadata and no answers.

Memory does not grow with the number of submissions: each table is read in batches from a
streamed query, a CSV table is encoded batch by batch into its zip entry, openpyxl's write-only
workbook spools every sheet to disk, and attachments are copied into the zip one at a time.
The result is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from server import jobs
from server.db import Database
from server.exports import repeat_rows, table_rows
from server.exports.csv_xlsx import CsvChunks, XlsxTables, csv_name, safe_name
from server.exports.layout import ExportError, Table, headers, tables_for
from server.models import ExportJob, Form, FormVersion, OrgUnit, Submission, SubmissionRow
from server.queries.submission_filters import SubmissionFilter
from server.storage.blobs import BlobStore

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
# Rows read per database round trip (and held at once).
CHUNK = 200
# Exports of at most this many submissions, without attachments, are built in the request.
INLINE_LIMIT = 500

Progress = Callable[[float], None]


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


def _row_counts(session: Session, tables: list[Table], filters: SubmissionFilter) -> list[int]:
    """How many rows each table will have, for the progress bar."""
    counts = [count(session, filters)]
    for table in tables[1:]:
        query = (
            select(func.count(SubmissionRow.id))
            .select_from(Submission)
            .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
            .join(
                SubmissionRow,
                and_(
                    SubmissionRow.submission_id == Submission.id,
                    SubmissionRow.repeat_path == table.repeat_path,
                ),
            )
            .where(filters.condition())
        )
        counts.append(int(session.scalar(query) or 0))
    return counts


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
    selection = table_rows.Selection(filters, typed=fmt == "xlsx")
    counts = _row_counts(session, tables, filters)
    total_rows = sum(counts)
    filename, content_type = export_filename(form, fmt, with_attachments)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    part = out_path.with_name(out_path.name + ".part")
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None and total_rows:
            progress(min(done / total_rows, 1.0))

    def batches(index: int) -> Iterator[list[list[Any]]]:
        if index == 0:
            return table_rows.top_rows(session, tables, selection, CHUNK)
        return repeat_rows.repeat_rows(session, tables, index, selection, CHUNK)

    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".export-") as work:
        zipped = fmt == "csv" or with_attachments
        archive = zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) if zipped else None
        try:
            if fmt == "csv":
                assert archive is not None
                chunks = CsvChunks()
                for index, table in enumerate(tables):
                    with archive.open(csv_name(table), "w", force_zip64=True) as entry:
                        entry.write(chunks.encode([headers(table)]))
                        for batch in batches(index):
                            entry.write(chunks.encode(batch))
                            advance(len(batch))
            else:
                sink = XlsxTables(tables)
                for index in range(len(tables)):
                    for batch in batches(index):
                        sink.add(index, batch)
                        advance(len(batch))
                target = Path(work) / "book.xlsx" if archive is not None else part
                sink.save(target)
                if archive is not None:
                    archive.write(target, f"{safe_name(form.xml_form_id)}.xlsx")
            if archive is not None and with_attachments:
                assert blobs is not None
                _add_media(session, selection, blobs, archive)
        finally:
            if archive is not None:
                archive.close()
    os.replace(part, out_path)
    if progress is not None:
        progress(1.0)
    return ExportResult(out_path, filename, content_type, counts[0])


def _schema_version(session: Session, form: Form) -> FormVersion | None:
    """The version whose field list gives the columns: the current one, else the newest.
    Answers to questions a later version dropped are left out, as in Central."""
    if form.current_version_id is not None:
        return session.get(FormVersion, form.current_version_id)
    return session.scalars(
        select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.id.desc())
    ).first()


def _add_media(
    session: Session,
    selection: table_rows.Selection,
    blobs: BlobStore,
    archive: zipfile.ZipFile,
) -> None:
    written: set[str] = set()
    for batch in table_rows.attachments(session, selection, CHUNK):
        for name, sha, _size in batch:
            # Collect names files by the time they were taken, so names rarely repeat; where
            # one does, the first file is kept, as the CSV cells only hold the name.
            arcname = media_name(name)
            if arcname in written or not blobs.exists(sha):
                continue
            written.add(arcname)
            with blobs.open(sha) as source, archive.open(arcname, "w", force_zip64=True) as out:
                shutil.copyfileobj(source, out)


def media_name(name: str) -> str:
    """Where an attachment goes in an export's zip, as in Central's: media/<file name>."""
    return f"media/{safe_name(name)}"


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
