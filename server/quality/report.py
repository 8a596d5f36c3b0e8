"""The database reads around the data-quality screens (server/domain/quality/checks.py): one area
(an org unit and everything under it) and one cycle at a time.

Outliers compare a sub-county with the other sub-counties of its district and a district with
every other district, so the peers are read even when they lie outside the area; only flags on
units inside the area are returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, aliased

from server.aggregation import catalog_source, reading
from server.aggregation.catalog_source import LoadedCatalog
from server.aggregation.store import eligible_condition
from server.domain.catalog import Indicator
from server.domain.gaps import value_of
from server.domain.quality import checks
from server.domain.quality.expectations import Expectation, Expectations
from server.models import Form, OrgUnit, Submission, SubmissionRow
from server.models.org import OrgLevel, under
from server.models.submissions import ProcessingStatus

# How many submissions an outlier flag names at most: a district's value may rest on
# thousands of school visits; the value's own endpoint pages through all of them.
BEHIND_LIMIT = 1000


@dataclass(frozen=True)
class QualityReport:
    cycle: str
    completeness: list[checks.CompletenessRow]
    flags: list[checks.Flag]


def quality_report(
    session: Session,
    area: reading.Unit,
    cycle: str,
    expectations: Expectations,
    kinds: Collection[str] = checks.KINDS,
    loaded: LoadedCatalog | None = None,
) -> QualityReport:
    loaded = loaded or catalog_source.load(session)
    flags: list[checks.Flag] = []
    rows: list[checks.CompletenessRow] = []
    if {"incomplete", "duplicate"} & set(kinds):
        rows = completeness_rows(session, area, cycle, expectations)
        flags += [f for f in checks.completeness_flags(rows, cycle) if f.kind in kinds]
    if "late" in kinds:
        flags += checks.late_flags(received_rows(session, area, cycle), expectations.deadline)
    if "outlier" in kinds:
        flags += outlier_flags(session, area, cycle, loaded)
    if "impossible" in kinds:
        flags += impossible_flags(session, area, cycle, expectations, loaded)
    if "failed" in kinds:
        flags += checks.failed_flags(failed_rows(session, area, cycle))
    return QualityReport(cycle, rows, sorted(flags, key=lambda f: f.key))


def units_under(session: Session, area: reading.Unit) -> list[reading.Unit]:
    rows = session.scalars(
        select(OrgUnit).where(under(OrgUnit.path, [area.path])).order_by(OrgUnit.id)
    )
    return [reading.unit_of(u) for u in rows]


def _published_forms(session: Session) -> dict[str, int]:
    return dict(
        session.execute(
            select(Form.xml_form_id, Form.id).where(Form.current_version_id.is_not(None))
        ).all()
    )


def completeness_rows(
    session: Session, area: reading.Unit, cycle: str, expectations: Expectations
) -> list[checks.CompletenessRow]:
    """One row per expected form and org unit of the area; forms not published are not
    expected."""
    units = [checks.UnitRef(u.id, u.path, u.level) for u in units_under(session, area)]
    published = _published_forms(session)
    out: list[checks.CompletenessRow] = []
    for form_id, wanted in sorted(expectations.forms.items()):
        if form_id not in published or not wanted:
            continue
        received = _located(
            session, area, eligible_condition(Submission), published[form_id], cycle
        )
        failed = _located(session, area, _failed_condition(cycle), published[form_id], None)
        for expectation in wanted:
            counts = (
                profile_counts(session, area, cycle, expectations.profile_form, expectation)
                if expectation.from_profile
                else None
            )
            out += checks.completeness(expectation, units, received, failed, counts)
    return out


def _located(
    session: Session,
    area: reading.Unit,
    condition: ColumnElement[bool],
    form_pk: int,
    cycle: str | None,
) -> list[tuple[int, str]]:
    query = (
        select(Submission.id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            Submission.form_id == form_pk,
            condition,
            under(OrgUnit.path, [area.path]),
        )
    )
    if cycle is not None:
        query = query.where(Submission.cycle == cycle)
    return [(int(i), str(p)) for i, p in session.execute(query)]


def _failed_condition(cycle: str) -> ColumnElement[bool]:
    # A failed submission may have no cycle yet (the worker sets it on success): it shows in
    # every cycle rather than in none.
    successor = aliased(Submission)
    return (
        (Submission.processing_status == ProcessingStatus.failed)
        & Submission.deleted_at.is_(None)
        & or_(Submission.cycle == cycle, Submission.cycle.is_(None))
        & ~select(successor.id).where(successor.supersedes_id == Submission.id).exists()
    )


def profile_counts(
    session: Session,
    area: reading.Unit,
    cycle: str,
    profile_form: str,
    expectation: Expectation,
) -> dict[int, int | None]:
    """Per district of the area: the sum of the expectation's answers in the district's latest
    counted profile of the cycle."""
    latest: dict[int, tuple[int, dict[str, object]]] = {}
    rows = session.execute(
        select(Submission.id, Submission.org_unit_id, SubmissionRow.data)
        .join(Form, Form.id == Submission.form_id)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .join(
            SubmissionRow,
            (SubmissionRow.submission_id == Submission.id) & (SubmissionRow.repeat_path == ""),
        )
        .where(
            Form.xml_form_id == profile_form,
            Submission.cycle == cycle,
            eligible_condition(Submission),
            under(OrgUnit.path, [area.path]),
            OrgUnit.level == OrgLevel.district,
        )
    )
    for sid, unit, data in rows:
        if unit not in latest or sid > latest[unit][0]:
            answers = {str(k).rsplit("/", 1)[-1]: v for k, v in (data or {}).items()}
            latest[int(unit)] = (int(sid), answers)
    return {
        unit: checks.profile_count(answers, expectation.from_profile)
        for unit, (_, answers) in latest.items()
    }


def received_rows(session: Session, area: reading.Unit, cycle: str) -> list[checks.Received]:
    """Counted submissions of the area and cycle (demo data excepted: its receipt times are
    those of loading it), with the receipt time of their chain's first version."""
    rows = session.execute(
        select(
            Submission.id,
            Submission.org_unit_id,
            Form.xml_form_id,
            Submission.received_at,
            Submission.supersedes_id,
        )
        .join(Form, Form.id == Submission.form_id)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            eligible_condition(Submission),
            Submission.cycle == cycle,
            Submission.demo.is_(False),
            under(OrgUnit.path, [area.path]),
        )
        .order_by(Submission.id)
    ).all()
    first = _first_received(session, {int(r[0]): (r[4], r[3]) for r in rows})
    return [
        checks.Received(int(sid), int(unit), str(form), cycle, first[int(sid)])
        for sid, unit, form, _received, _prev in rows
    ]


def _first_received(
    session: Session, chains: Mapping[int, tuple[int | None, dt.datetime]]
) -> dict[int, dt.datetime]:
    """{submission id: received_at of the oldest version it edits (itself if none)}."""
    known: dict[int, tuple[int | None, dt.datetime]] = dict(chains)
    wanted = {p for p, _ in known.values() if p is not None and p not in known}
    while wanted:
        for sid, prev, received in session.execute(
            select(Submission.id, Submission.supersedes_id, Submission.received_at).where(
                Submission.id.in_(wanted)
            )
        ):
            known[int(sid)] = (prev, received)
        wanted = {p for p, _ in known.values() if p is not None and p not in known}
    out = {}
    for sid in chains:
        current, seen = sid, {sid}
        while known[current][0] is not None and known[current][0] not in seen:
            current = int(known[current][0] or 0)
            seen.add(current)
        out[sid] = known[current][1]
    return out


def outlier_flags(
    session: Session, area: reading.Unit, cycle: str, loaded: LoadedCatalog
) -> list[checks.Flag]:
    indicators = loaded.catalog.indicators
    inside = {u.id for u in units_under(session, area)}
    district_paths = _districts_around(session, area)
    peers = session.scalars(
        select(OrgUnit).where(
            or_(
                OrgUnit.level == OrgLevel.district,
                (OrgUnit.level == OrgLevel.subcounty) & under(OrgUnit.path, district_paths),
            )
        )
    ).all()
    by_id = {u.id: u for u in peers}
    stored = reading.values_by_unit(session, list(by_id), cycle)
    values = []
    for unit_id, partials in stored.items():
        unit = by_id[unit_id]
        group = (
            ("district", 0)
            if unit.level == OrgLevel.district
            else ("subcounty", int(unit.parent_id or 0))
        )
        for indicator_id, partial in partials.items():
            indicator = indicators.get(indicator_id)
            value = value_of(indicator, partial) if indicator is not None else None
            if value is not None and value.exact is not None:
                values.append(checks.PeerValue(indicator_id, unit_id, group, value.exact))
    flags = []
    for found in checks.outliers(values):
        if found.org_unit_id not in inside:
            continue
        unit = by_id[found.org_unit_id]
        behind = reading.submissions_behind(
            session, found.indicator_id, unit.path, cycle, limit=BEHIND_LIMIT, loaded=loaded
        )
        flags.append(checks.outlier_flag(found, cycle, [c.submission_id for c in behind]))
    return flags


def _districts_around(session: Session, area: reading.Unit) -> list[str]:
    """Paths of the districts whose sub-counties are peers of a unit in the area: those under
    it, or the one above it."""
    codes = [c for c in area.path.strip("/").split("/") if c]
    ancestors = ["/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes))]
    rows = session.scalars(
        select(OrgUnit.path).where(
            OrgUnit.level == OrgLevel.district,
            or_(OrgUnit.path.in_(ancestors), under(OrgUnit.path, [area.path])),
        )
    )
    return list(rows)


def indicator_shapes(
    indicators: Iterable[Indicator], plausible_max: Mapping[str, float]
) -> dict[str, checks.IndicatorShape]:
    return {
        i.id: checks.IndicatorShape(
            i.id,
            i.form,
            i.aggregation,
            i.multiplier,
            i.formula.denominator is not None,
            plausible_max.get(i.id),
        )
        for i in indicators
    }


def impossible_flags(
    session: Session,
    area: reading.Unit,
    cycle: str,
    expectations: Expectations,
    loaded: LoadedCatalog,
) -> list[checks.Flag]:
    shapes = indicator_shapes(loaded.catalog.indicators.values(), expectations.plausible_max)
    forms = sorted({s.form for s in shapes.values()})
    screened = (
        checks.Screened(scan.submission_id, scan.org_unit_id, scan.cycle, ind, v, num, den)
        for form in forms
        for scan in reading.scan_contributions(session, form, area.path, cycle, loaded)
        for ind, (included, v, num, den) in scan.columns.items()
        if included
    )
    return checks.impossible_flags(screened, shapes)


def failed_rows(session: Session, area: reading.Unit, cycle: str) -> list[checks.FailedRow]:
    rows = session.execute(
        select(
            Submission.id,
            Submission.org_unit_id,
            Form.xml_form_id,
            Submission.cycle,
            Submission.failure_reason,
        )
        .join(Form, Form.id == Submission.form_id)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(_failed_condition(cycle), under(OrgUnit.path, [area.path]))
        .order_by(Submission.id)
    )
    return [checks.FailedRow(int(i), u, str(f), c, r) for i, u, f, c, r in rows]
