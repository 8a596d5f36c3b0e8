"""Real Celery worker processes against the test PostgreSQL and Redis: no eager mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from server.db import Database
from server.models import ExportJob, Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from server.settings import Settings
from server.task_queue import EXPORT_TASK, PROCESS_SUBMISSION, TaskSender
from tests.workers.celery_processes import (
    all_done,
    free_port,
    private_redis,
    statuses,
    wait_for,
    worker,
)
from tests.workers.test_worker_support import add_export_job, add_form, add_submission, mini_xml

pytestmark = pytest.mark.integration


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


def test_a_worker_processes_and_fails_submissions_and_ignores_resends(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        version = add_form(session)
        good = add_submission(session, version, mini_xml("uuid:g", "12", ("P1", "P2")), "uuid:g")
        bad = add_submission(session, version, mini_xml("uuid:h", "twelve"), "uuid:h")
    sender = TaskSender(settings)
    log = tmp_path / "worker.log"
    with worker(settings, log, "--pool=solo"):
        assert sender.send(PROCESS_SUBMISSION, good)
        assert sender.send(PROCESS_SUBMISSION, bad)
        wait_for(all_done(database, [good, bad]), "both submissions", [log])
        assert statuses(database, [good, bad]) == {
            good: (ProcessingStatus.processed, 1),
            bad: (ProcessingStatus.failed, 1),
        }
        with database.session() as session:
            failed = session.get(Submission, bad)
            assert failed is not None
            assert failed.failure_reason == "pupils: 'twelve' is not a whole number"
            before = session.scalar(select(func.count()).select_from(SubmissionRow))
        assert before == 3

        # A resend of both, then a marker task sent after them on the same queue: once the
        # marker is processed, the resends before it have been consumed too.
        with database.session() as session:
            marker = add_submission(session, version, mini_xml("uuid:m"), "uuid:m")
        assert sender.send(PROCESS_SUBMISSION, good)
        assert sender.send(PROCESS_SUBMISSION, bad)
        assert sender.send(PROCESS_SUBMISSION, marker)
        wait_for(all_done(database, [marker]), "the marker submission", [log])
    assert statuses(database, [good, bad]) == {
        good: (ProcessingStatus.processed, 1),
        bad: (ProcessingStatus.failed, 1),
    }
    with database.session() as session:
        after = session.scalar(
            select(func.count())
            .select_from(SubmissionRow)
            .where(SubmissionRow.submission_id.in_([good, bad]))
        )
    assert after == before


def test_concurrent_workers_process_each_submission_exactly_once(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        version = add_form(session)
        ids = [
            add_submission(session, version, mini_xml(f"uuid:{i}", str(i), ("A",)), f"uuid:{i}")
            for i in range(30)
        ]
    sender = TaskSender(settings)
    logs = [tmp_path / "prefork.log", tmp_path / "solo.log"]
    # Small batches, so the three processes take overlapping batches of what is waiting.
    batches = {"DMIP_WORKER_BATCH": "4"}
    with (
        worker(
            settings, logs[0], "--pool=prefork", "--concurrency=2", "-n", "prefork@%h", **batches
        ),
        worker(settings, logs[1], "--pool=solo", "-n", "solo@%h", **batches),
    ):
        for sid in ids:  # every task delivered twice, as after a broker redelivery
            assert sender.send(PROCESS_SUBMISSION, sid)
            assert sender.send(PROCESS_SUBMISSION, sid)
        wait_for(all_done(database, ids), "30 submissions", logs)
    assert set(statuses(database, ids).values()) == {(ProcessingStatus.processed, 1)}
    with database.session() as session:
        counts = dict(
            session.execute(
                select(SubmissionRow.submission_id, func.count()).group_by(
                    SubmissionRow.submission_id
                )
            ).all()
        )
    assert counts == dict.fromkeys(ids, 2)
    # Everything was waiting before the first task arrived: workers took it in batches.
    sizes = [
        int(line.rsplit("batch of ", 1)[1].split()[0])
        for log in logs
        for line in log.read_text().splitlines()
        if "processed a batch of" in line
    ]
    assert sizes and max(sizes) == 4 and sum(sizes) == len(ids)


def test_with_the_broker_down_the_sweeper_delivers_the_work_once_it_returns(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{port}/0")
    sender = TaskSender(settings)
    with database.session() as session:
        version = add_form(session)
        ids = []
        for i in range(6):  # as the receiver does: commit, then try to send
            ids.append(add_submission(session, version, mini_xml(f"uuid:s{i}"), f"uuid:s{i}"))
            assert sender.send(PROCESS_SUBMISSION, ids[-1]) is False
        # An export asked for meanwhile: its task could not be sent either.
        job_id = add_export_job(session, version)
        assert sender.send(EXPORT_TASK, job_id) is False
    assert set(statuses(database, ids).values()) == {(ProcessingStatus.received, 0)}

    def exported() -> bool:
        with database.session() as session:
            found = session.get(ExportJob, job_id)
            return found is not None and found.state == "done"

    logs = [tmp_path / "redis.log", tmp_path / "worker.log"]
    with (
        private_redis(port, logs[0]),
        worker(
            settings, logs[1], "--pool=solo", "--beat",
            "--schedule", str(tmp_path / "beat-schedule"),
            DMIP_SWEEP_INTERVAL="1", DMIP_SWEEP_GRACE="0",
        ),
    ):  # fmt: skip
        wait_for(all_done(database, ids), "the sweeper to deliver 6 submissions", logs)
        wait_for(exported, "the sweeper to re-send the export job", logs)
    # With no grace the sweeper may send a task twice before it runs; processing is idempotent.
    assert set(statuses(database, ids).values()) == {(ProcessingStatus.processed, 1)}


def test_a_task_that_finds_the_database_away_retries_until_it_returns(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:r"), "uuid:r")
    database.dispose()
    name = make_url(settings.database_url).database
    admin = create_engine(
        make_url(settings.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    # A private broker, so the only task on it is this one and its retries.
    port = free_port()
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{port}/0")
    log = tmp_path / "worker.log"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        with private_redis(port, tmp_path / "redis.log"), worker(settings, log, "--pool=solo"):
            assert TaskSender(settings).send(PROCESS_SUBMISSION, sid)
            wait_for(lambda: "Retry in" in log.read_text(), "the task to be retried", [log])
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            wait_for(all_done(database, [sid]), "the retried task to succeed", [log])
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert statuses(database, [sid]) == {sid: (ProcessingStatus.processed, 1)}
