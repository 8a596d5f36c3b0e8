"""Reviewing submissions: history rows, who may review, and the aggregates following rejection,
re-approval and soft deletion in the same transaction, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.aggregation import catalog_source, sums
from server.db import Database
from server.domain.roles import Role
from server.models import Aggregate, Form, FormVersion, Submission, SubmissionReview, User
from server.models.submissions import ReviewState
from server.services.review import ReviewError, history, set_review_state, soft_delete
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import seed_org

PASSWORD = "password-123"


@dataclass
class Env:
    db: Database
    catalog: Path
    blobs: BlobStore
    units: dict[str, int]
    form: Form
    version: FormVersion
    users: dict[str, int]

    def add(self, school: fx.School, unit: str = "S1") -> int:
        with self.db.session() as s:
            sid, _ = fx.store(s, self.blobs, self.form, self.version, self.units[unit], school)
            fx.process(s, sid, self.catalog)
        return sid

    def pupils(self, unit: str) -> int:
        """The district's (or sub-county's) pupils_total aggregate, 0 when there is none."""
        with self.db.session() as s:
            agg = s.scalar(
                select(Aggregate).where(
                    Aggregate.indicator_id == "pupils_total",
                    Aggregate.org_unit_id == self.units[unit],
                    Aggregate.cycle == "2025/26",
                )
            )
            return 0 if agg is None else int(sums.partial_of(agg).sum())

    def review(
        self, ids: list[int], state: ReviewState, who: str = "coord", comment: str | None = None
    ) -> None:
        with self.db.session() as s:
            user = s.get(User, self.users[who])
            assert user is not None
            # The catalog is the test's own; the store reads it through this setting.
            catalog_source.configure(self.catalog)
            try:
                set_review_state(s, ids, state, comment, user)
            finally:
                catalog_source.configure(None)


@pytest.fixture(params=["postgresql", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    if request.param == "postgresql":
        settings: Settings = request.getfixturevalue("settings")
    else:
        settings = request.getfixturevalue("sqlite_settings")
    db = Database(settings.database_url)
    with db.session() as s:
        units = {code: unit.id for code, unit in seed_org(s).items()}
        form, version = fx.publish_form(s)
        users = {
            "admin": create_user(s, "admin", PASSWORD, Role.admin, "DMIP"),
            "coord": create_user(s, "coord", PASSWORD, Role.coordinator, "DMIP", ["D1"]),
            "staff": create_user(s, "staff", PASSWORD, Role.subcounty_staff, "DMIP", ["S1"]),
            "enum": create_user(s, "enum", PASSWORD, Role.enumerator, "DMIP", ["S1"]),
        }
        s.flush()
        user_ids = {k: u.id for k, u in users.items()}
    yield Env(
        db,
        fx.write_catalog(tmp_path),
        BlobStore(tmp_path / "blobs"),
        units,
        form,
        version,
        user_ids,
    )
    db.dispose()


def test_rejecting_a_processed_submission_takes_it_out_of_its_district(env: Env) -> None:
    a = env.add(fx.School(pupils=100))
    env.add(fx.School(pupils=40))
    assert env.pupils("D1") == 140 and env.pupils("UG") == 140
    env.review([a], ReviewState.rejected, comment="Duplicate of another school")
    assert env.pupils("D1") == 40 and env.pupils("S1") == 40 and env.pupils("UG") == 40
    # Approving it again puts it back.
    env.review([a], ReviewState.approved)
    assert env.pupils("D1") == 140
    with env.db.session() as s:
        sub = s.get(Submission, a)
        assert sub is not None and sub.review_state is ReviewState.approved and sub.counted
        rows = history(s, a)
        assert [(r.state, r.comment, r.reviewer_id) for r in rows] == [
            (ReviewState.rejected, "Duplicate of another school", env.users["coord"]),
            (ReviewState.approved, None, env.users["coord"]),
        ]


def test_has_issues_keeps_counting_and_needs_a_comment(env: Env) -> None:
    a = env.add(fx.School(pupils=70))
    with pytest.raises(ReviewError, match="comment is required"):
        env.review([a], ReviewState.has_issues, comment="   ")
    env.review([a], ReviewState.has_issues, comment="Pupil count looks doubled")
    assert env.pupils("D1") == 70
    with env.db.session() as s:
        assert s.get(Submission, a).review_state is ReviewState.has_issues  # type: ignore[union-attr]


@pytest.mark.parametrize("who", ["staff", "enum"])
def test_enumerators_and_subcounty_staff_cannot_review_or_delete(env: Env, who: str) -> None:
    a = env.add(fx.School(pupils=10))
    with pytest.raises(ReviewError) as refused:
        env.review([a], ReviewState.rejected, who=who)
    assert refused.value.forbidden
    with env.db.session() as s, pytest.raises(ReviewError):
        soft_delete(s, [a], s.get(User, env.users[who]))  # type: ignore[arg-type]
    with env.db.session() as s:
        sub = s.get(Submission, a)
        assert sub is not None and sub.review_state is ReviewState.received
        assert sub.deleted_at is None
        assert s.scalar(select(SubmissionReview.id)) is None
    assert env.pupils("D1") == 10


def test_bulk_review_records_one_history_row_per_submission(env: Env) -> None:
    ids = [env.add(fx.School(pupils=n)) for n in (1, 2, 3)]
    env.review(ids, ReviewState.approved, who="admin", comment="Checked on site")
    with env.db.session() as s:
        reviews = s.scalars(select(SubmissionReview).order_by(SubmissionReview.submission_id))
        assert [(r.submission_id, r.state, r.comment) for r in reviews] == [
            (i, ReviewState.approved, "Checked on site") for i in ids
        ]


def test_a_selection_with_a_missing_submission_changes_nothing(env: Env) -> None:
    a = env.add(fx.School(pupils=5))
    with pytest.raises(ReviewError, match="No such submission: 999"):
        env.review([a, 999], ReviewState.rejected)
    assert env.pupils("D1") == 5
    with pytest.raises(ReviewError, match="at least one"):
        env.review([], ReviewState.rejected)


def test_a_reviewer_cannot_set_a_submission_back_to_received(env: Env) -> None:
    a = env.add(fx.School())
    with pytest.raises(ReviewError, match="cannot be set back"):
        env.review([a], ReviewState.received)


def test_soft_delete_retracts_and_blocks_later_review(env: Env) -> None:
    a = env.add(fx.School(pupils=100))
    b = env.add(fx.School(pupils=30), unit="S2")
    catalog_source.configure(env.catalog)
    try:
        with env.db.session() as s:
            soft_delete(s, [a], s.get(User, env.users["coord"]))  # type: ignore[arg-type]
    finally:
        catalog_source.configure(None)
    assert env.pupils("D1") == 0 and env.pupils("D2") == 30 and env.pupils("UG") == 30
    with pytest.raises(ReviewError, match="deleted"):
        env.review([a], ReviewState.approved)
    with env.db.session() as s:
        sub = s.get(Submission, a)
        assert sub is not None and sub.deleted_at is not None and not sub.counted
        assert s.get(Submission, b).counted  # type: ignore[union-attr]


STATES = st.sampled_from([ReviewState.approved, ReviewState.has_issues, ReviewState.rejected])


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(STATES, min_size=1, max_size=5))
def test_any_sequence_of_reviews_leaves_state_history_and_aggregates_agreeing(
    env: Env, steps: list[ReviewState]
) -> None:
    """Whatever the order of decisions, the state is the newest history row and the district
    counts the submission exactly when it is not rejected. (The fixture's database is shared
    by the examples, so each adds its own submission and compares with what was there.)"""
    before = env.pupils("D1")
    sid = env.add(fx.School(pupils=7))
    for state in steps:
        env.review([sid], state, comment="why")
    with env.db.session() as s:
        sub = s.get(Submission, sid)
        assert sub is not None and sub.review_state is steps[-1]
        assert [r.state for r in history(s, sid)] == steps
    assert env.pupils("D1") == before + (0 if steps[-1] is ReviewState.rejected else 7)
