"""The unit of work behind the process_submission task, on PostgreSQL and on SQLite."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from xml.sax import saxutils

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.db import Database
from server.models import Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from server.settings import Settings
from tests.fixtures.openrosa import seed_org
from tests.workers.test_worker_support import add_form, add_submission, mini_xml
from workers.processing import Outcome, copy_rows, process_batch, process_submission


def _run(db: Database, submission_id: int) -> Outcome:
    with db.session() as session:
        return process_submission(session, submission_id)


def _state(db: Database, submission_id: int) -> tuple[Submission, list[SubmissionRow]]:
    with db.session() as session:
        sub = session.get(Submission, submission_id)
        assert sub is not None
        rows = list(
            session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.submission_id == submission_id)
                .order_by(SubmissionRow.id)
            )
        )
        return sub, rows


def test_a_valid_submission_is_processed_into_rows(database: Database) -> None:
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:a", "30", ("P1", "P2")), "uuid:a")
    assert _run(database, sid) is Outcome.processed
    sub, rows = _state(database, sid)
    assert sub.processing_status is ProcessingStatus.processed
    assert sub.processed_at is not None and sub.failure_reason is None
    assert sub.attempts == 1
    assert [(r.repeat_path, r.position, r.data) for r in rows] == [
        ("", 0, {"pupils": 30, "meta/instanceID": "uuid:a"}),
        ("/data/classes", 1, {"cname": "P1"}),
        ("/data/classes", 2, {"cname": "P2"}),
    ]


def test_answers_reach_the_rows_character_for_character(database: Database) -> None:
    # PostgreSQL receives the rows as COPY text, where tab, newline, backslash and \N mean
    # something; what the enumerator typed must come back exactly.
    awkward = ("a\tb", "line 1\nline 2", "C:\\class\\N", "\\N", 'say "hi" & <go>', "Ekibiina ä€😀")
    xml = mini_xml("uuid:awkward", classes=tuple(saxutils.escape(c) for c in awkward))
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, xml, "uuid:awkward")
    assert _run(database, sid) is Outcome.processed
    _sub, rows = _state(database, sid)
    assert [r.data for r in rows[1:]] == [{"cname": c} for c in awkward]


def test_an_invalid_submission_fails_with_every_reason_and_no_rows(database: Database) -> None:
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:b", "many", ("",)), "uuid:b")
    assert _run(database, sid) is Outcome.failed
    sub, rows = _state(database, sid)
    assert sub.processing_status is ProcessingStatus.failed
    assert sub.failure_reason == (
        "pupils: 'many' is not a whole number\n"
        "classes[1]/cname: an answer is required, but none was given"
    )
    assert sub.attempts == 1
    assert rows == []


def test_a_second_delivery_changes_nothing(database: Database) -> None:
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:c"), "uuid:c")
    assert _run(database, sid) is Outcome.processed
    first, first_rows = _state(database, sid)
    assert _run(database, sid) is Outcome.skipped
    again, again_rows = _state(database, sid)
    assert (again.attempts, again.processed_at) == (first.attempts, first.processed_at)
    assert [r.id for r in again_rows] == [r.id for r in first_rows]


def test_reprocessing_replaces_the_rows_instead_of_adding_to_them(database: Database) -> None:
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:d", classes=("P1", "P2")), "uuid:d")
    _run(database, sid)
    with database.session() as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        sub.processing_status = ProcessingStatus.received
    assert _run(database, sid) is Outcome.processed
    sub, rows = _state(database, sid)
    assert len(rows) == 3
    assert sub.attempts == 2


def test_an_unknown_submission_is_skipped(database: Database) -> None:
    assert _run(database, 987654) is Outcome.skipped


def test_a_row_locked_by_a_resend_is_processed_once_the_lock_goes(settings: Settings) -> None:
    """The task used to skip a locked row and finish, leaving it `received` until a sweep.

    The lock here is what the receiver takes while it merges a resend of the same instance
    (or the sweeper while it claims the row): the task must wait for it, then process.
    """
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            version = add_form(session)
            sid = add_submission(session, version, mini_xml("uuid:e"), "uuid:e")
        outcome: list[Outcome] = []
        with database.session() as holder:
            holder.execute(select(Submission).where(Submission.id == sid).with_for_update())
            task = threading.Thread(target=lambda: outcome.append(_run(database, sid)))
            task.start()
            _wait_until_blocked_on_a_lock(holder)
        task.join()
        assert outcome == [Outcome.processed]
        sub, rows = _state(database, sid)
        assert sub.processing_status is ProcessingStatus.processed
        assert sub.attempts == 1 and rows
        # A second delivery that waited on the first one's lock finds the work done.
        assert _run(database, sid) is Outcome.skipped
    finally:
        database.dispose()


def test_a_batch_takes_its_own_submission_first_then_the_oldest_waiting(
    database: Database,
) -> None:
    with database.session() as session:
        version = add_form(session)
        ids = [
            add_submission(
                session, version, mini_xml(f"uuid:b{i}", "many" if i == 2 else "7"), f"uuid:b{i}"
            )
            for i in range(7)
        ]
    _run(database, ids[0])  # already processed: not taken again
    with database.session() as session:
        outcomes = process_batch(session, [ids[4]], 3)
    assert outcomes == {
        ids[4]: Outcome.processed,
        ids[1]: Outcome.processed,
        ids[2]: Outcome.failed,
    }
    states = {sid: _state(database, sid)[0] for sid in ids}
    assert [states[sid].processing_status.value for sid in ids] == [
        "processed",
        "processed",
        "failed",
        "received",
        "processed",
        "received",
        "received",
    ]
    assert states[ids[0]].attempts == 1  # the first one was not processed twice
    assert _state(database, ids[1])[1] and not _state(database, ids[2])[1]
    # The others' own tasks find the work done.
    assert _run(database, ids[1]) is Outcome.skipped
    # A task naming several takes them all first, whatever their age.
    with database.session() as session:
        assert set(process_batch(session, [ids[6], ids[5]], 2)) == {ids[6], ids[5]}
    assert _state(database, ids[3])[0].processing_status is ProcessingStatus.received


def test_a_batch_reports_the_ids_it_was_woken_for_that_are_done_already(
    database: Database,
) -> None:
    """Under load most ids of a wake-up were taken by an earlier batch: the batch says so for
    all of them at once, and takes none of them again; an id that is not there is skipped."""
    with database.session() as session:
        version = add_form(session)
        ids = [
            add_submission(session, version, mini_xml(f"uuid:d{i}"), f"uuid:d{i}") for i in range(3)
        ]
    _run(database, ids[0])
    with database.session() as session:
        process_batch(session, [ids[1]], 1)
    missing = ids[-1] + 1000
    with database.session() as session:
        outcomes = process_batch(session, [ids[0], ids[1], missing, ids[2]], 4)
    assert outcomes == {
        ids[0]: Outcome.skipped,
        ids[1]: Outcome.skipped,
        missing: Outcome.skipped,
        ids[2]: Outcome.processed,
    }
    assert [_state(database, sid)[0].attempts for sid in ids] == [1, 1, 1]
    # Nothing waiting at all: still an answer for each id.
    with database.session() as session:
        assert process_batch(session, ids, 4) == dict.fromkeys(ids, Outcome.skipped)


def test_a_batch_writes_each_submission_once(settings: Settings) -> None:
    """Outcome, cycle and `counted` flag go in one UPDATE of each row (every UPDATE of a
    submission is a new row version in every index of the table, and there were three), and
    the whole batch in one statement (there was one per submission)."""
    database = Database(settings.database_url)
    updates: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE submissions"):
            updates.append(cursor.rowcount)

    try:
        with database.session() as session:
            unit = seed_org(session)["S1"]
            version = add_form(session)
            ids = [
                add_submission(session, version, mini_xml(f"uuid:w{i}"), f"uuid:w{i}")
                for i in range(3)
            ]
            session.execute(update(Submission).values(org_unit_id=unit.id))
        event.listen(database.engine, "after_cursor_execute", count)
        with database.session() as session:
            outcomes = process_batch(session, ids, 3)
        event.remove(database.engine, "after_cursor_execute", count)
        assert outcomes == dict.fromkeys(ids, Outcome.processed)
        assert updates == [3]
        for sid in ids:
            sub = _state(database, sid)[0]
            assert (sub.processing_status, sub.counted) == (ProcessingStatus.processed, True)
            assert sub.cycle is not None
    finally:
        database.dispose()


OTHER_FORM = """
| survey |
| | type | name | label | required |
| | text | pupils | Pupils (as text here) | yes |
| settings |
| | form_id | version |
| | other | 7 |
"""


def test_a_batch_checks_each_submission_against_its_own_form_version(
    database: Database,
) -> None:
    """One batch, two forms: "many" pupils is wrong for the mini form (an integer) and right
    for the other one (text)."""
    with database.session() as session:
        mini, other = add_form(session), add_form(session, OTHER_FORM)
        other_xml = b'<data id="other" version="7"><pupils>many</pupils>'
        ids = [
            add_submission(session, mini, mini_xml("uuid:m1", "many"), "uuid:m1"),
            add_submission(
                session,
                other,
                other_xml + b"<meta><instanceID>uuid:o1</instanceID></meta></data>",
                "uuid:o1",
            ),
            add_submission(session, mini, mini_xml("uuid:m2", "12"), "uuid:m2"),
        ]
    with database.session() as session:
        outcomes = process_batch(session, ids, 10)
    assert outcomes == {
        ids[0]: Outcome.failed,
        ids[1]: Outcome.processed,
        ids[2]: Outcome.processed,
    }
    assert _state(database, ids[0])[0].failure_reason == "pupils: 'many' is not a whole number"
    assert [r.data for r in _state(database, ids[1])[1]] == [
        {"pupils": "many", "meta/instanceID": "uuid:o1"}
    ]
    assert [r.data["pupils"] for r in _state(database, ids[2])[1] if r.repeat_path == ""] == [12]


def test_a_batch_leaves_rows_someone_else_holds(settings: Settings) -> None:
    """A worker never waits on another's batch: locked rows are skipped, its own included,
    and the task then waits for its own (workers/tasks.py) and finds it done or still due."""
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            version = add_form(session)
            ids = [
                add_submission(session, version, mini_xml(f"uuid:l{i}"), f"uuid:l{i}")
                for i in range(3)
            ]
        with database.session() as holder:
            holder.execute(select(Submission).where(Submission.id.in_(ids[:2])).with_for_update())
            with database.session() as session:
                outcomes = process_batch(session, [ids[0]], 10)
            assert outcomes == {ids[2]: Outcome.processed}
        assert _run(database, ids[0]) is Outcome.processed
        assert _state(database, ids[1])[0].processing_status is ProcessingStatus.received
    finally:
        database.dispose()


def _wait_until_blocked_on_a_lock(holder: Session) -> None:
    """Return once some other backend of this database waits for a row lock."""
    connection = holder.connection()
    while True:
        # Activity statistics are a snapshot per transaction; clear it to see the change.
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()
        if waiting:
            return
        time.sleep(0.01)


@pytest.fixture
def with_admin(settings: Settings) -> Iterator[tuple[Database, Engine]]:
    """The PostgreSQL test database, and a second engine that can end its sessions."""
    database = Database(settings.database_url)
    admin = create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    yield database, admin
    admin.dispose()
    database.dispose()


def test_a_database_lost_mid_task_leaves_the_submission_waiting(
    with_admin: tuple[Database, Engine],
) -> None:
    database, admin = with_admin
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:f"), "uuid:f")
    with pytest.raises(OperationalError), database.session() as session:
        assert process_submission(session, sid) is Outcome.processed
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    sub, rows = _state(database, sid)
    assert sub.processing_status is ProcessingStatus.received
    assert (sub.attempts, rows) == (0, [])
    with database.session() as session:
        total = session.scalar(select(func.count()).select_from(SubmissionRow))
    assert total == 0


def test_a_database_lost_during_the_rows_copy_is_reported_for_a_retry(
    with_admin: tuple[Database, Engine],
) -> None:
    # The COPY runs on the driver's cursor, outside SQLAlchemy's execution: losing the database
    # there must still surface as SQLAlchemy's OperationalError (the task retries that) and
    # drop the connection instead of returning it to the pool.
    database, admin = with_admin
    with database.session() as session:
        version = add_form(session)
        sid = add_submission(session, version, mini_xml("uuid:copy"), "uuid:copy")
    with database.session() as session:
        connection = session.connection()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        row = {
            "submission_id": sid,
            "repeat_path": "",
            "position": 0,
            "parent_position": None,
            "data": {"pupils": 1},
        }
        with pytest.raises(OperationalError):
            copy_rows(connection, [row])
        assert connection.invalidated
        session.rollback()
    with database.session() as session:
        assert session.scalar(text("SELECT 1")) == 1  # a fresh connection from the pool
        total = session.scalar(select(func.count()).select_from(SubmissionRow))
    assert total == 0
