"""Who gets what from Central's export URLs: scopes, roles, curl with Basic auth (and its
challenge), and bad requests in Central's error shape."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from server.domain.roles import Role
from server.models import User
from server.models.forms import VersionState
from server.storage.blobs import BlobStore
from tests.central.conftest import PASSWORD, CentralServer
from tests.central.export_support import (
    FORM_ID,
    School,
    as_dicts,
    process,
    publish,
    read_csv,
    read_zip,
    submit,
)
from tests.fixtures.openrosa import publish as publish_fixture

URL = f"/v1/projects/1/forms/{FORM_ID}/submissions"


@pytest.fixture
def world(central: CentralServer, make_person: Callable[..., User]) -> CentralServer:
    """Two schools in D1 (S1), one in D2 (S2), and a person of each role."""
    publish(central)
    make_person("admin", Role.admin)
    make_person("coord", Role.coordinator, ["D1"])
    make_person("staff", Role.subcounty_staff, ["S2"])
    make_person("enum1", Role.enumerator, ["S1"])
    make_person("enum2", Role.enumerator, ["S2"])
    submit(central, "enum1", School("uuid:s1-a", classes=(("P1", ("Ann",)),)))
    submit(central, "enum1", School("uuid:s1-b"))
    submit(central, "enum2", School("uuid:s2-c", "D2", "S2", classes=(("P9", ("Zed",)),)))
    process(central)
    return central


def export(central: CentralServer, username: str, suffix: str = ".csv.zip", **params: str):
    return requests.get(
        f"{central.url}{URL}{suffix}", params=params, auth=(username, PASSWORD), timeout=30
    )


def keys(data: bytes) -> list[str]:
    return [r["KEY"] for r in as_dicts(read_csv(data))]


def test_a_coordinator_or_sub_county_officer_exports_their_area_only(world) -> None:
    files = read_zip(export(world, "coord").content)
    assert keys(files["exp_school.csv"]) == ["uuid:s1-b", "uuid:s1-a"]
    assert [r["PARENT_KEY"] for r in as_dicts(read_csv(files["exp_school-classes.csv"]))] == [
        "uuid:s1-a"
    ]
    assert keys(files["exp_school-learners.csv"]) == ["uuid:s1-a/classes[1]/learners[1]"]
    assert keys(export(world, "staff", ".csv").content) == ["uuid:s2-c"]
    assert keys(export(world, "admin", ".csv").content) == ["uuid:s2-c", "uuid:s1-b", "uuid:s1-a"]


def test_enumerators_export_nothing(world) -> None:
    refused = export(world, "enum1")
    assert refused.status_code == 403
    assert refused.json()["code"] == "403.1"
    assert export(world, "enum1", "/keys").status_code == 403


def test_curl_with_basic_auth_downloads_after_the_challenge(world, tmp_path: Path) -> None:
    anonymous = requests.get(f"{world.url}{URL}.csv", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "401.2"
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    out = tmp_path / "export.zip"
    # --anyauth asks without credentials first and answers the server's challenge: what
    # Excel's "From Web" does too.
    done = subprocess.run(
        ["curl", "-sS", "--fail", "--anyauth", "-u", f"coord:{PASSWORD}", "-o", str(out),
         "-w", "%{http_code} %{num_connects}", f"{world.url}{URL}.csv.zip?attachments=false"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "200"
    assert keys(read_zip(out.read_bytes())["exp_school.csv"]) == ["uuid:s1-b", "uuid:s1-a"]
    wrong = subprocess.run(
        ["curl", "-sS", "-u", "coord:wrong", "-o", "/dev/null", "-w", "%{http_code}",
         f"{world.url}{URL}.csv"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert wrong.stdout == "401"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"attachments": "no"}, "attachments"),
        ({"groupPaths": "1"}, "groupPaths"),
        ({"deletedFields": "yes"}, "deletedFields"),
        ({"splitSelectMultiples": "truee"}, "splitSelectMultiples"),
    ],
)
def test_an_option_that_is_not_true_or_false_is_a_400(world, params, field) -> None:
    answer = export(world, "admin", **params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "400.8"
    assert body["details"]["field"] == field and field in body["message"]


def test_filter_is_not_supported_here(world) -> None:
    answer = export(world, "admin", **{"$filter": "__system/submitterId eq 5"})
    assert answer.status_code == 501
    assert answer.json()["code"] == "501.1" and "$filter" in answer.json()["message"]


def test_an_unknown_or_unpublished_form_is_not_found(world) -> None:
    for path in (
        "/v1/projects/1/forms/nope/submissions.csv.zip",
        "/v1/projects/1/forms/nope/submissions.csv",
        "/v1/projects/2/forms/exp_school/submissions.csv",
    ):
        answer = requests.get(f"{world.url}{path}", auth=("admin", PASSWORD), timeout=30)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "404.1"
    with world.db() as session:
        blobs = BlobStore(world.settings.attachments_dir)
        publish_fixture(
            session, "drafted", state=VersionState.draft, make_current=False, blobs=blobs
        )
    draft_only = requests.get(
        f"{world.url}/v1/projects/1/forms/drafted/submissions.csv",
        auth=("admin", PASSWORD),
        timeout=30,
    )
    assert draft_only.status_code == 404


def test_a_form_without_submissions_is_its_headers(world) -> None:
    with world.db() as session:
        publish_fixture(session, "empty_form")
    answer = requests.get(
        f"{world.url}/v1/projects/1/forms/empty_form/submissions.csv.zip",
        auth=("admin", PASSWORD),
        timeout=30,
    )
    files = read_zip(answer.content)
    assert list(files) == ["empty_form.csv"]
    assert read_csv(files["empty_form.csv"])[0][:3] == ["SubmissionDate", "district", "subcounty"]
    assert len(read_csv(files["empty_form.csv"])) == 1
