"""The receiver's fast path: a cached snapshot of the user, one checked INSERT, wake-ups sent
off the request, pooled connections pinged only when idle, 503 when the database is away."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from server.db import make_engine
from server.models import Submission, User
from server.openrosa.wakeups import BUSY_RATE, WakeUps, next_pace
from server.services.users import set_password
from server.settings import Settings, SettingsError
from tests.fixtures.openrosa import (
    REALM,
    add_user,
    basic,
    form_data,
    instance,
    new_instance_id,
    seed_org,
)
from tests.http.openrosa.test_openrosa_submission import count, post, publish


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    publish(db, "school", "2024010101")
    add_user(db, "ann", "enumerator", ("D1",))
    return db


def test_password_change_refuses_the_old_password_despite_the_cached_snapshot(
    client, world
) -> None:  # type: ignore[no-untyped-def]
    assert post(client, instance(new_instance_id())).status_code == 201  # snapshot cached
    user = world.scalar(select(User).where(User.username == "ann"))
    set_password(user, "a brand new password", REALM)
    world.commit()
    before = count(world)
    assert post(client, instance(new_instance_id())).status_code == 401
    assert count(world) == before
    response = client.post(
        "/submission",
        data=form_data(instance(new_instance_id()), None, False),
        headers=basic("ann", "a brand new password"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert count(world) == before + 1


def test_deactivated_user_stores_nothing_though_the_verdict_is_cached(client, world) -> None:  # type: ignore[no-untyped-def]
    assert post(client, instance(new_instance_id())).status_code == 201
    # Deactivate without touching the credentials version: the INSERT's own check refuses.
    world.execute(text("UPDATE users SET active = false WHERE username = 'ann'"))
    world.commit()
    before = count(world)
    assert post(client, instance(new_instance_id())).status_code == 401
    assert count(world) == before


def test_resend_after_the_fast_insert_is_still_idempotent_and_conflicts(client, world) -> None:  # type: ignore[no-untyped-def]
    iid = new_instance_id()
    assert post(client, instance(iid)).status_code == 201
    assert post(client, instance(iid)).status_code == 201
    assert post(client, instance(iid, pupils=7)).status_code == 409
    rows = world.scalars(select(Submission).where(Submission.instance_id == iid)).all()
    assert len(rows) == 1 and rows[0].submitter_id is not None and rows[0].org_unit_id


def test_database_away_is_503_with_retry_after(app, client, world) -> None:  # type: ignore[no-untyped-def]
    from server.db import Database

    state = app.extensions["dmip"]
    real = state.db
    state.db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        response = post(client, instance(new_instance_id()))
    finally:
        state.db.dispose()
        state.db = real
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_a_connection_killed_under_the_receiver_is_503_then_replaced(
    app, client, world, settings
) -> None:  # type: ignore[no-untyped-def]
    from server.db import Database

    state = app.extensions["dmip"]
    real = state.db
    # Connections never pinged: the INSERT itself finds the one it keeps dead.
    state.db = Database(settings.database_url, idle_ping_after=3600.0, pool_size=2, max_overflow=0)
    admin = make_engine(settings.database_url)
    try:
        assert post(client, instance(new_instance_id())).status_code == 201
        with admin.connect() as conn:
            # The backend that ran the receiver's INSERT last (the one the writer keeps); the
            # session's other live servers (tests/central) may keep writers of their own.
            pid = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'INSERT INTO submissions%' ORDER BY query_start DESC LIMIT 1"
                )
            ).scalar_one()
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
        lost = new_instance_id()
        response = post(client, instance(lost))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert post(client, instance(lost)).status_code == 201  # Collect's retry is stored
        assert world.scalars(select(Submission).where(Submission.instance_id == lost)).all()
    finally:
        state.db.dispose()
        state.db = real
        admin.dispose()


def test_an_idle_connection_killed_by_a_restart_is_replaced_unseen(settings) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url, idle_ping_after=0.0, pool_size=1)
    admin = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
        with engine.connect() as conn:  # no error: the ping found it dead and reconnected
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
        admin.dispose()


def test_wakeups_gather_ids_into_chunks_in_order_and_survive_a_failing_send() -> None:
    sent: list[list[int]] = []
    lock = threading.Lock()
    entered, release = threading.Event(), threading.Event()

    def send(ids: list[int]) -> bool:
        if ids == [1]:
            entered.set()
            release.wait(10)  # a slow broker: the ids added meanwhile gather
        if 3 in ids:
            raise RuntimeError("broker gone")
        with lock:
            sent.append(ids)
        return True

    wakeups = WakeUps(send, chunk=2)
    wakeups.add(1)
    assert entered.wait(10)
    for submission_id in range(2, 7):
        wakeups.add(submission_id)
    release.set()
    wakeups.flush()
    # [2, 3] was refused (the sweeper re-sends such rows); every other id went, in order,
    # at most two to a task.
    assert sent == [[1], [4, 5], [6]]
    wakeups.add(7)
    wakeups.flush()
    assert sent[-1] == [7]


def test_wakeups_send_at_once_at_a_trickle_gather_under_load_and_never_hold_a_full_chunk() -> None:
    sent: list[list[int]] = []
    went = threading.Event()

    def send(ids: list[int]) -> bool:
        sent.append(ids)
        went.set()
        return True

    paced = WakeUps(send, chunk=50, interval=2.0)
    paced.add(1)
    assert went.wait(10), "the first id of a quiet queue waited"
    # Within the interval after a publish, ids gather into the next one.
    paced.add(2)
    paced.add(3)
    paced.flush()
    assert sent == [[1], [2, 3]]

    sent.clear()
    went.clear()
    full = WakeUps(send, chunk=2, interval=600)
    full.add(4)
    assert went.wait(10)
    went.clear()
    full.add(5)
    full.add(6)
    assert went.wait(60), "a full chunk waited for the pace"
    assert sent == [[4], [5, 6]]


@given(
    interval=st.floats(0.01, 2.0),
    stretch=st.floats(1.0, 16.0),
    rates=st.lists(st.tuples(st.floats(0, 5000), st.floats(0.001, 10.0)), max_size=30),
)
def test_the_wakeup_pace_stretches_under_load_within_bounds_and_falls_back_at_once(
    interval: float, stretch: float, rates: list[tuple[float, float]]
) -> None:
    top = interval * stretch
    pace = interval
    for rate, elapsed in rates:
        before, pace = pace, next_pace(pace, round(rate * elapsed), elapsed, interval, top)
        assert interval <= pace <= top
        sent_rate = round(rate * elapsed) / elapsed
        if sent_rate >= BUSY_RATE:
            assert pace == min(top, before * 2)
        elif sent_rate < BUSY_RATE / 2:
            assert pace == interval
        else:
            assert pace == before


def test_wakeups_under_load_send_fewer_larger_tasks_and_at_a_trickle_go_back_to_the_pace() -> None:
    sent: list[list[int]] = []
    lock = threading.Lock()

    def send(ids: list[int]) -> bool:
        with lock:
            sent.append(ids)
        return True

    wakeups = WakeUps(send, chunk=10, interval=0.05, max_interval=0.2)
    ids = list(range(1, 2001))
    for start in range(0, len(ids), 10):  # ten every 5 ms or so: far above BUSY_RATE
        for submission_id in ids[start : start + 10]:
            wakeups.add(submission_id)
        time.sleep(0.005)
    wakeups.flush()
    assert [i for task in sent for i in task] == ids  # each once, in order
    sizes = [len(task) for task in sent]
    # The chunk grew with the pace, to chunk x max_interval / interval and never beyond.
    assert max(sizes) == 40, sizes
    # A quiet spell, then one submission: it goes alone, and the pace is back to the interval.
    time.sleep(0.25)
    sent.clear()
    wakeups.add(5000)
    wakeups.flush()
    assert sent == [[5000]]
    assert wakeups.pace == (0.05, 10)


def test_wakeups_that_may_not_stretch_keep_their_chunk() -> None:
    sent: list[list[int]] = []
    wakeups = WakeUps(lambda ids: sent.append(ids) or True, chunk=10, interval=0.05)
    for submission_id in range(1, 1001):
        wakeups.add(submission_id)
    wakeups.flush()
    assert max(len(task) for task in sent) == 10
    assert wakeups.pace == (0.05, 10)


def test_the_wakeup_pace_and_chunk_come_from_the_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app
    from server.openrosa.deps import wakeups

    env = {"DMIP_DATA_DIR": str(tmp_path), "DMIP_SECRET_KEY": "k" * 20}
    defaults = Settings.from_env(env)
    assert (defaults.wakeup_interval_ms, defaults.wakeup_max_interval_ms) == (500, 4000)
    # A pace set above the default stretch: the stretch is at least the pace.
    assert Settings.from_env(env | {"DMIP_WAKEUP_INTERVAL_MS": "5000"}).wakeup_max_interval_ms == (
        5000
    )
    with pytest.raises(SettingsError, match="DMIP_WAKEUP_MAX_INTERVAL_MS must be at least 500"):
        Settings.from_env(env | {"DMIP_WAKEUP_MAX_INTERVAL_MS": "100"})
    env |= {
        "DMIP_WAKEUP_INTERVAL_MS": "250",
        "DMIP_WAKEUP_MAX_INTERVAL_MS": "1000",
        "DMIP_WORKER_BATCH": "7",
    }
    app = create_app(Settings.from_env(env))
    try:
        with app.app_context():
            assert (wakeups().interval, wakeups().max_interval, wakeups().chunk) == (0.25, 1.0, 7)
    finally:
        app.extensions["dmip"].db.dispose()


def test_a_web_process_is_readied_before_its_first_request(app) -> None:  # type: ignore[no-untyped-def]
    import gc

    from server.app import prepare_for_requests

    before = gc.get_freeze_count()
    try:
        prepare_for_requests(app)
        # Everything alive now is out of the collector's sight, so full collections under
        # load walk only what requests create.
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
