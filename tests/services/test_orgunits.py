"""Importing the org hierarchy: validation, any row order, re-parenting, idempotency, demo units."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.aggregation import catalog_state
from server.db import Database
from server.models import AuditEvent, OrgUnit
from server.models.org import OrgLevel, unit_by_code
from server.services.orgunits import (
    UGANDA_CSV,
    OrgFileError,
    OrgRow,
    ensure_uganda,
    import_org_units,
    make_demo_hierarchy,
    parse_org_csv,
    rows_from_mappings,
)
from server.services.users import create_user
from server.settings import Settings


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    database = Database(settings.database_url)
    s = database.sessionmaker()
    yield s
    s.close()
    database.dispose()


def rows(*specs: tuple[str, str, str, str]) -> list[OrgRow]:
    return rows_from_mappings(
        {"code": c, "name": n, "level": lvl, "parent_code": p} for c, n, lvl, p in specs
    )


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def test_shipped_csv_matches_pycountry() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_uganda", UGANDA_CSV.parent / "generate_uganda.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = parse_org_csv(UGANDA_CSV.read_text(encoding="utf-8"))
    assert [(r.code, r.name, r.level, r.parent_code) for r in shipped] == [
        (r["code"], r["name"], r["level"], r["parent_code"]) for r in module.uganda_rows()
    ]


def test_ensure_uganda_loads_regions_and_districts_once(session: Session) -> None:
    first = ensure_uganda(session)
    session.commit()
    assert not first.rejected
    counts = dict(
        session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all()
    )
    assert counts[OrgLevel.country] == 1
    assert counts[OrgLevel.region] == 4
    assert counts[OrgLevel.district] >= 130
    kalangala = unit(session, "UG-101")
    assert (kalangala.name, kalangala.path) == ("Kalangala", "/UG/UG-C/UG-101/")
    assert unit(session, "UG-N").path == "/UG/UG-N/"

    second = ensure_uganda(session)
    assert second.added == [] and second.changed == []
    assert len(second.unchanged) == len(first.added)


def test_rows_in_any_order_are_accepted(session: Session) -> None:
    ensure_uganda(session)
    report = import_org_units(
        session,
        rows(
            ("UG-101-X1-P1", "Parish one", "parish", "UG-101-X1"),
            ("UG-101-X1", "Sub-county one", "subcounty", "UG-101"),
        ),
    )
    assert report.rejected == []
    assert sorted(report.added) == ["UG-101-X1", "UG-101-X1-P1"]
    assert unit(session, "UG-101-X1-P1").path == "/UG/UG-C/UG-101/UG-101-X1/UG-101-X1-P1/"


def test_bad_rows_are_reported_and_good_rows_imported(session: Session) -> None:
    ensure_uganda(session)
    report = import_org_units(
        session,
        rows(
            ("UG-101-A", "Good", "subcounty", "UG-101"),  # line 2
            ("UG-101-B", "Orphan", "subcounty", "UG-999"),  # 3 unknown parent
            ("UG-101-C", "Too deep", "parish", "UG-101"),  # 4 wrong level
            ("UG-101-D", "One", "subcounty", "UG-101"),  # 5 duplicate
            ("UG-101-D", "Two", "subcounty", "UG-101"),  # 6 duplicate
            ("UG-101-E", "", "subcounty", "UG-101"),  # 7 empty name
            ("UG-101-E-P1", "Child of a rejected row", "parish", "UG-101-E"),  # 8
            ("LOOP-1", "Loop one", "subcounty", "LOOP-2"),  # 9 cycle
            ("LOOP-2", "Loop two", "subcounty", "LOOP-1"),  # 10 cycle
            ("ug 101 f", "Bad code", "subcounty", "UG-101"),  # 11
            ("UG-101-G", "Unknown level", "village", "UG-101"),  # 12
            ("UG-101-H", "No parent", "subcounty", ""),  # 13
        ),
    )
    assert report.added == ["UG-101-A"]
    reasons = {line: reason for line, _code, reason in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert "unknown parent UG-999" in reasons[3]
    assert "the level one below a district is subcounty" in reasons[4]
    assert "more than once (first on line 5)" in reasons[6]
    assert reasons[7] == "the name is empty"
    assert "parent UG-101-E was rejected" in reasons[8]
    assert "loops back" in reasons[9] and "LOOP-1 > LOOP-2 > LOOP-1" in reasons[9]
    assert "not valid" in reasons[11]
    assert "unknown level 'village'" in reasons[12]
    assert "needs a parent_code" in reasons[13]
    assert session.scalar(select(OrgUnit).where(OrgUnit.code == "UG-101-D")) is None


def test_moving_a_unit_rewrites_the_paths_beneath_it(session: Session) -> None:
    ensure_uganda(session)
    import_org_units(
        session,
        rows(
            ("UG-101-S", "Moving", "subcounty", "UG-101"),
            ("UG-101-S-P", "Its parish", "parish", "UG-101-S"),
        ),
    )
    session.commit()
    assert not catalog_state.rebuild_due(session)  # new units change no existing sums
    report = import_org_units(session, rows(("UG-101-S", "Moved", "subcounty", "UG-301")))
    assert report.changed == ["UG-101-S"]
    session.commit()
    session.expire_all()
    assert unit(session, "UG-101-S").path == "/UG/UG-N/UG-301/UG-101-S/"
    assert unit(session, "UG-101-S").name == "Moved"
    assert unit(session, "UG-101-S-P").path == "/UG/UG-N/UG-301/UG-101-S/UG-101-S-P/"
    # Its sums sit under its old district until the next sweep rebuilds them.
    assert catalog_state.rebuild_due(session)


def test_level_of_a_unit_with_sub_units_cannot_change(session: Session) -> None:
    ensure_uganda(session)
    import_org_units(
        session,
        rows(("UG-101-S", "Sc", "subcounty", "UG-101"), ("UG-101-S-P", "P", "parish", "UG-101-S")),
    )
    # A district under a region is a valid place, but its parishes would then sit under a
    # district.
    report = import_org_units(session, rows(("UG-101-S", "Sc", "district", "UG-C")))
    assert report.rejected == [
        (
            2,
            "UG-101-S",
            "UG-101-S is a subcounty with sub-units, so its level cannot change to district",
        )
    ]
    assert unit(session, "UG-101-S").level == OrgLevel.subcounty
    wrong = import_org_units(session, rows(("UG-101-T", "T", "parish", "UG-101-S-P")))
    assert wrong.rejected == [
        (2, "UG-101-T", "its parent UG-101-S-P is a parish, which has no sub-units")
    ]


def test_import_writes_an_audit_event(session: Session) -> None:
    ensure_uganda(session)
    import_org_units(session, rows(("UG-101-S", "Sc", "subcounty", "UG-101")))
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "org.import")).all()
    assert events[-1].details["added"] == 1


def test_parse_org_csv_numbers_lines_and_checks_columns() -> None:
    text = "\ufeffcode,name,level,parent_code\nUG,Uganda,country,\n\nUG-C,Central,Region,UG\n"
    parsed = parse_org_csv(text)
    assert [(r.line_no, r.code, r.level) for r in parsed] == [
        (2, "UG", "country"),
        (4, "UG-C", "region"),
    ]
    with pytest.raises(OrgFileError, match="missing: level"):
        parse_org_csv("code,name\nUG,Uganda\n")


def test_demo_hierarchy_is_plausible_marked_and_idempotent(session: Session) -> None:
    ensure_uganda(session)
    chosen = make_demo_hierarchy(session, 3, seed=7)
    assert len(chosen) == 3
    for district in chosen:
        subcounties = session.scalars(
            select(OrgUnit).where(OrgUnit.parent_id == unit(session, district).id)
        ).all()
        assert 6 <= len(subcounties) <= 15
        assert all(s.is_demo and s.name.endswith("(demo)") for s in subcounties)
        assert subcounties[0].code.startswith(f"{district}-S")
    parishes = session.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.parish)).all()
    assert parishes and all(p.is_demo for p in parishes)
    assert all(p.code.rsplit("-", 1)[1].startswith("P") for p in parishes)
    total = session.scalar(select(func.count()).select_from(OrgUnit))

    assert make_demo_hierarchy(session, 3, seed=7) == chosen
    assert session.scalar(select(func.count()).select_from(OrgUnit)) == total
    more = make_demo_hierarchy(session, 5, seed=7)
    assert set(chosen) < set(more)


# A small valid hierarchy (country > regions > districts > sub-counties) to permute.
VALID = [
    ("ZZ", "Testland", "country", ""),
    ("ZZ-A", "North", "region", "ZZ"),
    ("ZZ-B", "South", "region", "ZZ"),
    ("ZZ-A1", "Alpha", "district", "ZZ-A"),
    ("ZZ-A2", "Beta", "district", "ZZ-A"),
    ("ZZ-B1", "Gamma", "district", "ZZ-B"),
    ("ZZ-A1-S1", "Delta", "subcounty", "ZZ-A1"),
    ("ZZ-A1-S2", "Epsilon", "subcounty", "ZZ-A1"),
    ("ZZ-B1-S1", "Zeta", "subcounty", "ZZ-B1"),
    ("ZZ-B1-S1-P1", "Eta", "parish", "ZZ-B1-S1"),
]


@hypothesis_settings(max_examples=25, deadline=None)
@given(order=st.permutations(VALID))
def test_any_permutation_imports_the_same_hierarchy_twice(
    pg_url: str, order: list[tuple[str, str, str, str]]
) -> None:
    database = Database(pg_url)
    connection = database.engine.connect()
    transaction = connection.begin()
    try:
        session = Session(bind=connection)
        first = import_org_units(session, rows(*order))
        assert first.rejected == [] and sorted(first.added) == sorted(c for c, *_ in VALID)
        second = import_org_units(session, rows(*order))
        assert second.rejected == [] and second.added == [] and second.changed == []
        assert sorted(second.unchanged) == sorted(c for c, *_ in VALID)
        paths = dict(session.execute(select(OrgUnit.code, OrgUnit.path)).all())
        assert paths["ZZ-B1-S1-P1"] == "/ZZ/ZZ-B/ZZ-B1/ZZ-B1-S1/ZZ-B1-S1-P1/"
        assert paths["ZZ-A2"] == "/ZZ/ZZ-A/ZZ-A2/"
        session.close()
    finally:
        transaction.rollback()
        connection.close()
        database.dispose()


def test_codes_are_found_in_whatever_case_they_are_typed(session: Session) -> None:
    ensure_uganda(session)
    session.commit()
    district = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.district).order_by(OrgUnit.code)
    ).first()
    assert district is not None and district.code == district.code.upper()
    for typed in (district.code, district.code.lower(), f"  {district.code.title()} \n"):
        assert unit_by_code(session, typed) is district
    assert unit_by_code(session, "UG-NOWHERE") is None
    # Where a person types codes: an account's areas.
    user = create_user(session, "lower", "a-long-password-1", "coordinator", "DMIP", [typed])
    assert [s.org_unit for s in user.scopes] == [district]
