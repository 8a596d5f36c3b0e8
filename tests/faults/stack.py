"""The production stack, in processes of the harness's own: PostgreSQL, Redis, gunicorn with
the production config, Celery workers and Celery beat, set up with the project's own commands
(`dmip db upgrade`, `dmip forms publish`, `dmip users create`) and the shipped forms.

The sweeper runs every few seconds with a short grace, so that whatever a fault leaves behind
is re-queued soon; the rest of the settings are production's. Fewer web processes than
production starts, to leave the two cores of a test machine to the work itself.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from server.demo.dataset import last_complete_cycle
from tests.faults.processes import (
    HarnessError,
    ManagedProcess,
    PostgresCluster,
    RedisServer,
    application_command,
    free_port,
    running_as_root,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
DMIP_MAIN = "import sys; from server.cli import main; sys.argv[0] = 'dmip'; sys.exit(main())"
USERNAME = "field_enumerator"
PASSWORD = "field-enumerator-pass-1"
# How many demo districts the enumerator covers: their sub-counties are the places submitted for.
DISTRICTS = 2


@dataclass(frozen=True)
class StackConfig:
    sweep_interval: int = 2
    sweep_grace: int = 3
    web_processes: int = 2
    web_threads: int = 4
    workers: int = 1
    worker_concurrency: int = 2
    # Smaller than production's 200: at a stream's rate a fault catches a batch in flight.
    worker_batch: int = 50


@dataclass
class Stack:
    base: Path
    config: StackConfig = field(default_factory=StackConfig)
    postgres: PostgresCluster = field(init=False)
    redis: RedisServer = field(init=False)
    web: ManagedProcess | None = None
    workers: list[ManagedProcess] = field(default_factory=list)
    beat: ManagedProcess | None = None
    web_port: int = field(default_factory=free_port)
    districts: list[str] = field(default_factory=list)
    cycle: str = field(default_factory=lambda: last_complete_cycle(dt.date.today()))
    _started_workers: int = 0

    def __post_init__(self) -> None:
        self.postgres = PostgresCluster(self.base)
        self.redis = RedisServer(self.base, ROOT)
        self.data_dir = self.base / "data"
        self.logs = self.base / "logs"

    # --- environment --------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every application process: production's variables only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DMIP_", "GUNICORN_"))}
        env.update(
            DMIP_DATABASE_URL=self.postgres.url,
            DMIP_BROKER_URL=self.redis.url,
            DMIP_DATA_DIR=str(self.data_dir),
            DMIP_SECRET_KEY="faults-secret-key-0123456789abcdef",
            DMIP_SWEEP_INTERVAL=str(self.config.sweep_interval),
            DMIP_SWEEP_GRACE=str(self.config.sweep_grace),
            DMIP_WORKER_BATCH=str(self.config.worker_batch),
            PYTHONPATH=str(ROOT),
            # matplotlib (DMIP documents) wants a writable home of its own.
            HOME=str(self.base / "home"),
            MPLCONFIGDIR=str(self.base / "home" / "matplotlib"),
            **extra,
        )
        return env

    @property
    def all_logs(self) -> list[Path]:
        return [*sorted(self.logs.glob("*.log")), self.postgres.log, self.redis.log]

    def dmip(self, *args: str, stdin: str | None = None) -> str:
        """Run a `dmip` command as the application's user; its output."""
        done = subprocess.run(
            # The installed `dmip` script's own two lines: `python -m server.cli` runs nothing
            # (the module has no __main__ block), and the script would import /work/main's code
            # rather than this checkout's when PYTHONPATH is not first.
            application_command([sys.executable, "-c", DMIP_MAIN, *args]),
            input=stdin,
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise HarnessError(f"dmip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    # --- start and stop -----------------------------------------------------------------------

    def start(self) -> None:
        for path in (self.data_dir, self.logs, self.base / "home"):
            path.mkdir(parents=True, exist_ok=True)
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        self.dmip("db", "upgrade")
        self._places()
        self.dmip("forms", "publish")
        scopes = [arg for code in self.districts for arg in ("--scope", code)]
        self.dmip("users", "create", USERNAME, "--role", "enumerator", *scopes,
                  stdin=PASSWORD + "\n")  # fmt: skip
        self.start_web()
        for _ in range(self.config.workers):
            self.start_worker()
        self.start_beat()

    def _places(self) -> None:
        """Uganda's regions and districts, demo sub-counties and parishes for a few of them (as
        `dmip serve` makes them): the places the stream reports for."""
        code = (
            "from server.db import Database\n"
            "from server.settings import Settings\n"
            "from server.services.orgunits import ensure_uganda, make_demo_hierarchy\n"
            "db = Database(Settings.from_env().database_url)\n"
            "with db.session() as s:\n"
            "    ensure_uganda(s)\n"
            "    s.commit()\n"
            "with db.session() as s:\n"
            f"    print(' '.join(make_demo_hierarchy(s, {DISTRICTS})))\n"
            "    s.commit()\n"
        )
        done = subprocess.run(
            application_command([sys.executable, "-c", code]), env=self.env(), cwd=ROOT,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise HarnessError(f"making the places failed:\n{done.stderr}")
        self.districts = done.stdout.split()

    def _process(self, name: str, command: list[str], **env: str) -> ManagedProcess:
        return ManagedProcess(
            name, command, self.logs / f"{name}.log", self.env(**env), ROOT, application=True
        )

    def start_web(self) -> None:
        self.web = self._process(
            "web",
            [sys.executable, "-m", "gunicorn", "--config", "python:server.gunicorn_conf",
             "server.wsgi:app"],
            GUNICORN_BIND=f"127.0.0.1:{self.web_port}",
            GUNICORN_WORKERS=str(self.config.web_processes),
            GUNICORN_THREADS=str(self.config.web_threads),
        ).start()  # fmt: skip
        wait_until(self._web_answers, "gunicorn to answer", 90, self.all_logs)

    def _web_answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start_worker(self) -> ManagedProcess:
        """A new `celery worker` (prefork, as production runs it), as systemd or Docker starts
        one again after the last one died."""
        self._started_workers += 1
        n = self._started_workers
        worker = self._process(
            f"worker-{n}",
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
             "--loglevel=INFO", f"--concurrency={self.config.worker_concurrency}",
             "-n", f"faults{n}@%h"],
        ).start()  # fmt: skip
        self.workers.append(worker)
        wait_until(
            lambda: "ready." in worker.log.read_text(errors="replace") or not worker.alive(),
            f"worker {n} to be ready",
            90,
            [worker.log],
        )
        if not worker.alive():
            raise HarnessError(f"worker {n} exited at once\n{worker.log.read_text()[-3000:]}")
        return worker

    def start_beat(self) -> None:
        self.beat = self._process(
            "beat",
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
             "--loglevel=INFO", "--schedule", str(self.data_dir / "celerybeat-schedule")],
        ).start()  # fmt: skip

    def live_workers(self) -> list[ManagedProcess]:
        return [w for w in self.workers if w.alive()]

    def ensure_worker(self) -> None:
        """At least one live worker, as a process supervisor keeps one."""
        if not self.live_workers():
            self.start_worker()

    def stop(self) -> None:
        for process in [self.beat, *self.workers, self.web]:
            if process is not None:
                with suppress(Exception):
                    process.stop()
        with suppress(Exception):
            self.redis.stop()
        with suppress(Exception):
            self.postgres.stop()


@contextmanager
def running_stack(config: StackConfig | None = None, keep: Path | None = None) -> Iterator[Stack]:
    """A started stack, stopped and removed however the caller ends (`keep`: copy the logs
    there first)."""
    base = Path(tempfile.mkdtemp(prefix="dmip-faults-"))
    if running_as_root():
        base.chmod(0o755)  # the database's and the application's users must reach their files
    stack = Stack(base, config or StackConfig())
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for log in stack.all_logs:
                with suppress(OSError):
                    (keep / log.name).write_bytes(log.read_bytes())
        subprocess.run(["rm", "-rf", str(base)], check=False)
