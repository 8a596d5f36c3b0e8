"""`dmip serve` as a user runs it: one command, no PostgreSQL, no Redis.

Started as a subprocess in a temporary data directory; a submission is POSTed the way ODK
Collect sends it and must come out processed by the worker that `serve` started.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from server.db import Database
from server.domain.xform.schema import read_form
from server.models import Submission, SubmissionRow
from server.models.submissions import ProcessingStatus

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 180
DMIP = Path(sys.executable).parent / "dmip"
FORM_ID = "dmip_process_milestones"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, process: subprocess.Popen[bytes], out: Path, data_dir: Path, port: int):
        self.process, self.out, self.data_dir, self.port = process, out, data_dir, port
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        text = self.out.read_text(errors="replace")
        worker_log = self.data_dir / "logs" / "worker.log"
        if worker_log.exists():
            text += "\n--- worker.log\n" + worker_log.read_text(errors="replace")[-4000:]
        return text

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(
                    f"gave up after {DEADLINE_SECONDS}s waiting for {what}\n{self.output()}"
                )
            if self.process.poll() is not None:
                pytest.fail(f"dmip serve exited ({self.process.returncode})\n{self.output()}")
            time.sleep(0.3)

    def worker_pids(self) -> set[int]:
        """Processes whose command line names this data directory: the worker and its beat."""
        marker = str(self.data_dir / "celerybeat-schedule").encode()
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if marker in (entry / "cmdline").read_bytes():
                        pids.add(int(entry.name))
                except OSError:
                    continue
        return pids


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    if not Path("/proc").is_dir():
        pytest.skip("process checks read /proc")
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMIP_")}
    env["DMIP_DATA_DIR"] = str(data_dir)
    port = _free_port()
    out = tmp_path / "serve.out"
    workdir = tmp_path / "elsewhere"  # not the checkout: it must work from any directory
    workdir.mkdir()
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [str(DMIP), "serve", "--port", str(port), "--demo-districts", "1"],
            cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(process, out, data_dir, port)
    try:
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in served.worker_pids():  # never leave a worker behind, even on failure
            os.kill(pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return True  # 401 is an answer
    except OSError:
        return False
    return True


def _login(output: str, username: str) -> tuple[str, str]:
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == username:
            return cells[1], cells[3].rstrip(",")
    raise AssertionError(f"no login for {username} in:\n{output}")


def _get(url: str, auth: str) -> bytes:
    request = urllib.request.Request(
        url, headers={"Authorization": auth, "X-OpenRosa-Version": "1.0"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def _instance(form: Any, district: str, instance_id: str) -> bytes:
    """A filled-in instance: every always-asked question answered with its first valid value.

    Questions with a relevance condition are left out, as Collect leaves out the ones that were
    not relevant.
    """
    root = etree.Element(form.root_name, id=form.xml_form_id, version=form.version)
    nodes: dict[str, etree._Element] = {f"/{form.root_name}": root}
    skipped: list[str] = []
    for field in form.fields:
        path = field["path"]
        parent_path = path.rsplit("/", 1)[0]
        if field.get("relevant") or parent_path not in nodes or field.get("calculate"):
            skipped.append(path)
            continue
        element = etree.SubElement(nodes[parent_path], field["name"])
        nodes[path] = element
        if field["kind"] != "field":
            continue
        if field["name"] == "district":
            element.text = district
        elif field["name"] == "instanceID":
            element.text = instance_id
        elif field.get("choices"):
            element.text = field["choices"][0]
        elif field.get("choices_file"):
            element.text = "UG-C"
        elif field.get("type") == "date":
            element.text = "2025-01-15"
        elif field.get("type") == "int":
            element.text = "1"
        elif field.get("required"):
            element.text = "answer"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _post_submission(url: str, auth: str, xml: bytes) -> int:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{url}/submission",
        data=body,
        method="POST",
        headers={
            "Authorization": auth,
            "X-OpenRosa-Version": "1.0",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{exc.code}: {exc.read().decode(errors='replace')}") from None


def test_one_command_receives_processes_and_stops_cleanly(served: Served) -> None:
    served.wait_for(lambda: _answers(f"{served.url}/formList"), "the server to answer")
    served.wait_for(lambda: len(served.worker_pids()) > 0, "the worker to start")
    output = served.output()
    assert f"Server URL for ODK Collect: http://127.0.0.1:{served.port}" in output
    password, district = _login(output, "enumerator")
    assert password and district.startswith("UG-")

    auth = "Basic " + base64.b64encode(f"enumerator:{password}".encode()).decode()
    version = read_form(_get(_download_url(served.url, auth), auth))
    instance_id = f"uuid:{uuid.uuid4()}"
    status = _post_submission(served.url, auth, _instance(version, district, instance_id))
    assert status == 201

    database = Database(f"sqlite:///{served.data_dir / 'dmip.sqlite3'}")
    try:

        def outcome() -> Submission | None:
            with database.session() as session:
                return session.scalar(
                    select(Submission).where(
                        Submission.instance_id == instance_id,
                        Submission.processing_status != ProcessingStatus.received,
                    )
                )

        served.wait_for(lambda: outcome() is not None, "the worker to process the submission")
        submission = outcome()
        assert submission is not None
        assert submission.processing_status is ProcessingStatus.processed, submission.failure_reason
        with database.session() as session:
            top = session.scalar(
                select(SubmissionRow).where(
                    SubmissionRow.submission_id == submission.id, SubmissionRow.repeat_path == ""
                )
            )
            assert top is not None and top.data["district"] == district

        # The first start loaded demo data for the demo district, and the worker processes it.
        assert "demo submissions (cycle" in output

        def demo_waiting() -> int | None:
            with database.session() as session:
                return session.scalar(
                    select(func.count()).where(
                        Submission.demo.is_(True),
                        Submission.processing_status == ProcessingStatus.received,
                    )
                )

        served.wait_for(lambda: demo_waiting() == 0, "the worker to process the demo data")
        with database.session() as session:
            states = Counter(
                session.scalars(select(Submission.processing_status).where(Submission.demo))
            )
        assert states.keys() == {ProcessingStatus.processed} and states.total() > 50
    finally:
        database.dispose()

    # A worker that dies is started again.
    first = served.worker_pids()
    os.killpg(os.getpgid(min(first)), signal.SIGKILL)

    def restarted() -> bool:
        # One look at /proc per check: two could see the old worker alive, then nothing.
        now = served.worker_pids()
        return bool(now) and not (now & first)

    served.wait_for(restarted, "the worker to be restarted")
    served.wait_for(
        lambda: "restarting it in 2 s (restart 1)" in served.output(),
        "the supervisor to say it restarted",
    )

    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=120)
    assert "Stopped." in served.output()
    assert served.worker_pids() == set()


def _download_url(url: str, auth: str) -> str:
    """Where formList says the form is, as Collect finds it."""
    listing = etree.fromstring(_get(f"{url}/formList", auth))
    ns = {"x": "http://openrosa.org/xforms/xformsList"}
    for xform in listing.iterfind("x:xform", ns):
        if xform.findtext("x:formID", namespaces=ns) == FORM_ID:
            return str(xform.findtext("x:downloadUrl", namespaces=ns))
    raise AssertionError(f"{FORM_ID} is not offered to the enumerator")
