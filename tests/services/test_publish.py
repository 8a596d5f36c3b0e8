"""Compiling XLSForms and publishing them as versions."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.db import Database
from server.domain.xform.schema import read_form
from server.domain.xform.xlsform import Issue, compile_xlsform, parse_issue
from server.models import AuditEvent, Form, FormVersion
from server.models.forms import VersionState
from server.services.forms import PublishError, publish_xlsform
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures.xlsforms.build import logo_form, simple_form, xlsform


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    database = Database(settings.database_url)
    s = database.sessionmaker()
    yield s
    s.close()
    database.dispose()


@pytest.fixture
def blobs(settings: Settings) -> BlobStore:
    return BlobStore(settings.attachments_dir)


def versions(session: Session) -> list[tuple[str, VersionState]]:
    return [
        (v.version, v.state) for v in session.scalars(select(FormVersion).order_by(FormVersion.id))
    ]


# --- compiling -------------------------------------------------------------------------------


def test_parse_issue_splits_row_and_sheet() -> None:
    issue = parse_issue(
        "[row : 12] On the 'choices' sheet, the 'label' value is invalid.", "warning"
    )
    assert issue == Issue(
        "warning", "On the 'choices' sheet, the 'label' value is invalid.", "choices", 12
    )
    assert (
        str(issue)
        == "sheet 'choices' row 12: On the 'choices' sheet, the 'label' value is invalid."
    )
    # Row-only messages come from pyxform's pass over the survey sheet.
    assert parse_issue("[row : 3] Unmatched 'begin_group'.", "error").sheet == "survey"
    plain = parse_issue("Unknown question type 'integr'.", "error")
    assert (plain.sheet, plain.row, str(plain)) == (None, None, "Unknown question type 'integr'.")


def test_compile_reports_errors_with_sheet_and_row() -> None:
    result = compile_xlsform(
        xlsform(
            [("type", "name", "label"), ("integer", "age", "Age"), ("integer", "age", "Again")]
        ),
        "dupes.xlsx",
    )
    assert not result.ok and result.xform is None
    [error] = result.errors
    assert (error.severity, error.sheet, error.row) == ("error", "survey", 3)
    assert "'age' is invalid" in error.message


def test_compile_reports_warnings_and_still_compiles() -> None:
    result = compile_xlsform(
        xlsform(
            [("type", "name", "label"), ("select_one yn", "q", "Q?")],
            choices=[("list_name", "name", "label"), ("yn", "yes", ""), ("yn", "no", "No")],
        ),
        "warned.xlsx",
    )
    assert result.ok and result.info is not None
    assert [(w.sheet, w.row) for w in result.warnings] == [("choices", 2)]
    # Without settings/form_id, pyxform names the form after the file.
    assert result.info.xml_form_id == "warned"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"not a spreadsheet", "broken.xlsx", "could not be read"),
        (simple_form(), "form.docx", "not an XLSForm file"),
    ],
)
def test_compile_refuses_files_that_are_not_xlsforms(
    data: bytes, filename: str, expected: str
) -> None:
    result = compile_xlsform(data, filename)
    assert not result.ok
    assert expected in result.errors[0].message


def test_compile_error_without_row_keeps_pyxform_message() -> None:
    result = compile_xlsform(
        xlsform([("type", "name", "label"), ("integr", "bad", "Bad")]), "typo.xlsx"
    )
    assert [(e.sheet, e.row, e.message) for e in result.errors] == [
        (None, None, "Unknown question type 'integr'.")
    ]


# --- publishing ------------------------------------------------------------------------------


def test_new_form_is_created_open_with_its_schema(session: Session, blobs: BlobStore) -> None:
    data = simple_form(version="2024010101")
    result = publish_xlsform(session, blobs, data, "school.xlsx", {})
    session.commit()
    assert result.status == "created"
    form, version = result.form, result.version
    assert form.xml_form_id == "school_visit" and form.title == "School visit"
    assert form.current_version_id == version.id
    assert (version.version, version.state) == ("2024010101", VersionState.open)
    assert version.md5 == hashlib.md5(version.xform, usedforsecurity=False).hexdigest()
    assert version.schema == read_form(version.xform).fields
    assert any(f["name"] == "pupils" and f["type"] == "int" for f in version.schema)
    assert (version.xlsform, version.xlsform_filename) == (data, "school.xlsx")
    assert version.published_at is not None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "form.publish"))
    assert event is not None and event.target_id == "school_visit"
    assert event.details["status"] == "created"


def test_same_version_same_content_is_unchanged(session: Session, blobs: BlobStore) -> None:
    publish_xlsform(session, blobs, simple_form(), "school.xlsx", {})
    session.commit()
    again = publish_xlsform(session, blobs, simple_form(), "renamed.xlsx", {})
    assert again.status == "unchanged"
    assert versions(session) == [("1", VersionState.open)]
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_changed_form_without_new_version_is_refused(session: Session, blobs: BlobStore) -> None:
    publish_xlsform(session, blobs, simple_form(), "school.xlsx", {})
    session.commit()
    changed = simple_form(questions=[("integer", "pupils", "How many pupils today?")])
    with pytest.raises(PublishError) as caught:
        publish_xlsform(session, blobs, changed, "school.xlsx", {})
    [issue] = caught.value.issues
    assert "a changed form must carry a new version: set settings/version" in issue.message
    session.rollback()
    assert versions(session) == [("1", VersionState.open)]


def test_new_version_closes_the_previous_one(session: Session, blobs: BlobStore) -> None:
    first = publish_xlsform(session, blobs, simple_form(version="1"), "school.xlsx", {})
    session.commit()
    second = publish_xlsform(
        session, blobs, simple_form(version="2", title="School visit (v2)"), "school.xlsx", {}
    )
    session.commit()
    assert second.status == "new_version"
    assert second.form.id == first.form.id
    assert versions(session) == [("1", VersionState.closing), ("2", VersionState.open)]
    form = session.get(Form, first.form.id)
    assert form is not None and form.current_version_id == second.version.id
    assert form.title == "School visit (v2)"

    # Going back to the replaced version is a change too: it needs a new version number.
    with pytest.raises(PublishError, match="older version"):
        publish_xlsform(session, blobs, simple_form(version="1"), "school.xlsx", {})


def test_missing_media_is_named(session: Session, blobs: BlobStore) -> None:
    with pytest.raises(PublishError) as caught:
        publish_xlsform(session, blobs, logo_form(), "logo.xlsx", {})
    assert "logo.png" in caught.value.issues[0].message
    session.rollback()
    assert versions(session) == []


def test_supplied_media_is_stored(session: Session, blobs: BlobStore) -> None:
    png = b"\x89PNG fake image bytes"
    result = publish_xlsform(session, blobs, logo_form(), "logo.xlsx", {"logo.png": png})
    [media] = result.version.media
    assert (media.filename, media.kind, media.content_type) == ("logo.png", "file", "image/png")
    assert media.size == len(png)
    assert media.md5 == hashlib.md5(png, usedforsecurity=False).hexdigest()
    assert blobs.path(media.sha256).read_bytes() == png


def test_corrected_media_of_an_unchanged_form_is_taken(session: Session, blobs: BlobStore) -> None:
    publish_xlsform(session, blobs, logo_form(), "logo.xlsx", {"logo.png": b"old"})
    session.commit()
    again = publish_xlsform(session, blobs, logo_form(), "logo.xlsx", {"logo.png": b"newer"})
    assert again.status == "unchanged" and again.media_updated == ["logo.png"]
    [media] = again.version.media
    assert blobs.path(media.sha256).read_bytes() == b"newer"


def test_two_first_publishes_at_once_do_not_fail(settings: Settings, blobs: BlobStore) -> None:
    """Both publishes of a new form find no form; the second waits on the first's new row, and
    once the first commits it goes on as a publish of that form (here: unchanged)."""
    database = Database(settings.database_url)
    first, second = database.sessionmaker(), database.sessionmaker()
    try:
        made = publish_xlsform(first, blobs, simple_form(), "school.xlsx", {})
        assert made.status == "created"  # not committed yet: the second cannot see it
        with ThreadPoolExecutor(1) as pool:
            racing = pool.submit(_publish_and_commit, second, blobs)
            _wait_for_a_lock_wait(database)
            first.commit()
            assert racing.result(timeout=30) == "unchanged"
        first.expire_all()
        assert versions(first) == [("1", VersionState.open)]
        assert first.scalar(select(func.count()).select_from(Form)) == 1
    finally:
        first.close()
        second.close()
        database.dispose()


def _publish_and_commit(session: Session, blobs: BlobStore) -> str:
    status = publish_xlsform(session, blobs, simple_form(), "school.xlsx", {}).status
    session.commit()
    return status


def _wait_for_a_lock_wait(database: Database) -> None:
    """Until some backend of this database waits on a lock (the second publish's INSERT)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(600):
        with database.engine.connect() as conn:
            if conn.scalar(query):
                return
        time.sleep(0.05)
    raise AssertionError("the second publish never waited on the first")
