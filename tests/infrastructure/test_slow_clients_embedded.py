"""Clients that stall mid-body, or announce a body far too large, against `dmip serve`
(waitress, SQLite, the file queue), started the way a user starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.embedded.http_server import waitress_options
from server.settings import Settings
from tests.infrastructure.raw_http import (
    ANSWER_DEADLINE,
    get_status,
    read_all_endings,
    read_response_head,
    read_until_closed,
    request_head,
    stall,
)
from tests.paths import ROOT

pytestmark = pytest.mark.integration

DMIP = Path(sys.executable).parent / "dmip"
BODY_TIMEOUT = 2
# Small, so that a body of exactly the limit is quick to send.
LIMIT = 200_000
STALLED = 48
STALL_DEADLINE = 60.0
MIB = 1024 * 1024
MULTIPART = "multipart/form-data; boundary=x"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, process: subprocess.Popen[bytes], port: int, out: Path) -> None:
        self.process, self.port, self.out = process, port, out
        self.url = f"http://127.0.0.1:{port}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=ANSWER_DEADLINE)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMIP_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        DMIP_DATA_DIR=str(tmp / "data"),
        DMIP_BODY_TIMEOUT=str(BODY_TIMEOUT),
        DMIP_MAX_SUBMISSION_BYTES=str(LIMIT),
    )
    port = _free_port()
    out = tmp / "serve.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [str(DMIP), "serve", "--port", str(port), "--no-demo"],
            cwd=tmp, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(process, port, out)
    try:
        for _ in range(600):  # bounded by count, 0.2 s apart
            if process.poll() is not None:
                raise AssertionError(f"dmip serve exited:\n{out.read_text(errors='replace')}")
            try:
                if get_status(f"{served.url}/healthz", timeout=5) == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"dmip serve did not answer:\n{out.read_text(errors='replace')}")
        yield served
    finally:
        process.send_signal(signal.SIGTERM)  # it stops its worker itself
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_stalled_bodies_do_not_hold_the_server(served: Served) -> None:
    headers = {"Content-Type": MULTIPART}
    stalled = [stall(served.port, headers, LIMIT, b"--x\r\n") for _ in range(STALLED)]
    assert get_status(f"{served.url}/healthz") == 200
    # waitress closes a connection that sent nothing for the body timeout; its default
    # (two minutes, looked for every 30 s) would outlast this deadline, still generous.
    endings = read_all_endings(stalled, deadline=STALL_DEADLINE)
    assert [e.status for e in endings] == [None] * STALLED, [e.received[:200] for e in endings]


def test_an_announced_oversize_body_is_refused_before_it_is_sent(served: Served) -> None:
    with served.connect() as sock:
        # The headers alone: waitress must answer without waiting for 400 MB.
        sock.sendall(
            request_head(
                "POST", "/submission", {"Content-Type": MULTIPART, "Content-Length": str(400 * MIB)}
            )
        )
        ending = read_until_closed(sock)
    assert ending.status == 413, ending.received[:300]
    assert b"Connection: close" in ending.received


def test_the_limit_collect_is_told_is_the_limit_waitress_keeps(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(request_head("HEAD", "/submission", {}))
        status, headers = read_response_head(sock)
    assert status == 401  # the challenge, with the limit as Collect reads it
    assert headers["x-openrosa-accept-content-length"] == str(LIMIT)

    with served.connect() as sock:
        sock.sendall(
            request_head(
                "POST", "/submission", {"Content-Type": MULTIPART, "Content-Length": str(LIMIT)}
            )
            + b"x" * LIMIT
        )
        status, _ = read_response_head(sock)
    assert status == 401  # read in full and passed to the app, which asks for credentials

    with served.connect() as sock:
        sock.sendall(
            request_head(
                "POST", "/submission", {"Content-Type": MULTIPART, "Content-Length": str(LIMIT + 1)}
            )
        )
        assert read_until_closed(sock).status == 413


def test_the_default_limit_refuses_400_mb_and_times_out_stalls() -> None:
    env = {"DMIP_DATA_DIR": "/nonexistent", "DMIP_SECRET_KEY": "x" * 32}
    options = waitress_options(Settings.from_env(env), threads=8)
    assert options["max_request_body_size"] == Settings.max_submission_bytes + 1 < 400 * MIB
    assert options["channel_timeout"] == Settings.body_timeout
    assert options["cleanup_interval"] <= options["channel_timeout"]
