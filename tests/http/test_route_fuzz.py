"""Every route, every method it allows, as every kind of user: hostile path parameters, query
strings, bodies and headers never get a 5xx (nor, under Central's /v1/, an HTML page).

Runs against PostgreSQL (which refuses NUL in text and ids beyond BIGINT) with a little real
data, so that requests reach the database: an org tree, a published form, a submission, users
of each role. DMIP_FUZZ_EXAMPLES sets the examples per route, method and role.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from server.app import create_app
from server.db import Database
from server.settings import Settings
from tests.conftest import REDIS_URL, _truncate_all
from tests.fixtures.openrosa import (
    PASSWORD,
    add_user,
    basic,
    instance,
    multipart,
    new_instance_id,
    publish,
    seed_org,
)
from tests.paths import FORMS_DIR
from tests.web_client import csrf_token, sign_in

EXAMPLES = int(os.environ.get("DMIP_FUZZ_EXAMPLES", "4"))
ROLES = ("anonymous", "enumerator", "coordinator", "admin")
USERS = {"enumerator": "ena", "coordinator": "cora", "admin": "ada"}

HOSTILE_INTS = [
    "0",
    "1",
    "2",
    "3",
    "-1",
    "00001",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "999999999999999999999",
    "9" * 5000,
    "\u0661\u0662",  # Arabic-Indic digits, which \d matches
    "1.5",
    "1e3",
]
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "..",
    "../../etc/passwd",
    "/",
    "%00",
    "%",
    "' OR 1=1 --",
    "\U0001f600",
    "\u202e",
    "\t",
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999999",
    "9223372036854775808",
    "NaN",
    "1e309",
    "null",
    "[]",
    "{}",
    "<x/>",
    "2025/26",
    "district",
    "edit",
    "review",
    "docx",
    "approved",
    "school",
    "D1",
    "S1",
]
# Parameter and field names the handlers read, so hostile values reach their parsing.
NAMES = [
    "formID",
    "verbose",
    "listAllVersions",
    "cycle",
    "district",
    "level",
    "limit",
    "cursor",
    "after",
    "since",
    "page",
    "parent",
    "q",
    "code",
    "state",
    "status",
    "form",
    "indicator",
    "text",
    "note",
    "body",
    "section",
    "format",
    "username",
    "password",
    "new_password",
    "confirm",
    "role",
    "scopes",
    "active",
    "next",
    "ids",
    "reason",
    "version",
]

text_value = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))
# Query and form values may be bytes, often not UTF-8, as a client may send them.
raw_value = st.one_of(text_value, st.binary(max_size=6))
name = st.one_of(st.sampled_from(NAMES), text_value)
pairs = st.lists(st.tuples(name, raw_value), max_size=4)


@dataclass
class World:
    app: Flask
    clients: dict[str, FlaskClient]
    csrf: dict[str, str]


@pytest.fixture(scope="module")
def world(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    config = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        database_url=pg_url,
        broker_url=REDIS_URL,
        secret_key="test-secret-key-0123456789",
        forms_dir=FORMS_DIR,
        embedded=False,
    )
    db = Database(pg_url)
    with db.session() as s:
        seed_org(s)
        publish(s, "school", "2024010101")
        add_user(s, "ena", "enumerator", ("S1",))
        add_user(s, "cora", "coordinator", ("D1",))
        add_user(s, "ada", "admin")
    app = create_app(config)
    app.config["TESTING"] = True
    clients = {role: app.test_client() for role in ROLES}
    body = multipart(instance(new_instance_id()), None, False)
    stored = clients["enumerator"].post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic("ena")
    )
    assert stored.status_code == 201, stored.get_data(as_text=True)
    csrf = {}
    for role, username in USERS.items():
        assert sign_in(clients[role], username, PASSWORD).status_code == 302
        csrf[role] = csrf_token(clients[role], "/account/password")
    csrf["anonymous"] = csrf_token(clients["anonymous"])
    yield World(app, clients, csrf)
    app.extensions["dmip"].db.dispose()
    db.dispose()
    _truncate_all(pg_url)


def _routes() -> list[tuple[str, str]]:
    app = create_app(
        Settings(
            data_dir=Path(os.environ.get("TMPDIR", "/tmp")) / "dmip-fuzz-routes",
            database_url="sqlite://",
            broker_url="memory://",
            secret_key="x" * 32,
            forms_dir=FORMS_DIR,
            embedded=False,
        )
    )
    rules: list[Rule] = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    return [(r.rule, m) for r in rules for m in sorted(r.methods or ()) if m != "OPTIONS"]


ROUTES = _routes()
PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _quote(value: str | bytes, safe: str = "", _encoding: Any = None, _errors: Any = None) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return quote(value, safe=safe)


@st.composite
def paths(draw: st.DrawFn, rule: str) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        if converter == "int":
            return _quote(draw(st.sampled_from(HOSTILE_INTS)))
        value = draw(text_value)
        return _quote(value, safe="/" if converter == "path" else "")

    return PLACEHOLDER.sub(fill, rule)


@st.composite
def requests(draw: st.DrawFn, rule: str, method: str) -> dict[str, Any]:
    url = draw(paths(rule))
    query = urlencode(draw(pairs), quote_via=_quote)
    if query:
        url = f"{url}?{query}"
    kwargs: dict[str, Any] = {"headers": {}}
    if method not in ("GET", "HEAD"):
        kind = draw(st.sampled_from(["none", "form", "json", "multipart", "raw"]))
        if kind == "form":
            kwargs["data"] = urlencode(draw(pairs), quote_via=_quote).encode()
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        elif kind == "json":
            value = draw(
                st.dictionaries(st.sampled_from(NAMES), text_value | st.integers(), max_size=4)
                | st.sampled_from(["", "null", 1, []])
            )
            kwargs["data"] = json.dumps(value)
            kwargs["content_type"] = "application/json"
        elif kind == "multipart":
            field = draw(text_value).encode("utf-8", "surrogatepass").replace(b'"', b"")
            filename = draw(text_value).encode("utf-8", "surrogatepass").replace(b'"', b"")
            kwargs["data"] = (
                b'--b\r\nContent-Disposition: form-data; name="' + field + b'"\r\n\r\n'
                b'value\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="'
                + filename
                + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
                + draw(st.binary(max_size=16))
                + b"\r\n--b--\r\n"
            )
            kwargs["content_type"] = "multipart/form-data; boundary=b"
        elif kind == "raw":
            kwargs["data"] = draw(st.binary(max_size=32))
            kwargs["content_type"] = draw(
                st.sampled_from(["application/octet-stream", "text/xml", "application/json"])
            )
    header = draw(st.sampled_from([None, "User-Agent", "Accept-Language", "X-OpenRosa-Version"]))
    if header is not None:
        value = draw(text_value)
        if "\r" not in value and "\n" not in value:
            kwargs["headers"][header] = value.encode("utf-8", "surrogatepass").decode("latin-1")
    return {"method": method, "path": url, **kwargs}


def _send(world: World, role: str, request: dict[str, Any], with_csrf: bool) -> Any:
    client = world.clients[role]
    headers = dict(request.pop("headers"))
    if role != "anonymous":
        headers["Authorization"] = basic(USERS[role])["Authorization"]
    data = request.get("data")
    if with_csrf and request.get("content_type") == "application/x-www-form-urlencoded":
        token = urlencode({"csrf_token": world.csrf[role]}).encode()
        request["data"] = token + (b"&" + data if data else b"")
    if with_csrf:
        headers["X-CSRFToken"] = world.csrf[role]
    return client.open(headers=headers, **request)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("rule", "method"), ROUTES)
def test_no_route_answers_5xx(world: World, rule: str, method: str, role: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(rule, method), with_csrf=st.booleans())
    def check(request: dict[str, Any], with_csrf: bool) -> None:
        shown = f"{request['method']} {request['path'][:200]}"
        response = _send(world, role, request, with_csrf)
        try:
            assert response.status_code < 500, (
                f"{role}: {shown} -> {response.status_code}: "
                f"{response.get_data(as_text=True)[:500]}"
            )
            if response.status_code >= 400 and rule.startswith("/v1"):
                # Central's API answers errors in JSON (OpenRosa XML on Collect's routes),
                # never with a page.
                assert not response.mimetype.startswith("text/html"), (
                    f"{role}: {shown} -> {response.status_code} {response.mimetype}"
                )
        finally:
            response.close()

    check()
