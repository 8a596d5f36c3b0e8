"""Real worker and beat processes that outlive a restart of Redis and the loss of their
PostgreSQL connections: each test has its own Redis, stops it under the running processes,
starts it again on the same port, and checks that the same processes go on doing the work."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url

from server.db import Database
from server.models import FormVersion
from server.settings import Settings
from server.task_queue import PROCESS_SUBMISSION, TaskSender
from tests.workers.celery_processes import (
    RedisServer,
    all_done,
    beat,
    free_port,
    wait_for,
    worker,
)
from tests.workers.test_worker_support import add_form, add_submission, mini_xml

pytestmark = pytest.mark.integration


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def _add(database: Database, prefix: str, count: int) -> list[int]:
    with database.session() as session:
        version = session.scalars(select(FormVersion)).first() or add_form(session)
        return [
            add_submission(session, version, mini_xml(f"uuid:{prefix}{i}"), f"uuid:{prefix}{i}")
            for i in range(count)
        ]


def _while_alive(
    processes: list[subprocess.Popen[bytes]], condition: Callable[[], bool]
) -> Callable[[], bool]:
    """`condition`, failing at once (not at the deadline) if one of the processes exited."""

    def check() -> bool:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"process {process.args[3:5]} exited with {process.returncode}")
        return condition()

    return check


def _lock_waiters(url: str) -> Callable[[], bool]:
    name = make_url(url).database

    def check() -> bool:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = :name AND wait_event_type = 'Lock'"
                        ),
                        {"name": name},
                    )
                )
        finally:
            engine.dispose()

    return check


@contextmanager
def row_locked(url: str, submission_id: int) -> Iterator[Connection]:
    """Hold a submission's row lock, so that its task waits in the worker, unacknowledged: the
    state of a worker under load at any moment."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT id FROM submissions WHERE id = :id FOR UPDATE"), {"id": submission_id}
            )
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


def test_a_worker_under_load_outlives_a_redis_restart_and_goes_on_processing(
    settings: Settings, database: Database, broker: RedisServer, tmp_path: Path
) -> None:
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{broker.port}/0")
    sender = TaskSender(settings)
    logs = [broker.log, tmp_path / "worker.log"]
    first = _add(database, "a", 3)
    # The pool production runs (docker-compose.yml and deploy/systemd: the default prefork).
    with worker(settings, logs[1], "--pool=prefork", "--concurrency=2") as process:
        pid = process.pid
        for sid in first:
            assert sender.send(PROCESS_SUBMISSION, sid)
        wait_for(_while_alive([process], all_done(database, first)), "3 submissions", logs)

        [in_flight] = _add(database, "b", 1)
        with row_locked(settings.database_url, in_flight):
            assert sender.send(PROCESS_SUBMISSION, in_flight)
            wait_for(_lock_waiters(settings.database_url), "the task to start", logs)
            broker.stop()
            wait_for(
                _while_alive([process], lambda: "broker lost" in logs[1].read_text()),
                "the worker to notice the broker is gone",
                logs,
            )
            # The receiver's send while Redis is down: refused, not hung (the sweeper catches up).
            assert sender.send(PROCESS_SUBMISSION, in_flight) is False
            broker.start()
        # The task that was running across the outage finishes.
        wait_for(_while_alive([process], all_done(database, [in_flight])), "the task", logs)

        # New work, sent as the receiver sends it, reaches the same worker process.
        later = _add(database, "c", 5)
        for sid in later:
            assert sender.send(PROCESS_SUBMISSION, sid)
        wait_for(_while_alive([process], all_done(database, later)), "5 new submissions", logs)
        assert process.poll() is None and process.pid == pid


def test_beat_goes_on_sending_sweeps_after_a_redis_restart(
    settings: Settings, database: Database, broker: RedisServer, tmp_path: Path
) -> None:
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{broker.port}/0")
    logs = [broker.log, tmp_path / "worker.log", tmp_path / "beat.log"]
    sweeps = {"DMIP_SWEEP_INTERVAL": "1", "DMIP_SWEEP_GRACE": "0"}
    with (
        worker(settings, logs[1], "--pool=solo", **sweeps) as consumer,
        beat(settings, logs[2], tmp_path / "beat-schedule", **sweeps) as scheduler,
    ):
        processes = [consumer, scheduler]
        # Nothing sends these: only a sweep from beat brings them to the worker.
        lost = _add(database, "a", 2)
        wait_for(_while_alive(processes, all_done(database, lost)), "a first sweep", logs)

        broker.stop()
        wait_for(
            _while_alive(processes, lambda: "broker lost" in logs[1].read_text()),
            "the worker to notice the broker is gone",
            logs,
        )
        # Committed while Redis is down; the receiver's wake-up failed.
        during = _add(database, "b", 2)
        assert TaskSender(settings).send(PROCESS_SUBMISSION, during[0]) is False
        broker.start()
        wait_for(_while_alive(processes, all_done(database, during)), "a later sweep", logs)
        assert all(p.poll() is None for p in processes)


def test_a_worker_outlives_the_loss_of_its_database_connections(
    settings: Settings, database: Database, broker: RedisServer, tmp_path: Path
) -> None:
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{broker.port}/0")
    sender = TaskSender(settings)
    log = tmp_path / "worker.log"
    name = make_url(settings.database_url).database
    admin = create_engine(
        make_url(settings.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    first = _add(database, "a", 3)
    try:
        with worker(settings, log, "--pool=prefork", "--concurrency=2") as process:
            pid = process.pid
            for sid in first:
                assert sender.send(PROCESS_SUBMISSION, sid)
            wait_for(_while_alive([process], all_done(database, first)), "3 submissions", [log])

            [in_flight] = _add(database, "b", 1)
            with row_locked(settings.database_url, in_flight) as lock:
                assert sender.send(PROCESS_SUBMISSION, in_flight)
                wait_for(_lock_waiters(settings.database_url), "the task to start", [log])
                # Every connection of the worker (and of this test) but the lock's is killed,
                # as by a PostgreSQL restart or failover.
                locker = lock.scalar(text("SELECT pg_backend_pid()"))
                with admin.connect() as conn:
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> :locker"
                        ),
                        {"name": name, "locker": locker},
                    )
                wait_for(
                    _while_alive([process], lambda: "Retry in" in log.read_text()),
                    "the task to be retried",
                    [log],
                )
            database.engine.dispose()  # this test's own connections were killed too
            wait_for(_while_alive([process], all_done(database, [in_flight])), "the retry", [log])

            later = _add(database, "c", 5)
            for sid in later:
                assert sender.send(PROCESS_SUBMISSION, sid)
            wait_for(_while_alive([process], all_done(database, later)), "5 more", [log])
            assert process.poll() is None and process.pid == pid
    finally:
        admin.dispose()
