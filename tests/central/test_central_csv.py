"""Central's export URLs: submissions.csv.zip and submissions.csv read back file by file, column
by column, with each of Central's options, fetched through a signed-in pyodk session (and by
POST, as ruODK does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import select

from server.domain.roles import Role
from server.models import AuditEvent, Submission, User
from server.models.submissions import ReviewState
from tests.central.conftest import PASSWORD, CentralServer
from tests.central.export_support import (
    FORM_ID,
    PHOTO,
    SURVEY,
    School,
    as_dicts,
    process,
    publish,
    read_csv,
    read_zip,
    submit,
)

BASE = f"projects/1/forms/{FORM_ID}/submissions"
TOP_HEADER = [
    "SubmissionDate", "district", "subcounty", "school", "loc-gps-Latitude",
    "loc-gps-Longitude", "loc-gps-Altitude", "loc-gps-Accuracy", "loc-services", "pupils",
    "photo", "meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
    "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion",
]  # fmt: skip

ALPHA = School("uuid:exp-a", photo="p1.jpg", classes=(("P1", ("Ann", "Bob")), ("P2", ("Cy",))))
BRAVO = School("uuid:exp-b", name="Bravo", gps="", services="", pupils="")
CHARLIE = School("uuid:exp-c", "D2", "S2", "Charlie", services="water", classes=(("P7", ()),))
DELTA = School("uuid:exp-d", "D2", "S2", "Delta")


@pytest.fixture
def world(central: CentralServer, make_person: Callable[..., User]) -> CentralServer:
    """Alpha and Bravo from S1, Charlie from S2, processed; Delta from S2, not yet."""
    publish(central)
    make_person("admin", Role.admin)
    make_person("enum1", Role.enumerator, ["S1"])
    make_person("enum2", Role.enumerator, ["S2"])
    with central.db() as session:
        session.scalars(
            select(User).where(User.username == "enum1")
        ).one().display_name = "Esther Enum"
    submit(central, "enum1", ALPHA)
    submit(central, "enum1", BRAVO)
    submit(central, "enum2", CHARLIE)
    process(central)
    submit(central, "enum2", DELTA)
    return central


def get(client: Any, path: str, **params: str) -> requests.Response:
    response = client.session.get(path, params=params, stream=True)
    assert response.status_code == 200, response.text
    return response


def user_id(central: CentralServer, username: str) -> str:
    with central.db() as session:
        return str(session.scalars(select(User.id).where(User.username == username)).one())


def test_the_zip_holds_central_tables_newest_first_and_the_media(world, pyodk_client) -> None:
    answer = get(pyodk_client("admin"), f"{BASE}.csv.zip")
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"exp_school.zip\"; filename*=UTF-8''exp_school.zip"
    )
    # Streamed: the length is not known when the response starts.
    assert "Content-Length" not in answer.headers
    files = read_zip(answer.content)
    assert sorted(files) == [
        "exp_school-classes.csv", "exp_school-learners.csv", "exp_school.csv", "media/p1.jpg",
    ]  # fmt: skip
    assert files["media/p1.jpg"] == PHOTO

    top = read_csv(files["exp_school.csv"])
    assert top[0] == TOP_HEADER
    rows = as_dicts(top)
    assert [r["KEY"] for r in rows] == ["uuid:exp-d", "uuid:exp-c", "uuid:exp-b", "uuid:exp-a"]
    delta, charlie, bravo, alpha = rows
    assert alpha["SubmissionDate"].endswith("Z") and len(alpha["SubmissionDate"]) == 24
    assert {k: v for k, v in alpha.items() if k != "SubmissionDate"} == {
        "district": "D1",
        "subcounty": "S1",
        "school": "Alpha",
        "loc-gps-Latitude": "0.31",
        "loc-gps-Longitude": "32.58",
        "loc-gps-Altitude": "1200.0",
        "loc-gps-Accuracy": "5.0",
        "loc-services": "meals library",
        "pupils": "120",
        "photo": "p1.jpg",
        "meta-instanceID": "uuid:exp-a",
        "KEY": "uuid:exp-a",
        "SubmitterID": user_id(world, "enum1"),
        "SubmitterName": "Esther Enum",
        "AttachmentsPresent": "1",
        "AttachmentsExpected": "1",
        "Status": "",
        "ReviewState": "",
        "DeviceID": "",
        "Edits": "0",
        "FormVersion": "1",
    }
    # Blank answers are empty cells.
    assert bravo["loc-gps-Latitude"] == bravo["loc-services"] == bravo["pupils"] == ""
    assert bravo["AttachmentsExpected"] == "0"
    assert (charlie["school"], charlie["SubmitterName"]) == ("Charlie", "enum2")
    # Not processed yet: listed with its metadata, its answers to come.
    assert delta["SubmitterID"] == user_id(world, "enum2") and delta["FormVersion"] == "1"
    assert delta["school"] == delta["meta-instanceID"] == ""

    assert read_csv(files["exp_school-classes.csv"]) == [
        ["cname", "PARENT_KEY", "KEY"],
        ["P7", "uuid:exp-c", "uuid:exp-c/classes[1]"],
        ["P1", "uuid:exp-a", "uuid:exp-a/classes[1]"],
        ["P2", "uuid:exp-a", "uuid:exp-a/classes[2]"],
    ]
    assert read_csv(files["exp_school-learners.csv"]) == [
        ["lname", "PARENT_KEY", "KEY"],
        ["Ann", "uuid:exp-a/classes[1]", "uuid:exp-a/classes[1]/learners[1]"],
        ["Bob", "uuid:exp-a/classes[1]", "uuid:exp-a/classes[1]/learners[2]"],
        ["Cy", "uuid:exp-a/classes[2]", "uuid:exp-a/classes[2]/learners[1]"],
    ]
    with world.db() as session:
        audits = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "form.submission.export")
        ).all()
        assert [(a.target_id, a.details["format"]) for a in audits] == [(FORM_ID, "csv.zip")]


def test_without_attachments_and_the_top_table_alone(world, pyodk_client) -> None:
    client = pyodk_client("admin")
    bare = get(client, f"{BASE}.csv.zip", attachments="false")
    assert 'filename="exp_school.csv.zip"' in bare.headers["Content-Disposition"]
    files = read_zip(bare.content)
    assert sorted(files) == ["exp_school-classes.csv", "exp_school-learners.csv", "exp_school.csv"]

    table = get(client, f"{BASE}.csv")
    assert table.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="exp_school.csv"' in table.headers["Content-Disposition"]
    top = read_csv(table.content)
    # The same table as in the zip (but for the moment each was made).
    assert [r[1:] for r in top] == [r[1:] for r in read_csv(files["exp_school.csv"])]
    # AttachmentsExpected is the submission's, repeats included, in the table alone too.
    assert as_dicts(top)[-1]["AttachmentsExpected"] == "1"


def test_group_paths_false_names_columns_by_the_field_alone(world, pyodk_client) -> None:
    top = read_csv(get(pyodk_client("admin"), f"{BASE}.csv", groupPaths="false").content)
    assert top[0][4:12] == [
        "gps-Latitude", "gps-Longitude", "gps-Altitude", "gps-Accuracy", "services", "pupils",
        "photo", "instanceID",
    ]  # fmt: skip
    zipped = read_zip(get(pyodk_client("admin"), f"{BASE}.csv.zip", groupPaths="False").content)
    assert read_csv(zipped["exp_school.csv"])[0] == top[0]


def test_split_select_multiples_adds_a_column_per_choice_made(world, pyodk_client) -> None:
    table = read_csv(get(pyodk_client("admin"), f"{BASE}.csv", splitSelectMultiples="true").content)
    at = table[0].index("loc-services")
    # The choices answered, sorted ("water" only in Charlie's; nobody chose a fourth).
    assert table[0][at : at + 4] == [
        "loc-services", "loc-services/library", "loc-services/meals", "loc-services/water",
    ]  # fmt: skip
    rows = {r["KEY"]: r for r in as_dicts(table)}
    picked = {k: [r["loc-services/library"], r["loc-services/meals"], r["loc-services/water"]]
              for k, r in rows.items()}  # fmt: skip
    assert picked == {
        "uuid:exp-a": ["1", "1", "0"],
        "uuid:exp-b": ["0", "0", "0"],
        "uuid:exp-c": ["0", "0", "1"],
        "uuid:exp-d": ["0", "0", "0"],  # not processed yet
    }
    assert rows["uuid:exp-a"]["loc-services"] == "meals library"


def test_deleted_fields_brings_back_a_dropped_question(world, pyodk_client) -> None:
    publish(world, "2", [row for row in SURVEY if row[1] != "pupils"])
    submit(world, "enum1", School("uuid:exp-e", name="Echo", version="2"))
    process(world)
    client = pyodk_client("admin")
    current = as_dicts(read_csv(get(client, f"{BASE}.csv").content))
    assert "pupils" not in current[0]
    merged = read_csv(get(client, f"{BASE}.csv", deletedFields="true").content)
    # Back in its place from version 1.
    assert merged[0][merged[0].index("loc-services") + 1] == "pupils"
    rows = {r["KEY"]: r for r in as_dicts(merged)}
    assert (rows["uuid:exp-a"]["pupils"], rows["uuid:exp-e"]["pupils"]) == ("120", "")
    assert (rows["uuid:exp-a"]["FormVersion"], rows["uuid:exp-e"]["FormVersion"]) == ("1", "2")


def test_an_edit_replaces_its_original_and_counts(world, pyodk_client) -> None:
    submit(world, "enum1", School("uuid:exp-b2", name="Bravo edited", deprecated_id="uuid:exp-b"))
    process(world)
    rows = {
        r["KEY"]: r for r in as_dicts(read_csv(get(pyodk_client("admin"), f"{BASE}.csv").content))
    }
    assert "uuid:exp-b" not in rows
    edited = rows["uuid:exp-b2"]
    assert (edited["school"], edited["Edits"], edited["ReviewState"]) == (
        "Bravo edited",
        "1",
        "edited",
    )
    with world.db() as session:
        sub = session.scalars(
            select(Submission).where(Submission.instance_id == "uuid:exp-a")
        ).one()
        sub.review_state = ReviewState.has_issues
    rows = {
        r["KEY"]: r for r in as_dicts(read_csv(get(pyodk_client("admin"), f"{BASE}.csv").content))
    }
    assert rows["uuid:exp-a"]["ReviewState"] == "hasIssues"


def test_post_exports_as_ruodk_asks(world) -> None:
    """ruODK's submission_export: the keys first, then a POST with Basic auth and no body."""
    auth = ("admin", PASSWORD)
    keys = requests.get(f"{world.url}/v1/{BASE}/keys", auth=auth, timeout=30)
    assert (keys.status_code, keys.json()) == (200, [])
    answer = requests.post(
        f"{world.url}/v1/{BASE}.csv.zip", params={"attachments": "false"}, auth=auth, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert "media/p1.jpg" not in read_zip(answer.content)
    table = requests.post(
        f"{world.url}/v1/{BASE}.csv", data={"1": "a passphrase"}, auth=auth, timeout=30
    )
    assert table.status_code == 200 and len(read_csv(table.content)) == 5
