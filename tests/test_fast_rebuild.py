"""The rebuild's grouped query rewritten to read each submission once gives the same sums.

server/aggregation/fast_rebuild.py is the proposed replacement for `rebuild._grouped_pg`; every
(indicator, org unit, cycle) sum it returns must equal the current one exactly, for every form
version, with submissions that must not count among them.
"""

from __future__ import annotations

from typing import Any

from bench.aggregates.load import form_versions, load_small
from server.aggregation import catalog_source, rebuild
from server.aggregation.fast_rebuild import grouped_pg
from server.aggregation.queries import eligible_sql
from server.db import Database


def test_same_sums_as_the_rebuild_for_every_form_version(settings: Any) -> None:
    url = settings.database_url
    load_small(url, settings.data_dir / "blobs")
    db = Database(url)
    where = f"({eligible_sql()}) AND TRUE"
    keys = 0
    with db.session() as session:
        loaded = catalog_source.load(session, None)
        for version_id, form_id, fields in form_versions(session):
            query = catalog_source.query_for(loaded, form_id, version_id, fields, "postgresql")
            if not query.indicators:
                continue
            expected = sorted(rebuild._grouped_pg(session, query, where))
            got = sorted(grouped_pg(session, query, where))
            assert got == expected, form_id
            keys += len(got)
        report = rebuild.rebuild_in(session)
    db.dispose()
    assert keys > 100
    assert report.aggregates > keys
