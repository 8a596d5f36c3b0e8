"""GET /v1/audits: the audit log for admins, filtered as Central filters it."""

from __future__ import annotations

import datetime as dt

import requests

from server.domain.roles import Role
from server.models import AuditEvent
from tests.central.conftest import PASSWORD, CentralServer


def _log(central: CentralServer, action: str, at: dt.datetime, actor_id: int | None) -> None:
    with central.db() as session:
        session.add(
            AuditEvent(at=at, actor_id=actor_id, action=action, target_type="form", target_id="7")
        )


def _audits(central: CentralServer, username: str, **params: str) -> requests.Response:
    return requests.get(
        f"{central.url}/v1/audits", params=params, auth=(username, PASSWORD), timeout=30
    )


def test_admins_read_the_log_newest_first_and_filtered(central, make_person) -> None:
    admin = make_person("root", Role.admin)
    day = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    _log(central, "form.publish", day, admin.id)
    _log(central, "form.close", day + dt.timedelta(days=1), admin.id)
    _log(central, "user.deactivate", day + dt.timedelta(days=2), None)

    everything = _audits(central, "root", start="2026-11-01", end="2026-11-30").json()
    assert [e["action"] for e in everything] == ["user.deactivate", "form.close", "form.publish"]
    assert everything[2] == {
        "actorId": admin.id,
        "action": "form.publish",
        "acteeId": "form:7",
        "details": {},
        "loggedAt": "2026-11-03T09:00:00.000Z",
    }
    forms = _audits(central, "root", action="form", start="2026-11-01").json()
    assert [e["action"] for e in forms] == ["form.close", "form.publish"]
    one_day = _audits(central, "root", start="2026-11-04", end="2026-11-04").json()
    assert [e["action"] for e in one_day] == ["form.close"]
    page = _audits(central, "root", start="2026-11-01", limit="1", offset="1").json()
    assert [e["action"] for e in page] == ["form.close"]


def test_signing_in_is_audited_and_extended_metadata_names_the_actor(central, make_person) -> None:
    admin = make_person("root", Role.admin)
    token = requests.post(
        f"{central.url}/v1/sessions", json={"email": "root", "password": PASSWORD}, timeout=30
    ).json()["token"]
    answer = requests.get(
        f"{central.url}/v1/audits",
        params={"action": "user.session.create"},
        headers={"Authorization": f"Bearer {token}", "X-Extended-Metadata": "true"},
        timeout=30,
    )
    [event] = answer.json()
    assert event["actorId"] == admin.id and event["actor"]["displayName"] == "root"


def test_only_admins_read_it_and_bad_filters_are_400(central, make_person) -> None:
    make_person("root", Role.admin)
    make_person("amina", Role.coordinator, ["D1"])
    refused = _audits(central, "amina")
    assert refused.status_code == 403 and refused.json()["code"] == "403.1"
    for params in ({"start": "yesterday"}, {"limit": "-1"}, {"offset": "x"}, {"end": "2026-13-01"}):
        answer = _audits(central, "root", **params)
        assert answer.status_code == 400, params
        assert answer.json()["code"] == "400.8", params
