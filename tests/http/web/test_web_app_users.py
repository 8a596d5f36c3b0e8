"""The admin pages for app users: create one with its forms, its QR code carrying the key URL
and no credentials, its forms changed, revoked; app users kept off the people's pages and out
of the web sign-in."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.app_user_tokens import token_for
from server.domain.roles import Role
from server.models import AppUserKey, AuditEvent, Form, FormAssignment, User
from server.services.orgunits import OrgRow, import_org_units
from server.services.users import create_user, set_password
from server.settings import Settings
from server.web import collect_qr
from tests.fixtures.openrosa import publish
from tests.web_client import csrf_token, sign_in

PASSWORD = "password-123"
KEY_URL = re.compile(r"http://localhost/v1/key/([A-Za-z0-9_-]{64})/projects/1")


@pytest.fixture
def admin(app: Flask, db: Session, settings: Settings) -> FlaskClient:
    import_org_units(
        db,
        [
            OrgRow(1, "UG", "Uganda", "country"),
            OrgRow(2, "UG-C", "Central", "region", "UG"),
            OrgRow(3, "UG-101", "Kalangala", "district", "UG-C"),
        ],
    )
    create_user(db, "admin", PASSWORD, Role.admin, settings.auth_realm)
    db.commit()
    publish(db, "school", "2024010101", title="School survey")
    publish(db, "clinic", "2024010101", title="Clinic survey")
    client = app.test_client()
    assert sign_in(client, "admin", PASSWORD).status_code == 302
    return client


def post(client: FlaskClient, path: str, **data: object):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **data})


def _form_id(db: Session, xml_form_id: str) -> int:
    found = db.scalar(select(Form.id).where(Form.xml_form_id == xml_form_id))
    assert found is not None
    return found


def _create(admin: FlaskClient, db: Session, name: str = "Kalangala tablet 3") -> User:
    answer = post(
        admin,
        "/admin/app-users",
        display_name=name,
        role="enumerator",
        scopes="ug-101",
        forms=[str(_form_id(db, "school"))],
    )
    assert answer.status_code == 302, answer.text
    db.expire_all()
    user = db.scalar(select(User).where(User.display_name == name))
    assert user is not None
    return user


def test_create_an_app_user_and_scan_its_code(admin: FlaskClient, db: Session) -> None:
    user = _create(admin, db)
    assert user.app_user and user.role is Role.enumerator
    assert [s.org_unit.code for s in user.scopes] == ["UG-101"]
    assert db.scalars(
        select(FormAssignment.form_id).where(FormAssignment.user_id == user.id)
    ).all() == [_form_id(db, "school")]
    page = admin.get(f"/admin/app-users/{user.id}").text
    # The key is in the QR code only, not printed on the page.
    assert KEY_URL.search(page) is None and "Reconfigure with QR code" in page
    svg = admin.get(f"/admin/app-users/{user.id}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "no-store" in svg.headers["Cache-Control"]
    # The code is exactly Collect's settings for the key URL: no username, no password.
    key = db.get(AppUserKey, user.id)
    assert key is not None
    token = token_for(admin.application.extensions["dmip"].settings.secret_key, key.nonce)
    url = f"http://localhost/v1/key/{token}/projects/1"
    settings = collect_qr.app_user_settings(url, "DMIP")
    assert "username" not in settings["general"] and "password" not in settings["general"]
    assert svg.data == collect_qr.qr_svg(collect_qr.encode_settings(settings))
    listing = admin.get("/admin/app-users").text
    assert "Kalangala tablet 3" in listing and "QR code" in listing and "Kalangala" in listing


def test_the_forms_of_an_app_user_change_and_it_is_revoked(admin: FlaskClient, db: Session) -> None:
    user = _create(admin, db)
    clinic = _form_id(db, "clinic")
    assert post(admin, f"/admin/app-users/{user.id}/forms", forms=[str(clinic)]).status_code == 302
    db.expire_all()
    assert db.scalars(
        select(FormAssignment.form_id).where(FormAssignment.user_id == user.id)
    ).all() == [clinic]
    version = db.get(User, user.id).credentials_version  # type: ignore[union-attr]
    answer = post(admin, f"/admin/app-users/{user.id}/revoke")
    assert answer.status_code == 302
    db.expire_all()
    revoked = db.get(User, user.id)
    assert revoked is not None and not revoked.active
    assert revoked.credentials_version == version + 1
    assert db.get(AppUserKey, user.id) is None
    listing = admin.get("/admin/app-users").text
    assert "revoked: its phone can no longer" in listing  # the flash, once
    assert f"/admin/app-users/{user.id}" not in admin.get("/admin/app-users").text
    for path in (f"/admin/app-users/{user.id}", f"/admin/app-users/{user.id}/qr.svg"):
        assert admin.get(path).status_code == 404
    actions = db.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.target_type == "field_key")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "field_key.create",
        "field_key.assignment.create",
        "field_key.assignment.create",
        "field_key.assignment.delete",
        "field_key.delete",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"display_name": ""}, "displayName"),
        ({"display_name": "x", "scopes": "UG-999"}, "UG-999"),
        ({"display_name": "x", "role": "admin"}, "role is one of"),
    ],
)
def test_creating_refuses_bad_input_in_plain_words(
    admin: FlaskClient, db: Session, fields: dict[str, str], message: str
) -> None:
    answer = post(admin, "/admin/app-users", **fields)
    assert answer.status_code == 400 and message in answer.text
    assert db.scalars(select(User).where(User.app_user.is_(True))).all() == []


def test_app_users_stay_off_the_people_pages_and_the_sign_in(
    app: Flask, admin: FlaskClient, db: Session, settings: Settings
) -> None:
    user = _create(admin, db, "Phone")
    assert user.username not in admin.get("/admin/users").text
    assert admin.get(f"/admin/users/{user.id}").status_code == 404
    # Even with a password someone set by hand, an app user never signs in to the web.
    set_password(user, "known-pass-123", settings.auth_realm)
    db.commit()
    browser = app.test_client()
    refused = sign_in(browser, user.username, "known-pass-123")
    assert refused.status_code == 401
    assert browser.get("/").status_code == 302


def test_only_admins_see_the_app_user_pages(
    app: Flask, admin: FlaskClient, db: Session, settings: Settings
) -> None:
    user = _create(admin, db)
    create_user(db, "cora", PASSWORD, Role.coordinator, settings.auth_realm, ["UG-101"])
    db.commit()
    coordinator = app.test_client()
    assert sign_in(coordinator, "cora", PASSWORD).status_code == 302
    for path in (
        "/admin/app-users",
        f"/admin/app-users/{user.id}",
        f"/admin/app-users/{user.id}/qr.svg",
    ):
        assert coordinator.get(path).status_code == 403, path
    assert post(coordinator, f"/admin/app-users/{user.id}/revoke").status_code == 403
