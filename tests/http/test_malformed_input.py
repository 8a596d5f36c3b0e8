"""Malformed input is a precise 400 or 404 in the client's dialect, never a 500: NUL and lone
surrogates anywhere PostgreSQL would refuse them, ids beyond their column's range, numbers
int() refuses, invalid UTF-8, a broken chunked body."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.http.errors import InvalidChunkSize
from lxml import etree
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.fixtures.openrosa import PASSWORD, add_user, basic, publish, seed_org
from tests.web_client import csrf_token, sign_in

OPENROSA = "{http://openrosa.org/http/response}"


@pytest.fixture
def world(app: Flask, db: Session) -> Flask:
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("S1",))
    add_user(db, "cora", "coordinator", ("D1",))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def openrosa_message(response: Any) -> str:
    assert response.content_type == "text/xml; charset=utf-8"
    element = etree.fromstring(response.data).find(f"{OPENROSA}message")
    assert element is not None
    return element.text or ""


def test_nul_in_a_collect_query_is_a_400_in_openrosa_words(
    client: FlaskClient, world: Flask
) -> None:
    response = client.get("/formList?formID=%00", headers=basic("ann"))
    assert response.status_code == 400
    assert "'formID'" in openrosa_message(response)
    assert "NUL" in openrosa_message(response)


def test_invalid_utf8_in_a_query_is_read_as_a_replacement_character(
    client: FlaskClient, world: Flask
) -> None:
    response = client.get("/formList?formID=%FF%FE", headers=basic("ann"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/plans/999999999999999999999",
        "/api/v1/plans/9223372036854775808",
        "/api/v1/plans/9223372036854775807",  # in range: reaches the database, no such plan
        "/api/v1/plans/1/versions/2147483648",
        "/api/v1/documents/999999999999999999999",
        "/api/v1/documents/999999999999999999999/file",
        "/api/v1/plans/" + "9" * 5000,
    ],
)
def test_ids_beyond_their_column_are_404_in_the_api(
    client: FlaskClient, world: Flask, path: str
) -> None:
    response = client.get(path, headers=basic("cora"))
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/plans/999999999999999999999",
        "/submissions/9223372036854775808",
        "/admin/forms/99999999999999999999/versions/1/xlsform",
        "/exports/9223372036854775807",
    ],
)
def test_ids_beyond_their_column_are_404_on_pages(
    client: FlaskClient, world: Flask, path: str
) -> None:
    assert sign_in(client, "cora", PASSWORD).status_code == 302
    response = client.get(path)
    assert response.status_code in (403, 404)
    assert response.content_type.startswith("text/html")


def test_nul_in_a_header_is_a_400(client: FlaskClient, world: Flask) -> None:
    response = client.get("/api/v1/indicators", headers={**basic("cora"), "User-Agent": "a\x00b"})
    assert response.status_code == 400
    assert "User-Agent" in response.get_json()["message"]


def test_nul_in_the_address_is_a_400(client: FlaskClient, world: Flask) -> None:
    response = client.get("/api/v1/plans/1/sections/a%00b/changes", headers=basic("cora"))
    assert response.status_code == 400
    assert "address" in response.get_json()["message"]
    # The indicator API reads its ids from the catalog and says which one is unknown.
    response = client.get("/api/v1/indicators/a%00b", headers=basic("cora"))
    assert response.status_code == 404


def test_a_lone_surrogate_in_a_json_body_is_a_400(client: FlaskClient, world: Flask) -> None:
    response = client.put(
        "/api/v1/plans/1/sections/summary/text",
        data=json.dumps({"text": "broken \ud800 text"}),
        content_type="application/json",
        headers=basic("cora"),
    )
    assert response.status_code == 400
    assert "JSON body" in response.get_json()["message"]


def test_nul_in_a_web_form_is_a_400_page_in_plain_words(client: FlaskClient, world: Flask) -> None:
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": "cora\x00", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "&#39;username&#39;" in page or "'username'" in page


@pytest.mark.parametrize("limit", ["\u00b2", "9" * 5000, "0", "-1", "1001"])
def test_a_limit_int_cannot_read_is_a_400(client: FlaskClient, world: Flask, limit: str) -> None:
    response = client.get(
        "/api/v1/indicators", query_string={"limit": limit}, headers=basic("cora")
    )
    # /indicators takes no paging; /values does, and refuses each of these.
    response = client.get(
        "/api/v1/values", query_string={"limit": limit, "cycle": "2025/26"}, headers=basic("cora")
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "api.bad_limit"


class _BrokenChunks(io.RawIOBase):
    """A chunked body as gunicorn reads it when the client's framing is wrong."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize(b"zz")


@pytest.mark.parametrize("path", ["/login", "/submission"])
def test_a_malformed_chunked_body_is_a_400(world: Flask, path: str) -> None:
    builder = EnvironBuilder(
        path=path,
        method="POST",
        headers={"Transfer-Encoding": "chunked", **basic("ann")},
        content_type="multipart/form-data; boundary=b",
    )
    environ = builder.get_environ()
    environ["wsgi.input"] = _BrokenChunks()
    environ["wsgi.input_terminated"] = True
    environ.pop("CONTENT_LENGTH", None)
    _body, status, _headers = run_wsgi_app(world.wsgi_app, environ, buffered=True)
    assert status.startswith("400"), status
