"""How `dmip serve`'s web server (waitress) treats slow and oversize clients.

waitress reads each request, body and all, in its I/O loop and only then gives it to one of
its threads, so a client that stalls mid-body holds a connection (a file descriptor), never a
thread. These options bound what such clients can hold and refuse a body that announces more
than the app accepts before a byte of it is read.
"""

from __future__ import annotations

from typing import TypedDict

from server.settings import Settings

# waitress stops accepting (new clients wait in the listen queue) at this many open
# connections. A workshop's phones and browsers are a few dozen; each connection costs up to
# three file descriptors, so this stays well under the usual limit of 1024 per process.
CONNECTION_LIMIT = 200


class WaitressOptions(TypedDict):
    threads: int
    max_request_body_size: int
    channel_timeout: int
    cleanup_interval: int
    connection_limit: int


def waitress_options(settings: Settings, threads: int) -> WaitressOptions:
    return WaitressOptions(
        # Threads run the app on complete requests only; SQLite takes one writer at a time,
        # so more threads than `--threads` (8 by default) mostly wait on each other.
        threads=threads,
        # waitress answers 413 when the announced Content-Length is this or more, before
        # reading the body. Flask's MAX_CONTENT_LENGTH (the same setting) counts the whole
        # body, multipart framing included, and refuses only what is over it, hence the one
        # byte: a body of exactly the limit that HEAD /submission announces to Collect
        # (X-OpenRosa-Accept-Content-Length) is accepted by both. A chunked body is counted
        # with its chunk framing, a few bytes per chunk.
        max_request_body_size=settings.max_submission_bytes + 1,
        # A connection with no request being served and no byte arriving for this long is
        # closed: a client stalled mid-body, or an idle kept-alive one.
        channel_timeout=settings.body_timeout,
        # How often waitress looks for such connections (its default, 30 s, would let a
        # short timeout run on for up to half a minute more).
        cleanup_interval=max(1, min(30, settings.body_timeout // 2)),
        connection_limit=CONNECTION_LIMIT,
    )
