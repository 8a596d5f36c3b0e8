"""The intervention library (forms/interventions.yaml): loading and validation.

`load_library(path, indicator_ids, functions)` checks every gap type against the catalog's
indicator ids and the management functions, every quantity rule against the names it may use,
every cost, funding split and phasing, and refuses the file with one message per problem naming
the gap type and intervention at fault."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from server.domain.expressions import ExpressionError, Node, parse_expression, references

PLAN_YEARS = 3
# Names every indicator rule may use; `names` in the library adds aliases of the first three.
INDICATOR_FACTS = ("numerator", "denominator", "value", "standard", "n", "population")
MANAGEMENT_FACTS = ("score", "benchmark")
_REQUIRED = ("id", "name", "quantity", "unit", "unit_cost_ugx", "cost_source", "responsible")


class LibraryError(ValueError):
    """The library cannot be used; `problems` lists every reason, one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("The intervention library is not valid:\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Intervention:
    id: str
    gap_type: str
    name: str
    quantity_rule: str
    quantity: Node
    unit: str
    unit_cost_ugx: int
    cost_source: str
    assumed: bool  # the cost is an assumption, not a published figure
    responsible: str
    funding: tuple[tuple[str, int], ...]  # (source, percent), in funding_sources order
    phasing: tuple[int, int, int]  # percent of the quantity added in years 1, 2, 3
    recurrent: bool = False


@dataclass(frozen=True)
class GapType:
    key: str  # indicator id or management function
    management: bool
    names: Mapping[str, str]  # alias -> numerator or denominator
    interventions: tuple[Intervention, ...]


@dataclass(frozen=True)
class Library:
    funding_sources: Mapping[str, str]  # key -> label, in order
    management_benchmark: float
    management_benchmark_source: str
    offices: Mapping[str, str]  # sector -> responsible office for monitoring
    form_frequency: Mapping[str, str]  # form id -> collection frequency
    gaps: Mapping[str, GapType]

    def interventions_for(self, key: str) -> tuple[Intervention, ...]:
        gap = self.gaps.get(key)
        return gap.interventions if gap else ()

    def intervention(self, intervention_id: str) -> Intervention:
        for gap in self.gaps.values():
            for item in gap.interventions:
                if item.id == intervention_id:
                    return item
        raise KeyError(intervention_id)


def load_library(
    path: Path | str, indicator_ids: Collection[str], functions: Collection[str]
) -> Library:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LibraryError([f"cannot read {str(path)!r}: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise LibraryError([f"not valid YAML: {exc}"]) from None
    return parse_library(data, indicator_ids, functions)


def parse_library(data: Any, indicator_ids: Collection[str], functions: Collection[str]) -> Library:
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise LibraryError(["the library must be a mapping with a 'gaps' mapping"])
    sources = data.get("funding_sources")
    if not isinstance(sources, Mapping) or not sources:
        problems.append("funding_sources: give each funding source a key and a label")
        sources = {}
    benchmark = data.get("management_benchmark") or {}
    score = benchmark.get("score") if isinstance(benchmark, Mapping) else None
    out_of = benchmark.get("of") if isinstance(benchmark, Mapping) else None
    if (
        not isinstance(score, int | float)
        or not isinstance(out_of, int | float)
        or not 0 < score <= out_of
    ):
        problems.append("management_benchmark: give a score and the maximum it is 'of' (2 of 3)")
        bench_value = 0.0
    else:
        # Six places, the precision of the aggregates: 2 of 3 on every criterion meets it.
        bench_value = round(score * 100 / out_of, 6)
    monitoring = data.get("monitoring") or {}
    offices = dict(monitoring.get("offices") or {})
    frequency = dict(monitoring.get("forms") or {})
    raw_gaps = data.get("gaps")
    gaps: dict[str, GapType] = {}
    seen: set[str] = set()
    if not isinstance(raw_gaps, Mapping) or not raw_gaps:
        problems.append("the library has no 'gaps' mapping")
        raw_gaps = {}
    for key, raw in raw_gaps.items():
        gap = _parse_gap(str(key), raw, indicator_ids, functions, list(sources), problems)
        if gap is None:
            continue
        for item in gap.interventions:
            if item.id in seen:
                problems.append(f"gap {key!r}: intervention id {item.id!r} is used twice")
            seen.add(item.id)
        gaps[gap.key] = gap
    if problems:
        raise LibraryError(problems)
    return Library(
        funding_sources={str(k): str(v) for k, v in sources.items()},
        management_benchmark=float(bench_value),
        management_benchmark_source=str(benchmark.get("source") or ""),
        offices=offices,
        form_frequency=frequency,
        gaps=gaps,
    )


def _parse_gap(
    key: str,
    raw: Any,
    indicator_ids: Collection[str],
    functions: Collection[str],
    sources: list[str],
    problems: list[str],
) -> GapType | None:
    management = key in functions
    if key not in indicator_ids and not management:
        problems.append(f"gap {key!r}: not a catalog indicator id nor a management function")
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("interventions"), list):
        problems.append(f"gap {key!r}: needs an 'interventions' list")
        return None
    names = dict(raw.get("names") or {})
    for alias, target in names.items():
        if target not in ("numerator", "denominator", "value"):
            problems.append(
                f"gap {key!r}: name {alias!r} must stand for numerator, denominator or value"
            )
    allowed = set(MANAGEMENT_FACTS if management else (*INDICATOR_FACTS, *names))
    items = []
    for position, item in enumerate(raw["interventions"], start=1):
        parsed = _parse_intervention(key, position, item, allowed, sources, problems)
        if parsed is not None:
            items.append(parsed)
    return GapType(key, management, names, tuple(items))


def _parse_intervention(
    key: str,
    position: int,
    raw: Any,
    allowed: set[str],
    sources: list[str],
    problems: list[str],
) -> Intervention | None:
    label = (
        f"gap {key!r}, intervention {raw.get('id', f'#{position}')!r}"
        if isinstance(raw, Mapping)
        else f"gap {key!r}, intervention #{position}"
    )
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: must be a mapping")
        return None
    missing = [k for k in _REQUIRED if raw.get(k) in (None, "")]
    if missing:
        problems.append(f"{label}: missing key(s) {', '.join(missing)}")
        return None
    before = len(problems)
    try:
        node = parse_expression(str(raw["quantity"]))
        unknown = references(node) - allowed
        if unknown:
            problems.append(
                f"{label}: quantity uses unknown name(s) {', '.join(sorted(unknown))} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    except ExpressionError as exc:
        problems.append(f"{label}: quantity: {exc}")
        node = None
    cost = raw["unit_cost_ugx"]
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
        problems.append(f"{label}: unit_cost_ugx must be a whole number of shillings, not {cost!r}")
    funding = raw.get("funding") or {}
    if not isinstance(funding, Mapping) or not funding:
        problems.append(f"{label}: funding must map funding sources to percentages")
        funding = {}
    unknown_sources = sorted(set(funding) - set(sources))
    if unknown_sources:
        problems.append(f"{label}: unknown funding source(s) {', '.join(unknown_sources)}")
    if not _percentages(funding.values()):
        problems.append(f"{label}: funding percentages must be whole numbers summing to 100")
    phasing = raw.get("phasing") or []
    if not isinstance(phasing, list) or len(phasing) != PLAN_YEARS or not _percentages(phasing):
        problems.append(
            f"{label}: phasing must give {PLAN_YEARS} whole percentages (years 1-3) summing to 100"
        )
    if len(problems) > before or node is None:
        return None
    source_text = str(raw["cost_source"]).strip()
    return Intervention(
        id=str(raw["id"]),
        gap_type=key,
        name=str(raw["name"]),
        quantity_rule=str(raw["quantity"]),
        quantity=node,
        unit=str(raw["unit"]),
        unit_cost_ugx=int(cost),
        cost_source=source_text,
        assumed=source_text.lower().startswith("assumed"),
        responsible=str(raw["responsible"]),
        funding=tuple((s, int(funding[s])) for s in sources if s in funding),
        phasing=(int(phasing[0]), int(phasing[1]), int(phasing[2])),
        recurrent=bool(raw.get("recurrent", False)),
    )


def _percentages(values: Any) -> bool:
    values = list(values)
    return (
        bool(values)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
        and sum(values) == 100
    )
