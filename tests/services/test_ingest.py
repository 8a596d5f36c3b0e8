"""The ingest service on its own: idempotent merging of split submissions, edits, races."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from server.domain.problems import Problem
from server.domain.xform.safe_xml import parse
from server.domain.xform.submission_meta import read_meta
from server.models import Submission
from server.services.ingest import (
    IncomingAttachment,
    IncomingSubmission,
    Outcome,
    ingest_submission,
)
from server.storage.blobs import BlobStore
from tests.fixtures.openrosa import instance, new_instance_id, publish

# A split submission: part 0 and 1 are sent with *isIncomplete*=yes, part 2 is the last.
PARTS = [{"a.jpg": b"A" * 10, "b.jpg": b"B" * 20}, {"c.jpg": b"C" * 30}, {"d.jpg": b"D" * 40}]
LAST = len(PARTS) - 1


@pytest.fixture
def target(db, settings):  # type: ignore[no-untyped-def]
    form, version = publish(db, "school", "2024010101")
    return form.id, version.id, BlobStore(settings.attachments_dir)


def incoming(form_id: int, version_id: int, xml: bytes, files=None, incomplete=False):  # type: ignore[no-untyped-def]
    return IncomingSubmission(
        form_id=form_id,
        form_version_id=version_id,
        submitter_id=None,
        meta=read_meta(parse(xml)),
        xml=xml,
        attachments=[
            IncomingAttachment(name, "image/jpeg", io.BytesIO(data))
            for name, data in (files or {}).items()
        ],
        incomplete=incomplete,
    )


def rows(db, instance_id: str) -> list[Submission]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(Submission).where(Submission.instance_id == instance_id)))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.integers(min_value=0, max_value=LAST), min_size=1, max_size=7))
def test_any_order_and_repetition_of_parts_converges(db, target, sent: list[int]) -> None:  # type: ignore[no-untyped-def]
    form_id, version_id, blobs = target
    iid = new_instance_id()
    xml = instance(iid)
    outcomes = []
    for part in sent:
        result = ingest_submission(
            db, blobs, incoming(form_id, version_id, xml, PARTS[part], incomplete=part != LAST)
        )
        outcomes.append(result.outcome)
    assert outcomes[0] is Outcome.created
    assert all(o is Outcome.resent for o in outcomes[1:])
    (row,) = rows(db, iid)
    expected = {name for part in set(sent) for name in PARTS[part]}
    assert {a.name for a in row.attachments} == expected
    contents = {a.name: blobs.path(a.sha256).read_bytes() for a in row.attachments}
    assert contents == {
        name: data for part in PARTS for name, data in part.items() if name in expected
    }
    assert row.incomplete is (LAST not in sent)


def test_only_new_rows_and_completion_need_processing(db, target) -> None:  # type: ignore[no-untyped-def]
    form_id, version_id, blobs = target
    xml = instance(new_instance_id())
    first = ingest_submission(db, blobs, incoming(form_id, version_id, xml, PARTS[0], True))
    again = ingest_submission(db, blobs, incoming(form_id, version_id, xml, PARTS[1], True))
    last = ingest_submission(db, blobs, incoming(form_id, version_id, xml, PARTS[2]))
    late = ingest_submission(db, blobs, incoming(form_id, version_id, xml, PARTS[1], True))
    assert [r.needs_processing for r in (first, again, last, late)] == [True, False, True, False]
    assert len({r.submission_id for r in (first, again, last, late)}) == 1


def test_demo_data_is_marked_in_the_row_it_arrives_in(db, target) -> None:  # type: ignore[no-untyped-def]
    form_id, version_id, blobs = target
    plain, demo = instance(new_instance_id()), instance(new_instance_id())
    ingest_submission(db, blobs, incoming(form_id, version_id, plain))
    marked = dataclasses.replace(incoming(form_id, version_id, demo), demo=True)
    ingest_submission(db, blobs, marked)
    assert [r.demo for r in rows(db, read_meta(parse(plain)).instance_id)] == [False]
    assert [r.demo for r in rows(db, read_meta(parse(demo)).instance_id)] == [True]


def test_edit_supersedes_and_carries_attachments_forward(db, target) -> None:  # type: ignore[no-untyped-def]
    form_id, version_id, blobs = target
    old_id, new_id = new_instance_id(), new_instance_id()
    original = instance(old_id, photo="a.jpg", sketch="b.jpg")
    ingest_submission(db, blobs, incoming(form_id, version_id, original, PARTS[0]))
    edit = instance(new_id, pupils=130, deprecated_id=old_id, photo="a.jpg", sketch="b.jpg")
    result = ingest_submission(
        db, blobs, incoming(form_id, version_id, edit, {"b.jpg": b"new sketch"})
    )
    assert result.outcome is Outcome.edited and result.needs_processing
    (old,) = rows(db, old_id)
    (new,) = rows(db, new_id)
    assert new.supersedes_id == old.id and new.deprecated_id == old_id
    assert new.current and not old.current
    carried = {a.name: a for a in new.attachments}
    assert carried["a.jpg"].sha256 == {a.name: a for a in old.attachments}["a.jpg"].sha256
    assert blobs.path(carried["b.jpg"].sha256).read_bytes() == b"new sketch"
    assert {a.name: a.size for a in old.attachments} == {"a.jpg": 10, "b.jpg": 20}
    # Editing the old version again is refused: it was already replaced.
    again = instance(new_instance_id(), pupils=140, deprecated_id=old_id)
    with pytest.raises(Problem) as caught:
        ingest_submission(db, blobs, incoming(form_id, version_id, again))
    assert caught.value.status == 409
    # Resending the edit is a plain resend.
    resent = ingest_submission(db, blobs, incoming(form_id, version_id, edit))
    assert resent.outcome is Outcome.resent and resent.submission_id == new.id


def test_losing_an_insert_race_becomes_a_resend(db, app, target) -> None:  # type: ignore[no-untyped-def]
    """A holds an uncommitted row for the instance; B's insert blocks on the unique index, then
    fails when A commits, and must end as a resend of A's row."""
    form_id, version_id, blobs = target
    iid = new_instance_id()
    xml = instance(iid)
    database = app.extensions["dmip"].db
    session_a = database.sessionmaker()
    session_b = database.sessionmaker()
    try:
        session_a.add(
            Submission(
                form_id=form_id,
                form_version_id=version_id,
                instance_id=iid,
                xml=xml,
                xml_sha256=hashlib.sha256(xml).hexdigest(),
            )
        )
        session_a.flush()
        outcome: list[object] = []
        worker = threading.Thread(
            target=lambda: outcome.append(
                ingest_submission(session_b, blobs, incoming(form_id, version_id, xml, PARTS[0]))
            )
        )
        worker.start()
        for _ in range(500):  # wait until B is blocked on A's row lock
            waiting = db.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            db.rollback()
            if waiting:
                break
            time.sleep(0.01)
        assert waiting, "the second insert never waited for the first"
        session_a.commit()
        worker.join()
        (result,) = outcome
        assert result.outcome is Outcome.resent  # type: ignore[attr-defined]
        (row,) = rows(db, iid)
        assert {a.name for a in row.attachments} == set(PARTS[0])
    finally:
        session_a.close()
        session_b.close()


def test_blob_written_for_a_refused_submission_is_harmless(db, target) -> None:  # type: ignore[no-untyped-def]
    form_id, version_id, blobs = target
    iid = new_instance_id()
    ingest_submission(db, blobs, incoming(form_id, version_id, instance(iid)))
    with pytest.raises(Problem):
        ingest_submission(
            db, blobs, incoming(form_id, version_id, instance(iid, pupils=1), {"x.jpg": b"xx"})
        )
    assert db.scalar(select(func.count()).select_from(Submission)) == 1
    (row,) = rows(db, iid)
    assert row.attachments == []
