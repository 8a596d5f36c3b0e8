"""Web sign-in: sessions, CSRF, session death on credential changes (the limit on failed
sign-ins: tests/auth/test_guessing_web.py)."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.roles import Role
from server.models import User
from server.services.users import create_user
from server.settings import Settings
from tests.web_client import TOKEN, csrf_token, sign_in

PASSWORD = "password-123"


@pytest.fixture
def users(db: Session, settings: Settings) -> dict[str, int]:
    admin = create_user(db, "admin", PASSWORD, Role.admin, settings.auth_realm)
    other = create_user(db, "ann", PASSWORD, Role.admin, settings.auth_realm)
    db.commit()
    return {"admin": admin.id, "ann": other.id}


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 302
    return client


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it(app: Flask, users: dict) -> None:
    client = app.test_client()
    response = sign_in(client, "admin", PASSWORD)
    assert response.status_code == 302 and response.location == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on a closed network must still work
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302


def test_cookieless_protocol_requests_get_no_cookie_and_pages_vary_on_it(
    app: Flask, users: dict
) -> None:
    # Collect's requests never touch the session: no cookie is set and caches need not vary.
    listed = app.test_client().get("/formList", auth=("admin", PASSWORD))
    assert listed.status_code == 200
    assert "Set-Cookie" not in listed.headers
    assert "Cookie" not in listed.headers.get("Vary", "")
    # A page that uses the session (its CSRF token lives there) sets it and varies on it.
    page = app.test_client().get("/login")
    assert page.status_code == 200
    assert "dmip_session=" in page.headers["Set-Cookie"]
    assert "Cookie" in page.headers["Vary"]


def test_cookie_is_secure_over_https(app: Flask, users: dict) -> None:
    client = app.test_client()
    page = client.get("/login", base_url="https://dmip.example.org").text
    token = TOKEN.search(page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        base_url="https://dmip.example.org",
        headers={"Referer": "https://dmip.example.org/login"},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_is_refused_in_plain_words(app: Flask, users: dict) -> None:
    client = app.test_client()
    response = sign_in(client, "admin", "not-the-password")
    assert response.status_code == 401
    assert "username or password is not correct" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_sign_in_returns_only_to_this_site(
    app: Flask, users: dict, target: str, expected: str
) -> None:
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.location == expected


def test_posts_without_a_csrf_token_are_refused(app: Flask, db: Session, users: dict) -> None:
    client = signed_in(app, "admin")
    response = client.post("/admin/users/new", data={"username": "mallory", "role": "admin"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    forged = client.post(
        "/admin/users/new",
        data={"username": "mallory", "role": "admin", "password": PASSWORD, "csrf_token": "x"},
    )
    assert forged.status_code == 400
    assert db.scalar(select(User).where(User.username == "mallory")) is None
    # Sign-in itself needs the token too, so another site cannot sign a browser in.
    assert app.test_client().post("/login", data={"username": "admin"}).status_code == 400


def test_openrosa_routes_need_no_csrf_token(app: Flask, users: dict) -> None:
    response = app.test_client().post("/submission", auth=("admin", PASSWORD))
    # Collect's protocol rules answer (no file sent), not a CSRF refusal.
    assert response.status_code == 400
    assert b"OpenRosaResponse" in response.data


def _admin_post(client: FlaskClient, path: str, **data: str) -> int:
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **data}).status_code


def test_password_reset_ends_the_users_sessions(app: Flask, users: dict) -> None:
    ann = signed_in(app, "ann")
    assert ann.get("/").status_code == 200
    admin = signed_in(app, "admin")
    assert (
        _admin_post(admin, f"/admin/users/{users['ann']}/password", password="new-pass-456") == 302
    )
    assert ann.get("/").status_code == 302  # signed out on the next request
    assert admin.get("/").status_code == 200
    assert sign_in(app.test_client(), "ann", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "ann", "new-pass-456").status_code == 302


def test_deactivation_ends_the_users_sessions(app: Flask, users: dict) -> None:
    ann = signed_in(app, "ann")
    admin = signed_in(app, "admin")
    assert _admin_post(admin, f"/admin/users/{users['ann']}/active", active="0") == 302
    assert ann.get("/").status_code == 302
    assert sign_in(app.test_client(), "ann", PASSWORD).status_code == 401
    # Nor can an admin lock themselves out.
    assert _admin_post(admin, f"/admin/users/{users['admin']}/active", active="0") == 400


def test_own_password_change_keeps_this_session_only(app: Flask, users: dict) -> None:
    here = signed_in(app, "ann")
    elsewhere = signed_in(app, "ann")
    token = csrf_token(here, "/")

    def change(current: str, new: str):  # type: ignore[no-untyped-def]
        fields = {"current_password": current, "new_password": new, "confirm_password": new}
        return here.post("/account/password", data={**fields, "csrf_token": token})

    wrong = change("nope", "brand-new-pass")
    assert wrong.status_code == 400 and "current password is not correct" in wrong.text
    short = change(PASSWORD, "short")
    assert short.status_code == 400 and "at least 8 characters" in short.text
    assert change(PASSWORD, "brand-new-pass").status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_error_pages_are_html_in_plain_words(app: Flask, users: dict) -> None:
    client = signed_in(app, "admin")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Page not found" in missing.text
    assert "<!doctype html>" in missing.text
    wrong_method = client.delete("/admin/users")
    assert wrong_method.status_code == 405 and "cannot be used that way" in wrong_method.text
    assert "GET" in wrong_method.headers["Allow"]
    # OpenRosa keeps its own error bodies, even for errors raised before routing.
    openrosa = client.post("/formList")
    assert openrosa.status_code == 405 and b"OpenRosaResponse" in openrosa.data
    assert b"OpenRosaResponse" in client.get("/forms/ghost/versions/1/form.xml").data


def test_upload_too_large_gets_an_html_page(app: Flask, users: dict) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    client = signed_in(app, "admin")
    big = (io.BytesIO(b"x" * 20_000), "big.xlsx")
    token = csrf_token(client, "/")
    response = client.post("/admin/forms/upload", data={"csrf_token": token, "xlsform": big})
    assert response.status_code == 413 and "File too large" in response.text


def test_server_errors_get_an_html_page(app: Flask, users: dict) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/explode")
    def explode() -> str:
        raise RuntimeError("boom")

    response = app.test_client().get("/explode")
    assert response.status_code == 500 and "Something went wrong" in response.text
    assert "boom" not in response.text
