"""Redrawing the district plans whose data changed and has settled (the periodic task).

Plans marked stale at least `debounce` seconds ago (so a burst of submissions costs one
redrawing), each in its own transaction, skipping a plan another worker is drawing.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.db import Database, utcnow
from server.models import DmipPlan
from server.plans import workflow
from server.plans.regenerate import draw

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 5.0


def _claim(session: Session, db: Database, plan_id: int) -> DmipPlan | None:
    """The plan if it is still stale and no other worker is drawing it. On PostgreSQL an
    advisory lock for the transaction keeps two workers off one plan without locking its
    row (SQLite has one writer at a time anyway)."""
    if db.is_postgresql and not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(CAST(:space AS integer), CAST(:plan AS integer))"),
        {"space": _LOCK_SPACE, "plan": plan_id},
    ):
        return None
    return session.scalars(
        select(DmipPlan).where(DmipPlan.id == plan_id, DmipPlan.stale.is_(True))
    ).one_or_none()


# The first key of the advisory locks taken on plans (any constant unique to this use).
_LOCK_SPACE = 0x444D4950  # "DMIP"


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
            plan = _claim(session, db, plan_id)
            if plan is None:
                continue  # another worker has it, or it is fresh already
            seen = plan.data_changed_at
            # The facts are read and the sections drafted without holding the plan's row: the
            # workers adding submissions mark it stale with an upsert on that row, and must
            # not wait seconds for a big district's draft. The row is locked only to apply.
            generated = draw(session, plan)
            locked = session.scalars(
                select(DmipPlan)
                .where(DmipPlan.id == plan_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
            flagged = workflow.apply_generated(session, locked, generated)
            if locked.data_changed_at != seen:  # new data came in meanwhile: draw again
                locked.stale = True
            done += 1
            log.info(
                "regenerated the draft DMIP of district #%s, %s%s",
                locked.district_id,
                locked.cycle,
                f"; data changed under edited sections {', '.join(flagged)}" if flagged else "",
            )
    return done
