"""DOCX and PDF documents of a district's DMIP and of the cross-district synthesis (the worker
runs them as jobs with their progress: workers/document_jobs.py).

A plan's document shows what a reader of the web app sees: each section's tables and charts as
the data draws them and its narrative as the coordinator left it. A plan that is stale (new data
since its last drawing) is redrawn first, so a document never lags behind the data.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.domain.drafting import analyse
from server.domain.drafting.sections import Section
from server.domain.drafting.synthesis import synthesis
from server.exports.docx import render_docx
from server.exports.pdf import render_pdf
from server.models import DmipPlan, OrgUnit, PlanState
from server.plans import content
from server.plans.read_facts import district_facts
from server.plans.regenerate import load, regenerate

FORMATS = ("docx", "pdf")
Progress = Callable[[float], None]

STATE_WORDS = {
    PlanState.draft: "Draft",
    PlanState.in_review: "Draft in review",
    PlanState.changes_requested: "Draft, changes requested",
    PlanState.approved: "Approved",
}


class DocumentError(ValueError):
    pass


def plan_sections(plan: DmipPlan) -> list[Section]:
    return [
        content.with_text(content.section_from(s.generated), s.edited_text)
        for s in plan.sections
        if s.generated
    ]


def _render(
    fmt: str, title: str, subtitle: str, sections: list[Section], progress: Progress | None
) -> bytes:
    if fmt not in FORMATS:
        raise DocumentError(f"unknown format {fmt!r} (docx or pdf)")
    render = render_docx if fmt == "docx" else render_pdf
    return render(title, subtitle, sections, progress=progress, generated=utcnow())


def plan_document(
    session: Session, plan: DmipPlan, fmt: str, progress: Progress | None = None
) -> bytes:
    if plan.stale or plan.generated_at is None:
        regenerate(session, plan)
        session.flush()
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    title = f"{district.name}: District Management Improvement Plan"
    subtitle = (
        f"{STATE_WORDS[plan.state]}, planning cycle {plan.cycle} (three years from FY{plan.cycle})"
    )
    return _render(fmt, title, subtitle, plan_sections(plan), progress)


def synthesis_document(
    session: Session, cycle: str, fmt: str, progress: Progress | None = None
) -> bytes:
    """The cross-district synthesis of every district with a plan in `cycle`."""
    loaded, library = load(session)
    plans = list(session.scalars(select(DmipPlan).where(DmipPlan.cycle == cycle)))
    districts = []
    for done, plan in enumerate(plans, start=1):
        district = session.get(OrgUnit, plan.district_id)
        assert district is not None
        facts = district_facts(session, loaded, district, cycle)
        districts.append((facts, analyse(facts, library)))
        if progress is not None:
            progress(0.5 * done / len(plans))
    districts.sort(key=lambda pair: pair[0].district_code)
    sections = synthesis(districts, library)

    def rendering(fraction: float) -> None:
        if progress is not None:
            progress(0.5 + 0.5 * fraction)

    title = "District Management Improvement Plans: cross-district synthesis"
    subtitle = f"Planning cycle {cycle}, {len(districts)} districts"
    return _render(fmt, title, subtitle, sections, rendering)


def plan_for(session: Session, district_code: str, cycle: str | None) -> DmipPlan:
    """The plan of a district (by org unit code) for `cycle`, or its latest cycle."""
    district = session.scalar(select(OrgUnit).where(OrgUnit.code == district_code))
    if district is None:
        raise DocumentError(f"no org unit has the code {district_code!r}")
    query = select(DmipPlan).where(DmipPlan.district_id == district.id)
    if cycle is not None:
        query = query.where(DmipPlan.cycle == cycle)
    plan = session.scalars(query.order_by(DmipPlan.cycle.desc()).limit(1)).one_or_none()
    if plan is None:
        when = f" for cycle {cycle}" if cycle else ""
        raise DocumentError(
            f"{district.name} ({district_code}) has no draft DMIP{when} yet: no processed data"
        )
    return plan
