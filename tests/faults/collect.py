"""A client that sends submissions as ODK Collect does: HEAD /submission to be challenged,
then POST with HTTP Digest (the challenge reused with a growing nonce count until the server
calls it stale), and on a 503 or a broken connection the same submission again later."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fixtures.openrosa import digest_authorization, multipart, parse_challenge


def retryable(status: int | str) -> bool:
    """A broken connection or a server error: the submission stays in Collect's outbox and
    goes again (a 500 is recorded as the bug it is, and sent again like the rest)."""
    return isinstance(status, str) or status >= 500


@dataclass
class Attempt:
    """One HTTP exchange: the status, or the connection error's name, and when."""

    status: int | str
    at: float


@dataclass
class Delivery:
    """Every attempt at sending one submission, until it was accepted or given up."""

    instance_id: str
    kind: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return any(a.status == 201 for a in self.attempts)

    @property
    def final(self) -> int | str | None:
        return self.attempts[-1].status if self.attempts else None


class CollectClient:
    """One phone: a kept-alive connection and the Digest challenge it was last given."""

    def __init__(self, port: int, username: str, password: str, timeout: float = 30) -> None:
        self.port = port
        self.username = username
        self.password = password
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._challenge: dict[str, str] | None = None
        self._nc = 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self._conn

    def _exchange(
        self, method: str, headers: dict[str, str], body: bytes | None = None
    ) -> http.client.HTTPResponse:
        conn = self._connection()
        try:
            conn.request(method, "/submission", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response

    def _challenged(self) -> None:
        response = self._exchange("HEAD", {"X-OpenRosa-Version": "1.0"})
        header = response.getheader("WWW-Authenticate", "")
        if response.status != 401 or not header.startswith("Digest"):
            raise http.client.HTTPException(f"HEAD /submission gave {response.status}, no Digest")
        self._challenge = parse_challenge(header)
        self._nc = 0

    def post(self, xml: bytes, files: dict[str, bytes] | None = None) -> int:
        """POST one submission; the final HTTP status (after a fresh challenge if needed)."""
        body = multipart(xml, files)
        for _ in range(3):
            if self._challenge is None:
                self._challenged()
            assert self._challenge is not None
            self._nc += 1
            headers = {
                "X-OpenRosa-Version": "1.0",
                "Content-Type": body.content_type,
                "Authorization": digest_authorization(
                    self._challenge, "POST", "/submission", self.username, self.password,
                    nc=self._nc,
                ),
            }  # fmt: skip
            response = self._exchange("POST", headers, body.body)
            if response.status != 401:
                return response.status
            header = response.getheader("WWW-Authenticate", "")
            self._challenge = parse_challenge(header) if header.startswith("Digest") else None
            self._nc = 0
        return 401

    def deliver(
        self,
        delivery: Delivery,
        xml: bytes,
        files: dict[str, bytes] | None = None,
        give_up_at: Callable[[], float] = lambda: float("inf"),
        pause: float = 0.5,
    ) -> Delivery:
        """Send until the server answers something other than "later", as Collect's queue
        does, until `give_up_at()` (read at each retry: a stream that stops sets it); every
        attempt is recorded."""
        while True:
            try:
                status: int | str = self.post(xml, files)
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
            delivery.attempts.append(Attempt(status, time.monotonic()))
            if not retryable(status) or time.monotonic() > give_up_at():
                return delivery
            time.sleep(pause)
