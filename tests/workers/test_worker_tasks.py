"""The tasks are registered under the names the server sends, with the delivery guarantees the
design relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from server.task_queue import PROCESS_SUBMISSION, SWEEP


def test_tasks_are_registered_by_the_names_the_server_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # workers.celery_app reads the environment when imported; keep its queue out of the checkout.
    monkeypatch.setenv("DMIP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DMIP_SECRET_KEY", "test-secret-key-0123456789")
    from workers.celery_app import app

    app.loader.import_default_modules()
    process = app.tasks[PROCESS_SUBMISSION]
    assert process.acks_late is True
    assert OperationalError in process.autoretry_for
    assert process.retry_backoff
    assert SWEEP in app.tasks
    assert app.conf.beat_schedule["sweep"]["task"] == SWEEP
