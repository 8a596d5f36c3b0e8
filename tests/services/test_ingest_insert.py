"""The receiver's INSERT of many new rows in one statement (PostgreSQL), and the receiver
storing concurrent submissions through it."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from server.domain.xform.safe_xml import parse
from server.domain.xform.submission_meta import read_meta
from server.held_connection import HeldConnection
from server.models import Submission, User
from server.services.ingest import IncomingSubmission, new_row_values
from server.services.ingest_insert import insert_new_rows, insert_new_rows_held
from tests.fixtures.openrosa import add_user, instance, new_instance_id, publish, seed_org
from tests.http.openrosa.test_openrosa_submission import post


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    form, version = publish(db, "school", "2024010101")
    user_id = add_user(db, "ann", "enumerator", ("D1",))
    return db, form.id, version.id, user_id


def row(world, instance_id: str | None = None, **changes):  # type: ignore[no-untyped-def]
    db, form_id, version_id, user_id = world
    xml = instance(instance_id or new_instance_id())
    user = db.get(User, user_id)
    incoming = IncomingSubmission(
        form_id=form_id,
        form_version_id=version_id,
        submitter_id=user_id,
        meta=read_meta(parse(xml)),
        xml=xml,
        submitter_credentials_version=user.credentials_version,
    )
    return new_row_values(dataclasses.replace(incoming, **changes), "0" * 64)


def stored(db, instance_id: str) -> list[Submission]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(Submission).where(Submission.instance_id == instance_id)))


def test_many_rows_in_one_statement_each_get_their_own_id(world) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    rows = [row(world) for _ in range(3)]
    outcomes = insert_new_rows(db.get_bind(), rows)
    assert all(isinstance(o, int) for o in outcomes) and len(set(outcomes)) == 3
    for new_id, values in zip(outcomes, rows, strict=True):
        (found,) = stored(db, values["instance_id"])
        assert found.id == new_id and found.xml == values["xml"]
        assert found.processing_status.value == "received" and found.current


def test_an_instance_twice_in_one_statement_is_inserted_once(world) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    iid = new_instance_id()
    outcomes = insert_new_rows(db.get_bind(), [row(world, iid), row(world), row(world, iid)])
    assert isinstance(outcomes[0], int) and isinstance(outcomes[1], int)
    assert outcomes[2] is None  # the receiver then treats it as a resend
    assert len(stored(db, iid)) == 1


def test_different_xml_under_one_instance_in_one_statement_credits_the_stored_one(
    world,
) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    iid = new_instance_id()
    first, second = row(world, iid), row(world, iid)
    second["xml"] = second["xml"].replace(b"</data>", b"<extra>1</extra></data>")
    second["xml_sha256"] = "1" * 64
    outcomes = insert_new_rows(db.get_bind(), [first, second])
    (found,) = stored(db, iid)
    # Whichever XML the database kept, only its request is told it was inserted.
    credited = first if found.xml == first["xml"] else second
    other = second if credited is first else first
    assert outcomes[[first, second].index(credited)] == found.id
    assert outcomes[[first, second].index(other)] is None


def test_an_existing_instance_or_a_stale_submitter_inserts_nothing_for_that_row_only(
    world,
) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    existing = row(world)
    insert_new_rows(db.get_bind(), [existing])
    stale = row(world, submitter_credentials_version=99)
    fresh = row(world)
    outcomes = insert_new_rows(db.get_bind(), [existing, stale, fresh])
    assert outcomes[0] is None and outcomes[1] is None and isinstance(outcomes[2], int)
    assert stored(db, stale["instance_id"]) == []


def test_a_row_the_database_refuses_fails_alone(world) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    good, bad, other = row(world), row(world), row(world)
    bad["device_id"] = "x" * 300  # longer than the column allows
    outcomes = insert_new_rows(db.get_bind(), [good, bad, other])
    assert isinstance(outcomes[0], int) and isinstance(outcomes[2], int)
    assert isinstance(outcomes[1], DBAPIError)
    assert stored(db, bad["instance_id"]) == []
    with pytest.raises(DBAPIError):  # alone, the error is raised
        insert_new_rows(db.get_bind(), [bad])


def test_the_held_connection_lost_fails_one_write_and_the_next_reconnects(world) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    held = HeldConnection(db.get_bind(), idle_ping_after=3600.0)  # no ping: the write finds out
    try:
        first, second, third = row(world), row(world), row(world)
        assert isinstance(insert_new_rows_held(held, [first])[0], int)
        with held.use() as pooled:
            backend = pooled.driver_connection.info.backend_pid
        db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        db.commit()
        with pytest.raises(DBAPIError):
            insert_new_rows_held(held, [second])
        # A new connection, and a cursor of its own: the one kept for the dead connection
        # would fail every write from now on.
        assert isinstance(insert_new_rows_held(held, [third])[0], int)
        with held.use() as pooled:
            assert pooled.driver_connection.info.backend_pid != backend
        assert [len(stored(db, r["instance_id"])) for r in (first, second, third)] == [1, 0, 1]
    finally:
        held.close()


def test_concurrent_submissions_are_each_stored_once_and_answered_201(client, world) -> None:  # type: ignore[no-untyped-def]
    db = world[0]
    ids = [new_instance_id() for _ in range(24)]
    statuses: list[int] = []
    lock = threading.Lock()

    def send(chunk: list[str]) -> None:
        for iid in chunk:
            status = post(client, instance(iid)).status_code
            with lock:
                statuses.append(status)

    # The same instance from two threads as well: one row, both answered 201.
    chunks = [ids[i::6] for i in range(6)] + [ids[:3]]
    threads = [threading.Thread(target=send, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [201] * (len(ids) + 3)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Submission)) == len(ids)
    duplicates = db.execute(
        text("SELECT instance_id FROM submissions GROUP BY instance_id HAVING count(*) > 1")
    ).all()
    assert duplicates == []
