"""A deadline between the bytes of a request body, for gunicorn's threaded workers.

gunicorn's gthread worker hands a connection to a thread once its headers are in; the thread
then reads the body while the application asks for it, from a blocking socket with no
timeout. A client that sends its headers and stops (a phone that lost its signal, or one that
never meant to finish) would hold that thread for good, and a dozen of them hold every thread
of every process. This middleware gives the socket a receive timeout (the kernel's
SO_RCVTIMEO) while the application reads the body: a read that waits longer than `seconds`
for a byte ends the request with 408, and gunicorn closes the connection (a body it could not
finish reading leaves the connection unusable). The timeout is between bytes, not for the
whole body, so a 100 MB upload over a slow link finishes as long as it keeps moving.

The kernel's timeout rather than Python's (`settimeout`): Python's puts the socket in
non-blocking mode and polls before every read, which cost the receiver a tenth of its rate,
and it bounds sends too, so a large download to a slow client could be cut short; the
kernel's bounds each blocking receive as it is, and only receives. Servers other than gunicorn
(waitress buffers the whole body before the application runs) pass through untouched.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from werkzeug.exceptions import RequestTimeout

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class BodyStalled(RequestTimeout):
    """The client stopped sending its body. An HTTPException, not an OSError, so that
    Werkzeug's stream passes it on (it turns an OSError into a 400 'client disconnected')
    and the application's error handlers answer 408 in the client's own dialect."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"No part of the request arrived for {seconds:g} seconds, so the server stopped "
            "waiting. Send it again; a submission sent twice is stored once."
        )


class _TimedInput:
    """`wsgi.input` whose reads raise BodyStalled when the socket times out."""

    def __init__(self, stream: IO[bytes], seconds: float) -> None:
        self._stream = stream
        self._seconds = seconds

    def _guard(self, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except (TimeoutError, BlockingIOError):  # the receive timeout ran out (EAGAIN)
            raise BodyStalled(self._seconds) from None

    def read(self, size: int | None = -1) -> bytes:
        return self._guard(self._stream.read, size)  # type: ignore[no-any-return]

    def readline(self, size: int | None = -1) -> bytes:
        return self._guard(self._stream.readline, size)  # type: ignore[no-any-return]

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self._guard(self._stream.readlines, hint)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class BodyTimeout:
    """WSGI middleware: bound each wait for a byte of the request body to `seconds`."""

    def __init__(self, app: WSGIApplication, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        whole = int(seconds)
        self._timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, socket.socket):
            return self.app(environ, start_response)
        # Each request, as well as on the listening sockets (server/gunicorn_conf.py), whose
        # accepted sockets inherit it on Linux only.
        with contextlib.suppress(OSError):  # the client is gone; the read will say so
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
        environ["wsgi.input"] = _TimedInput(environ["wsgi.input"], self.seconds)
        return self.app(environ, start_response)
