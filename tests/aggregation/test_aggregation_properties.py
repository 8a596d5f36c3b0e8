"""Incremental equals rebuild, for any stream of submissions, resends, edits, reviews,
deletions and out-of-order processing (hypothesis), on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text, update

from server import migrate
from server.aggregation import store, sums
from server.aggregation.rebuild import rebuild_in
from server.db import Base, Database, utcnow
from server.domain.partials import Partial
from server.domain.xform.safe_xml import parse
from server.domain.xform.submission_meta import read_meta
from server.models import Aggregate, Submission
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import seed_org

CYCLES = ("2025/26", "2026/27")
UNITS = ("S1", "S2", "D1")

schools = st.builds(
    fx.School,
    pupils=st.one_of(st.none(), st.integers(0, 900)),
    teachers=st.one_of(st.none(), st.integers(0, 25)),
    present=st.one_of(st.none(), st.integers(0, 25)),
    services=st.lists(st.sampled_from(["meals", "library", "sports"]), unique=True).map(tuple),
    water=st.sampled_from([None, "yes", "no"]),
    staff=st.lists(
        st.tuples(
            st.sampled_from(["health", "education"]),
            st.one_of(st.none(), st.integers(0, 9)),
            st.one_of(st.none(), st.integers(0, 9)),
        ),
        max_size=3,
    ),
    cycle=st.sampled_from(CYCLES),
)

# Each operation names a submission by an index into those stored so far (modulo their count).
# Kinds are weighted (listed more than once) so that most streams process what they store and
# then review, edit or delete processed submissions.
_new = st.tuples(st.just("new"), schools, st.sampled_from(UNITS))
_process = st.tuples(st.just("process"), st.integers(0, 50))
# A worker taking one submission and up to `limit - 1` others waiting, in one transaction.
_batch = st.tuples(st.just("batch"), st.integers(0, 50), st.integers(1, 6))
_edit = st.tuples(st.just("edit"), st.integers(0, 50), schools)
_review = st.tuples(
    st.just("review"),
    st.integers(0, 50),
    st.sampled_from(["approved", "has_issues", "rejected", "rejected", "received"]),
)
operations = st.lists(
    st.one_of(
        _new,
        _new,
        _process,
        _process,
        _process,
        _batch,
        st.tuples(st.just("resend"), st.integers(0, 50)),
        _edit,
        _review,
        _review,
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("check")),
    ),
    min_size=1,
    max_size=30,
)
# Streams every run tries, whatever hypothesis draws.
EXAMPLES = [
    [("new", fx.School(), "S1"), ("process", 0), ("review", 0, "rejected"), ("check",)],
    [("new", fx.School(), "S1"), ("process", 0), ("delete", 0)],
    [("new", fx.School(), "S2"), ("edit", 0, fx.School(pupils=7)), ("process", 1)],
    [("new", fx.School(), "S1"), ("resend", 0), ("process", 0), ("resend", 0)],
    # An edit and the submission it replaces in one batch, and a batch after a rejection.
    [
        ("new", fx.School(), "S1"),
        ("edit", 0, fx.School(pupils=3)),
        ("new", fx.School(pupils=5), "D1"),
        ("batch", 1, 3),
        ("review", 2, "rejected"),
        ("new", fx.School(), "S2"),
        ("batch", 0, 2),
    ],
]


@dataclass
class World:
    db: Database
    catalog: Path
    blobs: BlobStore
    units: dict[str, int] = field(default_factory=dict)
    stored: list[tuple[int, str, bytes]] = field(default_factory=list)  # id, instance, xml
    pending: list[int] = field(default_factory=list)

    def setup(self) -> None:
        with self.db.session() as s:
            self.units = {code: unit.id for code, unit in seed_org(s).items()}
            self.form, self.version = fx.publish_form(s)

    def pick(self, k: int) -> tuple[int, str, bytes] | None:
        return self.stored[k % len(self.stored)] if self.stored else None

    def run(self, op: tuple) -> None:  # type: ignore[type-arg]
        kind = op[0]
        with self.db.session() as s:
            if kind == "new":
                _, school, unit = op
                sid, instance = fx.store(
                    s, self.blobs, self.form, self.version, self.units[unit], school
                )
                self._remember(s, sid, instance)
            elif kind == "process" and self.pending:
                sid = self.pending.pop(op[1] % len(self.pending))
                fx.process(s, sid, self.catalog)
            elif kind == "batch" and self.pending:
                sid = self.pending[op[1] % len(self.pending)]
                done = fx.process_batch(s, sid, op[2], self.catalog)
                assert sid in done and len(done) <= op[2]
                self.pending = [p for p in self.pending if p not in done]
            elif kind == "resend" and (picked := self.pick(op[1])):
                sid, instance, xml = picked
                sub = s.get(Submission, sid)
                assert sub is not None
                from server.services.ingest import IncomingSubmission, ingest_submission

                result = ingest_submission(
                    s,
                    self.blobs,
                    IncomingSubmission(
                        form_id=self.form.id,
                        form_version_id=self.version.id,
                        submitter_id=None,
                        meta=read_meta(parse(xml)),
                        xml=xml,
                        org_unit_id=sub.org_unit_id,
                    ),
                )
                assert result.outcome.value == "resent" and result.submission_id == sid
            elif kind == "edit" and (picked := self.pick(op[1])):
                sid, instance, _ = picked
                sub = s.get(Submission, sid)
                assert sub is not None
                if sub.current and sub.deleted_at is None:
                    new_id, new_instance = fx.store(
                        s,
                        self.blobs,
                        self.form,
                        self.version,
                        sub.org_unit_id or self.units["S1"],
                        op[2],
                        deprecated_id=instance,
                    )
                    self._remember(s, new_id, new_instance)
            elif kind == "review" and (picked := self.pick(op[1])):
                sid = picked[0]
                s.execute(update(Submission).where(Submission.id == sid).values(review_state=op[2]))
                store.refresh(s, [sid], self.catalog)
            elif kind == "delete" and (picked := self.pick(op[1])):
                sid = picked[0]
                s.execute(
                    update(Submission).where(Submission.id == sid).values(deleted_at=utcnow())
                )
                store.refresh(s, [sid], self.catalog)
        if kind == "check":
            self.check()

    def _remember(self, s, sid: int, instance: str) -> None:  # type: ignore[no-untyped-def]
        xml = s.scalar(select(Submission.xml).where(Submission.id == sid))
        self.stored.append((sid, instance, xml))
        self.pending.append(sid)

    def aggregates(self) -> dict[tuple[str, int, str], Partial]:
        with self.db.session() as s:
            return {
                (a.indicator_id, a.org_unit_id, a.cycle): sums.partial_of(a)
                for a in s.scalars(select(Aggregate))
            }

    def check(self) -> None:
        incremental = self.aggregates()
        with self.db.session() as s:
            report = rebuild_in(s, catalog_path=self.catalog)
            assert report.recounted == 0, "a submission's counted mark disagreed with the rules"
        assert self.aggregates() == incremental


def _play(world: World, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    world.setup()
    for op in ops:
        world.run(op)
    world.check()
    while world.pending:  # everything processed in the end, in whatever order remains
        world.run(("process", 0))
    world.check()


def _examples(test):  # type: ignore[no-untyped-def]
    for ops in EXAMPLES:
        test = example(ops=ops)(test)
    return test


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
@_examples
def test_incremental_equals_rebuild_on_sqlite(
    ops: list[tuple],  # type: ignore[type-arg]
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp("world")
    shutil.copy(sqlite_template, work / "db.sqlite3")
    db = Database(f"sqlite:///{work / 'db.sqlite3'}")
    try:
        _play(World(db, fx.write_catalog(work), BlobStore(work / "blobs")), ops)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def pg_world_url(pg_url: str) -> Iterator[str]:
    yield pg_url
    _empty(pg_url)


def _empty(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
@_examples
def test_incremental_equals_rebuild_on_postgresql(
    ops: list[tuple],  # type: ignore[type-arg]
    pg_world_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _empty(pg_world_url)
    work = tmp_path_factory.mktemp("world")
    db = Database(pg_world_url)
    try:
        _play(World(db, fx.write_catalog(work), BlobStore(work / "blobs")), ops)
    finally:
        db.dispose()
