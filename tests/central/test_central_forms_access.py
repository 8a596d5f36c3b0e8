"""Who sees and changes which forms through the Central API, and what a form's state does to
Collect: an enumerator lists only the forms they may fill, only admins create, change or
publish, and open / closing / closed act on formList and on submissions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from server.domain.roles import Role
from server.models import Form, FormAssignment, User
from tests.central.conftest import PASSWORD, CentralServer
from tests.central.forms_support import XLSX, Api, forget_cached_forms, small_form
from tests.fixtures.openrosa import instance, multipart, new_instance_id, publish

FORBIDDEN = "403.1"


@pytest.fixture
def people(central: CentralServer, make_person) -> Iterator[dict[str, Api]]:  # type: ignore[no-untyped-def]
    make_person("ada", Role.admin)
    make_person("cora", Role.coordinator, ["D1"])
    make_person("sam", Role.subcounty_staff, ["S1"])
    make_person("ena", Role.enumerator, ["S1"])
    make_person("eno", Role.enumerator, ["S2"])
    apis = {name: Api(central, name) for name in ("ada", "cora", "sam", "ena", "eno")}
    yield apis
    for api in apis.values():
        api.close()


def _ids(api: Api) -> list[str]:
    answer = api("GET", "/forms")
    assert answer.status_code == 200, answer.text
    return [f["xmlFormId"] for f in answer.json()]


def _submit(central: CentralServer, username: str, form_id: str, version: str) -> int:
    forget_cached_forms(central)
    body = multipart(instance(new_instance_id(), form_id=form_id, version=version))
    return requests.post(
        f"{central.url}/submission",
        data=body.body,
        headers={"Content-Type": body.content_type},
        auth=(username, PASSWORD),
        timeout=60,
    ).status_code


def _form_list(central: CentralServer, username: str) -> str:
    return requests.get(f"{central.url}/formList", auth=(username, PASSWORD), timeout=60).text


def test_an_enumerator_lists_only_the_forms_they_may_fill(
    central: CentralServer, people: dict[str, Api]
) -> None:
    with central.db() as session:
        publish(session, "school", "1")
        publish(session, "health", "1", title="Health facility")
        publish(session, "staff_only", "1", title="Coordinators only", roles=["coordinator"])
        eno = session.scalar(select(User).where(User.username == "eno"))
        health = session.scalar(select(Form).where(Form.xml_form_id == "health"))
        session.add(FormAssignment(form_id=health.id, user_id=eno.id))
        session.commit()
    assert people["ada"].create(small_form("draft_only")).status_code == 200

    assert _ids(people["ada"]) == ["draft_only", "health", "school", "staff_only"]
    # Coordinators read every published form, not a draft nobody published.
    assert _ids(people["cora"]) == ["health", "school", "staff_only"]
    assert _ids(people["ena"]) == ["health", "school"]
    assert _ids(people["sam"]) == ["health", "school"]
    # An enumerator assigned to forms sees those only.
    assert _ids(people["eno"]) == ["health"]
    for path in ("/forms/school", "/forms/school.xml", "/forms/school/versions"):
        refused = people["eno"]("GET", path)
        assert refused.status_code == 403 and refused.json()["code"] == FORBIDDEN, path
    assert people["cora"]("GET", "/forms/draft_only").status_code == 403
    assert people["eno"]("GET", "/forms/nothing").status_code == 404
    project = people["ena"]("GET", "", params={"forms": "true"}).json()
    assert [f["xmlFormId"] for f in project["formList"]] == ["health", "school"]


def test_only_admins_create_change_or_publish_forms(
    central: CentralServer, people: dict[str, Api]
) -> None:
    with central.db() as session:
        publish(session, "school", "1")
    assert people["ada"]("POST", "/forms/school/draft").status_code == 200
    attempts = [
        ("POST", "/forms", {"data": small_form("mine"), "headers": {"Content-Type": XLSX}}),
        ("PATCH", "/forms/school", {"json": {"state": "closed"}}),
        ("POST", "/forms/school/draft", {}),
        ("GET", "/forms/school/draft", {}),
        ("GET", "/forms/school/draft.xml", {}),
        ("DELETE", "/forms/school/draft", {}),
        ("POST", "/forms/school/draft/publish", {"params": {"version": "2"}}),
        ("POST", "/forms/school/draft/attachments/x.csv", {"data": b"a"}),
        ("DELETE", "/forms/school", {}),
    ]
    for name in ("cora", "sam", "ena"):
        for method, path, kwargs in attempts:
            answer = people[name](method, path, **kwargs)
            assert answer.status_code == 403, (name, method, path, answer.text)
            assert answer.json()["code"] == FORBIDDEN
    assert people["ada"]("GET", "/forms/school").json()["version"] == "1"
    assert people["ada"]("GET", "/forms/school/draft").status_code == 200
    assert _ids(people["ada"]) == ["school"]
    anonymous = requests.get(f"{central.url}/v1/projects/1/forms", timeout=60)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "401.2"


def test_form_states_act_on_form_list_and_submissions(
    central: CentralServer, people: dict[str, Api]
) -> None:
    with central.db() as session:
        publish(session, "school", "2024010101")
    admin = people["ada"]

    def state(value: str) -> dict:
        answer = admin("PATCH", "/forms/school", json={"state": value})
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert "school" in _form_list(central, "ena")
    assert state("closing")["state"] == "closing"
    # Closing: gone from formList, still taking what phones filled in.
    assert "school" not in _form_list(central, "ena")
    assert _submit(central, "ena", "school", "2024010101") == 201
    assert _ids(people["ena"]) == ["school"]

    assert state("closed")["state"] == "closed"
    assert _ids(people["ena"]) == []  # a data collector reads forms that take submissions
    assert _ids(people["cora"]) == ["school"]

    reopened = state("open")
    assert reopened["state"] == "open" and reopened["updatedAt"] is not None
    assert "school" in _form_list(central, "ena")
    assert admin("GET", "/forms/school").json()["state"] == "open"


def test_a_closed_form_refuses_submissions(central: CentralServer, people: dict[str, Api]) -> None:
    with central.db() as session:
        publish(session, "school", "2024010101")
    assert _submit(central, "ena", "school", "2024010101") == 201
    assert people["ada"]("PATCH", "/forms/school", json={"state": "closed"}).status_code == 200
    assert _submit(central, "ena", "school", "2024010101") == 403
    with central.db() as session:
        form = session.scalar(select(Form).where(Form.xml_form_id == "school"))
        assert [v.state.value for v in form.versions] == ["closed"]


def test_bad_state_changes_are_refused_precisely(
    central: CentralServer, people: dict[str, Api]
) -> None:
    with central.db() as session:
        publish(session, "school", "1")
    admin = people["ada"]
    for body in ({"state": "archived"}, {"state": 3}, {"state": ""}):
        answer = admin("PATCH", "/forms/school", json=body)
        assert answer.status_code == 400 and answer.json()["code"] == "400.8", body
    not_json = admin(
        "PATCH", "/forms/school", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    # Other fields change nothing, as on Central.
    same = admin("PATCH", "/forms/school", json={"name": "Renamed"})
    assert same.status_code == 200 and same.json()["name"] == "School survey"
    assert admin("PATCH", "/forms/nothing", json={"state": "closed"}).status_code == 404
    assert admin.create(small_form("fresh")).status_code == 200
    unpublished = admin("PATCH", "/forms/fresh", json={"state": "closing"})
    assert unpublished.status_code == 409
    deleted = admin("DELETE", "/forms/school")
    assert deleted.status_code == 405 and "Close the form" in deleted.json()["message"]


def test_extended_metadata_counts_the_submissions_the_caller_may_see(
    central: CentralServer, people: dict[str, Api]
) -> None:
    with central.db() as session:
        publish(session, "school", "2024010101")
    assert _submit(central, "ena", "school", "2024010101") == 201
    forget_cached_forms(central)
    body = multipart(instance(new_instance_id(), form_id="school", district="D2", subcounty="S2"))
    answer = requests.post(
        f"{central.url}/submission",
        data=body.body,
        headers={"Content-Type": body.content_type},
        auth=("eno", PASSWORD),
        timeout=60,
    )
    assert answer.status_code == 201
    extended = {"X-Extended-Metadata": "true"}

    def counted(name: str) -> tuple[int, dict]:
        form = people[name]("GET", "/forms/school", headers=extended).json()
        return form["submissions"], form["reviewStates"]

    assert counted("ada") == (2, {"received": 2, "hasIssues": 0, "edited": 0})
    assert counted("cora")[0] == 1  # D1 only
    assert counted("ena")[0] == 1  # their own
    listed = people["ada"]("GET", "/forms", headers=extended).json()
    assert listed[0]["submissions"] == 2 and listed[0]["lastSubmission"].endswith("Z")
