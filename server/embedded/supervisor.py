"""The one-command mode: a Celery worker (with beat) supervised beside the web server.

`dmip serve` runs the web app in its own process and starts the worker as a child process with
the same environment, so the code paths are the production ones: the web process sends tasks
through the filesystem broker in the data directory, the worker processes them, beat runs the
sweeper. The child is stopped with the server (Ctrl-C, SIGTERM) and restarted whenever it dies
on its own, as systemd or Docker would restart a production worker: at once the first time, then
after waits that double up to a minute while it keeps dying, and at once again after it has run
well for a while. Submissions are stored meanwhile and processed once it is back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from server.settings import Settings

# The wait before restarting a worker that died, doubling while it keeps dying, up to a minute;
# a worker that ran this long before it died is restarted after the first wait again.
RESTART_DELAY_SECONDS = 2.0
MAX_RESTART_DELAY_SECONDS = 60.0
HEALTHY_AFTER_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0


def worker_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers.celery_app",
        "worker", "--beat", "--pool=solo", "--concurrency=1", "--loglevel=INFO",
        "--schedule", str(settings.data_dir / "celerybeat-schedule"),
        # Gossip, mingle and heartbeats talk to other workers over broadcast queues; there are
        # none, and the filesystem transport has no broadcast.
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def worker_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment, with the resolved data directory and database made explicit,
    so the worker finds the same SQLite file and queue whatever its working directory."""
    env = dict(os.environ if base is None else base)
    env["DMIP_DATA_DIR"] = str(settings.data_dir)
    env["DMIP_DATABASE_URL"] = settings.database_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class WorkerSupervisor:
    """Starts the worker, restarts it if it exits on its own, and stops it on request."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        say: Callable[[str], None],
        restart_delay: float = RESTART_DELAY_SECONDS,
        max_restart_delay: float = MAX_RESTART_DELAY_SECONDS,
        healthy_after: float = HEALTHY_AFTER_SECONDS,
    ) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.say = say
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.healthy_after = healthy_after
        self.restarts = 0
        # The wait chosen before each restart, in order (what the log lines say).
        self.delays: list[float] = []
        self._started_at = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-watcher", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        # In its own process group: Ctrl-C in the terminal reaches only the server, which then
        # stops the worker itself, rather than racing the watcher into a restart.
        group: dict[str, object] = (
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
            if sys.platform == "win32"
            else {"start_new_session": True}
        )
        if sys.platform.startswith("linux"):
            group["preexec_fn"] = _die_with_parent
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, **group
            )
        self._started_at = time.monotonic()

    def _watch(self) -> None:
        delay = 0.0
        while not self._stopping.wait(1.0):
            with self._lock:
                process = self._process
                if self._stopping.is_set() or process is None or process.poll() is None:
                    continue
                _kill_leftovers(process)
                lived = time.monotonic() - self._started_at
                delay = self._next_delay(delay, lived)
                self.delays.append(delay)
                self.restarts += 1
                self.say(
                    f"The worker stopped (exit code {process.returncode}); restarting it "
                    f"in {delay:g} s (restart {self.restarts}). Submissions are still received "
                    f"and stored meanwhile. See {self.log_path}."
                )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if not self._stopping.is_set():
                    self._spawn()

    def _next_delay(self, previous: float, lived: float) -> float:
        """The wait before the next start: the first wait after a worker that ran well (or
        the first death), double the last one while it keeps dying, at most the cap."""
        if previous == 0.0 or lived >= self.healthy_after:
            return self.restart_delay
        return min(previous * 2, self.max_restart_delay)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the worker: a warm shutdown first (it finishes its task), killed if it hangs."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            _kill_leftovers(process)
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the server dies, so a server
    killed with SIGKILL (or by the OOM killer) leaves no worker behind, processing on its own
    with nobody to stop it. Celery takes SIGTERM as a warm shutdown."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _kill_leftovers(process: subprocess.Popen[bytes]) -> None:
    """Kill what the worker left behind (its embedded beat process, if the worker itself was
    killed). The worker leads its own process group, so that is every process in it."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
