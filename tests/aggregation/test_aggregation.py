"""Incremental aggregates on hand-computed data: what each kind of indicator adds, roll-up to
every level, retraction on rejection, deletion and edit, and rebuild equal to the increments.
Every test runs on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from server.aggregation import store, sums
from server.aggregation.rebuild import rebuild_in
from server.db import Database, utcnow
from server.domain.cycles import financial_year
from server.domain.partials import SCALE, Partial
from server.models import Aggregate, Form, FormVersion, OrgUnit, Submission
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import seed_org

MILLION = SCALE


@dataclass
class Env:
    db: Database
    catalog: Path
    blobs: BlobStore
    units: dict[str, int]
    form: Form
    version: FormVersion

    def add(self, school: fx.School, unit: str = "S1", **kw: object) -> int:
        with self.db.session() as s:
            sid, _ = fx.store(
                s, self.blobs, self.form, self.version, self.units[unit], school, **kw
            )  # type: ignore[arg-type]
            fx.process(s, sid, self.catalog)
        return sid

    def aggregates(self) -> dict[tuple[str, str, str], Partial]:
        codes = {v: k for k, v in self.units.items()}
        with self.db.session() as s:
            return {
                (a.indicator_id, codes[a.org_unit_id], a.cycle): sums.partial_of(a)
                for a in s.scalars(select(Aggregate))
            }

    def rebuilt(self) -> dict[tuple[str, str, str], Partial]:
        with self.db.session() as s:
            rebuild_in(s, catalog_path=self.catalog)
        return self.aggregates()


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
    yield Env(db, fx.write_catalog(tmp_path), BlobStore(tmp_path / "blobs"), units, form, version)
    db.dispose()


A = fx.School(pupils=100, teachers=2, present=2, services=("meals",), staff=[("health", 1, 2)])
B = fx.School(
    pupils=150,
    teachers=3,
    present=1,
    services=(),
    water="no",
    staff=[("health", 2, 2), ("education", 1, 3)],
)


def test_each_aggregation_kind_adds_what_the_catalog_says(env: Env) -> None:
    env.add(A)
    env.add(B)
    agg = env.aggregates()
    key = ("ptr", "S1", "2025/26")
    # ratio_of_sums: (100 + 150) pupils / (2 + 3) teachers = 50
    assert agg[key].num == 250 * MILLION and agg[key].den == 5 * MILLION
    assert agg[key].ratio() == 50
    # proportion: 3 present of 5 teachers
    assert agg[("presence", "S1", "2025/26")].ratio() == Fraction(3, 5)
    # sum over all schools
    assert agg[("pupils_total", "S1", "2025/26")].sum() == 250
    # mean with a filter: only A offers meals
    meals = agg[("meals_mean_pupils", "S1", "2025/26")]
    assert (meals.n, meals.mean()) == (1, 100)
    # sums over a repeat: filled 1 + (2 + 1), approved 2 + (2 + 3)
    staffing = agg[("staffing", "S1", "2025/26")]
    assert (staffing.num, staffing.den) == (4 * MILLION, 7 * MILLION)
    # score: mean of per-school health ratios 1/2 and 2/2, the filter keeps A (water) and B
    # (two staff rows)
    score = agg[("health_staffing_score", "S1", "2025/26")]
    assert (score.n, score.mean()) == (2, Fraction(3, 4))
    assert score.total_sq == (MILLION // 2) ** 2 + MILLION**2


def test_every_level_holds_the_merge_of_its_children(env: Env) -> None:
    env.add(A, "S1")
    env.add(B, "S2")
    agg = env.aggregates()
    for unit, pupils in (("S1", 100), ("D1", 100), ("S2", 150), ("D2", 150)):
        assert agg[("pupils_total", unit, "2025/26")].sum() == pupils
    for unit in ("UG-C", "UG"):
        assert agg[("pupils_total", unit, "2025/26")].sum() == 250
        assert agg[("ptr", unit, "2025/26")] == (
            agg[("ptr", "D1", "2025/26")] + agg[("ptr", "D2", "2025/26")]
        )


def test_a_missing_answer_leaves_the_indicator_out_not_zero(env: Env) -> None:
    env.add(fx.School(pupils=80, teachers=None, present=None))
    agg = env.aggregates()
    assert agg[("pupils_total", "S1", "2025/26")].sum() == 80
    assert ("ptr", "S1", "2025/26") not in agg  # no denominator: nothing to add
    assert ("presence", "S1", "2025/26") not in agg


def test_cycles_are_kept_apart(env: Env) -> None:
    env.add(A)
    env.add(fx.School(pupils=70, cycle="2026/27"))
    agg = env.aggregates()
    assert agg[("pupils_total", "UG", "2025/26")].sum() == 100
    assert agg[("pupils_total", "UG", "2026/27")].sum() == 70


def test_rejection_retracts_and_reinstatement_restores(env: Env) -> None:
    env.add(A)
    b = env.add(B)
    both = env.aggregates()
    with env.db.session() as s:
        s.execute(update(Submission).where(Submission.id == b).values(review_state="rejected"))
        recount = store.refresh(s, [b], env.catalog)
        # Where the sums moved: the submission's sub-county and every unit above it.
        codes = {
            code
            for (code,) in s.execute(
                select(OrgUnit.code).where(OrgUnit.id.in_([unit for unit, _ in recount.moved]))
            )
        }
    assert recount.submissions == 1
    assert codes == {"UG", "UG-C", "D1", "S1"} and {c for _, c in recount.moved} == {"2025/26"}
    only_a = env.aggregates()
    assert only_a[("pupils_total", "UG", "2025/26")].sum() == 100
    assert only_a[("ptr", "S1", "2025/26")].ratio() == 50  # 100 / 2
    with env.db.session() as s:
        s.execute(update(Submission).where(Submission.id == b).values(review_state="approved"))
        store.refresh(s, [b], env.catalog)
    assert env.aggregates() == both


def test_refresh_is_idempotent(env: Env) -> None:
    a = env.add(A)
    before = env.aggregates()
    with env.db.session() as s:
        assert store.refresh(s, [a, a], env.catalog) == store.Recount(0, set())
    assert env.aggregates() == before


def test_deleting_the_last_submission_empties_the_table(env: Env) -> None:
    a = env.add(A)
    with env.db.session() as s:
        s.execute(update(Submission).where(Submission.id == a).values(deleted_at=utcnow()))
        store.refresh(s, [a], env.catalog)
    assert env.aggregates() == {}


def test_an_edit_replaces_the_contribution_of_the_original(env: Env) -> None:
    with env.db.session() as s:
        original, instance_id = fx.store(s, env.blobs, env.form, env.version, env.units["S1"], A)
        fx.process(s, original, env.catalog)
    env.add(fx.School(pupils=40, teachers=2), deprecated_id=instance_id)
    agg = env.aggregates()
    assert agg[("pupils_total", "D1", "2025/26")].sum() == 40
    assert agg[("pupils_total", "D1", "2025/26")].n == 1
    with env.db.session() as s:
        counted = {i: c for i, c in s.execute(select(Submission.id, Submission.counted))}
    assert counted[original] is False


def test_an_edit_processed_before_its_original_wins(env: Env) -> None:
    """Out-of-order processing: the worker may see the edit first."""
    with env.db.session() as s:
        original, instance_id = fx.store(s, env.blobs, env.form, env.version, env.units["S1"], A)
        edit, _ = fx.store(
            s,
            env.blobs,
            env.form,
            env.version,
            env.units["S1"],
            fx.School(pupils=40),
            deprecated_id=instance_id,
        )
        fx.process(s, edit, env.catalog)
        fx.process(s, original, env.catalog)
    agg = env.aggregates()
    assert agg[("pupils_total", "UG", "2025/26")].sum() == 40
    assert env.rebuilt() == agg


def test_a_failed_submission_counts_nowhere(env: Env) -> None:
    with env.db.session() as s:
        sid, _ = fx.store(s, env.blobs, env.form, env.version, env.units["S1"], A)
        # Corrupt the stored XML: the worker marks it failed.
        s.execute(update(Submission).where(Submission.id == sid).values(xml=b"<data>"))
        s.commit()
        assert fx.process(s, sid, env.catalog) == "failed"
    assert env.aggregates() == {}


def test_rebuild_gives_exactly_the_incremental_result(env: Env) -> None:
    env.add(A, "S1")
    env.add(B, "S2")
    env.add(fx.School(pupils=33, teachers=7, present=5, cycle="2026/27"), "S2")
    incremental = env.aggregates()
    assert incremental
    assert env.rebuilt() == incremental


def test_rebuild_repairs_a_damaged_table_and_wrong_marks(env: Env) -> None:
    a = env.add(A)
    env.add(B)
    expected = env.aggregates()
    with env.db.session() as s:
        s.execute(update(Aggregate).values(n=999))
        s.execute(update(Submission).where(Submission.id == a).values(counted=False))
    with env.db.session() as s:
        report = rebuild_in(s, catalog_path=env.catalog)
    assert report.recounted == 1 and report.submissions == 2
    assert env.aggregates() == expected


def test_rebuild_of_one_cycle_leaves_the_others(env: Env) -> None:
    env.add(A)
    env.add(fx.School(pupils=70, cycle="2026/27"))
    expected = env.aggregates()
    with env.db.session() as s:
        s.execute(update(Aggregate).where(Aggregate.cycle == "2026/27").values(n=5))
    with env.db.session() as s:
        rebuild_in(s, "2025/26", catalog_path=env.catalog)
    damaged = env.aggregates()
    assert damaged[("pupils_total", "UG", "2026/27")].n == 5
    assert damaged[("pupils_total", "UG", "2025/26")] == expected[("pupils_total", "UG", "2025/26")]
    with env.db.session() as s:
        rebuild_in(s, "2026/27", catalog_path=env.catalog)
    assert env.aggregates() == expected


def test_cycle_falls_back_to_the_financial_year_of_the_answers(env: Env) -> None:
    sid = env.add(fx.School(cycle="not a cycle"))
    with env.db.session() as s:
        sub = s.get(Submission, sid)
        assert sub is not None
        from server.domain.cycles import financial_year

        assert sub.cycle == financial_year(sub.received_at.date())


def test_rebuild_command(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from server.cli import main

    env.add(A)
    expected = env.aggregates()
    with env.db.session() as s:
        s.execute(update(Aggregate).values(n=0))
    forms_dir = env.catalog.parent
    monkeypatch.setenv("DMIP_DATABASE_URL", env.db.url)
    monkeypatch.setenv("DMIP_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("DMIP_FORMS_DIR", str(forms_dir))
    result = CliRunner().invoke(main, ["aggregates", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "from 1 submissions" in result.output
    assert env.aggregates() == expected
    with env.db.session() as s:
        assert s.scalar(select(OrgUnit.code).where(OrgUnit.id == env.units["S1"])) == "S1"


def test_sums_of_any_size_are_added_exactly_and_emptied_rows_go(env: Env) -> None:
    """apply adds each batch's deltas to the stored sums (on PostgreSQL in one statement of
    arrays): numbers far beyond 64 bits stay exact, and rows that come back to zero go."""
    cycle = financial_year(dt.date(2025, 3, 1))
    big = Partial(n=1, total=10**30 + 1, total_sq=10**45 + 7, num=-5, den=3)
    keys = [("i.b", env.units["S1"], cycle), ("i.a", env.units["D1"], cycle)]
    for _ in range(2):
        with env.db.session() as s:
            sums.apply(s, dict.fromkeys(keys, big))
    twice = Partial(n=2, total=2 * 10**30 + 2, total_sq=2 * 10**45 + 14, num=-10, den=6)
    assert env.aggregates() == {
        ("i.b", "S1", cycle): twice,
        ("i.a", "D1", cycle): twice,
    }
    with env.db.session() as s:
        sums.apply(s, {keys[0]: -twice, keys[1]: -big})
    assert env.aggregates() == {("i.a", "D1", cycle): big}
