"""The JSON API of draft DMIPs: who reads which plan, edits, state changes with their rules,
comments, approved versions, document jobs, and problem bodies instead of HTML or 500s."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from server.models import DmipPlan
from server.plans import workflow
from tests.fixtures.openrosa import PASSWORD, add_user, basic, seed_org
from tests.fixtures.plans import draw_plans
from tests.plans.test_plans_workflow import _generated
from tests.web_client import csrf_token, sign_in
from workers.document_jobs import run_job


@pytest.fixture
def plans(db: Session) -> dict[str, int]:
    units = seed_org(db)
    add_user(db, "admin", "admin")
    add_user(db, "coord", "coordinator", ("D1",))
    add_user(db, "staff", "subcounty_staff", ("S1",))
    add_user(db, "enum", "enumerator", ("S1",))
    return draw_plans(db, units)


def _get(client: FlaskClient, path: str, user: str = "coord"):  # type: ignore[no-untyped-def]
    return client.get(path, headers=basic(user))


def _send(client: FlaskClient, method: str, path: str, json: object, user: str = "coord"):  # type: ignore[no-untyped-def]
    return client.open(path, method=method, json=json, headers=basic(user))


@pytest.mark.parametrize(
    ("user", "visible"),
    [("admin", {"D1", "D2"}), ("coord", {"D1"}), ("staff", {"D1"})],
)
def test_each_reader_sees_the_plans_of_their_area(
    client: FlaskClient, plans: dict[str, int], user: str, visible: set[str]
) -> None:
    body = _get(client, "/api/v1/plans", user).get_json()
    assert {p["district"]["code"] for p in body["plans"]} == visible
    other = plans["D2"]
    status = _get(client, f"/api/v1/plans/{other}", user).status_code
    assert status == (200 if "D2" in visible else 404)


def test_enumerators_and_strangers_are_refused_in_json(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    refused = _get(client, "/api/v1/plans", "enum")
    assert refused.status_code == 403 and refused.get_json()["code"] == "plans.role"
    anonymous = client.get("/api/v1/plans")
    assert anonymous.status_code == 401
    assert anonymous.content_type == "application/problem+json"
    assert len(anonymous.headers.getlist("WWW-Authenticate")) == 2
    bad_cycle = _get(client, "/api/v1/plans?cycle=2025")
    assert bad_cycle.status_code == 400 and "planning cycle" in bad_cycle.get_json()["message"]


def test_a_plan_with_its_sections_references_and_history(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    body = _get(client, f"/api/v1/plans/{plans['D1']}").get_json()
    assert body["district"]["code"] == "D1" and body["may_act"] is True
    assert [s["key"] for s in body["sections"]] == ["profile", "gap_analysis"]
    assert body["sections"][0]["content"]["blocks"][0]["text"] == "100 pupils."
    staff = _get(client, f"/api/v1/plans/{plans['D1']}", "staff").get_json()
    assert staff["may_act"] is False
    events = _get(client, f"/api/v1/plans/{plans['D1']}/history").get_json()["events"]
    assert events[0]["kind"] == "regenerated"


def test_edit_review_approve_and_the_frozen_version(
    client: FlaskClient, plans: dict[str, int]
) -> None:
    base = f"/api/v1/plans/{plans['D1']}"
    edited = _send(client, "PUT", f"{base}/sections/profile/text", {"text": "Our words."})
    assert edited.status_code == 200 and edited.get_json()["text"] == "Our words."
    assert _send(client, "POST", f"{base}/state", {"state": "in_review"}).status_code == 200
    refused = _send(client, "POST", f"{base}/state", {"state": "approved"})
    assert (
        refused.status_code == 409
        and "Approve every section first" in refused.get_json()["message"]
    )
    asked = _send(client, "POST", f"{base}/sections/profile/state", {"state": "changes_requested"})
    assert asked.status_code == 400  # a request for changes needs a note
    for key in ("profile", "gap_analysis"):
        done = _send(client, "POST", f"{base}/sections/{key}/state", {"state": "approved"})
        assert done.status_code == 200 and done.get_json()["state"] == "approved"
    approved = _send(client, "POST", f"{base}/state", {"state": "approved", "note": "Council"})
    assert approved.get_json()["version"] == 1
    frozen = _get(client, f"{base}/versions/1").get_json()
    assert frozen["sections"][0]["text"] == "Our words."
    assert _get(client, f"{base}/versions/2").status_code == 404
    late = _send(client, "PUT", f"{base}/sections/profile/text", {"text": "Late change"})
    assert late.status_code == 409 and "frozen" in late.get_json()["message"]
    unknown = _send(client, "POST", f"{base}/state", {"state": "published"})
    assert unknown.status_code == 400


def test_changes_since_the_edit_after_new_data(
    client: FlaskClient, db: Session, plans: dict[str, int]
) -> None:
    base = f"/api/v1/plans/{plans['D1']}"
    _send(client, "PUT", f"{base}/sections/profile/text", {"text": "Our words."})
    plan = db.get(DmipPlan, plans["D1"])
    assert plan is not None
    workflow.apply_generated(db, plan, _generated(pupils=140))
    db.commit()
    body = _get(client, f"{base}/sections/profile/changes?since=edit").get_json()
    assert body["changed"] is True
    assert ["added", "The district has 140 pupils."] in body["lines"]
    section = _get(client, base).get_json()["sections"][0]
    assert section["data_changed_since_edit"] is True and section["text"] == "Our words."


def test_others_may_not_act(client: FlaskClient, plans: dict[str, int]) -> None:
    for user in ("staff",):
        refused = _send(
            client, "PUT", f"/api/v1/plans/{plans['D1']}/sections/profile/text", {"text": "x"}, user
        )
        assert refused.status_code == 403
    outside = _send(
        client, "PUT", f"/api/v1/plans/{plans['D2']}/sections/profile/text", {"text": "x"}
    )
    assert outside.status_code == 403 and outside.get_json()["code"] == "plans.out_of_scope"
    comment = _send(
        client, "POST", f"/api/v1/plans/{plans['D1']}/comments", {"body": "Good"}, "staff"
    )
    assert comment.status_code == 201
    empty = _send(client, "POST", f"/api/v1/plans/{plans['D1']}/comments", {"body": " "})
    assert empty.status_code == 400
    not_json = client.post(
        f"/api/v1/plans/{plans['D1']}/comments", data="body", headers=basic("coord")
    )
    assert not_json.status_code == 400


def test_a_browser_session_write_needs_the_csrf_token(app: Flask, plans: dict[str, int]) -> None:
    client = app.test_client()
    assert sign_in(client, "coord", PASSWORD).status_code == 302
    path = f"/api/v1/plans/{plans['D1']}/sections/profile/text"
    forged = client.put(path, json={"text": "From another site"})
    assert forged.status_code == 403 and forged.get_json()["code"] == "plans.csrf"
    token = csrf_token(client, "/")
    ours = client.put(path, json={"text": "From our page"}, headers={"X-CSRFToken": token})
    assert ours.status_code == 200
    assert client.get(f"/api/v1/plans/{plans['D1']}").status_code == 200


def test_document_jobs(
    app: Flask, client: FlaskClient, plans: dict[str, int], tmp_path: Path
) -> None:
    started = _send(client, "POST", f"/api/v1/plans/{plans['D1']}/documents", {"format": "docx"})
    assert started.status_code == 202
    job = started.get_json()
    assert job["state"] == "queued" and started.headers["Location"] == job["url"]
    assert _get(client, f"{job['url']}/file").status_code == 404  # not ready
    # The worker's part, run here directly (tests/plans/test_plans_pipeline.py runs a real worker).
    run_job(app.extensions["dmip"].db, job["id"], tmp_path)
    done = _get(client, job["url"]).get_json()
    assert done["state"] == "done" and done["progress"] == 1.0
    download = _get(client, done["file"])
    assert download.status_code == 200 and download.data[:2] == b"PK"
    download.close()
    assert _get(client, job["url"], "staff").status_code == 200
    bad = _send(client, "POST", f"/api/v1/plans/{plans['D1']}/documents", {"format": "odt"})
    assert bad.status_code == 400
    synthesis = _send(
        client, "POST", "/api/v1/documents", {"cycle": "2025/26", "format": "pdf"}, "admin"
    )
    assert synthesis.status_code == 202
    # The admin's synthesis shows D2 too, outside coord's district; coord's own shows D1 only.
    refused = _get(client, synthesis.get_json()["url"])
    assert refused.status_code == 403 and refused.get_json()["details"]["districts"] == ["D2"]
    own = _send(client, "POST", "/api/v1/documents", {"cycle": "2025/26", "format": "pdf"})
    assert own.status_code == 202
    assert (
        _send(
            client, "POST", "/api/v1/documents", {"cycle": "2025/26", "format": "pdf"}, "staff"
        ).status_code
        == 403
    )
