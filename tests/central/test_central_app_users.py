"""App users, form assignments and roles through pyodk and by hand: what a script that hands
out phones does against Central, and every way it can go wrong."""

from __future__ import annotations

import requests
from pyodk._endpoints.project_app_users import ProjectAppUserService
from sqlalchemy import select

from server.domain.roles import Role
from server.models import AppUserKey, AuditEvent, FormAssignment, User
from tests.central.app_users_support import api, create_app_user, publish_forms
from tests.central.conftest import CentralServer


def _app_users(central: CentralServer, by: str = "ada", **headers: str) -> requests.Response:
    return api(central, by).get(
        f"{central.url}/v1/projects/1/app-users", headers=headers, timeout=30
    )


def test_pyodk_creates_app_users_with_their_forms(central, make_person, pyodk_client) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school", "clinic")
    client = pyodk_client("ada")
    made = client.projects.create_app_users(["Tablet one", "Tablet two"], forms=["school"])
    assert [u.displayName for u in made] == ["Tablet one", "Tablet two"]
    assert all(u.type == "field_key" and u.projectId == 1 and len(u.token) == 64 for u in made)
    # A second run creates only the missing ones, as pyodk reads the list first.
    again = client.projects.create_app_users(["Tablet one", "Tablet three"], forms=["clinic"])
    assert [u.displayName for u in again] == ["Tablet three"]

    listed = ProjectAppUserService(session=client.session, default_project_id=1).list()
    assert [u.displayName for u in listed] == ["Tablet three", "Tablet two", "Tablet one"]
    assert {u.token for u in listed} == {u.token for u in made + again}
    with central.db() as session:
        rows = session.execute(
            select(User.display_name, FormAssignment.form_id)
            .join(FormAssignment, FormAssignment.user_id == User.id)
            .order_by(User.id)
        ).all()
        assert [name for name, _ in rows] == ["Tablet one", "Tablet two", "Tablet three"]
        users = session.scalars(select(User).where(User.app_user.is_(True))).all()
        # An app user is an enumerator of the whole register by default, with no usable
        # password: the key is its only way in.
        assert {u.role for u in users} == {Role.enumerator}
        assert {tuple(s.org_unit.code for s in u.scopes) for u in users} == {("UG",)}
        assert all(u.username.startswith("app-") for u in users)


def test_the_app_user_json_is_centrals(central, make_person) -> None:
    make_person("ada", Role.admin)
    made = create_app_user(central, "Tablet one")
    assert set(made) == {
        "projectId",
        "id",
        "type",
        "displayName",
        "token",
        "createdAt",
        "updatedAt",
        "deletedAt",
    }
    assert made["createdAt"].endswith("Z") and made["updatedAt"] is None
    plain = _app_users(central).json()
    assert plain == [made]
    wide = _app_users(central, **{"X-Extended-Metadata": "true"}).json()
    (entry,) = wide
    assert entry["createdBy"]["displayName"] == "ada" and entry["createdBy"]["type"] == "user"
    assert entry["lastUsed"] is None


def test_deleting_an_app_user_takes_it_off_the_list(central, make_person) -> None:
    make_person("ada", Role.admin)
    publish_forms(central, "school")
    kept = create_app_user(central, "Kept")
    gone = create_app_user(central, "Gone", forms=("school",))
    client = api(central)
    answer = client.delete(f"{central.url}/v1/projects/1/app-users/{gone['id']}", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert [u["id"] for u in _app_users(central).json()] == [kept["id"]]
    again = client.delete(f"{central.url}/v1/projects/1/app-users/{gone['id']}", timeout=30)
    assert again.status_code == 404 and again.json()["code"] == "404.1"
    with central.db() as session:
        user = session.get(User, gone["id"])
        assert user is not None and not user.active
        assert session.get(AppUserKey, gone["id"]) is None
        assert session.scalars(select(FormAssignment)).all() == []
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == [
            "field_key.create",
            "field_key.create",
            "field_key.assignment.create",
            "field_key.delete",
        ]


def test_revoking_by_token_keeps_the_app_user_listed_without_one(central, make_person) -> None:
    make_person("ada", Role.admin)
    made = create_app_user(central, "Lost phone")
    answer = api(central).delete(f"{central.url}/v1/sessions/{made['token']}", timeout=30)
    assert answer.status_code == 200 and answer.json() == {"success": True}
    (listed,) = _app_users(central).json()
    assert listed["id"] == made["id"] and listed["token"] is None
    with central.db() as session:
        assert session.scalars(select(AuditEvent.action)).all()[-1] == "field_key.session.end"
    # The token is no session of anyone's any more.
    again = api(central).delete(f"{central.url}/v1/sessions/{made['token']}", timeout=30)
    assert again.status_code == 404


def test_scripts_may_narrow_role_and_areas(central, make_person) -> None:
    make_person("ada", Role.admin)
    made = create_app_user(central, "D1 phone", role="subcounty_staff", scopes=["d1", "S2"])
    with central.db() as session:
        user = session.get(User, made["id"])
        assert user is not None and user.role is Role.subcounty_staff
        assert sorted(s.org_unit.code for s in user.scopes) == ["D1", "S2"]


def test_a_coordinator_manages_the_app_users_of_their_districts(central, make_person) -> None:
    make_person("ada", Role.admin)
    make_person("cora", Role.coordinator, ["D1"])
    publish_forms(central, "school")
    theirs = create_app_user(central, "D1 phone", forms=("school",), by="cora")
    other = create_app_user(central, "D2 phone", scopes=["D2"])
    everywhere = create_app_user(central, "Country phone")
    with central.db() as session:
        user = session.get(User, theirs["id"])
        assert user is not None and [s.org_unit.code for s in user.scopes] == ["D1"]
    assert [u["id"] for u in _app_users(central, "cora").json()] == [theirs["id"]]
    assert {u["id"] for u in _app_users(central).json()} == {
        theirs["id"],
        other["id"],
        everywhere["id"],
    }
    cora = api(central, "cora")
    outside = cora.post(
        f"{central.url}/v1/projects/1/app-users",
        json={"displayName": "Sneaky", "scopes": ["D2"]},
        timeout=30,
    )
    assert outside.status_code == 403 and outside.json()["details"]["org_unit"] == "D2"
    for target in (other, everywhere):
        url = f"{central.url}/v1/projects/1/app-users/{target['id']}"
        assert cora.delete(url, timeout=30).status_code == 404
        assign = f"{central.url}/v1/projects/1/forms/school/assignments/2/{target['id']}"
        assert cora.post(assign, timeout=30).status_code == 404
        revoke = cora.delete(f"{central.url}/v1/sessions/{target['token']}", timeout=30)
        assert revoke.status_code == 404
    listing = cora.get(f"{central.url}/v1/projects/1/forms/school/assignments", timeout=30)
    assert listing.json() == [{"actorId": theirs["id"], "roleId": 2}]


def test_people_who_manage_no_app_users_are_refused(central, make_person) -> None:
    make_person("ada", Role.admin)
    make_person("ena", Role.enumerator, ["S1"])
    make_person("sam", Role.subcounty_staff, ["S1"])
    publish_forms(central, "school")
    made = create_app_user(central, "Tablet")
    for who in ("ena", "sam"):
        client = api(central, who)
        base = f"{central.url}/v1/projects/1"
        answers = [
            client.get(f"{base}/app-users", timeout=30),
            client.post(f"{base}/app-users", json={"displayName": "x"}, timeout=30),
            client.delete(f"{base}/app-users/{made['id']}", timeout=30),
            client.get(f"{base}/forms/school/assignments", timeout=30),
            client.post(f"{base}/forms/school/assignments/2/{made['id']}", timeout=30),
            client.get(f"{base}/assignments/forms", timeout=30),
        ]
        assert [a.status_code for a in answers] == [403] * 6, who
        assert {a.json()["code"] for a in answers} == {"403.1"}
    anonymous = requests.get(f"{central.url}/v1/projects/1/app-users", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "401.2"
    # An app user's token is no bearer token of the API.
    bearer = {"Authorization": f"Bearer {made['token']}"}
    as_phone = requests.get(f"{central.url}/v1/projects/1/app-users", headers=bearer, timeout=30)
    assert as_phone.status_code == 401


def test_bad_input_is_a_precise_4xx(central, make_person) -> None:
    make_person("ada", Role.admin)
    client = api(central)
    url = f"{central.url}/v1/projects/1/app-users"
    cases = [
        ({"json": {}}, 400, "400.2"),
        ({"json": {"displayName": "  "}}, 400, "400.2"),
        ({"json": {"displayName": 7}}, 400, "400.2"),
        ({"json": {"displayName": "x" * 256}}, 400, "400.1"),
        ({"json": {"displayName": "a\x00b"}}, 400, "400.1"),
        ({"json": {"displayName": "x", "scopes": ["NOPE"]}}, 400, "400.1"),
        ({"json": {"displayName": "x", "scopes": "D1"}}, 400, "400.8"),
        ({"json": {"displayName": "x", "scopes": []}}, 400, "400.1"),
        ({"json": {"displayName": "x", "role": "admin"}}, 400, "400.1"),
        ({"json": {"displayName": "x", "role": ["enumerator"]}}, 400, "400.8"),
        ({"json": ["displayName"]}, 400, "400.1"),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "400.1"),
        ({"data": b"displayName=x", "headers": {"Content-Type": "text/plain"}}, 400, "400.1"),
    ]
    for kwargs, status, code in cases:
        answer = client.post(url, timeout=30, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == status, (kwargs, answer.text)
        assert answer.json()["code"] == code, (kwargs, answer.text)
    unknown = client.post(url, json={"displayName": "x", "scopes": ["D1", "NOPE"]}, timeout=30)
    assert "NOPE" in unknown.json()["message"]
    # Nothing was half-stored by any of them.
    assert _app_users(central).json() == []
    with central.db() as session:
        assert session.scalars(select(User).where(User.app_user.is_(True))).all() == []
    for path in ("/v1/projects/1/app-users/999999", "/v1/projects/1/app-users/0"):
        answer = client.delete(f"{central.url}{path}", timeout=30)
        assert answer.status_code == 404 and answer.json()["code"] == "404.1"
    other_project = client.post(
        f"{central.url}/v1/projects/2/app-users", json={"displayName": "x"}, timeout=30
    )
    assert other_project.status_code == 404


def test_form_assignments_as_central_has_them(central, make_person) -> None:
    ada = make_person("ada", Role.admin)
    publish_forms(central, "school", "clinic")
    one = create_app_user(central, "One", forms=("school",))
    two = create_app_user(central, "Two", forms=("school", "clinic"))
    client = api(central)
    base = f"{central.url}/v1/projects/1"
    assert client.get(f"{base}/forms/school/assignments", timeout=30).json() == [
        {"actorId": one["id"], "roleId": 2},
        {"actorId": two["id"], "roleId": 2},
    ]
    wide = client.get(
        f"{base}/forms/clinic/assignments", headers={"X-Extended-Metadata": "true"}, timeout=30
    ).json()
    assert [(a["actor"]["id"], a["actor"]["type"], a["roleId"]) for a in wide] == [
        (two["id"], "field_key", 2)
    ]
    for role in ("2", "app-user"):
        actors = client.get(f"{base}/forms/school/assignments/{role}", timeout=30).json()
        assert [a["displayName"] for a in actors] == ["One", "Two"]
    assert client.get(f"{base}/forms/school/assignments/manager", timeout=30).json() == []
    summary = client.get(f"{base}/assignments/forms/app-user", timeout=30).json()
    assert summary == [
        {"actorId": two["id"], "xmlFormId": "clinic", "roleId": 2},
        {"actorId": one["id"], "xmlFormId": "school", "roleId": 2},
        {"actorId": two["id"], "xmlFormId": "school", "roleId": 2},
    ]

    unassign = client.delete(f"{base}/forms/school/assignments/2/{one['id']}", timeout=30)
    assert unassign.status_code == 200 and unassign.json() == {"success": True}
    twice = client.delete(f"{base}/forms/school/assignments/2/{one['id']}", timeout=30)
    assert twice.status_code == 404
    duplicate = client.post(f"{base}/forms/school/assignments/2/{two['id']}", timeout=30)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "409.3"
    bad = [
        (client.post(f"{base}/forms/nothing/assignments/2/{one['id']}", timeout=30), 404),
        (client.post(f"{base}/forms/school/assignments/99/{one['id']}", timeout=30), 404),
        (client.post(f"{base}/forms/school/assignments/2/999999", timeout=30), 404),
        (client.post(f"{base}/forms/school/assignments/manager/{one['id']}", timeout=30), 400),
        (client.post(f"{base}/forms/school/assignments/2/{ada.id}", timeout=30), 400),
        (client.get(f"{base}/forms/nothing/assignments", timeout=30), 404),
        (client.get(f"{base}/forms/school/assignments/nobody", timeout=30), 404),
    ]
    assert [(a.status_code, a.headers["Content-Type"]) for a, _ in bad] == [
        (status, "application/json") for _, status in bad
    ]
    with central.db() as session:
        assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
            "field_key.assignment.delete"
        )


def test_roles_are_listed_for_anyone(central) -> None:
    roles = requests.get(f"{central.url}/v1/roles", timeout=30)
    assert roles.status_code == 200
    by_system = {r["system"]: r for r in roles.json()}
    assert by_system["admin"]["id"] == 1 and by_system["app-user"]["id"] == 2
    assert by_system["app-user"]["verbs"] == ["form.read", "submission.create"]
    assert {"manager", "viewer", "formfill"} <= set(by_system)
    one = requests.get(f"{central.url}/v1/roles/app-user", timeout=30).json()
    assert one == by_system["app-user"]
    assert requests.get(f"{central.url}/v1/roles/2", timeout=30).json() == one
    for missing in ("99", "nobody", "\u0662"):
        answer = requests.get(f"{central.url}/v1/roles/{missing}", timeout=30)
        assert answer.status_code == 404 and answer.json()["code"] == "404.1"


def test_a_coordinators_verbs_name_app_users(central, make_person) -> None:
    make_person("cora", Role.coordinator, ["D1"])
    me = api(central, "cora").get(
        f"{central.url}/v1/users/current", headers={"X-Extended-Metadata": "true"}, timeout=30
    )
    assert {"field_key.create", "field_key.list", "assignment.create"} <= set(me.json()["verbs"])
