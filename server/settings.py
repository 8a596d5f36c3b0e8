"""One settings object, read from the environment and validated at start-up.

Every setting has an embedded-mode default so that `dmip serve` needs no configuration; the
production stack overrides them through environment variables (see docker-compose.yml).
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what it expects."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    forms_dir: Path
    # Bodies larger than this are refused with 413; Collect reads it from the HEAD response and
    # splits a submission with many attachments into several POSTs that each fit.
    max_submission_bytes: int = 100 * 1024 * 1024 + 1024 * 1024
    # The realm is part of every stored Digest HA1: changing it invalidates Digest logins until
    # each user's password is set again (Basic keeps working).
    auth_realm: str = "DMIP"
    # Seconds a Digest nonce stays valid before the client is told it is stale.
    digest_nonce_ttl: int = 300
    # Seconds a verified Basic credential is remembered in memory (see server/auth/cache.py).
    credential_cache_ttl: int = 300
    # Seconds between sweeps that re-enqueue committed-but-unprocessed submissions.
    sweep_interval: int = 60
    # A submission is only swept once it has waited this long for its task.
    sweep_grace: int = 30
    # At most this many waiting submissions processed by a worker in one transaction (the
    # aggregates are brought in line once per batch); 1 processes them one by one. Large
    # enough that a worker on two cores keeps up with a district's peak rate. A wake-up's own
    # ids all go into its batch, and under a sustained load a wake-up carries more
    # (`wakeup_max_interval_ms`).
    worker_batch: int = 200
    # Each web process wakes the worker for what it received at most this often (a task per
    # this many milliseconds, with every id gathered meanwhile; the first of a quiet spell
    # goes at once): see server/openrosa/wakeups.py. Every task costs the worker a batch's
    # fixed part, so under load fewer, larger tasks leave more of the cores to ingest, while
    # a submission still counts within a second or so.
    wakeup_interval_ms: int = 500
    # Under a sustained load (200 submissions/s or more in a web process) the pace doubles
    # after each wake-up, up to this, and a task carries as many more ids: fewer, larger
    # batches leave more of the cores to ingest. Back to the interval above as soon as the
    # load falls; equal to it, the pace never stretches.
    wakeup_max_interval_ms: int = 4000
    # Files of finished exports and DMIP documents are deleted this many days after they were
    # made (the job then says so); asking again makes a fresh one.
    job_file_retention_days: int = 7
    # How many reverse proxies (nginx, a load balancer) sit in front of gunicorn; their
    # X-Forwarded-* headers are trusted for that many hops so URLs given to Collect are right.
    trusted_proxies: int = 0
    # Password guessing (server/domain/guessing.py): failures allowed free for one account
    # from one address, the first wait after them (doubling with each further failure) and its
    # cap, all in seconds; the looser limits for an account from every address together and
    # for one address across every account; how long a count lasts.
    guess_free_failures: int = 5
    guess_base_delay: int = 1
    guess_max_delay: int = 900
    guess_account_free_failures: int = 20
    guess_account_max_delay: int = 60
    guess_address_free_failures: int = 50
    guess_address_max_delay: int = 300
    guess_window: int = 86400
    # Seconds a request body may go without a byte arriving before the server gives up on it
    # (408, or the connection closed): a phone that lost its signal mid-upload must not hold
    # a web thread. Between bytes, not in total, so a slow but moving upload still finishes.
    body_timeout: int = 30
    embedded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "blobs"

    @functools.cached_property
    def uploads_dir(self) -> Path:
        """Where request bodies are spooled: beside blobs, so that storing one is a rename.
        (Cached: every submission asks.)"""
        return self.data_dir / "uploads"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("DMIP_DATA_DIR") or Path.cwd() / "dmip-data").expanduser().resolve()
        database_url = env.get("DMIP_DATABASE_URL") or f"sqlite:///{data_dir / 'dmip.sqlite3'}"
        if database_url.startswith("postgres://"):
            raise SettingsError(
                "DMIP_DATABASE_URL: use postgresql+psycopg://user@host/db (postgres:// is not a "
                "SQLAlchemy dialect name)"
            )
        if database_url.startswith("postgresql://"):
            # The driver we ship is psycopg 3; make the plain URL mean it.
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        if not (database_url.startswith("sqlite") or database_url.startswith("postgresql+")):
            raise SettingsError(
                f"DMIP_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {database_url!r}"
            )
        embedded_default = "DMIP_BROKER_URL" not in env
        broker_url = env.get("DMIP_BROKER_URL") or "filesystem://"
        if not broker_url.startswith(
            ("redis://", "rediss://", "filesystem://", "memory://", "amqp://")
        ):
            raise SettingsError(
                f"DMIP_BROKER_URL must be a redis:// URL (or filesystem:// for the embedded "
                f"mode), got {broker_url!r}"
            )
        secret_key = env.get("DMIP_SECRET_KEY") or ""
        if not secret_key:
            secret_key = _stored_secret(data_dir)
        elif len(secret_key) < 16:
            raise SettingsError("DMIP_SECRET_KEY must be at least 16 characters long")
        forms_dir = Path(env.get("DMIP_FORMS_DIR") or PROJECT_ROOT / "forms").resolve()
        wakeup_interval_ms = _int(env, "DMIP_WAKEUP_INTERVAL_MS", cls.wakeup_interval_ms)
        wakeup_max_interval_ms = _int(
            env,
            "DMIP_WAKEUP_MAX_INTERVAL_MS",
            max(cls.wakeup_max_interval_ms, wakeup_interval_ms),
            minimum=wakeup_interval_ms,
        )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url,
            secret_key=secret_key,
            forms_dir=forms_dir,
            max_submission_bytes=_int(
                env, "DMIP_MAX_SUBMISSION_BYTES", cls.max_submission_bytes, minimum=1024
            ),
            auth_realm=env.get("DMIP_AUTH_REALM") or cls.auth_realm,
            digest_nonce_ttl=_int(env, "DMIP_DIGEST_NONCE_TTL", cls.digest_nonce_ttl, minimum=10),
            credential_cache_ttl=_int(env, "DMIP_CREDENTIAL_CACHE_TTL", cls.credential_cache_ttl),
            sweep_interval=_int(env, "DMIP_SWEEP_INTERVAL", cls.sweep_interval, minimum=1),
            sweep_grace=_int(env, "DMIP_SWEEP_GRACE", cls.sweep_grace),
            worker_batch=_int(env, "DMIP_WORKER_BATCH", cls.worker_batch, minimum=1),
            wakeup_interval_ms=wakeup_interval_ms,
            wakeup_max_interval_ms=wakeup_max_interval_ms,
            job_file_retention_days=_int(
                env, "DMIP_JOB_FILE_RETENTION_DAYS", cls.job_file_retention_days, minimum=1
            ),
            trusted_proxies=_int(env, "DMIP_TRUSTED_PROXIES", 0),
            guess_free_failures=_int(env, "DMIP_GUESS_FREE_FAILURES", cls.guess_free_failures),
            guess_base_delay=_int(env, "DMIP_GUESS_BASE_DELAY", cls.guess_base_delay, minimum=1),
            guess_max_delay=_int(env, "DMIP_GUESS_MAX_DELAY", cls.guess_max_delay),
            guess_account_free_failures=_int(
                env, "DMIP_GUESS_ACCOUNT_FREE_FAILURES", cls.guess_account_free_failures
            ),
            guess_account_max_delay=_int(
                env, "DMIP_GUESS_ACCOUNT_MAX_DELAY", cls.guess_account_max_delay
            ),
            guess_address_free_failures=_int(
                env, "DMIP_GUESS_ADDRESS_FREE_FAILURES", cls.guess_address_free_failures
            ),
            guess_address_max_delay=_int(
                env, "DMIP_GUESS_ADDRESS_MAX_DELAY", cls.guess_address_max_delay
            ),
            guess_window=_int(env, "DMIP_GUESS_WINDOW", cls.guess_window, minimum=60),
            body_timeout=_int(env, "DMIP_BODY_TIMEOUT", cls.body_timeout, minimum=1),
            embedded=_bool(env, "DMIP_EMBEDDED", embedded_default),
        )


def _stored_secret(data_dir: Path) -> str:
    """A random key kept in the data directory, so sessions and nonces survive a restart.

    Production sets DMIP_SECRET_KEY; every process of one deployment must share it.
    """
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this deployment won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
