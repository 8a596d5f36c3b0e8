"""Rows as JSON: plain dicts whose numbers are floats (rounded for people where they are
values, exact to the stored millionths where they are sums) and whose places are codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from server.aggregation import reading
from server.domain.catalog import Indicator
from server.domain.gaps import GapRow, value_of
from server.domain.indicator_values import REASONS, contribution_value, round_fraction
from server.domain.partials import SCALE
from server.domain.quality import checks

PREFIX = "/api/v1"


def unit(u: reading.Unit) -> dict[str, Any]:
    return {"code": u.code, "name": u.name, "level": u.level}


def indicator(i: Indicator) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "sector": i.sector,
        "function": i.function,
        "unit": i.unit,
        "form": i.form,
        "aggregation": i.aggregation,
        "direction": i.direction,
        "standard": {
            "value": i.standard.value,
            "comparison": i.standard.comparison,
            "source": i.standard.source,
            "national_norm": i.standard.national_norm,
            "configurable_default": i.standard.configurable_default,
        },
        "severity_thresholds": dict(zip(("low", "medium", "high"), i.severity, strict=True)),
        "dmip_section": i.dmip_section,
    }


def submissions_link(indicator_id: str, code: str, cycle: str) -> str:
    query = urlencode({"org_unit": code, "cycle": cycle})
    return f"{PREFIX}/values/{indicator_id}/submissions?{query}"


def _fixed(value: int | None) -> float | None:
    return None if value is None else value / SCALE


def value(row: reading.StoredValue, indicators: Mapping[str, Indicator]) -> dict[str, Any]:
    ind = indicators.get(row.indicator_id)
    out: dict[str, Any] = {
        "indicator": row.indicator_id,
        "org_unit": unit(row.unit),
        "cycle": row.cycle,
        "n": row.partial.n,
        "updated_at": row.updated_at.isoformat(),
        "links": {"submissions": submissions_link(row.indicator_id, row.unit.code, row.cycle)},
    }
    if ind is None:
        out.update(value=None, reason="not_in_catalog", note="The indicator is not in the catalog.")
        return out
    computed = value_of(ind, row.partial)
    has_den = ind.formula.denominator is not None
    out.update(
        value=computed.as_float(),
        unit=ind.unit,
        reason=computed.reason,
        note=REASONS[computed.reason] if computed.reason else None,
        numerator=_fixed(row.partial.num) if has_den else None,
        denominator=_fixed(row.partial.den) if has_den else None,
        sum=_fixed(row.partial.total),
    )
    return out


def contribution(
    c: reading.Contribution, details: Mapping[str, Any], ind: Indicator
) -> dict[str, Any]:
    own = contribution_value(
        c.value,
        ind.aggregation,
        ind.multiplier,
        has_denominator=ind.formula.denominator is not None,
    )
    return {
        **details,
        "contribution": {
            "value": None if own is None else float(round_fraction(own, 6)),
            "numerator": _fixed(c.numerator),
            "denominator": _fixed(c.denominator),
        },
    }


def gap_row(row: GapRow) -> dict[str, Any]:
    return {
        "indicator": row.indicator_id,
        "name": row.name,
        "sector": row.sector,
        "unit": row.unit,
        "direction": row.direction,
        "status": row.status,
        "value": row.value,
        "standard": row.standard,
        "gap": row.gap,
        "relative_gap": row.relative_gap,
        "severity": row.severity,
        "rank": row.rank,
        "n": row.n,
        "note": row.note or None,
    }


def flag(f: checks.Flag, units: Mapping[int, reading.Unit]) -> dict[str, Any]:
    place = units.get(f.org_unit_id) if f.org_unit_id is not None else None
    out: dict[str, Any] = {
        "kind": f.kind,
        "rule": f.rule,
        "org_unit": unit(place) if place else None,
        "cycle": f.cycle,
        "form": f.form_id,
        "indicator": f.indicator_id,
        "message": f.message,
        "details": dict(f.details),
        "submissions": list(f.submission_ids),
    }
    if f.kind == "outlier" and place is not None and f.indicator_id and f.cycle:
        out["links"] = {"submissions": submissions_link(f.indicator_id, place.code, f.cycle)}
    return out


def completeness(row: checks.CompletenessRow, units: Mapping[int, reading.Unit]) -> dict[str, Any]:
    return {
        "form": row.form_id,
        "org_unit": unit(units[row.org_unit_id]),
        "rule": row.rule,
        "located": row.located,
        "expected": row.expected,
        "received": row.received,
        "failed": len(row.failed_ids),
        "status": row.status,
        "submissions": list(row.submission_ids),
        "failed_submissions": list(row.failed_ids),
    }
