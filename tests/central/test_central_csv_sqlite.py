"""The export URLs in the embedded mode's SQLite: the same files as on PostgreSQL (the row
source reads JSON with SQLite's own functions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from server.domain.roles import Role
from server.services.forms import publish_xlsform
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.central.export_support import FORM_ID, School, as_dicts, read_csv, read_zip, xlsform
from tests.fixtures.openrosa import basic, multipart, seed_org
from workers.processing import process_waiting

PASSWORD = "sqlite-pass-123"


@pytest.fixture
def embedded(sqlite_settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(sqlite_settings)
    db = app.extensions["dmip"].db
    with db.session() as session:
        seed_org(session)
        create_user(session, "admin", PASSWORD, Role.admin, sqlite_settings.auth_realm)
        create_user(session, "enum", PASSWORD, Role.enumerator, sqlite_settings.auth_realm, ["S1"])
        publish_xlsform(
            session,
            BlobStore(sqlite_settings.attachments_dir),
            xlsform("1"),
            f"{FORM_ID}.xlsx",
        )
    client = app.test_client()
    for school in (
        School("uuid:q-1", classes=(("P1", ("Ann", "Bob")), ("P2", ("Cy",)))),
        School("uuid:q-2", services="water", gps="", pupils=""),
    ):
        body = multipart(school.xml())
        answer = client.post(
            "/submission",
            data=body.body,
            headers={
                "Content-Type": body.content_type,
                "X-OpenRosa-Version": "1.0",
                **basic("enum", PASSWORD),
            },
        )
        assert answer.status_code == 201, answer.data
    process_waiting(db)
    yield client
    db.dispose()


def test_sqlite_exports_the_same_tables(embedded: FlaskClient) -> None:
    answer = embedded.get(
        f"/v1/projects/1/forms/{FORM_ID}/submissions.csv.zip?splitSelectMultiples=true",
        headers=basic("admin", PASSWORD),
    )
    assert answer.status_code == 200, answer.data
    files = read_zip(answer.data)
    top = {r["KEY"]: r for r in as_dicts(read_csv(files["exp_school.csv"]))}
    assert list(top) == ["uuid:q-2", "uuid:q-1"]
    first = top["uuid:q-1"]
    assert (first["pupils"], first["loc-gps-Latitude"], first["loc-gps-Altitude"]) == (
        "120",
        "0.31",
        "1200.0",
    )
    assert (first["loc-services"], first["loc-services/meals"], first["loc-services/water"]) == (
        "meals library",
        "1",
        "0",
    )
    assert top["uuid:q-2"]["pupils"] == top["uuid:q-2"]["loc-gps-Latitude"] == ""
    assert [r["KEY"] for r in as_dicts(read_csv(files["exp_school-learners.csv"]))] == [
        "uuid:q-1/classes[1]/learners[1]",
        "uuid:q-1/classes[1]/learners[2]",
        "uuid:q-1/classes[2]/learners[1]",
    ]
