"""Every write of the JSON API, for every role, inside and outside the caller's area: a table of
(route, method, body) and the status each kind of caller gets.

The callers: an admin; a coordinator of the plan's district (D1); a coordinator of the region
holding both districts (UG-C); a coordinator of the other district (D2), outside; sub-county
staff of a sub-county of D1 (they read D1's plan and comment on it, they change nothing); an
enumerator. Each write targets D1's plan; a synthesis of 2025/26 shows the districts of the
caller's area that have a plan. A refusal outside the area is 403 in JSON naming what the
caller may not reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.fixtures.openrosa import add_user, basic, seed_org
from tests.fixtures.plans import draw_plans

USERS = ("admin", "coord", "region", "outside", "staff", "enum")


@dataclass(frozen=True)
class Write:
    method: str
    path: str  # {plan} is D1's plan
    body: dict[str, Any]
    # Status per caller, in the order of USERS.
    statuses: tuple[int, int, int, int, int, int]


WRITES = {
    "edit section text": Write(
        "PUT", "/api/v1/plans/{plan}/sections/profile/text", {"text": "Ours."},
        (200, 200, 200, 403, 403, 403),
    ),
    "revert section text": Write(
        "DELETE", "/api/v1/plans/{plan}/sections/profile/text", {},
        (200, 200, 200, 403, 403, 403),
    ),
    "section state": Write(
        "POST", "/api/v1/plans/{plan}/sections/profile/state", {"state": "in_review"},
        (200, 200, 200, 403, 403, 403),
    ),
    "plan state": Write(
        "POST", "/api/v1/plans/{plan}/state", {"state": "in_review"},
        (200, 200, 200, 403, 403, 403),
    ),
    "comment": Write(
        "POST", "/api/v1/plans/{plan}/comments", {"body": "Looks right."},
        (201, 201, 201, 403, 201, 403),
    ),
    "plan document": Write(
        "POST", "/api/v1/plans/{plan}/documents", {"format": "docx"},
        (202, 202, 202, 403, 202, 403),
    ),
    "synthesis document": Write(
        "POST", "/api/v1/documents", {"cycle": "2025/26", "format": "pdf"},
        (202, 202, 202, 202, 403, 403),
    ),
}  # fmt: skip

CASES = [
    pytest.param(name, user, status, id=f"{name}-{user}")
    for name, write in WRITES.items()
    for user, status in zip(USERS, write.statuses, strict=True)
]


@pytest.fixture
def plans(db: Session) -> dict[str, int]:
    units = seed_org(db)
    add_user(db, "admin", "admin")
    add_user(db, "coord", "coordinator", ("D1",))
    add_user(db, "region", "coordinator", ("UG-C",))
    add_user(db, "outside", "coordinator", ("D2",))
    add_user(db, "staff", "subcounty_staff", ("S1",))
    add_user(db, "enum", "enumerator", ("S1",))
    return draw_plans(db, units)


@pytest.mark.parametrize(("name", "user", "status"), CASES)
def test_each_write_checks_role_and_area(
    client: FlaskClient, plans: dict[str, int], name: str, user: str, status: int
) -> None:
    write = WRITES[name]
    path = write.path.format(plan=plans["D1"])
    response = client.open(path, method=write.method, json=write.body, headers=basic(user))
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    if status != 403:
        return
    assert response.content_type == "application/problem+json" and body["status"] == 403
    if user == "outside":
        # Named: what the caller may not reach.
        assert body["code"] == "plans.out_of_scope"
        assert body["details"] == {"plan_id": plans["D1"], "district": "D1"}
        assert "Unit D1 (D1)" in body["message"]


def test_a_write_to_a_plan_that_does_not_exist_is_404(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    response = client.put(
        "/api/v1/plans/999999/sections/profile/text", json={"text": "x"}, headers=basic("admin")
    )
    assert response.status_code == 404


def test_a_synthesis_job_is_read_only_by_those_its_districts_are_open_to(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    made = client.post(
        "/api/v1/documents", json={"cycle": "2025/26", "format": "pdf"}, headers=basic("admin")
    )
    assert made.status_code == 202
    url = made.get_json()["url"]
    assert client.get(url, headers=basic("region")).status_code == 200
    refused = client.get(url, headers=basic("coord"))
    assert refused.status_code == 403 and refused.get_json()["details"]["districts"] == ["D2"]


def test_a_coordinators_synthesis_is_read_by_those_whose_area_covers_its_districts(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    made = client.post(
        "/api/v1/documents", json={"cycle": "2025/26", "format": "docx"}, headers=basic("coord")
    )
    assert made.status_code == 202, made.get_json()
    url = made.get_json()["url"]
    # Its requester and those whose area covers D1 read it; the other district's coordinator
    # is told which district is outside their area.
    assert client.get(url, headers=basic("coord")).status_code == 200
    assert client.get(url, headers=basic("region")).status_code == 200
    refused = client.get(url, headers=basic("outside"))
    assert refused.status_code == 403 and refused.get_json()["details"]["districts"] == ["D1"]


def test_a_synthesis_of_an_area_without_plans_is_404(
    client: FlaskClient, plans: dict[str, int], db: Session
) -> None:
    add_user(db, "elsewhere", "coordinator", ("S2",))
    response = client.post(
        "/api/v1/documents", json={"cycle": "2025/26", "format": "pdf"}, headers=basic("coord")
    )
    assert response.status_code == 202
    response = client.post(
        "/api/v1/documents", json={"cycle": "2025/26", "format": "pdf"}, headers=basic("elsewhere")
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "plans.synthesis_empty"
