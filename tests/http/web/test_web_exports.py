"""Export pages: who may start, see and download an export; a small export built in the request;
a large one (with attachments) sent to a real Celery worker, its progress read from the status
URL, the file downloaded."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server import jobs
from server.db import utcnow
from server.models import ExportJob
from server.settings import Settings
from tests.exports.test_exports import PHOTO, TOP_HEADER, World, build_world, read_csv
from tests.http.web.test_web_submissions import client_for
from tests.web_client import csrf_token

ROLES = ("anonymous", "admin", "coordinator", "subcounty_staff", "enumerator")


@pytest.fixture
def world(app: Flask, settings: Settings) -> Iterator[World]:
    w = build_world(settings)
    yield w
    w.db.dispose()


def start(client: FlaskClient, form_id: int, **data: str) -> tuple[int, str | None]:
    response = client.post(
        f"/exports/forms/{form_id}", data={"csrf_token": csrf_token(client), **data}
    )
    return response.status_code, response.location


def get(client: FlaskClient, path: str) -> TestResponse:
    """GET, read the body and close: a file response holds its file open until closed."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def keys_in(zip_bytes: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        rows = read_csv(z.read("ex_school.csv"))
    return [r[TOP_HEADER.index("KEY")] for r in rows[1:]]


@pytest.mark.parametrize("role", ROLES)
def test_who_may_export(app: Flask, world: World, role: str) -> None:
    client = client_for(app, role)
    if role == "anonymous":
        response = client.post(f"/exports/forms/{world.form_id}", data={"format": "csv"})
        assert response.status_code in (400, 401)  # no session, no CSRF token: refused
        assert client.get("/exports/1").status_code == 302
        return
    status, location = start(client, world.form_id, format="csv")
    if role == "enumerator":
        assert status == 403
        return
    assert status == 302 and location is not None
    job_page = client.get(location)
    assert job_page.status_code == 200 and "Ready." in job_page.get_data(as_text=True)
    download = get(client, location + "/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    expected = {
        "admin": ["uuid:ex-1", "uuid:ex-2", "uuid:ex-3"],
        "coordinator": ["uuid:ex-1", "uuid:ex-2"],
        "subcounty_staff": ["uuid:ex-1", "uuid:ex-2"],
    }[role]
    # The file holds only what the user may see.
    assert keys_in(download.data) == expected


def test_a_filtered_export_follows_the_table_filters(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    _, location = start(client, world.form_id, format="csv", org_unit="D2")
    assert location is not None
    assert keys_in(get(client, location + "/download").data) == ["uuid:ex-3"]
    status = client.get(location + "/status").get_json()
    assert status["state"] == "done" and status["progress"] == 1.0
    assert status["download"].endswith("/download")


def test_bad_requests_are_refused_in_words(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    status, _ = start(client, world.form_id, format="ods")
    assert status == 400
    response = client.post(
        f"/exports/forms/{world.form_id}",
        data={"csrf_token": csrf_token(client), "format": "csv", "from": "last week"},
    )
    assert response.status_code == 400
    assert "is not a date" in response.get_data(as_text=True)
    assert client.get("/exports/424242").status_code == 404
    assert start(client, 424242, format="csv")[0] == 404


def test_only_the_requester_or_an_admin_sees_a_job(app: Flask, world: World) -> None:
    coordinator = client_for(app, "coordinator")
    _, location = start(coordinator, world.form_id, format="xlsx")
    assert location is not None
    for path in ("", "/status", "/download"):
        assert get(client_for(app, "subcounty_staff"), location + path).status_code == 403
        assert get(client_for(app, "enumerator"), location + path).status_code == 403
    admin_download = get(client_for(app, "admin"), location + "/download")
    assert admin_download.status_code == 200
    assert admin_download.mimetype.endswith("spreadsheetml.sheet")


def test_a_queued_job_without_a_worker_says_so(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    _, location = start(client, world.form_id, format="csv", with_attachments="1")
    assert location is not None
    page = client.get(location).get_data(as_text=True)
    assert "Waiting for a worker" in page and "Refresh to see progress" in page
    assert 'data-status-url="' in page and "/exports/progress.js" in page
    assert client.get(location + "/status").get_json()["state"] == "queued"
    refused = client.get(location + "/download")
    assert refused.status_code == 409 and "not ready" in refused.get_data(as_text=True)
    script = client.get("/exports/progress.js")
    assert script.mimetype == "text/javascript" and "export-progress" in script.get_data(
        as_text=True
    )


def test_an_export_past_its_retention_says_its_file_was_deleted(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    _, location = start(client, world.form_id, format="csv")  # small: built in the request
    assert location is not None
    assert get(client, location + "/download").status_code == 200
    job_id = int(location.rstrip("/").rsplit("/", 1)[1])
    with world.db.session() as s:
        job = s.get(ExportJob, job_id)
        assert job is not None and job.file_path
        path = Path(job.file_path)
    later = utcnow() + dt.timedelta(days=8)
    assert jobs.expire(world.db, [ExportJob], dt.timedelta(days=7), now=later) == 1
    assert not path.exists()
    page = client.get(location).get_data(as_text=True)
    assert "file was deleted 7 days after it was made" in page
    assert "Refresh to see progress" not in page
    assert client.get(location + "/status").get_json()["state"] == "expired"
    assert get(client, location + "/download").status_code == 409


@pytest.mark.integration
def test_a_large_export_runs_in_a_real_worker_and_downloads(
    app: Flask, world: World, settings: Settings, tmp_path: Path
) -> None:
    from tests.workers.celery_processes import wait_for, worker

    client = client_for(app, "coordinator")
    log = tmp_path / "worker.log"
    with worker(settings, log, "--pool=solo", "--concurrency=1"):
        _, location = start(client, world.form_id, format="csv", with_attachments="1")
        assert location is not None
        seen: list[float] = []

        def done() -> bool:
            status = client.get(location + "/status").get_json()
            seen.append(status["progress"])
            return bool(status["state"] in ("done", "failed"))

        wait_for(done, "the export to finish", [log])
    status = client.get(location + "/status").get_json()
    assert (status["state"], status["progress"], status["error"]) == ("done", 1.0, None)
    assert seen == sorted(seen)
    download = get(client, status["download"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as z:
        assert z.read("media/p1.jpg") == PHOTO
    assert keys_in(download.data) == ["uuid:ex-1", "uuid:ex-2"]
    with world.db.session() as s:
        job = s.get(ExportJob, int(location.rsplit("/", 1)[1]))
        assert job is not None and Path(job.file_path or "").parent == settings.data_dir / "exports"
