"""Restarts in the middle of a stream: Redis, PostgreSQL, and a worker killed outright."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.faults import scenario
from tests.faults.checks import engine
from tests.faults.stack import Stack
from tests.faults.stream import Template

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def test_a_redis_restart_loses_nothing_and_processing_resumes(
    healthy: Stack, pool: list[Template]
) -> None:
    stream = scenario.new_stream(healthy, pool)
    with stream:
        result = scenario.run(
            healthy, stream, "redis restart", lambda: healthy.redis.restart(down_for=2)
        )
    scenario.assert_recovered(result)
    # Nothing restarted the worker: the one that was running came through.
    assert healthy.workers[-1].alive()


def test_a_postgresql_restart_loses_nothing_and_answers_no_500(
    healthy: Stack, pool: list[Template]
) -> None:
    stream = scenario.new_stream(healthy, pool)
    with stream:
        result = scenario.run(healthy, stream, "postgresql restart", healthy.postgres.restart)
    scenario.assert_recovered(result)


def _batches_in_flight(stack: Stack) -> bool:
    """Submissions handed to the worker and not yet processed: a batch is being worked on."""
    db = engine(stack)
    try:
        with db.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM submissions WHERE processing_status = 'received' "
                        "AND enqueued_at IS NOT NULL"
                    )
                ).scalar_one()
            )
    finally:
        db.dispose()


def test_a_worker_killed_mid_batch_loses_nothing_once_a_new_one_starts(
    healthy: Stack, pool: list[Template]
) -> None:
    def kill_and_restart() -> None:
        deadline = time.monotonic() + 30
        while not _batches_in_flight(healthy) and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = healthy.live_workers()[0]
        victim.kill()  # the main process and its pool at once, as the OOM killer or a reboot
        time.sleep(1)  # a supervisor's restart delay
        healthy.start_worker()

    stream = scenario.new_stream(healthy, pool)
    with stream:
        result = scenario.run(healthy, stream, "worker SIGKILL", kill_and_restart)
    scenario.assert_recovered(result)
