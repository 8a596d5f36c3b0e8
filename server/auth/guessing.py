"""The limit on password guessing, for every way in: counts in the database, waits from the
policy in server/domain/guessing.py, refusals and back-offs in the audit log.

Counts live in the `guess_counts` table so that every web process (and machine) of a
deployment sees the same ones. Each failure is written in a short transaction of its own, on
its own connection, so that what the request does afterwards (a rollback, an error) cannot lose
it.

A successful sign-in must stay cheap: the receiver takes hundreds of submissions a second, each
authenticated. So each process keeps the set of keys that have a count, read again at most
every `refresh` seconds with one query for the whole process, and an attempt whose keys are
all absent from it is let through without a query; an attempt with a counted key reads its
rows (an indexed look-up). A key this process counts a failure under joins the set at once.
What another process counts reaches this one within `refresh` seconds: a key that had no count
at all a moment ago may, in that moment, see a correct password accepted that a wait had
just started to refuse. That can happen once per key per count window, never during a
back-off that was running at the last refresh.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Connection, and_, case, delete, literal, or_, select, update
from sqlalchemy.engine import Engine

from server.app_state import state
from server.db import UTCDateTime, dialect_insert, utcnow
from server.domain.guessing import Attempt, Backoff, GuessingPolicy, Kind
from server.models import AuditEvent, GuessCount
from server.settings import Settings

_EXTENSION = "dmip.auth.guess_limiter"
_COUNTS = GuessCount.__table__
_AUDIT = AuditEvent.__table__
# Beyond this many counted keys (a flood of guesses), every attempt reads its rows instead.
MAX_KNOWN_KEYS = 10_000

AUDIT_BACKOFF = "auth.backoff_started"
AUDIT_REFUSED = "auth.attempt_limited"


def policy_from(settings: Settings) -> GuessingPolicy:
    base = settings.guess_base_delay
    return GuessingPolicy(
        pair=Backoff(settings.guess_free_failures, base, settings.guess_max_delay),
        account=Backoff(
            settings.guess_account_free_failures, base, settings.guess_account_max_delay
        ),
        address=Backoff(
            settings.guess_address_free_failures, base, settings.guess_address_max_delay
        ),
        window=dt.timedelta(seconds=settings.guess_window),
    )


@dataclass(frozen=True)
class Check:
    """The answer before an attempt: how long it must wait (0: go ahead), and whether its
    (account, address) pair has a count that a success should forget."""

    wait: int
    pair_counted: bool


def _seconds(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, -int(-(until - now).total_seconds() // 1))


class GuessLimiter:
    def __init__(
        self,
        engine: Engine,
        policy: GuessingPolicy,
        *,
        refresh: float = 1.0,
        clock: Callable[[], dt.datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.policy = policy
        self._refresh = refresh
        self.clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # Keys with a count as of `_taken` (None: not known, so every attempt reads its rows).
        self._known: set[tuple[str, str]] | None = None
        self._taken = float("-inf")
        self._refreshing = False
        self._added_meanwhile: set[tuple[str, str]] = set()

    # -- before an attempt ---------------------------------------------------------------

    def check(self, attempt: Attempt, now: dt.datetime | None = None) -> Check:
        """Whether `attempt` may be checked now. A refused attempt is audited once per wait."""
        now = now or self.clock()
        keys = attempt.keys()
        if not self._may_be_counted(keys, now):
            return Check(0, False)
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(
                    _COUNTS.c.id,
                    _COUNTS.c.kind,
                    _COUNTS.c.blocked_until,
                    _COUNTS.c.refusal_audited,
                ).where(_keys_clause(keys))
            ).all()
            pair_counted = any(row.kind == Kind.pair for row in rows)
            blocking = [r for r in rows if r.blocked_until is not None and r.blocked_until > now]
            if not blocking:
                return Check(0, pair_counted)
            longest = max(blocking, key=lambda r: r.blocked_until)
            wait = _seconds(longest.blocked_until, now)
            if not longest.refusal_audited:
                # Only the process that flips the flag writes the row, however many refuse.
                flipped = conn.execute(
                    update(_COUNTS)
                    .where(_COUNTS.c.id == longest.id, _COUNTS.c.refusal_audited.is_(False))
                    .values(refusal_audited=True)
                ).rowcount
                if flipped:
                    _audit(conn, now, AUDIT_REFUSED, attempt, kind=longest.kind, retry_after=wait)
            return Check(wait, pair_counted)

    # -- after an attempt ----------------------------------------------------------------

    def failed(self, attempt: Attempt, now: dt.datetime | None = None) -> int:
        """Count a failed attempt; the seconds the next attempt must now wait (0: none)."""
        now = now or self.clock()
        policy = self.policy
        waits: list[dt.datetime] = []
        with self._engine.begin() as conn:
            conn.execute(
                delete(_COUNTS).where(
                    _COUNTS.c.window_start < now - policy.window,
                    or_(_COUNTS.c.blocked_until.is_(None), _COUNTS.c.blocked_until <= now),
                )
            )
            pair_failures = 0
            for kind in Kind:
                if kind is Kind.address and not policy.address_counts(pair_failures):
                    continue
                failures, blocked_until = self._count(conn, kind, attempt.key(kind), now)
                if kind is Kind.pair:
                    pair_failures = failures
                backoff = policy.backoff(kind)
                delay = backoff.delay_after(failures)
                if delay:
                    until = max(now + dt.timedelta(seconds=delay), blocked_until or now)
                    conn.execute(
                        update(_COUNTS)
                        .where(_COUNTS.c.kind == kind.value, _COUNTS.c.key == attempt.key(kind))
                        .values(blocked_until=until, refusal_audited=False)
                    )
                    waits.append(until)
                    if backoff.starts_backoff(failures):
                        _audit(
                            conn, now, AUDIT_BACKOFF, attempt, kind=kind.value, failures=failures
                        )
        self._learn(attempt.keys())
        return _seconds(max(waits), now) if waits else 0

    def succeeded(self, attempt: Attempt, check: Check) -> None:
        """A correct password forgets its pair's failures (not the account's or address's:
        those are other people's too). No write when there is nothing to forget."""
        if not check.pair_counted:
            return
        key = (Kind.pair.value, attempt.key(Kind.pair))
        with self._engine.begin() as conn:
            conn.execute(delete(_COUNTS).where(_keys_clause([key])))
        with self._lock:
            if self._known is not None:
                self._known.discard(key)

    # -- internals -----------------------------------------------------------------------

    def _count(
        self, conn: Connection, kind: Kind, key: str, now: dt.datetime
    ) -> tuple[int, dt.datetime | None]:
        """One more failure under (kind, key), starting afresh after the window; the new
        count and the wait already running."""
        at = literal(now, UTCDateTime())
        expired = and_(
            _COUNTS.c.window_start < now - self.policy.window,
            or_(_COUNTS.c.blocked_until.is_(None), _COUNTS.c.blocked_until <= now),
        )
        insert: Any = dialect_insert(self._engine.dialect.name)
        statement = (
            insert(_COUNTS)
            .values(
                kind=kind.value,
                key=key,
                failures=1,
                window_start=now,
                blocked_until=None,
                refusal_audited=False,
            )
            .on_conflict_do_update(
                index_elements=[_COUNTS.c.kind, _COUNTS.c.key],
                set_={
                    "failures": case((expired, 1), else_=_COUNTS.c.failures + 1),
                    "window_start": case((expired, at), else_=_COUNTS.c.window_start),
                },
            )
            .returning(_COUNTS.c.failures, _COUNTS.c.blocked_until)
        )
        failures, blocked_until = conn.execute(statement).one()
        return failures, blocked_until

    def _may_be_counted(self, keys: Iterable[tuple[str, str]], now: dt.datetime) -> bool:
        with self._lock:
            fresh = self._monotonic() - self._taken < self._refresh
            if fresh or self._refreshing:
                # While another thread reads the keys, the last set (or, with none, a read of
                # this attempt's rows) answers.
                known = self._known
                return known is None or any(key in known for key in keys)
            self._refreshing = True
            self._added_meanwhile = set()
        known_now: set[tuple[str, str]] | None = None
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(_COUNTS.c.kind, _COUNTS.c.key)
                    .where(
                        or_(
                            _COUNTS.c.window_start >= now - self.policy.window,
                            _COUNTS.c.blocked_until > now,
                        )
                    )
                    .limit(MAX_KNOWN_KEYS + 1)
                ).all()
            if len(rows) <= MAX_KNOWN_KEYS:
                known_now = {(row.kind, row.key) for row in rows}
        finally:
            with self._lock:
                self._refreshing = False
                self._taken = self._monotonic()
                self._known = None if known_now is None else known_now | self._added_meanwhile
                known = self._known
        return known is None or any(key in known for key in keys)

    def _learn(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            if self._known is not None:
                self._known.update(keys)
            if self._refreshing:
                self._added_meanwhile.update(keys)


def _keys_clause(keys: Iterable[tuple[str, str]]) -> Any:
    return or_(*(and_(_COUNTS.c.kind == kind, _COUNTS.c.key == key) for kind, key in keys))


def _audit(
    conn: Connection, now: dt.datetime, action: str, attempt: Attempt, **details: Any
) -> None:
    conn.execute(
        _AUDIT.insert().values(
            at=now,
            actor_id=None,
            action=action,
            target_type="account",
            target_id=attempt.account,
            details={"address": attempt.address, "way": attempt.way, **details},
        )
    )


def guess_limiter() -> GuessLimiter:
    """This app's limiter (one per process, made on first use)."""
    limiter: GuessLimiter | None = current_app.extensions.get(_EXTENSION)
    if limiter is None:
        app_state = state()
        limiter = current_app.extensions.setdefault(
            _EXTENSION, GuessLimiter(app_state.db.engine, policy_from(app_state.settings))
        )
    return limiter


def install_limiter(extensions: dict[str, Any], limiter: GuessLimiter) -> None:
    """Use `limiter` for this app (tests give one a clock of their own)."""
    extensions[_EXTENSION] = limiter
