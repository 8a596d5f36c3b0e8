"""The demo data set: valid instances of every shipped form, repeatable, loaded through ingest."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycountry
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.cli import main
from server.db import Database
from server.demo.common import DEMO_USERNAME
from server.demo.dataset import (
    DEMO_NOTE,
    FORM_IDS,
    DemoDistrict,
    DemoError,
    DemoInstance,
    DemoSize,
    DemoSubcounty,
    FormShape,
    cycle_bounds,
    generate,
    last_complete_cycle,
)
from server.demo.load import load_demo_data
from server.domain.catalog import Catalog, load_catalog
from server.domain.expressions import evaluate, row_values_for_form
from server.domain.xform.flatten import FormSpec, process
from server.domain.xform.safe_xml import parse
from server.domain.xform.schema import location_fields, read_form
from server.domain.xform.submission_meta import deepest_location, read_meta
from server.models import OrgUnit, Submission, SubmissionRow, User
from server.models.org import OrgLevel
from server.models.submissions import ProcessingStatus
from server.services.orgunits import demo_rows
from server.settings import Settings
from tests.commands.test_cli import env_for
from tests.engine_helper import (
    ROOT,
    EngineError,
    compiled_forms,
    engine_unavailable,
    fill_form,
    org_rows,
    write_org_csvs,
)
from tests.workers.celery_processes import wait_for, worker

# What the phone and the engine fill in for themselves; everything else must agree.
PHONE_META = {"start", "end", "today", "deviceid", "username", "meta/instanceID"}


@pytest.fixture(scope="module")
def shapes() -> dict[str, FormShape]:
    out = {}
    for form_id, (_xlsx, xform, _warnings) in compiled_forms().items():
        info = read_form(xform.encode())
        out[form_id] = FormShape(info.xml_form_id, info.version, info.fields)
    return out


def districts_of(rows: dict[str, list[dict[str, str]]]) -> list[DemoDistrict]:
    return [
        DemoDistrict(
            d["name"],
            d["region"],
            tuple(
                DemoSubcounty(
                    s["name"],
                    tuple(p["name"] for p in rows["parishes.csv"] if p["subcounty"] == s["name"]),
                )
                for s in rows["subcounties.csv"]
                if s["district"] == d["name"]
            ),
        )
        for d in rows["districts.csv"]
    ]


def districts_of_demo(codes: list[str]) -> list[DemoDistrict]:
    """Real districts with the demo sub-counties and parishes `dmip serve` would give them."""
    rows = demo_rows(codes)
    return [
        DemoDistrict(
            code,
            pycountry.subdivisions.get(code=code).parent_code,
            tuple(
                DemoSubcounty(s.code, tuple(p.code for p in rows if p.parent_code == s.code))
                for s in rows
                if s.parent_code == code
            ),
        )
        for code in codes
    ]


# The engine harness's districts (tests/engine_helper.py), so the engine has their CSVs.
DISTRICTS = districts_of(org_rows())


def spec(shapes: dict[str, FormShape], form_id: str) -> FormSpec:
    shape = shapes[form_id]
    return FormSpec(shape.xml_form_id, shape.version, list(shape.fields))


# --- constraints, checked the way the phone checks them -------------------------------------

_PATH = re.compile(r"\s*/[A-Za-z_][\w/]*/(\w+)\s*")
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")


def constraint_holds(constraint: str, name: str, values: dict[str, Any], today: str) -> bool | None:
    """Whether the answer to `name` meets its XForm constraint; None for one we cannot read.

    The forms' constraints are arithmetic and comparisons over answers, which the catalog's
    expression language evaluates once the XPath is written its way; regex() and today() are
    checked here directly.
    """
    value = values.get(name)
    if value is None:
        return True  # an empty answer is never constrained
    regex = re.fullmatch(r"regex\(\., '(.*)'\)", constraint.strip())
    if regex:
        return re.search(regex.group(1), str(value)) is not None
    if constraint.replace(" ", "") == ".<=today()":
        return str(value) <= today
    if "(" in constraint:
        return None  # count(...) over a repeat: checked by its own test
    expression = _EQUALS.sub("==", _PATH.sub(lambda m: f" {m.group(1)} ", constraint))
    expression = re.sub(r"(?<![\w.])\.(?![\w.])", " answer ", expression)
    return evaluate(expression, {**values, "answer": value}) is True


def broken_constraints(instance: DemoInstance, shape: FormShape) -> list[str]:
    today = re.search(rb"<today>([^<]+)</today>", instance.xml)
    assert today is not None
    broken = []
    top = {k: v for k, v in instance.answers.items() if not isinstance(v, list)}
    for entry in shape.fields:
        constraint = entry.get("constraint")
        if not constraint or entry["kind"] != "field":
            continue
        name = entry["name"]
        if entry.get("repeat"):
            repeat = str(entry["repeat"]).rsplit("/", 1)[1]
            scopes = [{**top, **item} for item in instance.answers.get(repeat, [])]
        else:
            scopes = [top]
        for scope in scopes:
            holds = constraint_holds(constraint, name, scope, today.group(1).decode())
            assert holds is not None or "count(" in constraint, constraint
            if holds is False:
                broken.append(name)
    return broken


# --- the generator --------------------------------------------------------------------------


def test_every_instance_is_valid_for_its_form_and_names_its_unit(
    shapes: dict[str, FormShape],
) -> None:
    instances = list(generate(DISTRICTS, shapes, seed=7, cycle="2025/26"))
    assert {i.form_id for i in instances} == set(FORM_IDS)
    for instance in instances:
        result = process(instance.xml, spec(shapes, instance.form_id))
        assert result.ok, (instance.form_id, result.failure_reason())
        top = result.rows[0].data
        assert top["cycle"] == "2025/26" and top["notes"] == DEMO_NOTE
        assert top["username"] == DEMO_USERNAME
        root = parse(instance.xml)
        assert read_meta(root).instance_id == instance.instance_id
        located = deepest_location(root, location_fields(list(shapes[instance.form_id].fields)))
        assert located is not None and located[1] == instance.org_code
        district = next(d for d in DISTRICTS if instance.org_code.startswith(d.code))
        assert top["district"] == district.code and top["region"] == district.region
        if "subcounty" in top:
            assert top["subcounty"] in {s.code for s in district.subcounties}
        broken = broken_constraints(instance, shapes[instance.form_id])
        if any(f.startswith("impossible") for f in instance.flaws):
            assert broken == ["teachers_present"]
        else:
            assert broken == [], (instance.form_id, broken)


def test_counts_per_district_and_the_unvisited_subcounty(shapes: dict[str, FormShape]) -> None:
    size = DemoSize(health_facilities=(2, 3), schools=(3, 4))
    instances = list(generate(DISTRICTS, shapes, seed=1, size=size))
    last = DISTRICTS[-1]
    unvisited = last.subcounties[-1].code
    assert not [i for i in instances if i.org_code.startswith(unvisited)]
    for district in DISTRICTS:
        mine = [i for i in instances if i.org_code.startswith(district.code)]
        counts = Counter(i.form_id for i in mine)
        visited = [s for s in district.subcounties if s.code != unvisited]
        assert counts["dmip_district_profile"] == 1
        assert counts["dmip_priority_workshop"] == 1
        assert counts["dmip_process_milestones"] == 1
        assert counts["dmip_management_capacity"] == 1 + len(visited)
        assert counts["dmip_ovc_community"] == len(visited)
        for sub in visited:
            here = Counter(i.form_id for i in mine if i.org_code.startswith(sub.code))
            assert 2 <= here["dmip_health_facility"] <= 3
            assert 3 <= here["dmip_school"] <= 4
        flaws = Counter(f.split(":")[0] for i in mine for f in i.flaws)
        assert flaws == {"outlier": 2, "impossible": 1}


def district_values(
    catalog: Catalog, shapes: dict[str, FormShape], districts: list[DemoDistrict]
) -> dict[str, dict[str, float]]:
    """Indicator -> district -> value, aggregated as the catalog says, from clean instances."""
    sums: dict[str, dict[str, list[float]]] = {}
    for instance in generate(districts, shapes, seed=0):
        if instance.flaws:
            continue
        row = row_values_for_form(parse(instance.xml), list(shapes[instance.form_id].fields))
        district = instance.org_code[:6]
        for indicator in catalog.for_form(instance.form_id):
            terms = catalog.terms(indicator.id, row)
            if terms is None or terms[0] is None:
                continue
            num, den = terms
            acc = sums.setdefault(indicator.id, {}).setdefault(district, [0.0, 0.0, 0])
            if indicator.aggregation == "score":
                acc[0] += float(num) / float(den or 1)
                acc[2] += 1
            else:
                acc[0] += float(num)
                acc[1] += float(den or 0)
    values: dict[str, dict[str, float]] = {}
    for indicator_id, per_district in sums.items():
        indicator = catalog.indicators[indicator_id]
        for district, (num, den, n) in per_district.items():
            value = {"score": num / (n or 1), "sum": num}.get(indicator.aggregation)
            if value is None and den:
                value = num / den
            if value is not None:
                values.setdefault(indicator_id, {})[district] = value * indicator.multiplier
    return values


def test_districts_differ_so_some_meet_the_standard_and_others_do_not(
    shapes: dict[str, FormShape],
) -> None:
    codes = ["UG-101", "UG-110", "UG-206", "UG-215", "UG-302", "UG-310", "UG-410", "UG-427"]
    districts = districts_of_demo(codes)
    catalog = load_catalog(
        ROOT / "forms" / "catalog.yaml", {f: s.fields for f, s in shapes.items()}
    )
    values = district_values(catalog, shapes, districts)
    assert set(values) == set(catalog.indicators)  # every indicator gets a value
    standardised = [i for i in catalog.indicators.values() if i.standard.value is not None]
    met_and_missed = 0
    for indicator in standardised:
        standard = indicator.standard.value
        assert standard is not None
        per_district = values[indicator.id]
        assert len(per_district) >= 7, indicator.id
        spread = max(per_district.values()) - min(per_district.values())
        assert spread >= 0.15 * standard, (indicator.id, per_district)
        better = max if indicator.direction == "higher_is_better" else min
        worse = min if better is max else max
        meets = (
            better(per_district.values()) >= standard
            if better is max
            else better(per_district.values()) <= standard
        )
        misses = (
            worse(per_district.values()) < standard
            if better is max
            else worse(per_district.values()) > standard
        )
        assert misses, indicator.id  # no standard is met everywhere: there are gaps to rank
        met_and_missed += meets
    assert met_and_missed >= 0.75 * len(standardised)


def test_same_seed_same_bytes_other_seed_other_data(shapes: dict[str, FormShape]) -> None:
    first = [(i.instance_id, i.xml) for i in generate(DISTRICTS, shapes, seed=5)]
    again = [(i.instance_id, i.xml) for i in generate(DISTRICTS, shapes, seed=5)]
    other = [(i.instance_id, i.xml) for i in generate(DISTRICTS, shapes, seed=6)]
    assert first == again
    assert len({iid for iid, _ in first}) == len(first)
    assert not {iid for iid, _ in first} & {iid for iid, _ in other}
    # An instance depends on what it is, not on what else is generated with it: a bigger data
    # set (a load test) contains the smaller one byte for byte.
    bigger = dict(
        (i.instance_id, i.xml)
        for i in generate(DISTRICTS, shapes, seed=5, size=DemoSize(schools=(3, 9)))
    )
    small = dict(generate_pairs(shapes, DemoSize(schools=(3, 3))))
    assert len(bigger) > len(small) and all(bigger[iid] == xml for iid, xml in small.items())


def generate_pairs(shapes: dict[str, FormShape], size: DemoSize) -> list[tuple[str, bytes]]:
    return [(i.instance_id, i.xml) for i in generate(DISTRICTS, shapes, seed=5, size=size)]


def test_a_cycle_the_forms_do_not_offer_is_refused(shapes: dict[str, FormShape]) -> None:
    with pytest.raises(DemoError, match="no planning cycle 2031/32"):
        next(generate(DISTRICTS, shapes, cycle="2031/32"))
    with pytest.raises(DemoError, match="is not a financial year"):
        cycle_bounds("2025-26")
    with pytest.raises(DemoError, match="not published: dmip_school"):
        next(generate(DISTRICTS, {k: v for k, v in shapes.items() if k != "dmip_school"}))


@pytest.mark.parametrize(
    ("today", "cycle"),
    [("2026-11-29", "2025/26"), ("2026-06-30", "2024/25"), ("2026-07-01", "2025/26")],
)
def test_the_default_cycle_is_the_last_one_that_has_ended(today: str, cycle: str) -> None:
    assert last_complete_cycle(dt.date.fromisoformat(today)) == cycle


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(min_value=-(2**63), max_value=2**63),
    cycle=st.sampled_from(["2024/25", "2025/26", "2026/27", "2029/30"]),
    picked=st.lists(st.sampled_from(DISTRICTS), min_size=1, max_size=4, unique=True),
)
def test_any_seed_gives_valid_instances_dated_inside_the_cycle(
    shapes: dict[str, FormShape], seed: int, cycle: str, picked: list[DemoDistrict]
) -> None:
    first, last = cycle_bounds(cycle)
    for instance in generate(picked, shapes, seed=seed, cycle=cycle):
        result = process(instance.xml, spec(shapes, instance.form_id))
        assert result.ok, result.failure_reason()
        top = result.rows[0].data
        assert first.isoformat() <= top["today"] <= last.isoformat()
        assert top["start"] <= top["end"]
        broken = broken_constraints(instance, shapes[instance.form_id])
        assert broken == (
            ["teachers_present"] if instance.flaws and "impossible" in instance.flaws[0] else []
        )
        if instance.form_id == "dmip_district_profile":
            departments = [s["department"] for s in instance.answers["staffing"]]
            assert len(departments) == len(set(departments))  # the form's count() constraint


# --- the ODK engine agrees -------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine_dir() -> Iterator[Path]:
    reason = engine_unavailable()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_org_csvs(directory / "media")
        for form_id, (_xlsx, xform, _warnings) in compiled_forms().items():
            (directory / f"{form_id}.xml").write_text(xform, encoding="utf-8")
        yield directory


def engine_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as the harness takes them: what was left empty is simply not answered."""
    return {
        key: [{k: v for k, v in item.items() if v is not None} for item in value]
        if isinstance(value, list) and value and isinstance(value[0], dict)
        else value
        for key, value in answers.items()
        if value is not None
    }


def comparable(xml: bytes, form_spec: FormSpec) -> list[tuple[str, int, dict[str, Any]]]:
    result = process(xml, form_spec)
    assert result.ok, result.failure_reason()
    return [
        (r.repeat_path, r.position, {k: v for k, v in r.data.items() if k not in PHONE_META})
        for r in result.rows
    ]


def test_the_odk_engine_accepts_the_answers_and_writes_the_same_instance(
    shapes: dict[str, FormShape], engine_dir: Path
) -> None:
    # One instance of each kind: both capacity levels, every facility level.
    sample: dict[tuple[str, Any, Any], DemoInstance] = {}
    for instance in generate(DISTRICTS, shapes, seed=11):
        kind = (
            instance.form_id,
            instance.answers.get("level_assessed"),
            instance.answers.get("facility_level"),
        )
        if not instance.flaws:
            sample.setdefault(kind, instance)
    assert len(sample) == 11
    for instance in sample.values():
        engine_xml = fill_form(
            engine_dir / f"{instance.form_id}.xml",
            engine_dir / "media",
            engine_answers(instance.answers),
        )
        form_spec = spec(shapes, instance.form_id)
        assert comparable(instance.xml, form_spec) == comparable(engine_xml, form_spec)


def test_the_odk_engine_refuses_the_impossible_value(
    shapes: dict[str, FormShape], engine_dir: Path
) -> None:
    impossible = next(
        i for i in generate(DISTRICTS, shapes) if i.flaws and "impossible" in i.flaws[0]
    )
    with pytest.raises(EngineError, match="teachers_present"):
        fill_form(
            engine_dir / "dmip_school.xml", engine_dir / "media", engine_answers(impossible.answers)
        )


# --- loading through ingest -----------------------------------------------------------------


def run_demo(settings: Settings, *args: str) -> Result:
    env = {**env_for(settings), "DMIP_BROKER_URL": settings.broker_url}
    result = CliRunner().invoke(main, ["demo", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def stored(database: Database) -> list[tuple[Submission, str | None, str | None]]:
    with database.session() as session:
        return [
            (sub, code, username)
            for sub, code, username in session.execute(
                select(Submission, OrgUnit.code, User.username)
                .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                .outerjoin(User, User.id == Submission.submitter_id)
                .order_by(Submission.id)
            )
        ]


def check_loaded_and_processed(settings: Settings, log: Path) -> None:
    """Every stored submission is demo, from the demo enumerator, on the unit its XML names,
    and the worker processes every one of them."""
    database = Database(settings.database_url)
    try:
        rows = stored(database)
        assert rows
        for submission, code, username in rows:
            assert submission.demo and username == DEMO_USERNAME
            root = parse(submission.xml)
            for level in ("parish", "subcounty", "district"):
                named = root.findtext(level)
                if named:
                    assert code == named
                    break

        def processed() -> bool:
            with database.session() as session:
                waiting = session.scalar(
                    select(func.count()).where(
                        Submission.processing_status == ProcessingStatus.received
                    )
                )
            return waiting == 0

        with worker(settings, log, "--pool=solo"):
            wait_for(processed, "the worker to process the demo data", [log])
        with database.session() as session:
            failed = session.scalars(
                select(Submission.failure_reason).where(
                    Submission.processing_status != ProcessingStatus.processed
                )
            ).all()
            assert failed == []
            flattened = session.scalar(
                select(func.count(func.distinct(SubmissionRow.submission_id)))
            )
        assert flattened == len(rows)
    finally:
        database.dispose()


def test_the_command_on_postgresql_with_a_celery_worker(settings: Settings, tmp_path: Path) -> None:
    first = run_demo(settings, "--districts", "1", "--cycle", "2025/26")
    assert "Demo data for cycle 2025/26" in first.output
    assert "dmip_school" in first.output and ", 0 already there" in first.output
    check_loaded_and_processed(settings, tmp_path / "worker.log")
    database = Database(settings.database_url)
    try:
        count = len(stored(database))
        again = run_demo(settings, "--districts", "1", "--cycle", "2025/26")
        assert f"0 new, {count} already there" in again.output
        assert len(stored(database)) == count
        with database.session() as session:
            demo_units = select(func.count()).where(
                OrgUnit.is_demo.is_(True), OrgUnit.level == OrgLevel.subcounty
            )
            assert session.scalar(demo_units)
    finally:
        database.dispose()


def test_the_command_in_embedded_mode(sqlite_settings: Settings, tmp_path: Path) -> None:
    run_demo(sqlite_settings, "--districts", "1")
    check_loaded_and_processed(sqlite_settings, tmp_path / "worker.log")


def test_a_first_start_load_happens_only_on_an_empty_server(sqlite_settings: Settings) -> None:
    report = load_demo_data(sqlite_settings, 1, first_start=True)
    assert report is not None and sum(report.created.values()) == report.total > 0
    assert load_demo_data(sqlite_settings, 1, first_start=True) is None
    again = load_demo_data(sqlite_settings, 1)
    assert again is not None and sum(again.created.values()) == 0
    assert sum(again.resent.values()) == report.total
