"""Whether the aggregates were computed with the catalog now in force, and the rebuild that
follows when they were not.

A submission's contribution is computed with the catalog of the moment it is added. When the
catalog changes (its file is edited, a form version is published) the stored sums still hold
contributions computed the old way, new indicators have nothing for the old submissions, and
a later retraction would subtract what the new catalog says rather than what was added: the
incremental sums would no longer equal a rebuild. So `aggregation_state` keeps the fingerprint
of the catalog the aggregates were built with (server/aggregation/catalog_source.py: the
catalog file's bytes and the published versions). Each aggregate update compares it with the
catalog it loaded and, when they differ, asks for a rebuild; the periodic sweep runs it
(server/services/aggregate_rebuild.py) and the rebuild records the new fingerprint. Moving an
org unit under another parent asks for one too (`request_rebuild`): its sums sit under its old
ancestors.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import AggregationState

log = logging.getLogger(__name__)

ROW = 1


def _row(session: Session) -> AggregationState:
    row = session.get(AggregationState, ROW)
    if row is None:  # the migration inserts it; a schema made another way may lack it
        row = AggregationState(id=ROW)
        session.add(row)
        session.flush()
    return row


def check(session: Session, fingerprint: str) -> bool:
    """True if the aggregates were computed with the catalog of `fingerprint`; otherwise ask
    for a rebuild (once) and return False. The first update of a new database records its
    catalog."""
    row = _row(session)
    if row.catalog_fingerprint is None:
        row.catalog_fingerprint = fingerprint
        return True
    if row.catalog_fingerprint == fingerprint:
        return True
    if row.rebuild_requested_at is None:
        log.warning(
            "the indicator catalog or a published form changed since the aggregates were "
            "built; a rebuild is due"
        )
        row.rebuild_requested_at = utcnow()
    return False


def request_rebuild(session: Session, reason: str) -> None:
    """Something the aggregates depend on, other than the catalog, changed (an org unit moved
    to another parent: its sums belong under new ancestors): rebuild at the next sweep."""
    row = _row(session)
    if row.rebuild_requested_at is None:
        log.warning("%s; an aggregates rebuild is due", reason)
        row.rebuild_requested_at = utcnow()


def record_build(session: Session, fingerprint: str) -> None:
    """A full rebuild with the catalog of `fingerprint` is in this transaction."""
    row = _row(session)
    row.catalog_fingerprint = fingerprint
    row.built_at = utcnow()
    row.rebuild_requested_at = None


def rebuild_due(session: Session) -> bool:
    row = session.get(AggregationState, ROW, populate_existing=True)
    return row is not None and row.rebuild_requested_at is not None


REBUILDING = (
    "Indicator values are being recomputed after a change of the indicator catalog, a form or "
    "the org units. For a minute or two some numbers may still be the old ones."
)
