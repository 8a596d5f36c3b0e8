"""The rebuild's grouped query on PostgreSQL gives the sums the plain contribution SELECT gives.

The rebuild sums each form version's contributions in PostgreSQL, through the evaluate-once
form of the contribution SELECT; the embedded mode (SQLite) streams the plain SELECT and sums
in Python. Every (indicator, org unit, cycle) sum of the two must be equal, for every form
version of the demo data set, with submissions that must not count among them.
"""

from __future__ import annotations

from sqlalchemy import select, update

from server.aggregation import catalog_source, rebuild
from server.aggregation.queries import eligible_sql
from server.db import Database, utcnow
from server.demo.load import load_demo_data
from server.models import Form, FormVersion, Submission
from server.models.submissions import ReviewState
from server.settings import Settings
from workers import processing


def test_same_sums_as_the_plain_select_for_every_form_version(settings: Settings) -> None:
    load_demo_data(settings, 2, seed=3, cycle="2025/26")
    db = Database(settings.database_url)
    processing.process_waiting(db)
    with db.session() as session:
        ids = list(session.scalars(select(Submission.id).order_by(Submission.id)))
        # Some that must not count: rejected, deleted.
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids[1::17]))
            .values(review_state=ReviewState.rejected)
        )
        session.execute(
            update(Submission).where(Submission.id.in_(ids[2::19])).values(deleted_at=utcnow())
        )
    where = f"({eligible_sql()}) AND TRUE"
    keys = 0
    with db.session() as session:
        loaded = catalog_source.load(session, None)
        versions = session.execute(
            select(FormVersion.id, Form.xml_form_id, FormVersion.schema).join(
                Form, Form.id == FormVersion.form_id
            )
        ).all()
        for version_id, form_id, fields in versions:
            query = catalog_source.query_for(
                loaded, form_id, version_id, fields or [], "postgresql"
            )
            if not query.indicators:
                continue
            expected = sorted(rebuild._grouped_stream(session, query, where))
            got = sorted(rebuild._grouped_pg(session, query, where))
            assert got == expected, form_id
            keys += len(got)
        report = rebuild.rebuild_in(session)
    db.dispose()
    assert keys > 100
    assert report.aggregates > keys
