"""Reading a district's facts for its draft DMIP out of the database.

Everything a draft says comes from here: indicator values from the stored aggregates (never
recomputed from submissions), the district profile, the workshop's priorities and the process
milestones from their (counted) submissions, completeness and data-quality flags. The drafting
itself is pure (server/domain/drafting/).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.aggregation import reading, store
from server.aggregation.catalog_source import LoadedCatalog
from server.aggregation.sums import partial_of
from server.domain.catalog import Indicator
from server.domain.drafting.facts import (
    Completeness,
    DataQualityFlag,
    DistrictFacts,
    DistrictProfile,
    IndicatorInfo,
    IndicatorValue,
    Milestone,
    StaffingLine,
    SubCounty,
)
from server.domain.indicator_values import indicator_value
from server.domain.partials import SCALE, Partial
from server.domain.quality.expectations import load_expectations
from server.models import Aggregate, Form, OrgUnit, Submission, SubmissionRow
from server.models.org import OrgLevel
from server.quality.report import quality_report

PROFILE_FORM = "dmip_district_profile"
WORKSHOP_FORM = "dmip_priority_workshop"
MILESTONES_FORM = "dmip_process_milestones"
FACILITY_FORM = "dmip_health_facility"
STAGES = ("inception", "data_collection", "analysis", "validation", "drafting", "council_approval")


def district_facts(
    session: Session, loaded: LoadedCatalog, district: OrgUnit, cycle: str
) -> DistrictFacts:
    catalog = loaded.catalog
    sub_counties = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == district.id, OrgUnit.level == OrgLevel.subcounty)
            .order_by(OrgUnit.name)
        )
    )
    units = {district.id: district.code, **{s.id: s.code for s in sub_counties}}
    submissions = _submission_counts(session, district, sub_counties, cycle)
    values = []
    for agg in session.scalars(
        select(Aggregate).where(Aggregate.org_unit_id.in_(units), Aggregate.cycle == cycle)
    ):
        indicator = catalog.indicators.get(agg.indicator_id)
        if indicator is None:
            continue
        code = units[agg.org_unit_id]
        values.append(
            _value(indicator, code, partial_of(agg), submissions.get((indicator.form, code)))
        )
    profile_rows = _latest_rows(session, PROFILE_FORM, district.id, cycle)
    profile = _profile(profile_rows)
    population = _sub_county_population(session, sub_counties, cycle)
    forms = dict(session.execute(select(Form.xml_form_id, Form.title)).all())
    completeness, flags = _quality(session, loaded, district, cycle)
    return DistrictFacts(
        district_code=district.code,
        district_name=district.name,
        cycle=cycle,
        sub_counties=tuple(SubCounty(s.code, s.name, population.get(s.code)) for s in sub_counties),
        indicators={i.id: IndicatorInfo.from_catalog(i) for i in catalog.indicators.values()},
        values=tuple(sorted(values, key=lambda v: (v.indicator_id, v.org_unit))),
        population=profile.population_total if profile is not None else None,
        profile=profile,
        hq_values=_hq_values(session, loaded, district, cycle),
        workshop_ranking=_workshop_ranking(
            _latest_rows(session, WORKSHOP_FORM, district.id, cycle)
        ),
        milestones=_milestones(_latest_rows(session, MILESTONES_FORM, district.id, cycle)),
        completeness=completeness,
        data_quality_flags=flags,
        form_titles=forms,
    )


def _value(
    indicator: Indicator, org_unit: str, partial: Partial, submissions: int | None
) -> IndicatorValue:
    has_den = indicator.formula.denominator is not None
    value = indicator_value(
        partial,
        indicator.aggregation,
        indicator.multiplier,
        has_denominator=has_den,
        unit=indicator.unit,
    )
    ratio_kind = indicator.aggregation in {"ratio_of_sums", "proportion"}
    return IndicatorValue(
        indicator_id=indicator.id,
        org_unit=org_unit,
        value=float(value.exact) if value.exact is not None else None,
        n=partial.n,
        submissions=max(submissions or 0, partial.n),
        numerator=partial.num / SCALE if ratio_kind or has_den else None,
        denominator=partial.den / SCALE if ratio_kind or has_den else None,
    )


def _submission_counts(
    session: Session, district: OrgUnit, sub_counties: Sequence[OrgUnit], cycle: str
) -> dict[tuple[str, str], int]:
    """Counted submissions per (form, org unit code) for the district and each sub-county."""
    rows = session.execute(
        select(Form.xml_form_id, OrgUnit.path, func.count())
        .select_from(Submission)
        .join(Form, Form.id == Submission.form_id)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            Submission.counted.is_(True),
            Submission.cycle == cycle,
            OrgUnit.path.startswith(district.path),
        )
        .group_by(Form.xml_form_id, OrgUnit.path)
    ).all()
    out: dict[tuple[str, str], int] = defaultdict(int)
    for form_id, path, count in rows:
        out[(form_id, district.code)] += count
        for sc in sub_counties:
            if path.startswith(sc.path):
                out[(form_id, sc.code)] += count
    return out


def _hq_values(
    session: Session, loaded: LoadedCatalog, district: OrgUnit, cycle: str
) -> tuple[IndicatorValue, ...]:
    """The district headquarters' own assessments: submissions made for the district itself
    (not a sub-county), summed from their contributions."""
    subs = list(
        session.scalars(
            select(Submission).where(
                Submission.org_unit_id == district.id,
                Submission.cycle == cycle,
                Submission.counted.is_(True),
            )
        )
    )
    sums: dict[str, Partial] = defaultdict(Partial)
    for contribution in store.compute(session, loaded, subs):
        sums[contribution.indicator_id] = sums[contribution.indicator_id] + contribution.partial
    out = []
    for indicator_id, partial in sorted(sums.items()):
        indicator = loaded.catalog.indicators[indicator_id]
        if indicator.sector == "management":
            out.append(_value(indicator, district.code, partial, partial.n))
    return tuple(out)


def _latest_rows(
    session: Session, form_id: str, district_id: int, cycle: str
) -> list[tuple[str, dict[str, Any]]] | None:
    """(repeat name, data by question name) rows of the newest counted submission of a form
    made for the district in the cycle; None when there is none."""
    sub_id = session.scalar(
        select(Submission.id)
        .join(Form, Form.id == Submission.form_id)
        .where(
            Form.xml_form_id == form_id,
            Submission.org_unit_id == district_id,
            Submission.cycle == cycle,
            Submission.counted.is_(True),
        )
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(1)
    )
    if sub_id is None:
        return None
    rows = session.execute(
        select(SubmissionRow.repeat_path, SubmissionRow.data)
        .where(SubmissionRow.submission_id == sub_id)
        .order_by(SubmissionRow.repeat_path, SubmissionRow.position)
    ).all()
    return [
        (path.rsplit("/", 1)[-1], {k.rsplit("/", 1)[-1]: v for k, v in (data or {}).items()})
        for path, data in rows
    ]


def _top(rows: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return next((data for repeat, data in rows if repeat == ""), {})


def _repeat(rows: Sequence[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [data for repeat, data in rows if repeat == name]


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return round(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _profile(rows: list[tuple[str, dict[str, Any]]] | None) -> DistrictProfile | None:
    if rows is None:
        return None
    top = _top(rows)
    counts = {k: v for k in ("hospitals", "hc_iv", "hc_iii", "hc_ii") if (v := _int(top.get(k)))}
    schools = {
        k: v
        for k in ("primary_gov", "primary_private", "secondary_gov")
        if (v := _int(top.get(k))) is not None
    }
    budget = {
        source: v
        for source in ("central", "local_revenue", "donor", "other")
        if (v := _int(top.get(f"budget_{source}_ugx"))) is not None
    }
    staffing = tuple(
        StaffingLine(str(line.get("department")), approved, filled)
        for line in _repeat(rows, "staffing")
        if (approved := _int(line.get("approved_posts"))) is not None
        and (filled := _int(line.get("filled_posts"))) is not None
    )
    return DistrictProfile(
        population_total=_int(top.get("population_total")),
        population_year=_int(top.get("population_year")),
        households=_int(top.get("households")),
        parishes=_int(top.get("parishes_count")),
        villages=_int(top.get("villages_count")),
        facilities={("hospital" if k == "hospitals" else k): v for k, v in counts.items()},
        schools=schools,
        staffing=staffing,
        budget_ugx=budget,
    )


def _sub_county_population(
    session: Session, sub_counties: Sequence[OrgUnit], cycle: str
) -> dict[str, int]:
    """Population per sub-county, estimated as the catchment population its health facilities
    reported (no form asks for a sub-county's census figure)."""
    out: dict[str, int] = defaultdict(int)
    for sc in sub_counties:
        rows = session.scalars(
            select(SubmissionRow.data)
            .join(Submission, Submission.id == SubmissionRow.submission_id)
            .join(Form, Form.id == Submission.form_id)
            .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
            .where(
                Form.xml_form_id == FACILITY_FORM,
                OrgUnit.path.startswith(sc.path),
                Submission.cycle == cycle,
                Submission.counted.is_(True),
                SubmissionRow.repeat_path == "",
            )
        )
        for data in rows:
            for key, value in (data or {}).items():
                if key.rsplit("/", 1)[-1] == "catchment_population":
                    out[sc.code] += _int(value) or 0
    return {code: people for code, people in out.items() if people > 0}


def _workshop_ranking(rows: list[tuple[str, dict[str, Any]]] | None) -> dict[str, int]:
    """Sectors in the order of the workshop's votes (most first), ties by their best rank."""
    if rows is None:
        return {}
    votes: dict[str, int] = defaultdict(int)
    best: dict[str, int] = {}
    for line in _repeat(rows, "priority"):
        sector = line.get("priority_sector")
        if not isinstance(sector, str):
            continue
        votes[sector] += _int(line.get("priority_votes")) or 0
        rank = _int(line.get("priority_rank")) or 99
        best[sector] = min(best.get(sector, 99), rank)
    order = sorted(votes, key=lambda s: (-votes[s], best[s], s))
    return {sector: position for position, sector in enumerate(order, start=1)}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _milestones(rows: list[tuple[str, dict[str, Any]]] | None) -> tuple[Milestone, ...]:
    if rows is None:
        return ()
    top = _top(rows)
    return tuple(
        Milestone(
            stage=stage,
            status=str(top.get(f"{stage}_status") or "not_started"),
            planned=_date(top.get(f"{stage}_planned")),
            actual=_date(top.get(f"{stage}_actual")),
            issues=str(top.get(f"{stage}_issues") or ""),
        )
        for stage in STAGES
    )


def _quality(
    session: Session, loaded: LoadedCatalog, district: OrgUnit, cycle: str
) -> tuple[tuple[Completeness, ...], tuple[DataQualityFlag, ...]]:
    """Completeness against forms/expectations.yaml and every data-quality flag of the
    district (server/quality), with org units named by code."""
    report = quality_report(
        session, reading.unit_of(district), cycle, load_expectations(), loaded=loaded
    )
    codes = dict(
        session.execute(
            select(OrgUnit.id, OrgUnit.code).where(OrgUnit.path.startswith(district.path))
        ).all()
    )
    completeness = tuple(
        Completeness(
            row.form_id,
            codes.get(row.org_unit_id, district.code),
            row.received,
            row.expected,
            len(row.failed_ids),
        )
        for row in report.completeness
    )
    flags = tuple(
        DataQualityFlag(
            kind=flag.kind,
            org_unit=codes.get(flag.org_unit_id or district.id, district.code),
            detail=flag.message,
            form_id=flag.form_id,
            indicator_id=flag.indicator_id,
        )
        for flag in report.flags
    )
    return completeness, flags


def as_mapping(facts: DistrictFacts) -> Mapping[str, Any]:
    """A short summary for logs and progress messages."""
    return {
        "district": facts.district_code,
        "cycle": facts.cycle,
        "values": len(facts.values),
        "sub_counties": len(facts.sub_counties),
    }
