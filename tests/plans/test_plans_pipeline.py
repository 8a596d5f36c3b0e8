"""From submissions to a draft DMIP: demo data through the ingest path, a real Celery worker
with beat on PostgreSQL and Redis processes it, keeps the aggregates, and the periodic task
redraws the district's plan once the data settles; a coordinator's edit survives new data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from server.db import Database
from server.demo.load import load_demo_data
from server.models import DmipPlan, OrgUnit, PlanSection, Submission, User
from server.models.submissions import ProcessingStatus
from server.plans import workflow
from server.settings import Settings
from tests.fixtures.openrosa import add_user
from tests.workers.celery_processes import wait_for, worker
from workers import processing
from workers.regeneration import regenerate_due

pytestmark = pytest.mark.integration

SECTIONS = [
    "profile",
    "management_capacity",
    "service_delivery",
    "gap_analysis",
    "priorities",
    "results_framework",
    "action_plan",
    "me_plan",
    "data_quality",
]


def _processed(db: Database) -> bool:
    with db.session() as s:
        waiting = s.scalar(
            select(func.count()).where(Submission.processing_status == ProcessingStatus.received)
        )
        return waiting == 0


def _drafted(db: Database) -> bool:
    with db.session() as s:
        plans = s.scalars(select(DmipPlan)).all()
        return bool(plans) and all(not p.stale and p.generated_at for p in plans)


def test_demo_data_becomes_a_draft_dmip(settings: Settings, tmp_path: Path) -> None:
    db = Database(settings.database_url)
    report = load_demo_data(settings, 1, seed=3, cycle="2025/26")
    assert report is not None and sum(report.created.values()) > 20
    log = tmp_path / "worker.log"
    schedule = str(tmp_path / "beat-schedule")
    with worker(settings, log, "--pool=solo", "--beat", "--schedule", schedule):
        wait_for(lambda: _processed(db), "the demo submissions to be processed", [log])
        wait_for(lambda: _drafted(db), "the district plan to be drafted", [log])
    with db.session() as s:
        plan = s.scalars(select(DmipPlan)).one()
        district = s.get(OrgUnit, plan.district_id)
        assert district is not None and plan.cycle == "2025/26"
        assert [sec.key for sec in plan.sections] == SECTIONS
        profile = plan.sections[0]
        assert profile.generated_text.startswith(district.name)
        tables = [b for b in profile.generated["blocks"] if b["kind"] == "table"]
        assert tables, "the profile has its tables"
        # Every number in a gap-analysis table points at an aggregate of this district.
        gaps = next(sec for sec in plan.sections if sec.key == "gap_analysis")
        refs = [
            cell["ref"]
            for block in gaps.generated["blocks"]
            if block["kind"] == "table"
            for row in block["rows"]
            for cell in row
            if cell["kind"] != "text" and cell["ref"]
        ]
        assert refs and all(r["cycle"] == "2025/26" for r in refs)
    db.dispose()


def test_an_edit_survives_new_data_and_says_what_changed(settings: Settings) -> None:
    db = Database(settings.database_url)
    load_demo_data(settings, 1, seed=5, cycle="2025/26")
    processing.process_waiting(db)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert regenerate_due(db, debounce=30) == 0  # the data has only just changed
    assert regenerate_due(db, debounce=30, now=later) == 1
    with db.session() as s:
        plan = s.scalars(select(DmipPlan)).one()
        district = s.get(OrgUnit, plan.district_id)
        assert district is not None
        coordinator = s.get(User, add_user(s, "coord", "coordinator", (district.code,)))
        assert coordinator is not None
        section = s.scalars(
            select(PlanSection).where(PlanSection.plan_id == plan.id, PlanSection.key == "profile")
        ).one()
        workflow.edit_section(s, section, "Our district, in our words.", coordinator)
        before = section.generated_text
    # A second data set for the same district and cycle changes its numbers.
    load_demo_data(settings, 1, seed=6, cycle="2025/26")
    processing.process_waiting(db)
    assert regenerate_due(db, debounce=30, now=later + dt.timedelta(minutes=5)) == 1
    with db.session() as s:
        section = s.scalars(select(PlanSection).where(PlanSection.key == "profile")).one()
        assert section.text == "Our district, in our words."
        assert section.generated_text != before
        assert section.data_changed_since_edit
        assert any(
            kind != "same"
            for kind, _ in workflow.diff_lines(section.edit_base, section.generated_text)
        )
    db.dispose()


def test_new_data_while_a_draft_is_drawn_neither_waits_nor_is_lost(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker adding submissions marks the plan stale with an upsert on its row while another
    worker draws the draft: the upsert must not wait for the drawing (seconds, for a big
    district), and the plan must stay stale so the new data gets drawn too."""
    from server.plans import regenerate, staleness

    db = Database(settings.database_url)
    load_demo_data(settings, 1, seed=7, cycle="2025/26")
    processing.process_waiting(db)
    with db.session() as s:
        plan = s.scalars(select(DmipPlan)).one()
        district_id, cycle = plan.district_id, plan.cycle
    drawing = regenerate.district_facts

    def facts_while_new_data_arrives(session, loaded, district, cycle_):  # type: ignore[no-untyped-def]
        with db.session() as other:
            # Fails at once instead of waiting if the drawing held the plan's row.
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            staleness.mark_stale(other, {(district_id, cycle)})
        return drawing(session, loaded, district, cycle_)

    monkeypatch.setattr(regenerate, "district_facts", facts_while_new_data_arrives)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert regenerate_due(db, debounce=0, now=later) == 1
    with db.session() as s:
        plan = s.scalars(select(DmipPlan)).one()
        assert plan.generated_at is not None and plan.sections
        assert plan.stale  # drawn from the data before the last change: due again
    monkeypatch.setattr(regenerate, "district_facts", drawing)
    assert regenerate_due(db, debounce=0, now=later + dt.timedelta(minutes=1)) == 1
    with db.session() as s:
        assert not s.scalars(select(DmipPlan)).one().stale
    db.dispose()
