"""The worker supervisor of `dmip serve`, with real child processes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from server.embedded.supervisor import WorkerSupervisor, worker_command, worker_environment
from server.settings import Settings

DEADLINE_SECONDS = 60


def _wait(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_a_worker_that_keeps_dying_is_restarted_for_good_with_growing_waits(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    supervisor = WorkerSupervisor(
        [sys.executable, "-c", "import sys; print('starting'); sys.exit(3)"],
        {},
        tmp_path / "logs" / "worker.log",
        said.append,
        restart_delay=0.05,
        max_restart_delay=0.2,
        healthy_after=600,
    )
    supervisor.start()
    try:
        _wait(lambda: len(said) >= 6, "six restarts")
    finally:
        supervisor.stop()
    assert supervisor.delays[:6] == [0.05, 0.1, 0.2, 0.2, 0.2, 0.2]
    assert said[0].startswith("The worker stopped (exit code 3); restarting it in 0.05 s")
    assert "(restart 6)" in said[5] and "still received and stored" in said[5]
    assert (tmp_path / "logs" / "worker.log").read_text().count("starting") >= 6


def test_a_worker_that_ran_well_before_it_died_is_restarted_after_the_first_wait(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    supervisor = WorkerSupervisor(
        [sys.executable, "-c", "import sys, time; time.sleep(1); sys.exit(1)"],
        {},
        tmp_path / "worker.log",
        said.append,
        restart_delay=0.05,
        healthy_after=0.5,
    )
    supervisor.start()
    try:
        _wait(lambda: len(said) >= 3, "three restarts")
    finally:
        supervisor.stop()
    assert supervisor.delays[:3] == [0.05, 0.05, 0.05]


def test_stop_ends_a_running_worker(tmp_path: Path) -> None:
    said: list[str] = []
    supervisor = WorkerSupervisor(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        {},
        tmp_path / "worker.log",
        said.append,
    )
    supervisor.start()
    process = supervisor._process
    assert process is not None and process.poll() is None
    supervisor.stop(timeout=10)
    assert process.poll() is not None
    assert said == []  # a requested stop is not a crash


def test_the_worker_gets_the_servers_resolved_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"DMIP_DATA_DIR": str(tmp_path / "d"), "DMIP_SECRET_KEY": "k" * 20}
    )
    env = worker_environment(settings, {"PATH": "/bin"})
    assert Settings.from_env(env).database_url == settings.database_url
    assert Settings.from_env(env).data_dir == settings.data_dir
    assert Settings.from_env(env).broker_url == "filesystem://"
    command = worker_command(settings)
    assert command[command.index("--schedule") + 1].startswith(str(settings.data_dir))
    assert "--pool=solo" in command and "--beat" in command
