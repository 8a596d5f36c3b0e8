"""Which submissions count in the aggregates: one rule, written three times for three callers.

`store.eligible_condition` (SQLAlchemy, for refreshes and reviews), `queries.eligible_sql` (raw
SQL inside the compiled contribution queries of the rebuild and the readings) and the worker's
`store.decide_counted` (the standing part in SQL, the outcome in Python, as the batch has not
written its outcomes yet). Here all three meet every combination of what the rule looks at.
"""

from __future__ import annotations

import itertools

from sqlalchemy import select, text

from server.aggregation.queries import eligible_sql
from server.aggregation.store import decide_counted, eligible_condition
from server.db import Database, utcnow
from server.models import Submission
from server.models.submissions import ProcessingStatus, ReviewState
from tests.fixtures.openrosa import seed_org
from tests.workers.test_worker_support import add_form
from workers.processing import Claimed

# What a later edit of the submission can be: none, or an edit in each processing state.
SUCCESSORS: tuple[ProcessingStatus | None, ...] = (None, *ProcessingStatus)
CYCLE = "2025/26"


def counts(
    status: ProcessingStatus,
    deleted: bool,
    review: ReviewState,
    placed: bool,
    cycled: bool,
    successor: ProcessingStatus | None,
) -> bool:
    """The rule as the domain states it: processed, not deleted, not rejected, placed in an org
    unit and a cycle, and not replaced by a processed edit."""
    return (
        status is ProcessingStatus.processed
        and not deleted
        and review is not ReviewState.rejected
        and placed
        and cycled
        and successor is not ProcessingStatus.processed
    )


def test_the_three_forms_of_the_rule_agree_on_every_combination(database: Database) -> None:
    combinations = list(
        itertools.product(
            ProcessingStatus, (False, True), ReviewState, (False, True), (False, True), SUCCESSORS
        )
    )
    expected: set[int] = set()
    claimed: list[Claimed] = []
    with database.session() as session:
        unit = seed_org(session)["S1"]
        version = add_form(session)
        for n, combination in enumerate(combinations):
            status, deleted, review, placed, cycled, successor = combination
            sub = Submission(
                form_id=version.form_id,
                form_version_id=version.id,
                instance_id=f"uuid:{n}",
                xml=b"<data/>",
                xml_sha256="0" * 64,
                processing_status=status,
                deleted_at=utcnow() if deleted else None,
                review_state=review,
                org_unit_id=unit.id if placed else None,
                cycle=CYCLE if cycled else None,
            )
            session.add(sub)
            session.flush()
            if successor is not None:
                # Unplaced, so the edit itself never counts and only its standing matters.
                session.add(
                    Submission(
                        form_id=version.form_id,
                        form_version_id=version.id,
                        instance_id=f"uuid:{n}-edit",
                        deprecated_id=f"uuid:{n}",
                        supersedes_id=sub.id,
                        xml=b"<data/>",
                        xml_sha256="1" * 64,
                        processing_status=successor,
                    )
                )
            if counts(*combination):
                expected.add(sub.id)
            # As the worker holds it after processing: outcome and cycle in hand, not written.
            claimed.append(
                Claimed(
                    id=sub.id,
                    form_version_id=version.id,
                    xml=b"<data/>",
                    received_at=utcnow(),
                    cycle=sub.cycle,
                    counted=False,
                    supersedes_id=None,
                    processing_status=status,
                )
            )
        session.commit()
        assert 0 < len(expected) < len(combinations)

        by_condition = set(
            session.scalars(select(Submission.id).where(eligible_condition(Submission)))
        )
        by_sql = set(
            session.scalars(text(f"SELECT s.id FROM submissions s WHERE {eligible_sql()}"))
        )
        by_worker = {sub.id for sub, should in decide_counted(session, claimed) if should}
        session.rollback()

    assert by_condition == expected
    assert by_sql == expected
    assert by_worker == expected
