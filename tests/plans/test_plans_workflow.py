"""Draft DMIP storage and review workflow: plans marked stale by new data, regenerations that
keep coordinators' edits and say what changed under them, state changes with their rules and
permissions, comments, history, and the version frozen at approval."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import DmipPlan, OrgUnit, PlanEvent, PlanState, PlanVersion, User
from server.plans import workflow
from server.plans.workflow import GeneratedSection, WorkflowError
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import add_user, seed_org


@pytest.fixture
def world(db: Session) -> dict[str, object]:
    units = seed_org(db)
    people = {
        "admin": add_user(db, "admin", "admin"),
        "coord": add_user(db, "coord", "coordinator", ("D1",)),
        "other": add_user(db, "other", "coordinator", ("D2",)),
        "staff": add_user(db, "staff", "subcounty_staff", ("S1",)),
        "enum": add_user(db, "enum", "enumerator", ("S1",)),
    }
    plan = DmipPlan(district_id=units["D1"].id, cycle="2025/26")
    db.add(plan)
    db.commit()
    workflow.apply_generated(db, plan, _generated(pupils=120))
    db.commit()
    return {"units": units, "plan": plan, **{k: db.get(User, v) for k, v in people.items()}}


def _generated(pupils: int) -> list[GeneratedSection]:
    """Two sections as the drafting code stores them (server/domain/drafting Section as JSON)."""
    profile = f"The district has {pupils} pupils. It has 3 schools."
    return [
        GeneratedSection(
            "profile",
            "District profile",
            {
                "key": "profile",
                "title": "District profile",
                "blocks": [{"kind": "paragraph", "text": f"{pupils} pupils.", "refs": []}],
            },
            profile,
        ),
        GeneratedSection(
            "gap_analysis",
            "Gap analysis",
            {"key": "gap_analysis", "title": "Gap analysis", "blocks": []},
            "No gaps found.",
        ),
    ]


def _section(plan: DmipPlan, key: str):  # type: ignore[no-untyped-def]
    return next(s for s in plan.sections if s.key == key)


def test_new_data_marks_the_district_plan_stale(settings, db: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    units = seed_org(db)
    form, version = fx.publish_form(db)
    catalog = fx.write_catalog(tmp_path)
    blobs = BlobStore(tmp_path / "blobs")
    sid, _ = fx.store(db, blobs, form, version, units["S1"].id, fx.School())
    fx.process(db, sid, catalog)
    plans = db.scalars(select(DmipPlan)).all()
    assert [(p.district_id, p.cycle, p.stale) for p in plans] == [(units["D1"].id, "2025/26", True)]
    first_change = plans[0].data_changed_at
    plans[0].stale = False
    db.commit()
    sid, _ = fx.store(db, blobs, form, version, units["S1"].id, fx.School(pupils=3))
    fx.process(db, sid, catalog)
    again = db.scalars(select(DmipPlan)).one()
    db.refresh(again)
    assert again.stale is True and again.data_changed_at >= first_change


def test_regeneration_keeps_an_edit_and_shows_what_changed(db: Session, world) -> None:  # type: ignore[no-untyped-def]
    plan: DmipPlan = world["plan"]  # type: ignore[assignment]
    profile = _section(plan, "profile")
    workflow.edit_section(db, profile, "Our own words about 120 pupils.", world["coord"])  # type: ignore[arg-type]
    db.commit()
    assert profile.text == "Our own words about 120 pupils."
    assert not profile.data_changed_since_edit

    flagged = workflow.apply_generated(db, plan, _generated(pupils=150))
    db.commit()
    assert flagged == ["profile"]
    assert profile.text == "Our own words about 120 pupils."  # the edit survives
    assert profile.generated_text.startswith("The district has 150 pupils.")
    assert profile.data_changed_since_edit
    changes = workflow.diff_lines(profile.edit_base, profile.generated_text)
    assert ("removed", "The district has 120 pupils.") in changes
    assert ("added", "The district has 150 pupils.") in changes
    assert ("same", "It has 3 schools.") in changes
    assert plan.stale is False and plan.generated_at is not None

    workflow.revert_edit(db, profile, world["coord"])  # type: ignore[arg-type]
    assert profile.text == profile.generated_text and not profile.data_changed_since_edit


def test_review_cycle_to_approval_freezes_a_version(db: Session, world) -> None:  # type: ignore[no-untyped-def]
    plan: DmipPlan = world["plan"]  # type: ignore[assignment]
    coord: User = world["coord"]  # type: ignore[assignment]
    workflow.change_plan_state(db, plan, PlanState.in_review, coord)
    assert {s.state for s in plan.sections} == {PlanState.in_review}
    gaps = _section(plan, "gap_analysis")
    with pytest.raises(WorkflowError, match="needs a note") as refused:
        workflow.change_section_state(db, gaps, PlanState.changes_requested, coord)
    assert refused.value.status == 400
    workflow.change_section_state(db, gaps, PlanState.changes_requested, coord, "Name the gaps.")
    with pytest.raises(WorkflowError, match=r"Approve every section first; .*Gap analysis"):
        workflow.change_plan_state(db, plan, PlanState.approved, coord)
    workflow.edit_section(db, gaps, "The biggest gap is teachers.", coord)
    workflow.change_section_state(db, gaps, PlanState.in_review, coord)
    for section in plan.sections:
        workflow.change_section_state(db, section, PlanState.approved, coord)
    version = workflow.change_plan_state(db, plan, PlanState.approved, coord, "Council approved")
    db.commit()
    assert version is not None and version.number == 1
    frozen = {s["key"]: s for s in version.content["sections"]}
    assert frozen["gap_analysis"]["text"] == "The biggest gap is teachers."
    assert frozen["gap_analysis"]["edited"] is True

    # Frozen: new data changes the draft, not the approved version; edits need a reopening.
    workflow.apply_generated(db, plan, _generated(pupils=999))
    with pytest.raises(WorkflowError, match="frozen"):
        workflow.edit_section(db, gaps, "Another text", coord)
    db.commit()
    stored = db.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)).one()
    assert "999" not in str(stored.content)

    workflow.change_plan_state(db, plan, PlanState.draft, coord, "New data")
    assert plan.state == PlanState.draft and {s.state for s in plan.sections} == {PlanState.draft}
    kinds = [(e.kind, e.to_state) for e in workflow.history(db, plan)]
    assert ("state", "approved") in kinds and ("edit", None) in kinds
    assert kinds[-1] == ("state", "draft")


def test_transitions_outside_the_workflow_are_refused(db: Session, world) -> None:  # type: ignore[no-untyped-def]
    plan: DmipPlan = world["plan"]  # type: ignore[assignment]
    with pytest.raises(WorkflowError, match="draft; it cannot go to approved"):
        workflow.change_plan_state(db, plan, PlanState.approved, world["coord"])  # type: ignore[arg-type]
    with pytest.raises(WorkflowError):
        workflow.change_section_state(
            db,
            _section(plan, "profile"),
            PlanState.changes_requested,
            world["coord"],  # type: ignore[arg-type]
            "why",
        )


@pytest.mark.parametrize(
    ("who", "read", "act"),
    [
        ("admin", True, True),
        ("coord", True, True),
        ("other", False, False),
        ("staff", True, False),
        ("enum", False, False),
    ],
)
def test_who_may_read_and_act(db: Session, world, who: str, read: bool, act: bool) -> None:  # type: ignore[no-untyped-def]
    plan: DmipPlan = world["plan"]  # type: ignore[assignment]
    user: User = world[who]  # type: ignore[assignment]
    district = db.get(OrgUnit, plan.district_id)
    assert district is not None
    assert workflow.can_read(user, district) is read
    assert workflow.can_act(user, district) is act
    assert (plan in list(workflow.plans_for(db, user))) is read
    if act:
        workflow.edit_section(db, _section(plan, "profile"), f"Text by {who}", user)
    else:
        with pytest.raises(WorkflowError) as refused:
            workflow.edit_section(db, _section(plan, "profile"), "Text", user)
        assert refused.value.status == 403
    if read and who != "enum":
        workflow.comment(db, plan, user, f"A comment by {who}")
        assert workflow.comments(db, plan)[-1].body == f"A comment by {who}"
    else:
        with pytest.raises(WorkflowError):
            workflow.comment(db, plan, user, "Hello")
    db.commit()
    events = db.scalars(select(PlanEvent).where(PlanEvent.plan_id == plan.id)).all()
    assert any(e.kind == "regenerated" for e in events)
