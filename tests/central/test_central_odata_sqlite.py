"""The OData feed in the embedded mode's SQLite: the same rows and the same filters as on
PostgreSQL (its questions read with SQLite's JSON functions), and keyset paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from server.domain.roles import Role
from server.services.forms import publish_xlsform
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.central.odata_support import FORM_ID, Answers, households, submission_xml, xlsform
from tests.fixtures.openrosa import basic, multipart, seed_org
from workers.processing import process_waiting

PASSWORD = "sqlite-pass-123"
FEED = f"/v1/projects/1/forms/{FORM_ID}.svc"


@pytest.fixture
def embedded(sqlite_settings: Settings) -> Iterator[FlaskClient]:
    app = create_app(sqlite_settings)
    db = app.extensions["dmip"].db
    with db.session() as session:
        seed_org(session)
        create_user(session, "admin", PASSWORD, Role.admin, sqlite_settings.auth_realm)
        create_user(session, "enum", PASSWORD, Role.enumerator, sqlite_settings.auth_realm, ["S1"])
        publish_xlsform(
            session, BlobStore(sqlite_settings.attachments_dir), xlsform(), f"{FORM_ID}.xlsx"
        )
    client = app.test_client()
    for answers in (
        Answers("uuid:q1", pupils=10, households=households([30, 5])),
        Answers("uuid:q2", pupils=20, checked_at="2025-04-02T08:00:00.000+03:00"),
        Answers("uuid:q3", pupils=None, visited="2025-05-01", households=households([40])),
    ):
        body = multipart(submission_xml(answers))
        answer = client.post(
            "/v1/projects/1/submission",
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


def _get(client: FlaskClient, path: str, **params: str) -> Any:
    answer = client.get(
        FEED + path,
        query_string={f"${k}": v for k, v in params.items()},
        headers=basic("admin", PASSWORD),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _ids(client: FlaskClient, path: str = "/Submissions", **params: str) -> list[str]:
    rows = _get(client, path, **params)["value"]
    return [r.get("__Submissions-id", r.get("__id")) for r in rows]


@pytest.mark.parametrize(
    ("table", "condition", "expected"),
    [
        ("/Submissions", "pupils gt 10", ["uuid:q2"]),
        ("/Submissions", "pupils eq null", ["uuid:q3"]),
        ("/Submissions", "head/name eq 'Okello' and pupils le 10", ["uuid:q1"]),
        ("/Submissions", "visited gt 2025-04-01", ["uuid:q3"]),
        ("/Submissions", "checked_at gt 2025-04-01T00:00:00Z", ["uuid:q2"]),
        ("/Submissions", "year(visited) eq 2025 and month(visited) eq 5", ["uuid:q3"]),
        ("/Submissions", "startswith(district, 'D') and __id ne 'uuid:q2'", ["uuid:q3", "uuid:q1"]),
        (
            "/Submissions",
            "__system/submissionDate gt 2020-01-01",
            ["uuid:q3", "uuid:q2", "uuid:q1"],
        ),
        ("/Submissions", "year(__system/submissionDate) lt 2000", []),
        ("/Submissions", "__system/reviewState eq null and __system/submitterId ne null", None),
        ("/Submissions.household", "size gt 1", ["uuid:q1"]),
        ("/Submissions.household", "$root/Submissions/pupils eq null", ["uuid:q3"]),
        ("/Submissions.household.member", "age lt 10", ["5"]),
    ],
)
def test_sqlite_filters(embedded: FlaskClient, table: str, condition: str, expected: Any) -> None:
    if table.endswith("member"):
        rows = _get(embedded, table, filter=condition)["value"]
        assert [str(r["age"]) for r in rows] == expected
        return
    found = _ids(embedded, table, filter=condition)
    assert found == (expected if expected is not None else ["uuid:q3", "uuid:q2", "uuid:q1"])


def test_sqlite_pages_selects_and_expands(embedded: FlaskClient) -> None:
    first = _get(embedded, "/Submissions", top="2", count="true", select="__id,pupils")
    assert first["value"] == [
        {"__id": "uuid:q3", "pupils": None},
        {"__id": "uuid:q2", "pupils": 20},
    ]
    assert first["@odata.count"] == 3
    link = first["@odata.nextLink"]
    rest = embedded.get(link[link.index("/v1/") :], headers=basic("admin", PASSWORD)).get_json()
    assert rest["value"] == [{"__id": "uuid:q1", "pupils": 10}]
    page = _get(embedded, "/Submissions.household.member", top="1")
    ages = [m["age"] for m in page["value"]]
    while "@odata.nextLink" in page:
        link = page["@odata.nextLink"]
        page = embedded.get(link[link.index("/v1/") :], headers=basic("admin", PASSWORD)).get_json()
        ages += [m["age"] for m in page["value"]]
    assert ages == [40, 30, 5]
    (q1,) = _get(embedded, "/Submissions", expand="*", filter="__id eq 'uuid:q1'")["value"]
    assert [m["age"] for m in q1["household"][0]["member"]] == [30, 5]
