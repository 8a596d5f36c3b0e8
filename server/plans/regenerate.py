"""Regenerating draft DMIPs from the aggregates: one plan, or every plan whose data settled.

`regenerate_due` is what the worker's periodic task runs: plans marked stale at least
`debounce` seconds ago (so a burst of submissions costs one regeneration), each in its own
transaction, skipping a plan another worker is regenerating (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import catalog_source
from server.catalog import MANAGEMENT_FUNCTIONS
from server.db import Database, utcnow
from server.models import DmipPlan, OrgUnit
from server.plans import content, workflow
from server.plans.facts import district_facts
from server.plans.workflow import GeneratedSection
from workers.drafting import draft_dmip
from workers.drafting.library import Library, load_library

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 5.0


def library_path() -> Path:
    return catalog_source.catalog_path().parent / "interventions.yaml"


_libraries: dict[tuple[str, int, int, str], Library] = {}


def load(session: Session) -> tuple[catalog_source.LoadedCatalog, Library]:
    """The catalog and the intervention library, parsed once per process for as long as
    neither file (nor the published forms) changes."""
    loaded = catalog_source.load(session)
    path = library_path()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, loaded.fingerprint)
    library = _libraries.get(key)
    if library is None:
        library = load_library(path, loaded.catalog.indicators.keys(), MANAGEMENT_FUNCTIONS)
        _libraries.clear()
        _libraries[key] = library
    return loaded, library


def regenerate(session: Session, plan: DmipPlan) -> list[str]:
    """Redraw every section of `plan` from the current data, keeping coordinators' edits;
    returns the keys of edited sections whose data changed under the edit."""
    loaded, library = load(session)
    district = session.get(OrgUnit, plan.district_id)
    assert district is not None
    facts = district_facts(session, loaded, district, plan.cycle)
    sections, _ = draft_dmip(facts, library)
    generated = [
        GeneratedSection(s.key, s.title, content.section_json(s), content.narrative(s))
        for s in sections
    ]
    return workflow.apply_generated(session, plan, generated)


def regenerate_due(
    db: Database, debounce: float = DEBOUNCE_SECONDS, now: dt.datetime | None = None
) -> int:
    """Regenerate every stale plan whose data has not changed for `debounce` seconds."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=debounce)
    done = 0
    with db.session() as session:
        due = list(
            session.scalars(
                select(DmipPlan.id)
                .where(DmipPlan.stale.is_(True), DmipPlan.data_changed_at <= cutoff)
                .order_by(DmipPlan.data_changed_at)
            )
        )
    for plan_id in due:
        with db.session() as session:
            query = select(DmipPlan).where(DmipPlan.id == plan_id, DmipPlan.stale.is_(True))
            if db.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            plan = session.scalars(query).one_or_none()
            if plan is None:
                continue  # another worker has it, or it is fresh already
            flagged = regenerate(session, plan)
            done += 1
            log.info(
                "regenerated the draft DMIP of district #%s, %s%s",
                plan.district_id,
                plan.cycle,
                f"; data changed under edited sections {', '.join(flagged)}" if flagged else "",
            )
    return done
