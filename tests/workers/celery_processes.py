"""Celery worker and beat processes, a private Redis, and waiting on what they do: for the
tests that run the real thing (no eager mode)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from server.db import Database
from server.models import Submission
from server.models.submissions import ProcessingStatus
from server.settings import Settings
from tests.paths import ROOT

# Generous: a slow CI machine must not fail these; a stuck pipeline still ends with a message.
DEADLINE_SECONDS = 120


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMIP_")}
    env.update(
        DMIP_DATABASE_URL=settings.database_url,
        DMIP_BROKER_URL=settings.broker_url,
        DMIP_DATA_DIR=str(settings.data_dir),
        DMIP_SECRET_KEY=settings.secret_key,
        **extra,
    )
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def worker(
    settings: Settings, log: Path, *args: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A `celery worker` subprocess, stopped (and killed if need be) however the test ends."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", *args,
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env_for(settings, **env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


def wait_for(condition: Callable[[], bool], what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs if p.exists())
            pytest.fail(f"gave up after {DEADLINE_SECONDS}s waiting for {what}\n{tails}")
        time.sleep(0.2)


def statuses(db: Database, ids: list[int]) -> dict[int, tuple[ProcessingStatus, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Submission.id, Submission.processing_status, Submission.attempts).where(
                Submission.id.in_(ids)
            )
        )
        return {sid: (status, attempts) for sid, status, attempts in rows}


def all_done(db: Database, ids: list[int]) -> Callable[[], bool]:
    def check() -> bool:
        return all(s is not ProcessingStatus.received for s, _ in statuses(db, ids).values())

    return check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_redis(port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        wait_for(lambda: pings(client), f"redis on port {port}", [log])
        client.close()
        yield process
    finally:
        stop(process)


def pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextmanager
def beat(
    settings: Settings, log: Path, schedule: Path, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A `celery beat` subprocess, as docker-compose.yml and deploy/systemd run it."""
    command = [
        sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
        "--loglevel=INFO", "--schedule", str(schedule),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env_for(settings, **env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


class RedisServer:
    """A private redis-server that can be stopped and started again on the same port."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis(port=self.port)
        wait_for(lambda: pings(client), f"redis on port {self.port}", [self.log])
        client.close()

    def stop(self) -> None:
        """SIGTERM, as `docker compose restart redis` or systemd stop it."""
        if self.process is not None:
            stop(self.process)
            self.process = None
