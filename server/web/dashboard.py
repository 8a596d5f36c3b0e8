"""What the dashboard shows, read for one user's areas: submissions over time, coverage
(completeness against forms/expectations.yaml) by district and sub-county, the latest
processing failures with their reasons, and data-quality flags counted by kind.

The reads reuse the quality screens (server/quality/report.py) and the API's scope rule
(server/api/readers.py); the page (server/web/home.py) only renders what this returns.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.aggregation import reading
from server.aggregation.catalog_source import LoadedCatalog
from server.domain.cycles import financial_year
from server.domain.quality import checks
from server.domain.quality.expectations import Expectations
from server.domain.scope import Scope
from server.models import Form, OrgUnit, Submission
from server.models.org import OrgLevel, in_scope
from server.models.submissions import ProcessingStatus
from server.quality.report import completeness_rows, quality_report

WEEKS = 12
FAILURES = 10
# Completeness bands for the grid's colours; the number is printed in every cell as well.
BANDS = ((1.0, "full"), (0.75, "high"), (0.5, "mid"), (0.0, "low"))
FLAG_WORDS = {
    "incomplete": "Fewer submissions than expected",
    "duplicate": "More submissions than expected",
    "late": "Received after the deadline",
    "outlier": "Values far from their peers",
    "impossible": "Impossible values",
    "failed": "Could not be processed",
}


@dataclass(frozen=True)
class Coverage:
    """A unit's completeness: counted submissions against what its expectations ask for
    (a surplus in one form does not make up for a shortfall in another)."""

    unit: reading.Unit
    received: int
    expected: int
    unknown: int  # expectations with no count yet (no district profile to count from)

    @property
    def ratio(self) -> float | None:
        return None if self.expected == 0 else self.received / self.expected

    @property
    def percent(self) -> int | None:
        ratio = self.ratio
        return None if ratio is None else int(ratio * 100 + 0.5)

    @property
    def band(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "none"
        return next(name for floor, name in BANDS if ratio >= floor)


@dataclass(frozen=True)
class DistrictCoverage:
    district: Coverage
    subcounties: list[Coverage]


@dataclass(frozen=True)
class Failure:
    submission_id: int
    instance_id: str
    form_id: str
    org_unit: str | None
    received_at: dt.datetime
    reason: str


def cycles(session: Session, scope: Scope) -> list[str]:
    """The cycles with submissions in the areas, latest first."""
    query = (
        select(Submission.cycle)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(Submission.cycle.is_not(None), in_scope(scope))
        .distinct()
    )
    return sorted((str(c) for c in session.scalars(query)), reverse=True)


def default_cycle(found: Sequence[str], today: dt.date) -> str:
    return found[0] if found else financial_year(today)


def submissions_per_week(
    session: Session, scope: Scope, today: dt.date, weeks: int = WEEKS
) -> list[tuple[dt.date, int]]:
    """(Monday, submissions received that week) for the last `weeks` weeks, oldest first;
    edits count once (only the current version), deleted ones not at all."""
    monday = today - dt.timedelta(days=today.weekday())
    first = monday - dt.timedelta(weeks=weeks - 1)
    day = func.date(Submission.received_at)
    rows = session.execute(
        select(day, func.count())
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            Submission.received_at >= dt.datetime.combine(first, dt.time(), dt.UTC),
            Submission.current.is_(True),
            Submission.deleted_at.is_(None),
            in_scope(scope),
        )
        .group_by(day)
    )
    per_week: Counter[dt.date] = Counter()
    for when, n in rows:
        date = when if isinstance(when, dt.date) else dt.date.fromisoformat(str(when))
        per_week[date - dt.timedelta(days=date.weekday())] += int(n)
    return [
        (first + dt.timedelta(weeks=i), per_week[first + dt.timedelta(weeks=i)])
        for i in range(weeks)
    ]


def _coverage(unit: reading.Unit, rows: Iterable[checks.CompletenessRow]) -> Coverage:
    received = expected = unknown = 0
    for row in rows:
        if row.expected is None:
            unknown += 1
            continue
        expected += row.expected
        received += min(row.received, row.expected)
    return Coverage(unit, received, expected, unknown)


def coverage(
    session: Session, tops: Sequence[reading.Unit], cycle: str, expectations: Expectations
) -> list[DistrictCoverage]:
    """Per district in the areas (by name), its coverage and its sub-counties'. A sub-county
    officer's area is one sub-county: its district is shown without a district figure."""
    rows: dict[int, list[checks.CompletenessRow]] = defaultdict(list)
    for top in tops:
        for row in completeness_rows(session, top, cycle, expectations):
            rows[row.org_unit_id].append(row)
    ids = set(rows)
    units = (
        {
            u.id: reading.unit_of(u)
            for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))
        }
        if ids
        else {}
    )
    children: dict[int, list[Coverage]] = defaultdict(list)
    districts: dict[int, reading.Unit] = {}
    for uid, unit in units.items():
        if unit.level == OrgLevel.district:
            districts[uid] = unit
        elif unit.level == OrgLevel.subcounty and unit.parent_id is not None:
            children[unit.parent_id].append(_coverage(unit, rows[uid]))
    missing = set(children) - set(districts)
    if missing:
        for parent in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(missing))):
            districts[parent.id] = reading.unit_of(parent)
    out = [
        DistrictCoverage(
            _coverage(d, rows.get(d.id, [])),
            sorted(children.get(d.id, []), key=lambda c: c.unit.name),
        )
        for d in districts.values()
    ]
    return sorted(out, key=lambda c: c.district.unit.name)


def recent_failures(session: Session, scope: Scope, limit: int = FAILURES) -> list[Failure]:
    """The latest submissions the worker could not process, newest first, with the reason.
    Failures whose submission was never placed in an org unit are an admin's to see."""
    query = (
        select(Submission, Form.xml_form_id, OrgUnit.code)
        .join(Form, Form.id == Submission.form_id)
        .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            Submission.processing_status == ProcessingStatus.failed,
            Submission.deleted_at.is_(None),
        )
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(limit)
    )
    query = query.where(in_scope(scope))
    return [
        Failure(
            sub.id,
            sub.instance_id,
            form,
            code,
            sub.received_at,
            sub.failure_reason or "No reason was recorded.",
        )
        for sub, form, code in session.execute(query)
    ]


def flag_counts(
    session: Session,
    tops: Sequence[reading.Unit],
    cycle: str,
    expectations: Expectations,
    loaded: LoadedCatalog,
) -> dict[str, int]:
    """Data-quality flags of the areas in `cycle`, counted by kind (every kind listed)."""
    found: dict[tuple[object, ...], checks.Flag] = {}
    for top in tops:
        for flag in quality_report(session, top, cycle, expectations, loaded=loaded).flags:
            found[flag.key] = flag
    counted = Counter(f.kind for f in found.values())
    return {kind: counted[kind] for kind in checks.KINDS}
