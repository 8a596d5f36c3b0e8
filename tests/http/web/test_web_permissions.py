"""Every web route, for every role: who may see each page and do each action.

The matrix is checked against the URL map, so a new web route without a row here fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Base, make_engine
from server.domain.roles import Role
from server.domain.scope import Scope
from server.models import Form, OrgUnit, User
from server.models.org import OrgLevel
from server.queries.org_units import visible_units
from server.services.forms import publish_xlsform
from server.services.orgunits import OrgRow, import_org_units
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures.xlsforms.build import simple_form
from tests.web_client import csrf_token, sign_in

PASSWORD = "password-123"
ROLES = ("anonymous", "admin", "coordinator", "subcounty_staff", "enumerator")
ADMIN = {"admin"}
EVERYONE = {"admin", "coordinator", "subcounty_staff", "enumerator"}

HIERARCHY = [
    OrgRow(1, "UG", "Uganda", "country"),
    OrgRow(2, "UG-C", "Central", "region", "UG"),
    OrgRow(3, "D_1", "Alpha", "district", "UG-C"),
    OrgRow(4, "DX1", "Bravo", "district", "UG-C"),  # "_" must not match "X" in a LIKE
    OrgRow(5, "S-A", "Alpha North", "subcounty", "D_1"),
    OrgRow(6, "S-B", "Bravo South", "subcounty", "DX1"),
]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # formatted with the ids of the fixture's objects
    allowed: frozenset[str]
    data: tuple[tuple[str, str], ...] = ()


def route(method: str, path: str, allowed: set[str], **data: str) -> Route:
    return Route(method, path, frozenset(allowed), tuple(data.items()))


ROUTES = [
    route("GET", "/", EVERYONE),
    route("GET", "/account/password", EVERYONE),
    route("POST", "/account/password", EVERYONE, current_password="wrong"),
    route("GET", "/admin/users", ADMIN),
    route("GET", "/admin/users/new", ADMIN),
    route("POST", "/admin/users/new", ADMIN),
    route("GET", "/admin/users/{target}", ADMIN),
    route("POST", "/admin/users/{target}/scopes", ADMIN, scopes="DX1"),
    route("POST", "/admin/users/{target}/password", ADMIN, password="another-pass-1"),
    route("POST", "/admin/users/{target}/active", ADMIN, active="0"),
    route("GET", "/admin/users/{target}/collect", ADMIN),
    route("GET", "/admin/users/{target}/collect.svg", ADMIN),
    route("GET", "/admin/orgunits", ADMIN),
    route("POST", "/admin/orgunits/import", ADMIN),
    route("GET", "/admin/forms", ADMIN),
    route("GET", "/admin/forms/upload", ADMIN),
    route("POST", "/admin/forms/upload", ADMIN),
    route("GET", "/admin/forms/{form}", ADMIN),
    route("POST", "/admin/forms/{form}/versions/{draft}/open", ADMIN),
    route("POST", "/admin/forms/{form}/close", ADMIN),
    route("GET", "/admin/forms/{form}/versions/{draft}/xlsform", ADMIN),
    route("GET", "/admin/forms/{form}/versions/{draft}/media/{media}", ADMIN),
]
# Routes anyone may use, and what they answer a visitor who is not signed in.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


@dataclass
class World:
    ids: dict[str, int]


@pytest.fixture
def world(app: Flask, db: Session, settings: Settings) -> Iterator[World]:
    import_org_units(db, HIERARCHY)
    realm = settings.auth_realm
    create_user(db, "admin", PASSWORD, Role.admin, realm)
    create_user(db, "coordinator", PASSWORD, Role.coordinator, realm, ["D_1"])
    create_user(db, "subcounty_staff", PASSWORD, Role.subcounty_staff, realm, ["S-A"])
    create_user(db, "enumerator", PASSWORD, Role.enumerator, realm, ["S-A"])
    target = create_user(db, "target", PASSWORD, Role.enumerator, realm, ["S-B"])
    blobs = BlobStore(settings.attachments_dir)
    publish_xlsform(db, blobs, simple_form(version="1"), "school.xlsx")
    draft = publish_xlsform(db, blobs, simple_form(version="2"), "school.xlsx", draft=True)
    db.commit()
    ids = {"target": target.id, "form": draft.form.id, "draft": draft.version.id, "media": "x.csv"}
    yield World(ids)


def client_for(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        assert sign_in(client, role, PASSWORD).status_code == 302
    return client


def test_matrix_covers_every_web_route(app: Flask) -> None:
    covered = {(r.method, re.sub(r"\{[^}]+\}", "{}", r.path)) for r in ROUTES} | PUBLIC
    web_blueprints = {"auth", "home", "admin", "forms_admin"}
    seen = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in web_blueprints:
            continue
        pattern = re.sub(r"<[^>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, pattern) in covered, f"{method} {rule.rule}: not in the matrix"
            seen.add((method, pattern))
    assert seen == covered, "the matrix lists routes that do not exist"


@pytest.mark.parametrize("role", ROLES)
def test_role_by_route(app: Flask, db: Session, world: World, role: str) -> None:
    client = client_for(app, role)
    token = csrf_token(client)
    for r in ROUTES:
        path = r.path.format(**world.ids)
        if r.method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **dict(r.data)})
        status = response.status_code
        where = f"{role} {r.method} {path}"
        if role == "anonymous":
            if r.method == "GET":
                assert status == 302 and "/login?next=" in response.location, where
            else:
                assert status == 401, where
        elif role in r.allowed:
            assert status not in (401, 403), where
            assert "/login" not in (response.location or ""), where
        else:
            assert status == 403, where
            assert "Not allowed" in response.get_data(as_text=True), where
    if role != "admin":
        # None of the refused actions changed anything.
        db.expire_all()
        target = db.get(User, world.ids["target"])
        assert target is not None and target.active
        assert [s.org_unit.code for s in target.scopes] == ["S-B"]
        form = db.get(Form, world.ids["form"])
        assert form is not None and form.current_version is not None
        assert form.current_version.version == "1"
        assert form.current_version.state.value == "open"


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", None),
        ("coordinator", {"D_1", "S-A"}),
        ("subcounty_staff", {"S-A"}),
    ],
)
def test_scope_sees_only_its_areas(
    db: Session, world: World, username: str, expected: set[str] | None
) -> None:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None
    visible = user.scope
    codes = {u.code for u in visible_units(db, visible)}
    everything = set(db.scalars(select(OrgUnit.code)))
    assert codes == (everything if expected is None else expected)
    for unit in db.scalars(select(OrgUnit)):
        assert visible.covers(unit.path) == (unit.code in codes)
    districts = {u.code for u in visible_units(db, visible, OrgLevel.district)}
    assert districts == ({"D_1", "DX1"} if expected is None else expected & {"D_1", "DX1"})


def test_coordinator_home_lists_only_their_districts(app: Flask, world: World) -> None:
    page = client_for(app, "coordinator").get("/").get_data(as_text=True)
    assert "Alpha" in page and "Bravo" not in page
    assert "/admin/users" not in page  # no admin links in a coordinator's navigation
    admin_page = client_for(app, "admin").get("/").get_data(as_text=True)
    assert "/admin/users" in admin_page


# A small alphabet with LIKE's wildcards, so sibling codes often differ only where "_" or "%"
# could match.
CODE = st.text(alphabet="AB_%", min_size=1, max_size=3)


@hypothesis_settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    codes=st.lists(CODE, min_size=1, max_size=12, unique=True),
)
def test_scope_query_agrees_with_scope_check(data: st.DataObject, codes: list[str]) -> None:
    """Whatever the codes (LIKE's "_" and "%" included), the SQL filter keeps exactly the units
    `Scope.covers` accepts."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        units: list[OrgUnit] = []
        for code in codes:
            parent = data.draw(st.sampled_from([None, *units]))
            path = (parent.path if parent else "/") + code + "/"
            unit = OrgUnit(code=code, name=code, level=OrgLevel.district, path=path)
            unit.parent = parent
            session.add(unit)
            units.append(unit)
        session.flush()
        chosen = data.draw(st.lists(st.sampled_from(units), max_size=3))
        visible = Scope(everywhere=False, paths=tuple(u.path for u in chosen))
        by_query = {u.code for u in visible_units(session, visible)}
        assert by_query == {u.code for u in units if visible.covers(u.path)}
    engine.dispose()
