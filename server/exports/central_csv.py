"""The files of Central's export URLs (server/central/exports.py), streamed as they are made:
`submissions.csv.zip` (the top-level table, one CSV per repeat, and the attachments under
media/) and `submissions.csv` (the top-level table alone).

Laid out as Central's (server/exports/layout.py, with Central's metadata only) and in Central's
order, newest submission first. The options are Central's:

- `attachments` (zip only): the files under media/, or none;
- `group_paths`: "grp-field" column names, or the field's own name only;
- `deleted_fields`: the columns of every published version, merged, rather than the current
  version's (answers to a dropped question come back);
- `split_select_multiples`: a 0/1 column per choice made, after each select_multiple.

Every table is read in the same database snapshot (REPEATABLE READ on PostgreSQL; a SQLite
read transaction is one already), so the repeat files match the top-level file even while the
worker processes new submissions. The response starts with the first batch of rows; what is
held at once is a batch of rows and a piece of an attachment, whatever the size of the export.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.db import Database
from server.exports import pg_copy, repeat_rows, select_choices, table_rows
from server.exports.csv_xlsx import CsvChunks, csv_name
from server.exports.layout import (
    CENTRAL_META,
    Table,
    headers,
    merged_fields,
    tables_for,
    with_choices,
)
from server.exports.submissions import media_name
from server.exports.zip_stream import ZipStream
from server.models import Form, FormVersion
from server.models.forms import VersionState
from server.queries.submission_filters import SubmissionFilter
from server.storage.blobs import BlobStore

log = logging.getLogger(__name__)

# An attachment is copied into the zip this much at a time.
PIECE = 256 * 1024
# For the export's transaction on PostgreSQL. JIT spends most of a second compiling the
# top-level query (its cost estimate counts the edit-chain subquery for every row, though it
# runs for edited submissions only) and saves nothing on a read that streams; a repeat table's
# sort (100,000 submissions: 500,000 rows, about 90 MB) stays in memory instead of going to disk.
SNAPSHOT_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'")


@dataclass(frozen=True)
class CentralExport:
    """One request to an export URL: the form, whose submissions, and Central's options."""

    form_id: int
    filters: SubmissionFilter
    attachments: bool = True
    group_paths: bool = True
    deleted_fields: bool = False
    split_select_multiples: bool = False


def published_versions(session: Session, form_id: int) -> list[FormVersion]:
    """The form's versions that were ever offered to Collect, oldest first."""
    return list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form_id, FormVersion.state != VersionState.draft)
            .order_by(FormVersion.id)
        )
    )


def central_tables(session: Session, form: Form, export: CentralExport) -> list[Table]:
    """The export's tables: the current version's columns (the newest published version's if
    none is current), or every published version's with `deleted_fields`."""
    versions = published_versions(session, form.id)
    if export.deleted_fields:
        schema = merged_fields([v.schema for v in versions])
    else:
        current = next((v for v in versions if v.id == form.current_version_id), None)
        schema = (current or versions[-1]).schema if versions else []
    tables = tables_for(schema, form.xml_form_id, group_paths=export.group_paths)
    if export.split_select_multiples:
        tables = with_choices(tables, select_choices.chosen_values(session, tables, export.filters))
    return tables


@contextmanager
def _snapshot(db: Database) -> Iterator[Session]:
    session = db.sessionmaker()
    try:
        if db.is_postgresql:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            for setting in SNAPSHOT_SETTINGS:
                session.execute(text(setting))
        yield session
    finally:
        session.rollback()
        session.close()


def _selection(export: CentralExport) -> table_rows.Selection:
    return table_rows.Selection(export.filters, newest_first=True, central=True)


def stream_zip(db: Database, export: CentralExport, blobs: BlobStore) -> Iterator[bytes]:
    """submissions.csv.zip, a piece at a time."""
    with _snapshot(db) as session:
        try:
            yield from _zip_pieces(session, export, blobs)
        except GeneratorExit:
            raise  # the client went away; the session closes
        except Exception:
            # Too late for an error response: the download ends short and the client sees a
            # broken transfer rather than a truncated file that looks whole.
            log.exception("Central export of form %s failed mid-stream", export.form_id)
            raise


def _zip_pieces(session: Session, export: CentralExport, blobs: BlobStore) -> Iterator[bytes]:
    form = session.get(Form, export.form_id)
    assert form is not None
    tables = central_tables(session, form, export)
    selection = _selection(export)
    archive = ZipStream()
    for index, table in enumerate(tables):
        with archive.open(csv_name(table)) as entry:
            for piece in table_csv(session, tables, index, selection):
                entry.write(piece)
                yield archive.take()
        yield archive.take()
    if export.attachments:
        yield from _media(session, selection, blobs, archive)
    yield archive.close()


def table_csv(
    session: Session, tables: list[Table], index: int, selection: table_rows.Selection
) -> Iterator[bytes]:
    """Table `index` as CSV, its header first, in pieces: made by PostgreSQL's COPY where it
    can (server/exports/pg_copy.py), else row by row here."""
    chunks = CsvChunks(lineterminator="\n")
    yield chunks.encode([headers(tables[index], CENTRAL_META)])
    if pg_copy.usable(session, tables[index]):
        if index == 0:
            query = pg_copy.top_query(tables, selection)
        else:
            query = pg_copy.repeat_query(tables, index, selection)
        yield from pg_copy.copy_csv(session, query)
        return
    if index == 0:
        batches = table_rows.top_rows(session, tables, selection)
    else:
        batches = repeat_rows.repeat_rows(session, tables, index, selection)
    for batch in batches:
        yield chunks.encode(batch)


def _media(
    session: Session, selection: table_rows.Selection, blobs: BlobStore, archive: ZipStream
) -> Iterator[bytes]:
    written: set[str] = set()
    for batch in table_rows.attachments(session, selection):
        for name, sha, size in batch:
            # As in the web export: a name that repeats keeps its first file.
            arcname = media_name(name)
            if arcname in written or not blobs.exists(sha):
                continue
            written.add(arcname)
            with blobs.open(sha) as source, archive.open(arcname, size >= 2**31) as entry:
                while piece := source.read(PIECE):
                    entry.write(piece)
                    yield archive.take()
            yield archive.take()


def stream_csv(db: Database, export: CentralExport) -> Iterator[bytes]:
    """submissions.csv (the top-level table), a batch at a time."""
    with _snapshot(db) as session:
        form = session.get(Form, export.form_id)
        assert form is not None
        # Every table, though only the top one is written: AttachmentsExpected counts the
        # files named in repeats too.
        tables = central_tables(session, form, export)
        try:
            yield from table_csv(session, tables, 0, _selection(export))
        except GeneratorExit:
            raise
        except Exception:
            log.exception("Central CSV of form %s failed mid-stream", export.form_id)
            raise
