"""Rebuilding every aggregate from the submissions (`dmip aggregates rebuild`, and the sweep
after a catalog change), with the district plans whose numbers it redraws marked stale in the
same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from server.aggregation import catalog_state
from server.aggregation.rebuild import RebuildReport, rebuild_in
from server.db import Database
from server.plans import staleness

log = logging.getLogger(__name__)


def rebuild(
    db: Database,
    cycle: str | None = None,
    catalog_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    with db.session() as session:
        report = rebuild_in(session, cycle, catalog_path, progress)
        # Every district's draft is redrawn from the new sums (debounced, in the worker).
        staleness.mark_stale(session, report.moved)
        return report


def rebuild_if_due(db: Database, catalog_path: Path | None = None) -> bool:
    """Rebuild every aggregate if a catalog change asked for it; True if it did. Two sweeps
    at once rebuild once: the second waits for the first's lock, then finds nothing due."""
    with db.session() as session:
        if not catalog_state.rebuild_due(session):
            return False
    with db.session() as session:
        if db.is_postgresql:
            session.execute(text("LOCK TABLE aggregates IN EXCLUSIVE MODE"))
        if not catalog_state.rebuild_due(session):
            return False
        report = rebuild_in(session, None, catalog_path)
        staleness.mark_stale(session, report.moved)
        log.info(
            "aggregates rebuilt after a catalog change: %d submissions, %d aggregates",
            report.submissions,
            report.aggregates,
        )
        return True
