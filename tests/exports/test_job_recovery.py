"""Export and document jobs that lost their task or their worker are recovered by the sweep
(server/jobs.py), on PostgreSQL and on SQLite."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from server import jobs
from server.db import Database, utcnow
from server.exports.submissions import run_job as run_export
from server.models import DocumentJob, ExportJob
from server.storage.blobs import BlobStore
from tests.workers.test_worker_support import add_export_job, add_form

GRACE = 30
KINDS = ((ExportJob, "export"), (DocumentJob, "document"))


def _document_job(db: Database, **values: object) -> int:
    with db.session() as session:
        job = DocumentJob(**{"cycle": "2025/26", "format": "docx", **values})
        session.add(job)
        session.flush()
        return job.id


def _export_job(db: Database, **values: object) -> int:
    with db.session() as session:
        return add_export_job(session, add_form(session), **values)


def _job(db: Database, model: type, job_id: int) -> DocumentJob:
    with db.session() as session:
        job = session.get(model, job_id)
        assert job is not None
        session.expunge(job)
        return job


class Sender:
    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.sent: list[tuple[str, int]] = []

    def __call__(self, name: str, job_id: int) -> bool:
        if not self.up:
            return False
        self.sent.append((name, job_id))
        return True


def test_a_queued_job_whose_task_was_lost_is_sent_again_once(database: Database) -> None:
    now = utcnow()
    old = _document_job(database, created_at=now - dt.timedelta(minutes=5))
    fresh = _document_job(database, created_at=now)
    exported = _export_job(database, created_at=now - dt.timedelta(minutes=5))
    send = Sender()
    assert jobs.recover(database, KINDS, send, GRACE, now=now) == 2
    assert send.sent == [("export", exported), ("document", old)]
    # Its clock moved: the next sweep, a moment later, leaves it to the task just sent.
    assert jobs.recover(database, KINDS, send, GRACE, now=now + dt.timedelta(seconds=5)) == 0
    assert _job(database, DocumentJob, fresh).state == "queued"


def test_with_the_broker_away_the_job_is_due_again_at_the_next_sweep(database: Database) -> None:
    now = utcnow()
    job_id = _document_job(database, created_at=now - dt.timedelta(minutes=5))
    assert jobs.recover(database, KINDS, Sender(up=False), GRACE, now=now) == 0
    send = Sender()
    assert jobs.recover(database, KINDS, send, GRACE, now=now + dt.timedelta(seconds=1)) == 1
    assert send.sent == [("document", job_id)]


def test_a_running_job_whose_worker_died_is_queued_again_then_failed(database: Database) -> None:
    now = utcnow()
    job_id = _document_job(database, created_at=now - dt.timedelta(hours=1))
    assert jobs.claim(database, DocumentJob, job_id)
    assert not jobs.claim(database, DocumentJob, job_id)  # one runner at a time
    # Alive (its heartbeat is recent): left alone.
    assert jobs.recover(database, KINDS, Sender(), GRACE) == 0

    later = utcnow() + jobs.STALLED + dt.timedelta(seconds=1)
    send = Sender()
    assert jobs.recover(database, KINDS, send, GRACE, now=later) == 1
    job = _job(database, DocumentJob, job_id)
    assert (job.state, job.progress, job.attempts) == ("queued", 0.0, 1)

    for attempt in range(2, jobs.MAX_ATTEMPTS + 1):
        assert jobs.claim(database, DocumentJob, job_id)
        assert _job(database, DocumentJob, job_id).attempts == attempt
        later += jobs.STALLED + dt.timedelta(seconds=1)
        jobs.recover(database, KINDS, send, GRACE, now=later + dt.timedelta(seconds=1))
    job = _job(database, DocumentJob, job_id)
    assert job.state == "failed" and job.finished_at is not None
    assert "stopped 3 times" in (job.error or "")
    assert send.sent == [("document", job_id)] * (jobs.MAX_ATTEMPTS - 1)


def test_progress_commits_are_the_heartbeat(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _document_job(database)
    assert jobs.claim(database, DocumentJob, job_id)
    claimed = _job(database, DocumentJob, job_id).updated_at
    progress = jobs.Progress(database, DocumentJob, job_id, step=0.5)
    progress(0.1)  # too small a step, too soon: nothing written
    assert _job(database, DocumentJob, job_id).progress == 0.0
    progress(0.6)
    job = _job(database, DocumentJob, job_id)
    assert job.progress == 0.6 and job.updated_at is not None and job.updated_at >= claimed
    # A long step with no visible progress still beats after HEARTBEAT seconds.
    monkeypatch.setattr(jobs, "HEARTBEAT", 0.0)
    progress(0.61)
    assert _job(database, DocumentJob, job_id).progress == 0.61


def test_an_export_job_runs_once_and_a_second_delivery_leaves_it(
    database: Database, tmp_path: Path
) -> None:
    job_id = _export_job(database)
    blobs = BlobStore(tmp_path / "blobs")
    first = run_export(database, job_id, tmp_path, blobs)
    assert first is not None and first.state == "done", first.error if first else None
    assert first.attempts == 1 and first.file_path and Path(first.file_path).exists()
    again = run_export(database, job_id, tmp_path, blobs)
    assert again is not None and again.state == "done" and again.attempts == 1


def test_old_files_are_deleted_and_their_jobs_say_so(database: Database, tmp_path: Path) -> None:
    now = utcnow()
    files = {}
    ids = {}
    for name, state, age in (
        ("old", "done", dt.timedelta(days=8)),
        ("recent", "done", dt.timedelta(days=1)),
        ("failed", "failed", dt.timedelta(days=30)),
    ):
        files[name] = tmp_path / f"{name}.docx"
        files[name].write_bytes(b"document")
        ids[name] = _document_job(
            database, state=state, finished_at=now - age, file_path=str(files[name])
        )
    assert jobs.expire(database, [ExportJob, DocumentJob], dt.timedelta(days=7), now=now) == 1
    old = _job(database, DocumentJob, ids["old"])
    assert (old.state, old.file_path) == ("expired", None)
    assert not files["old"].exists()
    assert files["recent"].exists() and _job(database, DocumentJob, ids["recent"]).state == "done"
    assert files["failed"].exists()
    # Nothing is expired twice.
    assert jobs.expire(database, [DocumentJob], dt.timedelta(days=7), now=now) == 0
