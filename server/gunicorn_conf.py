"""gunicorn settings for the production web processes (`--config python:server.gunicorn_conf`).

Overridable from the environment: GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_WORKER_CLASS,
GUNICORN_BIND, GUNICORN_TIMEOUT, GUNICORN_KEEPALIVE.

Slow clients: a thread reads a request's headers and then its body, as the app asks for it
(gthread hands a connection that sends nothing for 5 seconds back to its main loop, which
waits without a thread). server/wsgi.py bounds each wait for a byte of the body to
DMIP_BODY_TIMEOUT seconds (server/body_timeout.py), so a client that stalls mid-body holds
its thread for that long at most and then gets a 408; the other clients wait meanwhile only
if every thread of every process is held.
On the internet put nginx in front (README, "In front of the internet"): it buffers whole
bodies before gunicorn sees them, so slow clients cost nginx a buffer, not a thread here.
"""

import multiprocessing
import os
import socket
import struct
from typing import Any

from server.settings import Settings

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threads, not only processes: a submission spends much of its time waiting on PostgreSQL's
# commit, and a thread lets the process serve another request meanwhile; the receiver's group
# commit (server/group_commit.py) puts the rows of a process's concurrent threads in one
# INSERT, so it needs threads sharing a process. One process per core (plus one) bounds the
# memory, and the threads cover the waits (BENCHMARKS.md measured this pair). An async worker
# (gevent) would shrug off slow clients without the body timeout, but would change how
# submissions share a process; the body timeout and nginx cover slow clients without it.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Connections a process holds at once (accepted ones wait for a thread, idle kept-alive ones
# wait in the main loop): each is a file descriptor and a little memory, nothing more.
worker_connections = 1000
# For gthread this bounds the worker's main loop, not a request: the arbiter restarts a
# process whose loop has not checked in for this long (it is wedged). Requests have their own
# bound, the body timeout; a slow upload that keeps moving takes as long as it needs.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On a restart or a deploy, requests in flight get this long to finish; Collect resends any
# submission that got no answer, and a resend is never stored twice.
graceful_timeout = 30
# Collect sends HEAD /submission and then its POST on the same connection, and the web app
# fetches its pages' assets in a burst: a few seconds of keep-alive covers both, and an idle
# kept-alive connection waits in the main loop, not on a thread.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Request line and headers: Collect sends a dozen short headers and the web app's longest URL
# is a filtered list; these bounds refuse junk (400/431-style errors from gunicorn) before any
# thread parses it at length. A Digest Authorization header or the session cookie is well
# under a field's 8 KB.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Each worker builds its own engine and pool after the fork (the app factory runs per worker).
preload_app = False
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# A client that sends part of its headers and stops would hold its thread for good too: the
# thread reads headers from a blocking socket, before the app (and its body timeout) runs.
# SO_RCVTIMEO on the listening sockets, which each accepted connection inherits (Linux), makes
# such a blocking read give up after the same seconds; gunicorn then closes the connection.
# Python's own socket timeouts (the body timeout's) take over where they are set.
_READ_TIMEOUT = int(os.environ.get("DMIP_BODY_TIMEOUT") or Settings.body_timeout)


def when_ready(server: Any) -> None:
    timeval = struct.pack("ll", max(1, _READ_TIMEOUT), 0)
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
