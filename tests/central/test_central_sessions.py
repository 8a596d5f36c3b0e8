"""Sessions, the current user and the one project, through pyodk and by hand."""

from __future__ import annotations

import datetime as dt

import requests
from sqlalchemy import select

from server.db import utcnow
from server.domain.roles import Role
from server.models import ApiSession, User
from server.services.users import set_password
from tests.central.conftest import PASSWORD, CentralServer


def _sign_in(central: CentralServer, username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(
        f"{central.url}/v1/sessions", json={"email": username, "password": password}, timeout=30
    )


def test_pyodk_signs_in_and_lists_the_one_project(central, make_person, pyodk_client) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    client = pyodk_client("amina")
    projects = client.projects.list()
    assert [(p.id, p.name) for p in projects] == [(1, "District Management Improvement Plans")]
    assert client.projects.get(1).id == 1


def test_a_session_token_is_stored_hashed_and_expires(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    answer = _sign_in(central, "amina")
    assert answer.status_code == 200
    body = answer.json()
    token = body["token"]
    assert len(token) == 64 and body["expiresAt"].endswith("Z")
    with central.db() as session:
        stored = session.scalars(select(ApiSession)).all()
        assert [len(s.token_sha256) for s in stored] == [64]
        assert all(token not in (s.token_sha256,) for s in stored)
    bearer = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{central.url}/v1/users/current", headers=bearer, timeout=30)
    assert me.status_code == 200 and me.json()["email"] == "amina"
    with central.db() as session:
        session.execute(
            ApiSession.__table__.update().values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    expired = requests.get(f"{central.url}/v1/users/current", headers=bearer, timeout=30)
    assert expired.status_code == 401
    assert expired.json()["code"] == "401.2"


def test_a_password_change_or_deactivation_ends_every_session(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    make_person("brian", Role.coordinator, ["UG"])
    first = {"Authorization": f"Bearer {_sign_in(central, 'amina').json()['token']}"}
    second = {"Authorization": f"Bearer {_sign_in(central, 'brian').json()['token']}"}
    with central.db() as session:
        amina = session.scalar(select(User).where(User.username == "amina"))
        set_password(amina, "another-pass-456", central.settings.auth_realm)
        brian = session.scalar(select(User).where(User.username == "brian"))
        brian.active = False
    for headers in (first, second):
        answer = requests.get(f"{central.url}/v1/users/current", headers=headers, timeout=30)
        assert answer.status_code == 401


def test_signing_out_ends_the_session(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    token = _sign_in(central, "amina").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    out = requests.delete(f"{central.url}/v1/sessions/{token}", headers=bearer, timeout=30)
    assert out.status_code == 200 and out.json() == {"success": True}
    after = requests.get(f"{central.url}/v1/users/current", headers=bearer, timeout=30)
    assert after.status_code == 401


def test_basic_auth_works_without_a_session(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    me = requests.get(f"{central.url}/v1/users/current", auth=("amina", PASSWORD), timeout=30)
    assert me.status_code == 200 and me.json()["type"] == "user"
    wrong = requests.get(f"{central.url}/v1/users/current", auth=("amina", "nope"), timeout=30)
    assert wrong.status_code == 401 and wrong.json()["code"] == "401.2"


def test_bad_sign_ins_answer_in_centrals_shape(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    assert _sign_in(central, "amina", "wrong-password").json()["code"] == "401.2"
    missing = requests.post(f"{central.url}/v1/sessions", json={"email": "amina"}, timeout=30)
    assert missing.status_code == 400 and missing.json()["code"] == "400.2"
    garbled = requests.post(
        f"{central.url}/v1/sessions",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert garbled.status_code == 400 and garbled.json()["code"] == "400.1"


def test_unknown_paths_and_projects_are_centrals_404(central, make_person) -> None:
    make_person("amina", Role.coordinator, ["UG"])
    auth = ("amina", PASSWORD)
    for path in ("/v1/nothing/here", "/v1/projects/2", "/v1/projects/99999999999999999999"):
        answer = requests.get(f"{central.url}{path}", auth=auth, timeout=30)
        assert answer.status_code == 404, path
        assert answer.headers["Content-Type"].startswith("application/json"), path
        assert answer.json()["code"] == "404.1", path
