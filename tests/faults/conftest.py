"""One stack for the fault scenarios (starting it costs ten seconds or more), put right
between them: a live worker, as a supervisor keeps one, and nothing left waiting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.checks import engine
from tests.faults.processes import wait_until
from tests.faults.stack import Stack, running_stack
from tests.faults.stream import Template, templates

# Set to a directory to keep the stack's logs after the run (they are removed otherwise).
KEEP_LOGS = os.environ.get("DMIP_FAULTS_KEEP_LOGS")


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    with running_stack(keep=Path(KEEP_LOGS) if KEEP_LOGS else None) as started:
        yield started


@pytest.fixture(scope="package")
def pool(stack: Stack) -> list[Template]:
    return templates(stack)


def _nothing_waiting(stack: Stack) -> bool:
    from sqlalchemy import text

    db = engine(stack)
    try:
        with db.connect() as conn:
            return not conn.execute(
                text("SELECT count(*) FROM submissions WHERE processing_status = 'received'")
            ).scalar_one()
    except Exception:
        return False
    finally:
        db.dispose()


@pytest.fixture
def healthy(stack: Stack) -> Stack:
    """The stack as a supervisor keeps it: a worker running, and what an earlier scenario
    left waiting processed first, so each scenario measures only its own fault."""
    stack.ensure_worker()
    if stack.web is None or not stack.web.alive():
        stack.start_web()
    wait_until(lambda: _nothing_waiting(stack), "the stack to be idle", 120, stack.all_logs)
    return stack
