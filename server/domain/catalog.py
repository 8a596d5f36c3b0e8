"""The indicator catalog (forms/catalog.yaml): loading and validation against the published
forms.

Each indicator is computed from the submissions of ONE form. Its `formula` holds a `numerator`,
an optional `denominator` and an optional `filter`, written in the expression language of
server/domain/expressions/ (forms/README.md describes it for authors). `load_catalog` checks every
name, type, choice, repeat and key, and refuses the catalog with one message per problem naming
the indicator and the part at fault.

Nothing here imports Flask, SQLAlchemy or Celery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from server.domain.expressions import (
    ExpressionError,
    Node,
    Number,
    Scope,
    Sum,
    as_number,
    check,
    check_derived,
    evaluate,
    parse_expression,
    row_values_for_form,
    truth,
    type_phrase,
)

# Re-exported: the aggregation workers read formulas and rows through this module.
__all__ = [
    "Catalog",
    "CatalogError",
    "ExpressionError",
    "Formula",
    "Indicator",
    "Standard",
    "Sum",
    "evaluate",
    "load_catalog",
    "parse_catalog",
    "parse_expression",
    "row_values_for_form",
]


SECTORS = ("health", "hiv", "education", "ovc", "wash", "management")
MANAGEMENT_FUNCTIONS = (
    "planning_budgeting",
    "financial_management",
    "human_resources",
    "procurement",
    "monitoring_evaluation",
    "partner_coordination",
    "governance",
    "local_revenue",
    "service_supervision",
)
AGGREGATIONS = ("sum", "mean", "ratio_of_sums", "proportion", "score")
DIRECTIONS = ("higher_is_better", "lower_is_better")
COMPARISONS = {"higher_is_better": ">=", "lower_is_better": "<="}
UNITS = {"percent": 100, "ratio": 1, "count": 1, "ugx": 1}
DMIP_SECTIONS = (
    "profile",
    "management_capacity",
    "service_delivery",
    "gap_analysis",
    "priorities",
    "results_framework",
    "action_plan",
    "me_plan",
    "data_quality",
)
DEFAULT_SEVERITY = {"low": 0.10, "medium": 0.25, "high": 0.50}
REQUIRED_KEYS = (
    "id",
    "name",
    "sector",
    "unit",
    "form",
    "formula",
    "aggregation",
    "direction",
    "standard",
    "dmip_section",
)


class CatalogError(ValueError):
    """The catalog cannot be used; `problems` lists every reason, one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("The indicator catalog is not valid:\n- " + "\n- ".join(self.problems))


# --- The catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standard:
    value: float | None  # None: no national standard configured
    comparison: str  # ">=" or "<="
    source: str
    national_norm: bool
    configurable_default: bool
    note: str = ""


@dataclass(frozen=True)
class Formula:
    numerator: Node
    denominator: Node | None
    filter: Node | None


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    sector: str
    function: str | None
    unit: str
    form: str
    formula: Formula
    aggregation: str
    direction: str
    standard: Standard
    severity: tuple[float, float, float]  # relative-gap thresholds: low, medium, high
    dmip_section: str
    description: str = ""

    @property
    def multiplier(self) -> int:
        """Scale applied to a ratio: 100 for percentages."""
        return UNITS[self.unit]


@dataclass(frozen=True)
class Catalog:
    indicators: dict[str, Indicator]
    # form id -> derived value name -> expression
    derived: dict[str, dict[str, Node]]

    def for_form(self, form_id: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.form == form_id]

    def terms(
        self, indicator_id: str, row_values: Mapping[str, Any]
    ) -> tuple[Number | None, Number | None] | None:
        """(numerator, denominator) of one submission, or None when its filter excludes it.
        The denominator is None for indicators without one."""
        ind = self.indicators[indicator_id]
        derived = self.derived.get(ind.form, {})
        keep = ind.formula.filter is None or truth(
            evaluate(ind.formula.filter, row_values, derived)
        )
        if keep is not True:
            return None
        num = as_number(evaluate(ind.formula.numerator, row_values, derived))
        den = (
            as_number(evaluate(ind.formula.denominator, row_values, derived))
            if ind.formula.denominator is not None
            else None
        )
        return num, den


def load_catalog(path: Path | str, forms: Mapping[str, Sequence[Mapping[str, Any]]]) -> Catalog:
    """Load forms/catalog.yaml and check it against the published forms' field lists
    ({xml_form_id: read_form(xform).fields}). Raises CatalogError listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(
            [f"cannot read the catalog file {str(path)!r}: {exc.strerror}"]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError([f"the catalog is not valid YAML: {exc}"]) from None
    return parse_catalog(data, forms)


def parse_catalog(data: Any, forms: Mapping[str, Sequence[Mapping[str, Any]]]) -> Catalog:
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise CatalogError(["the catalog must be a mapping with an 'indicators' list"])
    field_maps = {
        form_id: {f["name"]: dict(f) for f in fields} for form_id, fields in forms.items()
    }
    defaults = data.get("defaults") or {}
    derived = _parse_derived(data.get("derived") or [], field_maps, problems)
    raw_indicators = data.get("indicators")
    if not isinstance(raw_indicators, list) or not raw_indicators:
        problems.append("the catalog has no 'indicators' list")
        raise CatalogError(problems)
    indicators: dict[str, Indicator] = {}
    for position, raw in enumerate(raw_indicators, start=1):
        ind = _parse_indicator(raw, position, field_maps, derived, defaults, problems)
        if ind is None:
            continue
        if ind.id in indicators:
            problems.append(f"indicator {ind.id!r}: the id is used twice")
            continue
        indicators[ind.id] = ind
    if problems:
        raise CatalogError(problems)
    return Catalog(indicators, derived)


def _parse_derived(
    raw: Any, field_maps: Mapping[str, dict[str, dict[str, Any]]], problems: list[str]
) -> dict[str, dict[str, Node]]:
    out: dict[str, dict[str, Node]] = {}
    if not isinstance(raw, list):
        problems.append("'derived' must be a list of {id, form, expression}")
        return out
    sources: dict[tuple[str, str], Any] = {}
    for item in raw:
        label = f"derived value {item.get('id')!r}" if isinstance(item, Mapping) else "derived"
        if not isinstance(item, Mapping) or not {"id", "form", "expression"} <= set(item):
            missing = (
                sorted({"id", "form", "expression"} - set(item))
                if isinstance(item, Mapping)
                else ["id", "form", "expression"]
            )
            problems.append(f"{label}: missing key(s) {', '.join(missing)}")
            continue
        name, form = str(item["id"]), str(item["form"])
        if form not in field_maps:
            problems.append(f"{label}: unknown form {form!r}")
            continue
        if name in field_maps[form]:
            problems.append(f"{label}: the name is already a question of form {form!r}")
            continue
        try:
            out.setdefault(form, {})[name] = parse_expression(item["expression"])
            sources[(form, name)] = item["expression"]
        except ExpressionError as exc:
            problems.append(f"{label}: {exc}")
    for form, values in out.items():
        scope = Scope(form, field_maps[form], values)
        checked: dict[str, Node] = {}
        for name in values:
            try:
                t = check_derived(name, scope)
                # The checked tree has its repeats resolved for sum() and count().
                checked[name] = check(values[name], scope)[0]
            except ExpressionError as exc:
                problems.append(f"derived value {name!r}: {exc}")
                continue
            if t != "number":
                problems.append(
                    f"derived value {name!r}: must be a number, but is {type_phrase(t)}"
                )
        values.update(checked)
    return out


def _parse_indicator(
    raw: Any,
    position: int,
    field_maps: Mapping[str, dict[str, dict[str, Any]]],
    derived: Mapping[str, dict[str, Node]],
    defaults: Mapping[str, Any],
    problems: list[str],
) -> Indicator | None:
    if not isinstance(raw, Mapping):
        problems.append(f"indicator #{position}: must be a mapping")
        return None
    ident = raw.get("id")
    label = f"indicator {ident!r}" if ident else f"indicator #{position}"
    missing = [k for k in REQUIRED_KEYS if raw.get(k) in (None, "")]
    if missing:
        problems.append(f"{label}: missing key(s) {', '.join(missing)}")
        return None
    before = len(problems)

    def bad(message: str) -> None:
        problems.append(f"{label}: {message}")

    sector = str(raw["sector"])
    if sector not in SECTORS:
        bad(f"unknown sector {sector!r} (one of {', '.join(SECTORS)})")
    function = raw.get("function")
    if function is not None and function not in MANAGEMENT_FUNCTIONS:
        bad(f"unknown management function {function!r} (one of {', '.join(MANAGEMENT_FUNCTIONS)})")
    if function is not None and sector != "management":
        bad("a management function is only for sector 'management'")
    unit = str(raw["unit"])
    if unit not in UNITS:
        bad(f"unknown unit {unit!r} (one of {', '.join(UNITS)})")
    aggregation = str(raw["aggregation"])
    if aggregation not in AGGREGATIONS:
        bad(f"unknown aggregation {aggregation!r} (one of {', '.join(AGGREGATIONS)})")
    direction = str(raw["direction"])
    if direction not in DIRECTIONS:
        bad(f"unknown direction {direction!r} (one of {', '.join(DIRECTIONS)})")
    section = str(raw["dmip_section"])
    if section not in DMIP_SECTIONS:
        bad(f"unknown dmip_section {section!r} (one of {', '.join(DMIP_SECTIONS)})")

    form = str(raw["form"])
    formula = None
    if form not in field_maps:
        bad(f"unknown form {form!r} (published forms: {', '.join(sorted(field_maps)) or 'none'})")
    else:
        formula = _parse_formula(raw["formula"], form, field_maps[form], derived, aggregation, bad)
    standard = _parse_standard(raw["standard"], direction, bad)
    severity = _parse_severity(raw.get("severity", defaults.get("severity")), bad)
    if len(problems) > before or formula is None or standard is None or severity is None:
        return None
    return Indicator(
        id=str(ident),
        name=str(raw["name"]),
        sector=sector,
        function=function,
        unit=unit,
        form=form,
        formula=formula,
        aggregation=aggregation,
        direction=direction,
        standard=standard,
        severity=severity,
        dmip_section=section,
        description=str(raw.get("description") or ""),
    )


def _parse_formula(
    raw: Any,
    form: str,
    fields: dict[str, dict[str, Any]],
    derived: Mapping[str, dict[str, Node]],
    aggregation: str,
    bad: Any,
) -> Formula | None:
    if not isinstance(raw, Mapping) or "numerator" not in raw:
        bad("formula: missing key numerator")
        return None
    unknown = set(raw) - {"numerator", "denominator", "filter"}
    if unknown:
        bad(f"formula: unknown key(s) {', '.join(sorted(unknown))}")
        return None
    parts: dict[str, Node | None] = {}
    ok = True
    for part, want in (("numerator", "number"), ("denominator", "number"), ("filter", "bool")):
        if raw.get(part) is None:
            parts[part] = None
            continue
        scope = Scope(form, fields, dict(derived.get(form, {})))
        try:
            node, t = check(parse_expression(raw[part]), scope)
        except ExpressionError as exc:
            bad(f"formula.{part}: {exc}")
            ok = False
            continue
        if t != want:
            bad(f"formula.{part}: must be {type_phrase(want)}, but is {type_phrase(t)}")
            ok = False
            continue
        parts[part] = node
    if not ok:
        return None
    has_den = parts["denominator"] is not None
    if aggregation == "sum" and has_den:
        bad("formula: aggregation 'sum' adds numerators; remove the denominator")
        return None
    if aggregation in {"ratio_of_sums", "proportion", "score"} and not has_den:
        bad(f"formula: aggregation {aggregation!r} needs a denominator")
        return None
    numerator = parts["numerator"]
    assert numerator is not None
    return Formula(numerator, parts["denominator"], parts["filter"])


def _parse_standard(raw: Any, direction: str, bad: Any) -> Standard | None:
    if not isinstance(raw, Mapping):
        bad("standard: must be a mapping with value, comparison, source, national_norm")
        return None
    missing = [k for k in ("value", "comparison", "source", "national_norm") if k not in raw]
    if missing:
        bad(f"standard: missing key(s) {', '.join(missing)}")
        return None
    value = raw["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        bad(f"standard.value: must be a number or null, not {value!r}")
        return None
    comparison = raw["comparison"]
    if comparison not in {">=", "<="}:
        bad(f"standard.comparison: must be '>=' or '<=', not {comparison!r}")
        return None
    if direction in COMPARISONS and comparison != COMPARISONS[direction]:
        bad(
            f"standard.comparison {comparison!r} contradicts direction {direction!r} "
            f"(expected {COMPARISONS[direction]!r})"
        )
        return None
    if value is not None and value <= 0:
        bad("standard.value: must be positive (a gap is measured relative to it)")
        return None
    if not isinstance(raw["national_norm"], bool):
        bad("standard.national_norm: must be true or false")
        return None
    source = str(raw["source"] or "").strip()
    if not source:
        bad("standard.source: say where the figure comes from (or why there is none)")
        return None
    return Standard(
        value=None if value is None else float(value),
        comparison=comparison,
        source=source,
        national_norm=raw["national_norm"],
        configurable_default=bool(raw.get("configurable_default", False)),
        note=str(raw.get("note") or ""),
    )


def _parse_severity(raw: Any, bad: Any) -> tuple[float, float, float] | None:
    raw = raw if raw is not None else DEFAULT_SEVERITY
    if not isinstance(raw, Mapping) or set(raw) != {"low", "medium", "high"}:
        bad("severity: must give low, medium and high relative-gap thresholds")
        return None
    try:
        low, medium, high = (float(raw[k]) for k in ("low", "medium", "high"))
    except (TypeError, ValueError):
        bad("severity: thresholds must be numbers")
        return None
    if not 0 < low < medium < high:
        bad(f"severity: thresholds must increase and be positive, got {low}, {medium}, {high}")
        return None
    return (low, medium, high)
