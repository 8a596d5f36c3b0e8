"""docker-compose.yml and the Dockerfile stay in step with the code.

Docker does not run on the build machines, so these tests check what the containers would run:
the same modules, commands and settings, here, directly.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
import yaml

from server.settings import Settings
from tests.paths import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: str) -> dict[str, str]:
    env = dict(COMPOSE["services"][service]["environment"])
    # Compose substitutes ${DMIP_SECRET_KEY:?...} from the operator's shell.
    return {k: ("x" * 32 if "${" in str(v) else str(v)) for k, v in env.items()}


def test_every_service_has_the_settings_it_needs_and_they_validate() -> None:
    for name in ("migrate", "web", "worker", "worker-slow", "beat"):
        env = _env(name)
        settings = Settings.from_env(env)
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.broker_url.startswith("redis://")
        assert not settings.embedded
        assert str(settings.data_dir) == "/data"


def test_settings_variables_used_by_compose_are_read_by_the_code() -> None:
    source = (ROOT / "server" / "settings.py").read_text()
    for name in _env("web"):
        assert f'"{name}"' in source, f"{name} is set in docker-compose.yml but never read"


def test_database_waits_for_a_healthy_postgres_and_redis() -> None:
    services = COMPOSE["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ("web", "worker", "worker-slow", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_commands_name_modules_that_exist() -> None:
    services = COMPOSE["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn"
    config_module = web[web.index("--config") + 1].removeprefix("python:")
    importlib.import_module(config_module)
    wsgi_module, _, attr = web[-1].partition(":")
    spec = importlib.util.find_spec(wsgi_module)
    assert spec is not None and attr == "app"
    for name in ("worker", "worker-slow", "beat"):
        cmd = services[name]["command"]
        assert cmd[:3] == ["celery", "-A", "workers.celery_app"]
    assert services["migrate"]["command"] == ["dmip", "db", "upgrade"]


@pytest.mark.parametrize("service", ["worker", "worker-slow", "beat"])
def test_celery_entry_point_loads_with_the_compose_settings(service: str) -> None:
    env = {**_env(service), "PATH": "/usr/bin:/bin"}
    code = (
        "from workers.celery_app import app; "
        "print(app.conf.broker_url); print(sorted(app.conf.beat_schedule))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split("\n")
    assert out[0] == "redis://redis:6379/0"
    assert "sweep" in out[1]


def test_dockerfile_copies_what_the_package_needs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE):
        for path in line.split()[:-1]:  # the last word is the destination
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"
    for package in ("server", "workers", "forms"):
        assert f"COPY {package} " in dockerfile


def test_unclaimed_sweeps_expire_instead_of_piling_up() -> None:
    from server.task_queue import SWEEP, celery_config

    settings = Settings.from_env(_env("beat")).with_overrides(sweep_interval=7)
    entry = celery_config(settings)["beat_schedule"]["sweep"]
    assert entry["task"] == SWEEP
    assert entry["schedule"] == 7.0
    assert entry["options"]["expires"] == 7.0


def test_every_task_has_a_compose_worker_and_the_slow_ones_a_worker_of_their_own() -> None:
    """The processing worker takes the default queue only, so that no submission waits behind
    a plan being redrawn; every task the server sends is taken by some worker."""
    from server.settings import Settings
    from server.task_queue import PROCESS_SUBMISSION, SLOW_TASKS, SWEEP, celery_config

    config = celery_config(Settings.from_env(_env("worker")))

    def queue_of(task: str) -> str:
        return str(config["task_routes"].get(task, {}).get("queue", config["task_default_queue"]))

    def queues(service: str) -> set[str]:
        command = COMPOSE["services"][service]["command"]
        return set(command[command.index("-Q") + 1].split(","))

    assert queues("worker") == {queue_of(PROCESS_SUBMISSION), queue_of(SWEEP)}
    assert {queue_of(task) for task in SLOW_TASKS} == queues("worker-slow")
    assert queues("worker").isdisjoint(queues("worker-slow"))
