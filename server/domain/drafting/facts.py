"""What a draft DMIP is written from: one district and cycle, as plain values.

The drafting worker fills a `DistrictFacts` from the stored aggregates (server/domain
partials rolled up per org unit), the district profile, the workshop and milestone submissions;
the section functions read nothing else. Every value carries the counts a reviewer needs to
trace it (contributions counted and submissions behind it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.domain.drafting.sections import Ref


@dataclass(frozen=True)
class IndicatorInfo:
    """The slice of a catalog indicator (server.domain.catalog.Indicator) a draft needs."""

    id: str
    name: str
    sector: str  # health, hiv, education, ovc, wash, management
    unit: str  # percent, ratio, count, ugx
    form: str  # the form it is computed from
    direction: str  # higher_is_better or lower_is_better
    standard: float | None  # None: no national standard configured
    standard_source: str
    severity: tuple[float, float, float] = (0.10, 0.25, 0.50)
    dmip_section: str = "service_delivery"
    function: str | None = None  # management function, for sector "management"

    @classmethod
    def from_catalog(cls, indicator: Any) -> IndicatorInfo:
        """From a server.domain.catalog.Indicator."""
        return cls(
            id=indicator.id,
            name=indicator.name,
            sector=indicator.sector,
            unit=indicator.unit,
            form=indicator.form,
            direction=indicator.direction,
            standard=indicator.standard.value,
            standard_source=indicator.standard.source,
            severity=tuple(indicator.severity),
            dmip_section=indicator.dmip_section,
            function=indicator.function,
        )


@dataclass(frozen=True)
class IndicatorValue:
    """One aggregate: an indicator for one org unit and the cycle.

    `value` is in the indicator's unit (percent already x100); `numerator` and `denominator`
    are the summed terms (Partial.num / Partial.den as numbers; None for mean and sum
    aggregations without them); `n` counts the contributions that entered the value;
    `submissions` counts the submissions behind it (n plus those the filter left out)."""

    indicator_id: str
    org_unit: str  # org unit code: the district's or a sub-county's
    value: float | None
    n: int
    submissions: int
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True)
class SubCounty:
    code: str
    name: str
    population: int | None = None


@dataclass(frozen=True)
class StaffingLine:
    department: str
    approved: int
    filled: int


@dataclass(frozen=True)
class DistrictProfile:
    """The district profile form's answers for the cycle (None: not answered)."""

    population_total: int | None = None
    population_year: int | None = None
    households: int | None = None
    parishes: int | None = None
    villages: int | None = None
    # facility level -> count: hospital, hc_iv, hc_iii, hc_ii
    facilities: Mapping[str, int] = field(default_factory=dict)
    # school kind -> count: primary_gov, primary_private, secondary_gov
    schools: Mapping[str, int] = field(default_factory=dict)
    staffing: tuple[StaffingLine, ...] = ()
    # source -> UGX: central, local_revenue, donor, other
    budget_ugx: Mapping[str, int] = field(default_factory=dict)
    submissions: int = 1


@dataclass(frozen=True)
class Milestone:
    stage: str  # inception, data_collection, analysis, validation, drafting, council_approval
    status: str  # not_started, in_progress, done, delayed
    planned: dt.date | None = None
    actual: dt.date | None = None
    issues: str = ""


@dataclass(frozen=True)
class Completeness:
    """Submissions received against those expected, for one form and org unit."""

    form_id: str
    org_unit: str
    received: int
    expected: int | None = None  # None: no expected count configured
    failed: int = 0  # submissions that could not be processed


@dataclass(frozen=True)
class DataQualityFlag:
    kind: str  # e.g. "outlier", "failed", "late", "edited"
    org_unit: str
    detail: str
    form_id: str | None = None
    indicator_id: str | None = None


@dataclass(frozen=True)
class DistrictFacts:
    district_code: str
    district_name: str
    cycle: str  # "2026/27": year 1 of the plan
    sub_counties: tuple[SubCounty, ...]
    indicators: Mapping[str, IndicatorInfo]  # catalog indicators by id
    # Aggregates for the district (rolled up) and for each sub-county. Management capacity
    # scores are the values of the catalog's capacity_* indicators.
    values: tuple[IndicatorValue, ...]
    population: int | None = None  # district population (profile, or the census)
    profile: DistrictProfile | None = None
    # The district headquarters' own management assessment (not rolled up with sub-counties).
    hq_values: tuple[IndicatorValue, ...] = ()
    # Workshop ranking: key (indicator id, management function or sector) -> rank, 1 = first.
    workshop_ranking: Mapping[str, int] = field(default_factory=dict)
    milestones: tuple[Milestone, ...] = ()
    completeness: tuple[Completeness, ...] = ()
    data_quality_flags: tuple[DataQualityFlag, ...] = ()
    # Form id -> title, for the M&E plan and the data-quality annex.
    form_titles: Mapping[str, str] = field(default_factory=dict)
    # The most the plan may cost over three years (UGX); None: not capped.
    budget_ceiling_ugx: int | None = None

    def value(self, indicator_id: str, org_unit: str | None = None) -> IndicatorValue | None:
        code = org_unit or self.district_code
        for v in self.values:
            if v.indicator_id == indicator_id and v.org_unit == code:
                return v
        return None

    def hq_value(self, indicator_id: str) -> IndicatorValue | None:
        for v in self.hq_values:
            if v.indicator_id == indicator_id:
                return v
        return None

    def sub_county_name(self, code: str) -> str:
        for sc in self.sub_counties:
            if sc.code == code:
                return sc.name
        return self.district_name if code == self.district_code else code

    def ref(self, value: IndicatorValue) -> Ref:
        return Ref(
            org_unit=value.org_unit,
            cycle=self.cycle,
            indicator_id=value.indicator_id,
            submissions=value.submissions,
        )

    def fact_ref(self, fact: str, org_unit: str | None = None, submissions: int = 0) -> Ref:
        return Ref(
            org_unit=org_unit or self.district_code,
            cycle=self.cycle,
            fact=fact,
            submissions=submissions,
        )
