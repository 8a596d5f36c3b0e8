"""Draft DMIPs as structured sections, written from a district's facts.

Pure: no Flask, SQLAlchemy or Celery. `draft_dmip(facts, library)` returns the nine sections
of the DMIP (DESIGN.md, "The DMIP, section by section"), each a `Section` of paragraphs, typed
tables and charts whose numbers carry references to the aggregates and facts behind them."""

from __future__ import annotations

from server.domain.drafting.analysis import Analysis, analyse
from server.domain.drafting.annex import data_quality_section
from server.domain.drafting.facts import DistrictFacts
from server.domain.drafting.interventions import Library
from server.domain.drafting.plan import (
    action_plan_section,
    me_plan_section,
    priorities_section,
    results_section,
)
from server.domain.drafting.profile import profile_section
from server.domain.drafting.sections import Section
from server.domain.drafting.situation import (
    gap_analysis_section,
    management_section,
    service_delivery_section,
)

__all__ = ["Analysis", "analyse", "draft_dmip"]


def draft_dmip(facts: DistrictFacts, library: Library) -> tuple[list[Section], Analysis]:
    analysis = analyse(facts, library)
    sections = [
        profile_section(facts),
        management_section(facts, library),
        service_delivery_section(facts),
        gap_analysis_section(facts, list(analysis.gaps), list(analysis.management_gaps)),
        priorities_section(facts, analysis),
        results_section(facts, analysis),
        action_plan_section(facts, analysis, library),
        me_plan_section(facts, analysis, library),
        data_quality_section(facts),
    ]
    return sections, analysis
