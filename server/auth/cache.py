"""Remembering verified Basic credentials, so a request does not pay for scrypt each time.

werkzeug's scrypt hash costs tens of milliseconds by design; at hundreds of submissions a
second that would be the whole CPU budget. A successful check is remembered for `ttl` seconds
under an HMAC of (username, password) keyed with the app secret, so the cache never holds a
password or anything a password can be recovered from faster than from the scrypt hash itself.

An entry is only honoured while the user row it was made for still has the same id and
`credentials_version` and is active: changing a password or deactivating a user bumps the
version (server/services/users.py), so the old verdict dies on the next request. The row is
loaded on every request anyway, so that check costs nothing extra.

Requests that arrive together with credentials not yet verified (a burst just after a process
starts, or after a verdict expires) verify them once: `verifying(key)` lets one of them run the
hash while the others wait for its verdict, rather than each paying for scrypt at once.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Verdict:
    user_id: int
    credentials_version: int
    expires_at: float


@dataclass
class _Turn:
    """Who may verify one set of credentials now; `users` hold or wait for `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class CredentialCache:
    def __init__(
        self,
        secret: bytes,
        ttl: int,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Verdict] = OrderedDict()
        self._lock = threading.Lock()
        # An entry lives only while some request holds or waits for it, so the map is
        # bounded by the requests in flight.
        self._verifying: dict[str, _Turn] = {}

    @contextlib.contextmanager
    def verifying(self, key: str) -> Iterator[None]:
        """Hold the right to verify `key`'s credentials; the caller re-checks
        `is_known_good` inside, since whoever held it before may have just succeeded.
        Different credentials never wait on each other."""
        if self._ttl <= 0:  # nothing is remembered, so waiting would gain nothing
            yield
            return
        with self._lock:
            turn = self._verifying.get(key)
            if turn is None:
                turn = self._verifying[key] = _Turn()
            turn.users += 1
        try:
            with turn.lock:
                yield
        finally:
            with self._lock:
                turn.users -= 1
                if not turn.users:
                    del self._verifying[key]

    def key(self, username: str, password: str) -> str:
        message = username.encode("utf-8") + b"\0" + password.encode("utf-8")
        return hmac.digest(self._secret, b"basic:" + message, "sha256").hex()

    def is_known_good(self, key: str, user_id: int, credentials_version: int) -> bool:
        if self._ttl <= 0:
            return False
        with self._lock:
            verdict = self._entries.get(key)
            if verdict is None:
                return False
            if (
                verdict.expires_at <= self._clock()
                or verdict.user_id != user_id
                or verdict.credentials_version != credentials_version
            ):
                del self._entries[key]
                return False
            return True

    def remember(self, key: str, user_id: int, credentials_version: int) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = _Verdict(user_id, credentials_version, self._clock() + self._ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:  # bounded: oldest verdicts go first
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class TtlCache(Generic[K, V]):
    """A bounded per-process map whose entries expire `ttl` seconds after they were put."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if len(self._entries) >= self._max:  # bounded against floods of distinct keys
                self._entries.clear()
            self._entries[key] = (self._clock() + self._ttl, value)

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
