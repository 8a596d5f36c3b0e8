"""Processes the fault harness starts and owns: never the shared PostgreSQL or Redis.

Every process gets a session (process group) of its own, so stopping it stops its children
too (a Celery worker's pool, gunicorn's workers), and a log file the failure messages quote.
PostgreSQL refuses to run as root, so under root the database runs as the `postgres` system
user. Root also ignores file permissions, and the read-only disk scenario would prove nothing:
under root the application's processes run without the capabilities that bypass them
(`setpriv`), so a directory they may not write is one they cannot write.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

# The account the database runs as under root.
POSTGRES_USER = "postgres"
# What root gives up to run the application: the capabilities that skip permission checks.
WITHOUT_OVERRIDES = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


class HarnessError(RuntimeError):
    """A process of the harness did not start or stop as it should; the message quotes logs."""


def running_as_root() -> bool:
    return os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, timeout: float, logs: list[Path]) -> float:
    """Poll `condition` until true; the seconds it took. Raises with the logs' tails if not."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise HarnessError(f"gave up after {timeout:.0f}s waiting for {what}\n{tails(logs)}")
        time.sleep(0.2)
    return time.monotonic() - started


def tails(logs: list[Path], size: int = 3000) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-size:]}" for p in logs if p.exists()
    )


@dataclass(frozen=True)
class Account:
    """Who a process runs as: None for this process's own user."""

    name: str | None

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid if self.name else os.getuid()

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.name).pw_gid if self.name else os.getgid()

    def own(self, *paths: Path) -> None:
        """Give the account the paths (recursively), so it may write them."""
        if not self.name:
            return
        for path in paths:
            for root, dirs, files in os.walk(path):
                for name in [*dirs, *files]:
                    os.chown(Path(root) / name, self.uid, self.gid, follow_symlinks=False)
            os.chown(path, self.uid, self.gid)


def database_account() -> Account:
    return Account(POSTGRES_USER if running_as_root() else None)


def application_command(command: list[str]) -> list[str]:
    """`command` as the application runs: bound by file permissions, even under root."""
    return [*WITHOUT_OVERRIDES, *command] if running_as_root() else command


@dataclass
class ManagedProcess:
    """One command in its own process group, logging to a file."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str]
    cwd: Path
    account: Account = field(default_factory=lambda: Account(None))
    # Under root, the application's processes give up what skips permission checks.
    application: bool = False
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                application_command(self.command) if self.application else self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.account.uid if self.account.name else None,
                group=self.account.gid if self.account.name else None,
                extra_groups=[] if self.account.name else None,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: what the kernel's OOM killer or a power cut does."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # Whatever is left of the group (children that outlived their parent) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    on_path = shutil.which(name)
    if on_path is None:
        raise HarnessError(f"{name} not found (PostgreSQL's server binaries are needed)")
    return on_path


class PostgresCluster:
    """A throwaway cluster: initdb into a directory, pg_ctl to start, stop and restart it."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.account = database_account()
        self.data = base / "pgdata"
        self.sockets = base / "pgsock"
        self.log = base / "postgres.log"
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/dmip"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.account.name:
            command = ["runuser", "-u", self.account.name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise HarnessError(
                f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{tails([self.log])}"
            )
        return done

    def init(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        self.account.own(self.sockets, self.log)
        if self.account.name:
            # initdb creates the data directory; its parent must let postgres do so.
            self.data.parent.chmod(0o755)
            self.data.mkdir()
            self.account.own(self.data)
        self._run(
            _postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        # Few connections and little memory: this machine is shared.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 60\nshared_buffers = 32MB\n"
            )

    def _options(self) -> str:
        return f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"

    def start(self) -> None:
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-o", self._options(), "start",
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                      check=False)  # fmt: skip

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back in seconds."""
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-m", "fast", "-o", self._options(), "restart",
        )  # fmt: skip

    def create_database(self, name: str = "dmip") -> None:
        self._run(
            _postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            name,
        )  # fmt: skip


class RedisServer:
    """A private redis-server with no persistence: a restart loses every queued task, as a
    Redis without persistence does in the field; the sweeper must make up for it."""

    def __init__(self, base: Path, cwd: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = base / "redis.log"
        self.cwd = cwd
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = ManagedProcess("redis", command, self.log, dict(os.environ), self.cwd)
        self.process.start()
        client = redis.Redis(port=self.port)
        try:
            wait_until(lambda: _pings(client), f"redis on port {self.port}", 30, [self.log])
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
