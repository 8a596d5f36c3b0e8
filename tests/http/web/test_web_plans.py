"""DMIP draft pages through Flask's test client on PostgreSQL: who may read and do what (every
route of the `plans` blueprint, for every role), refusals shown in words on the plan page,
CSRF, and a document job from the button to the downloaded DOCX written by the worker's
function."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import docx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database, utcnow
from server.domain.drafting.sections import Cell, Chart, Paragraph, Ref, Section, Series, Table
from server.domain.roles import Role
from server.models import DmipPlan, DocumentJob, OrgUnit, PlanComment, PlanSection, PlanState
from server.plans import content
from server.services.orgunits import import_org_units
from server.services.users import create_user
from server.settings import Settings
from tests.http.web.test_web_permissions import HIERARCHY, PASSWORD, client_for, route
from tests.web_client import csrf_token
from workers.document_jobs import run_job

CYCLE = "2025/26"
ROLES = ("anonymous", "admin", "coordinator", "other_coordinator", "subcounty_staff", "enumerator")
READERS = {"admin", "coordinator", "subcounty_staff"}  # of district D_1's plan
ACTORS = {"admin", "coordinator"}
LISTERS = {"admin", "coordinator", "other_coordinator", "subcounty_staff"}

GENERATED = "Alpha has 3 sub-counties. Pupils per teacher: 61 against a standard of 53."


def drafted_section(key: str, title: str, district: str) -> Section:
    ref = Ref(district, CYCLE, "pupil_teacher_ratio", None, 4)
    return Section(
        key,
        title,
        (
            Paragraph(GENERATED),
            Table(
                "Gaps",
                ("Indicator", "Value"),
                ((Cell("Pupils per teacher"), Cell("61", "ratio", 61.0, ref)),),
            ),
            Chart(
                "Pupils per teacher by sub-county",
                ("Alpha North <b>", "Alpha South"),
                (Series("Pupils per teacher", (61.0, 48.5)),),
                "pupils per teacher",
                reference_line=53.0,
                reference_label="National standard",
            ),
        ),
    )


def add_plan(session: Session, district_code: str) -> DmipPlan:
    district = session.scalars(select(OrgUnit).where(OrgUnit.code == district_code)).one()
    plan = DmipPlan(district_id=district.id, cycle=CYCLE, stale=False, generated_at=utcnow())
    session.add(plan)
    for position, (key, title) in enumerate(
        [("profile", "District profile"), ("gap_analysis", "Gap analysis")]
    ):
        drafted = drafted_section(key, title, district_code)
        session.add(
            PlanSection(
                plan=plan,
                key=key,
                position=position,
                title=title,
                generated=content.section_json(drafted),
                generated_text=content.narrative(drafted),
            )
        )
    session.flush()
    return plan


@dataclass
class World:
    ids: dict[str, int]


@pytest.fixture
def world(app: Flask, db: Session, settings: Settings) -> Iterator[World]:
    import_org_units(db, HIERARCHY)
    realm = settings.auth_realm
    create_user(db, "admin", PASSWORD, Role.admin, realm)
    create_user(db, "coordinator", PASSWORD, Role.coordinator, realm, ["D_1"])
    create_user(db, "other_coordinator", PASSWORD, Role.coordinator, realm, ["DX1"])
    create_user(db, "subcounty_staff", PASSWORD, Role.subcounty_staff, realm, ["S-A"])
    create_user(db, "enumerator", PASSWORD, Role.enumerator, realm, ["S-A"])
    plan = add_plan(db, "D_1")
    other = add_plan(db, "DX1")
    job = DocumentJob(plan_id=plan.id, cycle=CYCLE, format="docx")
    synthesis = DocumentJob(plan_id=None, cycle=CYCLE, format="docx")
    db.add_all([job, synthesis])
    db.commit()
    yield World(
        {
            "plan": plan.id,
            "other": other.id,
            "section": plan.sections[0].id,
            "job": job.id,
            "synthesis_job": synthesis.id,
        }
    )


SECTION = "/plans/{plan}/sections/{section}"
ROUTES = [
    route("GET", "/plans", LISTERS),
    route("GET", "/plans/{plan}", READERS),
    route("POST", "/plans/{plan}/state", ACTORS, target="in_review"),
    route("POST", "/plans/{plan}/comments", READERS, body="Looks right."),
    route("POST", "/plans/{plan}/documents", READERS, format="docx"),
    route("POST", SECTION + "/text", ACTORS, text="Our own words."),
    route("POST", SECTION + "/revert", ACTORS),
    route("POST", SECTION + "/state", ACTORS, target="in_review"),
    route("POST", SECTION + "/comments", READERS, body="Check the ratio."),
    route("GET", "/plans/synthesis", {"admin"}),
    route("POST", "/plans/synthesis/documents", {"admin"}, cycle=CYCLE, format="pdf"),
    route("GET", "/plans/documents/{job}", READERS),
    route("GET", "/plans/documents/{job}/status", READERS),
    route("GET", "/plans/documents/{synthesis_job}", {"admin"}),
    route("GET", "/plans/documents/{synthesis_job}/status", {"admin"}),
    # Not made yet: a 404 for those who may read it, 403 for the others.
    route("GET", "/plans/documents/{job}/file", READERS),
]


def test_matrix_covers_every_plans_route(app: Flask) -> None:
    covered = {(r.method, re.sub(r"\{[^}]+\}", "{}", r.path)) for r in ROUTES}
    seen = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "plans":
            continue
        pattern = re.sub(r"<[^>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, pattern) in covered, f"{method} {rule.rule}: not in the matrix"
            seen.add((method, pattern))
    assert seen == covered


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
        status, where = response.status_code, f"{role} {r.method} {path}"
        if role == "anonymous":
            expected = (302,) if r.method == "GET" else (401,)
            assert status in expected, where
        elif role in r.allowed:
            # Allowed through; the workflow may still refuse a step in words (409).
            assert status in (200, 303, 404, 409), where
        else:
            assert status == 403, where
            assert "Not allowed" in response.get_data(as_text=True), where
    db.expire_all()
    plan = db.get(DmipPlan, world.ids["plan"])
    assert plan is not None
    section = db.get(PlanSection, world.ids["section"])
    assert section is not None
    if role in ACTORS:
        assert plan.state is PlanState.in_review
    else:  # nothing a refused user sent changed the plan
        assert plan.state is PlanState.draft and section.edited_text is None
        assert section.state is PlanState.draft
    comments = db.scalars(select(PlanComment.body)).all()
    assert bool(comments) == (role in READERS)
    jobs = len(db.scalars(select(DocumentJob.id)).all())
    assert jobs == 2 + (role in READERS) + (role == "admin")


def test_plan_page_shows_sections_tables_and_charts(app: Flask, world: World) -> None:
    page = client_for(app, "coordinator").get(f"/plans/{world.ids['plan']}").get_data(True)
    assert page.index("District profile") < page.index("Gap analysis")
    assert GENERATED in page
    # The number links to its indicator page; the chart is SVG with its category escaped.
    assert f'href="/indicators/D_1/pupil_teacher_ratio?cycle={CYCLE}"' in page
    assert "<svg" in page and "Alpha North &lt;b&gt;" in page and "<b>" not in page
    assert "National standard: 53" in page
    # Drafts may only be submitted for review: no approve button yet.
    assert ">Submit for review</button>" in page and ">Approve</button>" not in page
    # Sub-county staff read and comment, without the buttons that change the plan.
    staff = client_for(app, "subcounty_staff").get(f"/plans/{world.ids['plan']}").get_data(True)
    assert "Edit the narrative" not in staff and "Submit for review" not in staff
    assert "Comment on this section" in staff


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/plans"), **data})


def test_edit_review_approve_and_what_changed(app: Flask, db: Session, world: World) -> None:
    client = client_for(app, "coordinator")
    base = f"/plans/{world.ids['plan']}/sections/{world.ids['section']}"
    edited = "Alpha has 3 sub-counties.\n\nTeachers first, then latrines."
    response = _post(client, base + "/text", text=edited)
    assert response.status_code == 303
    assert response.location.endswith(f"/plans/{world.ids['plan']}#section-profile")
    page = client.get(f"/plans/{world.ids['plan']}").get_data(True)
    assert "Teachers first, then latrines." in page and "is saved" in page
    assert "Revert to the generated text" in page
    assert _post(client, base + "/state", target="in_review").status_code == 303
    assert _post(client, base + "/state", target="approved").status_code == 303
    # The approved section is frozen: no edit form, and the edit is refused in words.
    response = _post(client, base + "/text", text="Later words.")
    assert response.status_code == 409
    assert "approved and frozen" in response.get_data(True)
    # Reopened and edited again: what changed since the last review is shown line by line.
    assert _post(client, base + "/state", target="draft").status_code == 303
    assert _post(client, base + "/text", text=edited + " And desks.").status_code == 303
    page = client.get(f"/plans/{world.ids['plan']}").get_data(True)
    assert "What changed since the last review" in page
    assert "Added:</span> <ins>And desks.</ins>" in page
    # The data changes under the edit: the page says so, with what the data changed.
    db.expire_all()
    section = db.get(PlanSection, world.ids["section"])
    assert section is not None
    section.generated_text = GENERATED.replace("61", "58")
    db.commit()
    page = client.get(f"/plans/{world.ids['plan']}").get_data(True)
    assert "The data changed after this text was edited." in page
    assert "Removed:</span> <del>Pupils per teacher: 61" in page
    assert "Added:</span> <ins>Pupils per teacher: 58" in page


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/sections/{section}/text", {"text": "   "}, 400, "The text is empty"),
        ("/sections/{section}/state", {"target": "approved"}, 409, "cannot go to approved"),
        ("/sections/{section}/state", {"target": "nonsense"}, 400, "is not a state"),
        ("/state", {"target": "approved"}, 409, "cannot go to approved"),
        ("/sections/{section}/comments", {"body": ""}, 400, "The comment is empty"),
        ("/documents", {"format": "odt"}, 400, "is not a document format"),
    ],
)
def test_refusals_are_messages_not_errors(
    app: Flask, world: World, path: str, data: dict[str, str], status: int, message: str
) -> None:
    client = client_for(app, "coordinator")
    response = _post(client, f"/plans/{world.ids['plan']}" + path.format(**world.ids), **data)
    assert response.status_code == status
    assert message in response.get_data(True)


def test_approving_the_plan_names_the_sections_still_pending(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    plan = f"/plans/{world.ids['plan']}"
    assert _post(client, plan + "/state", target="in_review").status_code == 303
    section = f"{plan}/sections/{world.ids['section']}"
    assert _post(client, section + "/state", target="approved").status_code == 303
    response = _post(client, plan + "/state", target="approved")
    assert response.status_code == 409
    assert "not yet approved: Gap analysis." in response.get_data(True)
    response = _post(client, plan + "/state", target="changes_requested")
    assert response.status_code == 400 and "needs a note" in response.get_data(True)


def test_a_post_without_the_csrf_token_is_refused(app: Flask, db: Session, world: World) -> None:
    client = client_for(app, "coordinator")
    base = f"/plans/{world.ids['plan']}/sections/{world.ids['section']}"
    response = client.post(base + "/text", data={"text": "Forged words."})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(True)
    db.expire_all()
    section = db.get(PlanSection, world.ids["section"])
    assert section is not None and section.edited_text is None


def test_document_job_from_button_to_download(
    app: Flask, db: Session, world: World, settings: Settings
) -> None:
    client = client_for(app, "coordinator")
    plan = f"/plans/{world.ids['plan']}"
    words = "Teachers first, then latrines."
    base = f"{plan}/sections/{world.ids['section']}"
    assert _post(client, base + "/text", text=words).status_code == 303
    response = _post(client, plan + "/documents", format="docx")
    assert response.status_code == 303
    job_id = int(response.location.rsplit("/", 1)[1])
    page = client.get(response.location).get_data(True)
    assert "waiting for a worker" in page and '<progress id="job-progress"' in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript the page reloads
    assert client.get(f"/plans/documents/{job_id}/status").get_json()["state"] == "queued"
    assert client.get(f"/plans/documents/{job_id}/file").status_code == 404
    # The worker's task body writes the document.
    database = Database(settings.database_url)
    run_job(database, job_id, settings.data_dir / "documents")
    database.dispose()
    status = client.get(f"/plans/documents/{job_id}/status").get_json()
    assert status["state"] == "done" and status["progress"] == 100
    assert status["download"] == f"/plans/documents/{job_id}/file"
    page = client.get(f"/plans/documents/{job_id}").get_data(True)
    assert "http-equiv" not in page and "is ready" in page
    response = client.get(status["download"])
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=DMIP-D_1-2025-26.docx"
    data = response.data
    response.close()  # send_file streams from an open file
    document = docx.Document(io.BytesIO(data))
    assert words in [p.text for p in document.paragraphs]
    # Another district's coordinator may not fetch it, nor see its progress.
    other = client_for(app, "other_coordinator")
    assert other.get(status["download"]).status_code == 403
    assert other.get(f"/plans/documents/{job_id}/status").status_code == 403


def test_a_failed_job_says_why(app: Flask, db: Session, world: World) -> None:
    job = db.get(DocumentJob, world.ids["job"])
    assert job is not None
    job.state, job.error = "failed", "the disk is full"
    db.commit()
    client = client_for(app, "coordinator")
    status = client.get(f"/plans/documents/{job.id}/status").get_json()
    assert status["message"] == "The DOCX document could not be made: the disk is full."
    assert status["download"] is None


def test_an_expired_document_says_to_make_it_again(app: Flask, db: Session, world: World) -> None:
    job = db.get(DocumentJob, world.ids["job"])
    assert job is not None
    job.state = "expired"
    db.commit()
    client = client_for(app, "coordinator")
    status = client.get(f"/plans/documents/{job.id}/status").get_json()
    assert status["message"] == (
        "The DOCX document was deleted 7 days after it was made; make it again."
    )
    assert status["download"] is None
    page = client.get(f"/plans/documents/{job.id}").get_data(True)
    assert "http-equiv" not in page  # nothing more to wait for
    assert client.get(f"/plans/documents/{job.id}/file").status_code == 404


def test_plans_list_is_scoped_and_filtered_by_cycle(app: Flask, world: World) -> None:
    page = client_for(app, "coordinator").get("/plans").get_data(True)
    assert "Alpha" in page and "Bravo" not in page
    page = client_for(app, "admin").get("/plans").get_data(True)
    assert "Alpha" in page and "Bravo" in page and "Cross-district synthesis" in page
    assert "No DMIP draft for 2024/25" in client_for(app, "admin").get(
        "/plans?cycle=2024/25"
    ).get_data(True)
    response = client_for(app, "admin").get("/plans?cycle=2025-26")
    assert response.status_code == 400 and "is not a planning cycle" in response.get_data(True)
    assert client_for(app, "admin").get("/plans/999999").status_code == 404
