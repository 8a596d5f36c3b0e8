"""Admin pages: users, org-unit import with its report, Collect QR codes."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.roles import Role
from server.models import AuditEvent, OrgUnit, User
from server.services.orgunits import OrgRow, import_org_units
from server.services.users import create_user
from server.settings import Settings
from server.web import collect_qr
from tests.web_client import csrf_token, sign_in

PASSWORD = "password-123"


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
    client = app.test_client()
    assert sign_in(client, "admin", PASSWORD).status_code == 302
    return client


def post(client: FlaskClient, path: str, **data: object) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **data})


def test_create_user_with_role_and_scope(admin: FlaskClient, db: Session) -> None:
    response = post(
        admin,
        "/admin/users/new",
        username="okello",
        display_name="Okello James",
        role="coordinator",
        scopes="ug-101",
        password="first-pass-1",
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    user = db.scalar(select(User).where(User.username == "okello"))
    assert user is not None and user.role is Role.coordinator
    assert [s.org_unit.code for s in user.scopes] == ["UG-101"]
    listing = admin.get("/admin/users").text
    assert "okello" in listing and "Kalangala" in listing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "bad name", "role": "admin"}, "A username is 1 to 64"),
        ({"username": "x1", "role": "coordinator", "scopes": ""}, "needs at least one"),
        ({"username": "x2", "role": "coordinator", "scopes": "UG-999"}, "UG-999"),
        ({"username": "x3", "role": "chief"}, "Unknown role"),
        ({"username": "x4", "role": "admin", "password": "short"}, "at least 8"),
        ({"username": "admin", "role": "admin"}, "already exists"),
    ],
)
def test_create_user_refuses_bad_input_with_a_reason(
    admin: FlaskClient, db: Session, fields: dict[str, str], message: str
) -> None:
    data = {"password": "first-pass-1", **fields}
    response = post(admin, "/admin/users/new", **data)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text  # type: ignore[attr-defined]
    # What was typed is kept, so the admin fixes one field rather than all.
    assert f'value="{fields["username"]}"' in response.text  # type: ignore[attr-defined]
    assert db.scalars(select(User.username)).all() == ["admin"]


def test_change_scope_reset_password_deactivate_reactivate(
    admin: FlaskClient, db: Session, settings: Settings
) -> None:
    user = create_user(db, "amina", PASSWORD, Role.enumerator, settings.auth_realm, ["UG-101"])
    db.commit()
    version = user.credentials_version
    base = f"/admin/users/{user.id}"
    assert post(admin, f"{base}/scopes", scopes="UG-C").status_code == 302  # type: ignore[attr-defined]
    refused = post(admin, f"{base}/scopes", scopes="")
    assert refused.status_code == 400 and "needs at least one area" in refused.text  # type: ignore[attr-defined]
    assert post(admin, f"{base}/password", password="reset-pass-1").status_code == 302  # type: ignore[attr-defined]
    assert post(admin, f"{base}/active", active="0").status_code == 302  # type: ignore[attr-defined]
    db.expire_all()
    user = db.get(User, user.id)
    assert user is not None
    assert [s.org_unit.code for s in user.scopes] == ["UG-C"]
    assert not user.active and user.credentials_version == version + 2
    assert "deactivated" in admin.get(base).text
    assert post(admin, f"{base}/active", active="1").status_code == 302  # type: ignore[attr-defined]
    db.expire_all()
    assert db.get(User, user.id).active  # type: ignore[union-attr]
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.target_type == "user").order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "user.scopes",
        "user.password_reset",
        "user.deactivate",
        "user.activate",
    ]
    assert admin.get("/admin/users/9999").status_code == 404


CSV = (
    "code,name,level,parent_code\n"
    "UG-101-01,Bujumba,subcounty,UG-101\n"
    "UG-101,Kalangala District,district,UG-C\n"
    "UG-101-02,Mugoye,subcounty,UG-999\n"
    "bad code,Nowhere,subcounty,UG-101\n"
)


def test_org_unit_import_shows_its_report(admin: FlaskClient, db: Session) -> None:
    response = post(admin, "/admin/orgunits/import", file=(io.BytesIO(CSV.encode()), "units.csv"))
    assert response.status_code == 200  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert "<strong>1</strong> added, <strong>1</strong> changed" in page
    assert "<strong>2</strong> rejected" in page
    # Each rejected row with its line in the file and the reason.
    assert "<td>4</td>" in page and "UG-999" in page
    assert "<td>5</td>" in page
    names = {code: name for code, name in db.execute(select(OrgUnit.code, OrgUnit.name))}
    assert names["UG-101-01"] == "Bujumba" and names["UG-101"] == "Kalangala District"
    assert "UG-101-02" not in names
    tree = admin.get("/admin/orgunits?parent=UG-101").text
    assert "Bujumba" in tree and "Kalangala District" in tree  # breadcrumb and child


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,level\nX,district\n", "missing: code"),
        (b"\xff\xfe\x00code", "not UTF-8"),
    ],
)
def test_org_unit_import_refuses_unreadable_files(
    admin: FlaskClient, content: bytes, message: str
) -> None:
    response = post(admin, "/admin/orgunits/import", file=(io.BytesIO(content), "u.csv"))
    assert response.status_code == 400 and message in response.text  # type: ignore[attr-defined]


def test_org_unit_pages_refuse_unknown_levels_and_parents(admin: FlaskClient) -> None:
    assert admin.get("/admin/orgunits?level=galaxy").status_code == 404
    assert admin.get("/admin/orgunits?parent=NOPE").status_code == 404
    districts = admin.get("/admin/orgunits?level=district").text
    assert "Kalangala" in districts


def test_collect_qr_code_configures_collect(
    admin: FlaskClient, db: Session, settings: Settings
) -> None:
    user = create_user(db, "amina", PASSWORD, Role.enumerator, settings.auth_realm, ["UG-101"])
    db.commit()
    page = admin.get(f"/admin/users/{user.id}/collect")
    assert "http://localhost" in page.text and "amina" in page.text
    svg = admin.get(f"/admin/users/{user.id}/collect.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.startswith(b"<?xml") and b"<svg" in svg.data
    assert "no-store" in svg.headers["Cache-Control"]


def test_collect_settings_payload_is_what_collect_reads() -> None:
    settings = collect_qr.collect_settings("https://dmip.example.org", "amina", "DMIP")
    payload = collect_qr.encode_settings(settings)
    decoded = collect_qr.decode_settings(payload)
    assert decoded["general"]["server_url"] == "https://dmip.example.org"
    assert decoded["general"]["username"] == "amina"
    assert decoded["project"]["name"] == "DMIP"
    assert "admin" in decoded and "password" not in decoded["general"]


@given(
    url=st.from_regex(
        r"https?://[a-z0-9.-]{1,40}(:[0-9]{2,5})?(/[a-z0-9_-]{0,20})?", fullmatch=True
    ),
    username=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", fullmatch=True),
)
def test_collect_payload_round_trips(url: str, username: str) -> None:
    settings = collect_qr.collect_settings(url, username, "DMIP")
    assert collect_qr.decode_settings(collect_qr.encode_settings(settings)) == settings
