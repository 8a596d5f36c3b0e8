"""`server.db.among`: an id list as an IN list on SQLite, one array parameter on PostgreSQL;
either way the same rows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.db import Database, among
from server.models import OrgUnit
from tests.fixtures.openrosa import seed_org


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.lists(st.integers(0, 9), max_size=12))
def test_among_selects_exactly_the_ids_given_or_all_the_others(
    database: Database, picks: list[int]
) -> None:
    with database.session() as session:
        if not session.scalar(select(OrgUnit.id).limit(1)):
            seed_org(session)
        units = sorted(session.scalars(select(OrgUnit.id)))
        # Indexes past the units stand for ids that are not there.
        wanted = [units[i] if i < len(units) else max(units) + 1000 + i for i in picks]
        pg = session.get_bind().dialect.name == "postgresql"
        chosen = set(session.scalars(select(OrgUnit.id).where(among(OrgUnit.id, wanted, pg))))
        others = set(
            session.scalars(select(OrgUnit.id).where(among(OrgUnit.id, wanted, pg, negate=True)))
        )
    assert chosen == set(units) & set(wanted)
    assert others == set(units) - set(wanted)
