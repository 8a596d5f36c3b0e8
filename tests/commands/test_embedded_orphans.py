"""A `dmip serve` killed outright (SIGKILL, the OOM killer) leaves no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")

SERVER = """
import sys, time
from pathlib import Path
from server.embedded.supervisor import WorkerSupervisor
supervisor = WorkerSupervisor(
    [sys.executable, "-c", "import time; time.sleep(600)"], {}, Path(sys.argv[1]), print
)
supervisor.start()
print(supervisor.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting to be reaped by init is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_the_worker_dies_with_a_killed_server(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "worker.log")],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert server.stdout is not None
    with server.stdout:
        worker_pid = int(server.stdout.readline())
        assert _alive(worker_pid)
        server.send_signal(signal.SIGKILL)
        server.wait()
    # The kernel signals the worker when its parent dies; give the signal time to land.
    for _ in range(200):
        if not _alive(worker_pid):
            break
        time.sleep(0.05)
    assert not _alive(worker_pid), "the worker outlived the server"
