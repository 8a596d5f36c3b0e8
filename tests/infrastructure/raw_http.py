"""Raw-socket HTTP clients that misbehave the way the field does: headers sent, then the body
stalls (a phone that lost its signal), or a body announced that is far too large."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

# How long a test waits for any one answer. Generous, so a loaded machine does not fail a
# test, and still bounded, so a server that never answers fails it instead of hanging.
ANSWER_DEADLINE = 120.0


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def stall(port: int, headers: dict[str, str], length: int, sent: bytes) -> socket.socket:
    """A POST /submission that announces `length` bytes, sends `sent`, and then sends no more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_DEADLINE)
    head = request_head("POST", "/submission", {**headers, "Content-Length": str(length)})
    sock.sendall(head + sent)
    return sock


@dataclass(frozen=True)
class Ending:
    """How the server ended a connection: what it sent before closing it."""

    received: bytes

    @property
    def status(self) -> int | None:
        """The status of the response received, or None when the server only closed."""
        if not self.received.startswith(b"HTTP/1."):
            return None
        return int(self.received.split(b" ", 2)[1])


def read_until_closed(sock: socket.socket, deadline: float = ANSWER_DEADLINE) -> Ending:
    """Everything the server sends until it closes the connection. Raises TimeoutError when
    the server neither sends nor closes within `deadline` seconds of the call."""
    until = time.monotonic() + deadline
    received = bytearray()
    try:
        while True:
            sock.settimeout(max(0.1, until - time.monotonic()))
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break  # closed with our unread bytes in its buffer: a close all the same
            if not data:
                break
            received += data
    finally:
        sock.close()
    return Ending(bytes(received))


def read_response_head(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """Status and headers of the next response on `sock` (its body is left unread)."""
    sock.settimeout(ANSWER_DEADLINE)
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {bytes(data)!r}")
        data += chunk
    head = bytes(data).split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split(" ", 2)[1]), headers


def get_status(url: str, timeout: float = ANSWER_DEADLINE) -> int:
    """The status of a GET, from a well-behaved client on a connection of its own."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def read_all_endings(socks: list[socket.socket], deadline: float = ANSWER_DEADLINE) -> list[Ending]:
    """How each connection ended within `deadline` seconds, read side by side so that one slow
    ending does not eat the deadline of the others."""
    endings: list[Ending | BaseException | None] = [None] * len(socks)

    def read(index: int) -> None:
        try:
            endings[index] = read_until_closed(socks[index], deadline)
        except BaseException as exc:  # reported below, in the test's thread
            endings[index] = exc

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(socks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ending in endings:
        if isinstance(ending, BaseException):
            raise AssertionError(f"a stalled connection was never dropped: {ending!r}")
    return [e for e in endings if isinstance(e, Ending)]
