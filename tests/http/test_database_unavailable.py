"""A database that is away answers 503 with Retry-After on every kind of route, in the client's
dialect, and the same requests succeed once it is back.

The app is pointed at a PostgreSQL address that refuses connections (port 1), as a restart
looks from the web process, or its connections are killed under it with pg_terminate_backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.db import RETRY_AFTER_SECONDS, Database, make_engine
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
from tests.web_client import sign_in

REFUSING_URL = "postgresql+psycopg://postgres@127.0.0.1:1/none"
OPENROSA = "{http://openrosa.org/http/response}"


@pytest.fixture
def world(app: Flask, db: Session) -> Flask:
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    add_user(db, "cora", "coordinator", ("D1",))
    # Propagated exceptions would hide what a real server sends; the test wants its answer.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@contextmanager
def database_away(app: Flask) -> Iterator[None]:
    state = app.extensions["dmip"]
    real = state.db
    state.db = Database(REFUSING_URL)
    try:
        yield
    finally:
        state.db.dispose()
        state.db = real


def submission(client: FlaskClient, iid: str) -> Any:
    body = multipart(instance(iid), None, False)
    return client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic("ann")
    )


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


def assert_openrosa_unavailable(response: Any) -> None:
    assert_unavailable(response)
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    message = etree.fromstring(response.data).find(f"{OPENROSA}message")
    assert message is not None and "database" in (message.text or "")


def test_every_kind_of_route_is_503_while_the_database_is_away_then_recovers(
    world: Flask,
) -> None:
    client = world.test_client()
    web = world.test_client()
    assert sign_in(web, "cora", PASSWORD).status_code == 302
    # A fresh app for the Collect routes, whose caches (user snapshots, forms) are still empty:
    # every request must reach the database.
    collect = world.test_client()
    iid = new_instance_id()

    with database_away(world):
        assert_openrosa_unavailable(collect.get("/formList", headers=basic("ann")))
        head = collect.head("/submission", headers=basic("ann"))
        assert_unavailable(head)
        assert head.headers["X-OpenRosa-Version"] == "1.0"
        assert_openrosa_unavailable(submission(collect, iid))

        api = client.get("/api/v1/indicators", headers=basic("cora"))
        assert_unavailable(api)
        assert api.get_json()["code"] == "server.unavailable"
        plans_api = client.get("/api/v1/plans", headers=basic("cora"))
        assert_unavailable(plans_api)
        assert plans_api.get_json()["status"] == 503

        page = web.get("/plans")
        assert_unavailable(page)
        assert page.content_type.startswith("text/html")
        assert "cannot reach its database" in page.get_data(as_text=True)

        health = client.get("/healthz")
        assert_unavailable(health)
        assert health.get_json()["status"] == "unavailable"

    assert collect.get("/formList", headers=basic("ann")).status_code == 200
    assert collect.head("/submission", headers=basic("ann")).status_code == 204
    assert submission(collect, iid).status_code == 201  # Collect's resend is stored
    assert client.get("/api/v1/indicators", headers=basic("cora")).status_code == 200
    assert client.get("/api/v1/plans", headers=basic("cora")).status_code == 200
    assert web.get("/plans").status_code == 200
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_connections_killed_under_the_app_are_503_then_replaced(
    world: Flask, settings: Any
) -> None:
    state = world.extensions["dmip"]
    real = state.db
    # Never pinged: the next statement on a pooled connection finds it dead.
    state.db = Database(settings.database_url, idle_ping_after=3600.0, pool_size=1, max_overflow=0)
    admin = make_engine(settings.database_url)
    web = world.test_client()
    client = world.test_client()
    try:
        assert sign_in(web, "cora", PASSWORD).status_code == 302
        assert client.get("/api/v1/plans", headers=basic("cora")).status_code == 200
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.commit()
        # The pool's one connection is dead: the first request to use it fails, and the pool
        # replaces it for the next.
        assert_unavailable(client.get("/api/v1/plans", headers=basic("cora")))
        assert client.get("/api/v1/plans", headers=basic("cora")).status_code == 200
        assert web.get("/plans").status_code == 200
    finally:
        state.db.dispose()
        state.db = real
        admin.dispose()


def test_a_database_error_while_a_response_is_finished_is_503(world: Flask) -> None:
    """After-request hooks run once the handler answered, outside its error handlers."""

    @world.after_request
    def _lose_the_database(response: Any) -> Any:
        if "lose" in world.extensions:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return response

    client = world.test_client()
    world.extensions["lose"] = True
    assert_unavailable(client.get("/login"))
    assert_openrosa_unavailable(client.get("/formList", headers=basic("ann")))
    response = client.get("/api/v1/indicators", headers=basic("cora"))
    assert_unavailable(response)
    assert response.get_json()["code"] == "server.unavailable"
    del world.extensions["lose"]
    assert client.get("/login").status_code == 200


def test_a_failure_closing_the_session_at_teardown_keeps_the_response(
    world: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    unclosed: list[Session] = []

    def broken_close(self: Session) -> None:
        unclosed.append(self)
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    client = world.test_client()
    monkeypatch.setattr(Session, "close", broken_close)
    response = client.get("/healthz")  # opens the request's session, closed at teardown
    monkeypatch.undo()
    for session in unclosed:
        session.close()  # its connection back to the pool, not left to the garbage collector
    assert len(unclosed) == 1
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
