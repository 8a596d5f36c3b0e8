"""What brings the processes back after a crash: docker-compose.yml's restart policies and health
checks, and the systemd units under deploy/systemd/ for installs without Docker.

Docker and systemd do not run on the build machines; these tests check the files, run the
worker's health check against a real worker, and ask the app for the web's health URL."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from server.settings import Settings
from tests.paths import ROOT
from tests.workers.celery_processes import RedisServer, free_port, wait_for, worker

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = ("db", "redis", "web", "worker", "worker-slow", "beat")
UNITS = {name: ROOT / "deploy" / "systemd" / f"dmip-{name}.service" for name in LONG_RUNNING[2:]}


def test_every_long_running_service_restarts_by_itself() -> None:
    for name in LONG_RUNNING:
        assert SERVICES[name].get("restart") == "unless-stopped", name
    # The migration is a one-shot: restarting it after success would loop.
    assert "restart" not in SERVICES["migrate"]
    for name in ("db", "redis", "web", "worker", "worker-slow"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_the_web_health_check_asks_for_a_url_the_app_serves(client) -> None:  # type: ignore[no-untyped-def]
    check = SERVICES["web"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/healthz" in check[3]
    from server import gunicorn_conf

    assert gunicorn_conf.bind.endswith(":8000")
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


@pytest.mark.integration
def test_the_worker_health_check_passes_for_a_running_worker_only(
    settings: Settings, tmp_path: Path
) -> None:
    test, command = SERVICES["worker"]["healthcheck"]["test"]
    assert test == "CMD-SHELL"
    # Compose turns $$ into $; the shell then reads the container's hostname.
    command = command.replace("$$", "$")
    broker = RedisServer(free_port(), tmp_path / "redis.log")
    broker.start()
    settings = settings.with_overrides(broker_url=f"redis://127.0.0.1:{broker.port}/0")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOSTNAME": "dmip-health",
        "DMIP_BROKER_URL": settings.broker_url,
        "DMIP_DATABASE_URL": settings.database_url,
        "DMIP_DATA_DIR": str(settings.data_dir),
        "DMIP_SECRET_KEY": settings.secret_key,
    }

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    try:
        assert check().returncode != 0  # no worker yet: unhealthy
        log = tmp_path / "worker.log"
        with worker(settings, log, "--pool=solo", "-n", "celery@dmip-health"):
            wait_for(lambda: "ready" in log.read_text(), "the worker to start", [log])
            result = check()
            assert result.returncode == 0, result.stdout + result.stderr
            assert "pong" in result.stdout
    finally:
        broker.stop()


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNITS[name].read_text())
    return parser


@pytest.mark.parametrize("name", sorted(UNITS))
def test_each_systemd_unit_restarts_its_process_and_runs_what_compose_runs(name: str) -> None:
    unit = _unit(name)
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert service["RestartSec"] == "5"
    assert service["EnvironmentFile"] == "/etc/dmip/env"
    assert service["User"] == "dmip"
    assert service["WorkingDirectory"]
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    # The same program and arguments as the container (the paths of the schedule file differ).
    # systemd reads "%%" as a literal "%" (Celery's own %h, the host name, in a node name).
    executable, *args = shlex.split(service["ExecStart"].replace("%%", "%"))
    compose = SERVICES[name]["command"]
    assert Path(executable).name == compose[0]
    if name == "beat":
        assert args[: args.index("--schedule")] == compose[1 : compose.index("--schedule")]
    else:
        assert args == compose[1:]
