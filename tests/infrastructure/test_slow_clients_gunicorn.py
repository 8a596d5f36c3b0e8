"""Clients that stall mid-body against gunicorn run with the production config
(`gunicorn --config python:server.gunicorn_conf server.wsgi:app`), PostgreSQL and Redis.

More stalled clients than the config has threads in all its processes: the others must still
be answered, and each stalled one must be dropped with a 408 once DMIP_BODY_TIMEOUT passes
without a byte, while an upload that is slow but keeps moving still goes through.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server import gunicorn_conf
from tests.fixtures.openrosa import (
    add_user,
    basic,
    instance,
    multipart,
    new_instance_id,
    publish,
    seed_org,
)
from tests.infrastructure.raw_http import (
    get_status,
    read_all_endings,
    read_response_head,
    request_head,
    stall,
)
from tests.paths import ROOT

pytestmark = pytest.mark.integration

BODY_TIMEOUT = 2
THREADS = gunicorn_conf.workers * gunicorn_conf.threads
# Well over every thread of every process, so that every process has all its threads held.
STALLED = 4 * THREADS


class Gunicorn:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def pids_that_answered(self) -> set[str]:
        return set(re.findall(r"^pid=<?(\d+)>? ", self.log.read_text(errors="replace"), re.M))


@pytest.fixture
def gunicorn(settings, db, tmp_path: Path) -> Iterator[Gunicorn]:  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        DMIP_DATA_DIR=str(settings.data_dir),
        DMIP_DATABASE_URL=settings.database_url,
        DMIP_BROKER_URL=settings.broker_url,
        DMIP_SECRET_KEY=settings.secret_key,
        DMIP_BODY_TIMEOUT=str(BODY_TIMEOUT),
        GUNICORN_BIND="127.0.0.1:0",
    )
    log = tmp_path / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:server.gunicorn_conf",
        # The production config as it is, with the process id in the access log (below).
        "--access-logformat", "pid=%(p)s %(r)s %(s)s", "server.wsgi:app",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        served = Gunicorn(process, _bound_port(process, log), log)
        _until_every_process_answers(served)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=60)


def _bound_port(process: subprocess.Popen[bytes], log: Path) -> int:
    for _ in range(1200):  # bounded by count, 0.05 s apart
        text = log.read_text(errors="replace")
        port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if port:
            return int(port.group(1))
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{text}")
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def _until_every_process_answers(served: Gunicorn) -> None:
    """Every process has loaded the app: one still loading when the stalled clients connect
    would get none of them and answer the others at once, whatever the body timeout."""
    for _ in range(200):
        requests = [
            threading.Thread(target=get_status, args=(f"{served.url}/healthz",))
            for _ in range(THREADS)
        ]
        for request in requests:
            request.start()
        for request in requests:
            request.join()
        if len(served.pids_that_answered()) == gunicorn_conf.workers:
            return
        if served.process.poll() is not None:
            break
    raise AssertionError(
        f"not every process answered:\n{served.log.read_text(errors='replace')[-4000:]}"
    )


def test_stalled_bodies_do_not_hold_the_server(gunicorn: Gunicorn) -> None:
    body = multipart(instance(new_instance_id()))
    headers = {"Content-Type": body.content_type, **basic("ann")}
    stalled = [
        stall(gunicorn.port, headers, len(body.body), body.body[:100]) for _ in range(STALLED)
    ]
    # Every thread of every process is now reading a body that does not come; a client with
    # a request of its own is answered once the body timeout frees threads.
    assert get_status(f"{gunicorn.url}/healthz") == 200
    endings = read_all_endings(stalled)
    assert [e.status for e in endings] == [408] * STALLED, [e.received[:200] for e in endings]
    assert b"stopped waiting" in endings[0].received  # the OpenRosa message, in plain words
    assert b"<OpenRosaResponse" in endings[0].received


def test_stalled_headers_do_not_hold_the_server(gunicorn: Gunicorn) -> None:
    stalled = []
    for _ in range(STALLED):
        sock = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=120)
        sock.sendall(b"POST /submission HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
        stalled.append(sock)
    assert get_status(f"{gunicorn.url}/healthz") == 200
    endings = read_all_endings(stalled)
    assert [e.received for e in endings] == [b""] * STALLED  # closed, nothing to answer


def test_a_slow_upload_that_keeps_moving_is_received(gunicorn: Gunicorn) -> None:
    body = multipart(instance(new_instance_id()), {"p.jpg": os.urandom(40_000)})
    pieces = 8
    size = -(-len(body.body) // pieces)
    stalled_for = BODY_TIMEOUT / 4  # a pause well under the timeout, four times over
    headers = {
        "Content-Type": body.content_type,
        "Content-Length": str(len(body.body)),
        **basic("ann"),
    }
    with socket.create_connection(("127.0.0.1", gunicorn.port), timeout=120) as sock:
        sock.sendall(request_head("POST", "/submission", headers))
        # Longer in all than the body timeout: the timeout is between bytes, not in total.
        for start in range(0, len(body.body), size):
            time.sleep(stalled_for)
            sock.sendall(body.body[start : start + size])
        status, _ = read_response_head(sock)
    assert status == 201
