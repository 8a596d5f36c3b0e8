"""Typed table cells and labels shared by the section writers."""

from __future__ import annotations

from server.domain.drafting import narrative as nv
from server.domain.drafting.facts import DistrictFacts, IndicatorValue
from server.domain.drafting.sections import Cell, Ref

SECTOR_LABELS = {
    "health": "Health",
    "hiv": "HIV/AIDS",
    "education": "Education",
    "ovc": "Orphans and vulnerable children",
    "wash": "Water, sanitation and hygiene",
    "management": "Management",
}
SECTOR_ORDER = ("health", "hiv", "education", "ovc", "wash")
_UNIT_KIND = {"percent": "percent", "ratio": "ratio", "count": "count", "ugx": "ugx"}


def fy_labels(cycle: str) -> list[str]:
    """Plan years 1-3 as financial years: "2026/27" -> FY2026/27, FY2027/28, FY2028/29."""
    start = int(cycle[:4])
    return [f"FY{y}/{(y + 1) % 100:02d}" for y in range(start, start + 3)]


def value_cell(facts: DistrictFacts, value: IndicatorValue | None, unit: str) -> Cell:
    if value is None or value.value is None:
        return Cell(nv.NOT_ENOUGH_DATA, "missing")
    return Cell(nv.value_text(value.value, unit), _UNIT_KIND[unit], value.value, facts.ref(value))


def number_cell(value: float | int, unit: str, ref: Ref | None) -> Cell:
    return Cell(nv.value_text(value, unit), _UNIT_KIND.get(unit, "number"), value, ref)


def count_cell(value: int | None, ref: Ref | None) -> Cell:
    if value is None:
        return Cell(nv.NOT_ENOUGH_DATA, "missing")
    return Cell(nv.number(value), "count", value, ref)


def ugx_cell(value: int, ref: Ref | None) -> Cell:
    """Tables print shillings without the prefix; the column heading says UGX."""
    return Cell(nv.number(value), "ugx", value, ref)


def percent_cell(value: float | None, ref: Ref | None) -> Cell:
    if value is None:
        return Cell(nv.NOT_ENOUGH_DATA, "missing")
    return Cell(nv.percent(value), "percent", value, ref)


def standard_ref(facts: DistrictFacts, indicator_id: str, management: bool = False) -> Ref:
    """A standard comes from the catalog (or, for management, the library's benchmark)."""
    return Ref(
        org_unit=facts.district_code,
        cycle=facts.cycle,
        indicator_id=indicator_id,
        fact="library.management_benchmark" if management else "catalog.standard",
    )


def rank_cell(facts: DistrictFacts, position: int, key: str, value: IndicatorValue) -> Cell:
    ref = Ref(
        org_unit=facts.district_code,
        cycle=facts.cycle,
        indicator_id=value.indicator_id,
        fact=f"rank.{key}",
        submissions=value.submissions,
        derived_from=(facts.ref(value),),
    )
    return Cell(str(position), "count", position, ref)
