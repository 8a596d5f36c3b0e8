"""Redrawing a draft DMIP from the aggregates, keeping coordinators' edits.

The worker's periodic task (workers/regeneration.py) redraws the plans whose data settled; a
document of a stale plan redraws it first (server/plans/documents.py).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from server.aggregation import catalog_source
from server.domain import file_cache
from server.domain.catalog import MANAGEMENT_FUNCTIONS
from server.domain.drafting import draft_dmip
from server.domain.drafting.interventions import Library, load_library
from server.models import DmipPlan, OrgUnit
from server.plans import content, workflow
from server.plans.read_facts import district_facts
from server.plans.workflow import GeneratedSection


def library_path() -> Path:
    return catalog_source.catalog_path().parent / "interventions.yaml"


def load(session: Session) -> tuple[catalog_source.LoadedCatalog, Library]:
    """The catalog and the intervention library, parsed once per process for as long as
    neither file (nor the published forms) changes."""
    loaded = catalog_source.load(session)
    # The library is checked against the catalog, so it depends on the catalog's fingerprint.
    library = file_cache.parsed(
        library_path(),
        lambda path: load_library(path, loaded.catalog.indicators.keys(), MANAGEMENT_FUNCTIONS),
        loaded.fingerprint,
    )
    return loaded, library


def regenerate(session: Session, plan: DmipPlan) -> list[str]:
    """Redraw every section of `plan` from the current data, keeping coordinators' edits;
    returns the keys of edited sections whose data changed under the edit."""
    return workflow.apply_generated(session, plan, draw(session, plan))


def draw(session: Session, plan: DmipPlan) -> list[GeneratedSection]:
    """Every section of `plan` drafted from the current data (reads only)."""
    loaded, library = load(session)
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    sections, _ = draft_dmip(district_facts(session, loaded, district, plan.cycle), library)
    return [
        GeneratedSection(s.key, s.title, content.section_json(s), content.narrative(s))
        for s in sections
    ]
