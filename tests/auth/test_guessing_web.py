"""The limit on guessing for the web sign-in form, on PostgreSQL and the embedded SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.app import create_app
from server.auth.guessing import AUDIT_BACKOFF
from server.domain.roles import Role
from server.models import AuditEvent
from server.services.users import create_user
from server.settings import Settings
from tests.auth.guessing_helpers import SMALL_LIMITS, Clock, limit_with_clock
from tests.web_client import csrf_token

PASSWORD = "password-123"


def _app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings.with_overrides(**SMALL_LIMITS))
    with application.extensions["dmip"].db.session() as session:
        create_user(session, "admin", PASSWORD, Role.admin, settings.auth_realm)
    yield application
    application.extensions["dmip"].db.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    fixture = "settings" if request.param == "postgresql" else "sqlite_settings"
    yield from _app(request.getfixturevalue(fixture))


def sign_in(client: FlaskClient, username: str, password: str, address: str):  # type: ignore[no-untyped-def]
    client.environ_base["REMOTE_ADDR"] = address
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


def test_web_form_backs_off_with_a_page_in_plain_words(app: Flask) -> None:
    clock = Clock()
    limit_with_clock(app, clock)
    browser = app.test_client()
    for _ in range(3):
        assert sign_in(browser, "Admin", "wrong", "10.3.3.3").status_code == 401
    fourth = sign_in(browser, "admin", "wrong", "10.3.3.3")
    assert fourth.status_code == 429 and fourth.headers["Retry-After"] == "60"
    # Refused even with the right password, whatever the case of the name typed.
    locked = sign_in(browser, "ADMIN", PASSWORD, "10.3.3.3")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "60"
    assert "Too many failed sign-ins; try again in 1 minute." in locked.get_data(as_text=True)
    # The admin elsewhere signs in at once.
    assert sign_in(app.test_client(), "admin", PASSWORD, "10.4.4.4").status_code == 302
    clock.advance(60)
    assert sign_in(browser, "admin", PASSWORD, "10.3.3.3").status_code == 302
    with app.extensions["dmip"].db.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_BACKOFF))
        assert [(r.target_id, r.details["way"]) for r in rows] == [("admin", "web")]


def test_web_form_and_collect_share_one_count(app: Flask) -> None:
    clock = Clock()
    limit_with_clock(app, clock)
    browser = app.test_client()
    for _ in range(4):
        sign_in(browser, "admin", "wrong", "10.5.5.5")
    collect = app.test_client()
    collect.environ_base["REMOTE_ADDR"] = "10.5.5.5"
    response = collect.head("/submission", auth=("admin", PASSWORD))
    assert response.status_code == 429
