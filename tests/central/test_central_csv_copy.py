"""PostgreSQL's COPY makes Central's CSV tables (server/exports/pg_copy.py); table_rows and
Python's csv writer make them on SQLite and for point lists. Both must give the same bytes:
here each table of a varied export is made both ways and compared."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from server.domain.roles import Role
from server.exports import central_csv, repeat_rows, table_rows
from server.exports.csv_xlsx import CsvChunks
from server.exports.layout import CENTRAL_META, headers
from server.models import Form, Submission, User
from server.models.submissions import ReviewState
from server.queries.submission_filters import SubmissionFilter
from tests.central.conftest import CentralServer
from tests.central.export_support import School, process, publish, submit


def by_python(session, tables, index, selection) -> bytes:  # type: ignore[no-untyped-def]
    chunks = CsvChunks(lineterminator="\n")
    out = [chunks.encode([headers(tables[index], CENTRAL_META)])]
    if index == 0:
        batches = table_rows.top_rows(session, tables, selection)
    else:
        batches = repeat_rows.repeat_rows(session, tables, index, selection)
    out += [chunks.encode(batch) for batch in batches]
    return b"".join(out)


def by_copy(session, tables, index, selection) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(central_csv.table_csv(session, tables, index, selection))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"split_select_multiples": True, "group_paths": False},
        {"deleted_fields": True},
    ],
)
def test_copy_and_python_write_the_same_tables(
    central: CentralServer, make_person: Callable[..., User], options: dict[str, bool]
) -> None:
    publish(central)
    make_person("enum1", Role.enumerator, ["S1"])
    make_person("enum2", Role.enumerator, ["S2"])
    with central.db() as session:
        session.scalars(
            select(User).where(User.username == "enum2")
        ).one().display_name = 'Okello "Ocen", jr.'
    submit(
        central,
        "enum1",
        School(
            "uuid:c-1",
            name='Alpha, "the first"\nsecond line; café',
            photo="p1.jpg",
            classes=(("P1", ("Ann", "Bob, B.")), ("P2", ())),
        ),
    )
    submit(central, "enum1", School("uuid:c-2", gps="", services="", pupils=""))
    submit(central, "enum2", School("uuid:c-3", "D2", "S2", services="water meals"))
    process(central)
    submit(central, "enum1", School("uuid:c-2b", name="Edited", deprecated_id="uuid:c-2"))
    process(central)
    submit(central, "enum2", School("uuid:c-4", "D2", "S2", classes=(("P9", ("Zed",)),)))
    with central.db() as session:
        sub = session.scalars(select(Submission).where(Submission.instance_id == "uuid:c-3"))
        sub.one().review_state = ReviewState.approved
    with central.db() as session:
        form = session.scalars(select(Form)).one()
        export = central_csv.CentralExport(form.id, SubmissionFilter(form_id=form.id), **options)
        tables = central_csv.central_tables(session, form, export)
        selection = table_rows.Selection(export.filters, newest_first=True, central=True)
        for index in range(len(tables)):
            python = by_python(session, tables, index, selection)
            copied = by_copy(session, tables, index, selection)
            assert copied == python, tables[index].name
        assert b'"Alpha, ""the first""\nsecond line; caf\xc3\xa9"' in by_copy(
            session, tables, 0, selection
        )
