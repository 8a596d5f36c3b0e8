"""The receiver behind a real gunicorn: chunked bodies, a 100 MB attachment streamed to disk
without growing the worker's memory, and concurrent identical POSTs."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.models import Attachment, Submission
from server.storage.blobs import BlobStore
from tests.fixtures.openrosa import (
    add_user,
    basic,
    instance,
    multipart,
    new_instance_id,
    publish,
    seed_org,
)

MIB = 1024 * 1024


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        (pid,) = children.read_text().split()
        return int(pid)

    def peak_rss(self) -> int:
        """The worker's high-water mark of resident memory, in bytes."""
        status = Path(f"/proc/{self.worker_pid()}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        assert match is not None
        return int(match.group(1)) * 1024


@pytest.fixture
def server(settings, db, tmp_path: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    env = dict(
        os.environ,
        DMIP_DATA_DIR=str(settings.data_dir),
        DMIP_DATABASE_URL=settings.database_url,
        DMIP_BROKER_URL=settings.broker_url,
        DMIP_SECRET_KEY=settings.secret_key,
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--worker-class",
                "gthread",
                "--threads",
                "8",
                "server.app:create_app()",
            ],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        port = _wait_for_port(process, log)
        yield Server(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    # Poll gunicorn's own log for its bound port and a booted worker; bounded by count.
    for _ in range(600):
        text = log.read_text(errors="replace")
        port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if port and "Booting worker" in text:
            return int(port.group(1))
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{text}")
        threading.Event().wait(0.05)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def _chunked_post(server: Server, content_type: str, chunks: Iterator[bytes]):  # type: ignore[no-untyped-def]
    connection = server.connection()
    try:
        connection.request(
            "POST",
            "/submission",
            body=chunks,
            headers={"Content-Type": content_type, **basic("ann")},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_chunked_submission_through_gunicorn(server, db) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    # Random bytes, like a real photo: binary content stresses the multipart boundary search.
    photo = os.urandom(300_000)
    body = multipart(instance(iid, photo="p.jpg"), {"p.jpg": photo})
    pieces = (body.body[i : i + 7000] for i in range(0, len(body.body), 7000))
    status, answer, headers = _chunked_post(server, body.content_type, pieces)
    assert status == 201, answer
    assert b"submit_success" in answer
    assert headers["X-OpenRosa-Version"] == "1.0"
    assert list(headers).count("Date") == 1
    row = db.scalar(select(Submission).where(Submission.instance_id == iid))
    assert [(a.name, a.sha256) for a in row.attachments] == [
        ("p.jpg", hashlib.sha256(photo).hexdigest())
    ]


def test_100_mb_attachment_is_streamed_to_disk(server, db, settings) -> None:  # type: ignore[no-untyped-def]
    # Warm the worker up (imports, connection pool, first scrypt) before taking the baseline.
    warm = multipart(instance(new_instance_id()), {"w.jpg": b"w" * 1000})
    assert _chunked_post(server, warm.content_type, iter([warm.body]))[0] == 201
    baseline = server.peak_rss()

    iid = new_instance_id()
    size = 100 * MIB
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    for _ in range(size // MIB):
        digest.update(block)
    template = multipart(instance(iid, photo="video.mp4"), {"video.mp4": b"@@DATA@@"})
    head, tail = template.body.split(b"@@DATA@@")

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(size // MIB):
            yield block
        yield tail

    status, answer, _ = _chunked_post(server, template.content_type, chunks())
    assert status == 201, answer
    growth = server.peak_rss() - baseline
    assert growth < 50 * MIB, f"worker memory grew by {growth / MIB:.1f} MiB"
    row = db.scalar(select(Submission).where(Submission.instance_id == iid))
    (attachment,) = row.attachments
    assert attachment.size == size and attachment.sha256 == digest.hexdigest()
    assert BlobStore(settings.attachments_dir).path(attachment.sha256).stat().st_size == size
    assert list(settings.uploads_dir.iterdir()) == []


def test_concurrent_identical_posts_store_one_row(server, db) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    body = multipart(instance(iid, photo="p.jpg"), {"p.jpg": b"same photo" * 100})
    threads = 8
    barrier = threading.Barrier(threads)
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        connection = server.connection()
        try:
            barrier.wait()
            connection.request(
                "POST",
                "/submission",
                body=body.body,
                headers={"Content-Type": body.content_type, **basic("ann")},
            )
            response = connection.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)
        finally:
            connection.close()

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses == [201] * threads, server.log.read_text(errors="replace")
    assert _count(db, Submission) == 1
    assert _count(db, Attachment) == 1
