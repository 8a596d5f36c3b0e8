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
from server.domain.scope import Scope
from server.exports.docx import render_docx
from server.exports.pdf import render_pdf
from server.models import DmipPlan, OrgUnit, PlanState
from server.models.org import unit_by_code
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


EVERYWHERE = Scope(everywhere=True)


def synthesis_districts(session: Session, cycle: str, scope: Scope) -> list[OrgUnit]:
    """The districts a synthesis of `cycle` made for someone working in `scope` shows: those
    with a plan in the cycle that the scope covers, by code."""
    query = (
        select(OrgUnit)
        .join(DmipPlan, DmipPlan.district_id == OrgUnit.id)
        .where(DmipPlan.cycle == cycle)
        .order_by(OrgUnit.code)
    )
    return [unit for unit in session.scalars(query) if scope.covers(unit.path)]


def synthesis_document(
    session: Session,
    cycle: str,
    fmt: str,
    progress: Progress | None = None,
    scope: Scope = EVERYWHERE,
) -> bytes:
    """The cross-district synthesis of the districts with a plan in `cycle` that `scope`
    covers (all of them for an admin)."""
    loaded, library = load(session)
    units = synthesis_districts(session, cycle, scope)
    districts = []
    for done, district in enumerate(units, start=1):
        facts = district_facts(session, loaded, district, cycle)
        districts.append((facts, analyse(facts, library)))
        if progress is not None:
            progress(0.5 * done / len(units))
    districts.sort(key=lambda pair: pair[0].district_code)
    sections = synthesis(districts, library)

    def rendering(fraction: float) -> None:
        if progress is not None:
            progress(0.5 + 0.5 * fraction)

    title = "District Management Improvement Plans: cross-district synthesis"
    count = f"{len(districts)} district" + ("" if len(districts) == 1 else "s")
    subtitle = f"Planning cycle {cycle}, {count}"
    return _render(fmt, title, subtitle, sections, rendering)


def plan_for(session: Session, district_code: str, cycle: str | None) -> DmipPlan:
    """The plan of a district (by org unit code) for `cycle`, or its latest cycle."""
    district = unit_by_code(session, district_code)
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
