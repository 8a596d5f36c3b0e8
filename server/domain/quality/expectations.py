"""forms/expectations.yaml: what each district and sub-county should send, by when, and which
values are impossible. `parse_expectations` refuses the file with one sentence per problem.

Nothing here imports Flask, SQLAlchemy or Celery.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from server.domain import file_cache
from server.domain.cycles import cycle_end, is_cycle

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "forms" / "expectations.yaml"
LEVELS = ("region", "district", "subcounty", "parish")


class ExpectationsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("forms/expectations.yaml is not valid:\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Expectation:
    """`form` is expected from every org unit at `level`.

    located "in": submissions located at the unit or anywhere under it count; "at": only
    those located at the unit itself (a district headquarters' own assessment).
    `count`: exactly this many (more is a duplicate); `at_least`: this many or more;
    `from_profile`: at least the sum of these answers of the district's profile.
    """

    form: str
    level: str
    located: Literal["in", "at"] = "in"
    count: int | None = None
    at_least: int | None = None
    from_profile: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return self.count is not None


@dataclass(frozen=True)
class Expectations:
    forms: Mapping[str, tuple[Expectation, ...]] = field(default_factory=dict)
    profile_form: str = "dmip_district_profile"
    days_after_cycle_end: int = 92
    deadlines: Mapping[str, dt.date] = field(default_factory=dict)
    plausible_max: Mapping[str, float] = field(default_factory=dict)

    def deadline(self, cycle: str) -> dt.date:
        """The last day data collection for `cycle` accepts."""
        if cycle in self.deadlines:
            return self.deadlines[cycle]
        return cycle_end(cycle) + dt.timedelta(days=self.days_after_cycle_end)


def expectations_path() -> Path:
    forms_dir = os.environ.get("DMIP_FORMS_DIR")
    return Path(forms_dir) / "expectations.yaml" if forms_dir else DEFAULT_PATH


def load_expectations(path: Path | None = None) -> Expectations:
    """The expectations file (forms/expectations.yaml unless `path`), parsed again only when
    it changes."""
    return file_cache.parsed(path or expectations_path(), _read_expectations)


def _read_expectations(path: Path) -> Expectations:
    if not path.exists():
        return Expectations()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExpectationsError([f"not valid YAML: {exc}"]) from None
    return parse_expectations(data)


def parse_expectations(data: Any) -> Expectations:
    problems: list[str] = []
    if data is None:
        return Expectations()
    if not isinstance(data, Mapping):
        raise ExpectationsError(["the file must be a mapping (forms, timeliness, plausible_max)"])
    unknown = set(data) - {"profile_form", "timeliness", "forms", "plausible_max"}
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    forms: dict[str, tuple[Expectation, ...]] = {}
    raw_forms = data.get("forms") or {}
    if not isinstance(raw_forms, Mapping):
        problems.append("forms: must map each form id to a list of expectations")
        raw_forms = {}
    for form, items in raw_forms.items():
        if not isinstance(items, list):
            problems.append(f"forms.{form}: must be a list of expectations")
            continue
        parsed = [_expectation(str(form), i, item, problems) for i, item in enumerate(items, 1)]
        forms[str(form)] = tuple(e for e in parsed if e is not None)
    days, deadlines = _timeliness(data.get("timeliness") or {}, problems)
    plausible = _plausible(data.get("plausible_max") or {}, problems)
    profile = data.get("profile_form", "dmip_district_profile")
    if not isinstance(profile, str) or not profile:
        problems.append("profile_form: must be a form id")
    if problems:
        raise ExpectationsError(problems)
    return Expectations(forms, str(profile), days, deadlines, plausible)


def _expectation(form: str, position: int, raw: Any, problems: list[str]) -> Expectation | None:
    label = f"forms.{form} #{position}"
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: must be a mapping such as {{level: subcounty, count: 1}}")
        return None
    unknown = set(raw) - {"level", "located", "count", "at_least", "from_profile"}
    if unknown:
        problems.append(f"{label}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        return None
    level = raw.get("level")
    if level not in LEVELS:
        problems.append(f"{label}: level must be one of {', '.join(LEVELS)}, not {level!r}")
        return None
    located = raw.get("located", "in")
    if located not in ("in", "at"):
        problems.append(f"{label}: located must be 'in' or 'at', not {located!r}")
        return None
    given = [k for k in ("count", "at_least", "from_profile") if k in raw]
    if len(given) != 1:
        problems.append(f"{label}: give exactly one of count, at_least, from_profile")
        return None
    kind = given[0]
    value = raw[kind]
    if kind == "from_profile":
        if level != "district":
            problems.append(f"{label}: from_profile counts are known per district only")
            return None
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            problems.append(f"{label}: from_profile must list question names of the profile")
            return None
        return Expectation(form, level, located, from_profile=tuple(value))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{label}: {kind} must be a whole number of at least 1, not {value!r}")
        return None
    if kind == "count":
        return Expectation(form, level, located, count=value)
    return Expectation(form, level, located, at_least=value)


def _timeliness(raw: Any, problems: list[str]) -> tuple[int, dict[str, dt.date]]:
    if not isinstance(raw, Mapping):
        problems.append("timeliness: must be a mapping (days_after_cycle_end, deadlines)")
        return 92, {}
    days = raw.get("days_after_cycle_end", 92)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        problems.append(f"timeliness.days_after_cycle_end: must be 0 or more days, not {days!r}")
        days = 92
    deadlines: dict[str, dt.date] = {}
    raw_deadlines = raw.get("deadlines") or {}
    if not isinstance(raw_deadlines, Mapping):
        problems.append("timeliness.deadlines: must map cycles to dates")
        raw_deadlines = {}
    for cycle, day in raw_deadlines.items():
        if not is_cycle(str(cycle)):
            problems.append(f"timeliness.deadlines: {cycle!r} is not a cycle such as 2025/26")
        elif not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            problems.append(f"timeliness.deadlines.{cycle}: must be a date such as 2026-09-30")
        else:
            deadlines[str(cycle)] = day
    return days, deadlines


def _plausible(raw: Any, problems: list[str]) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        problems.append("plausible_max: must map indicator ids to numbers")
        return {}
    out: dict[str, float] = {}
    for indicator, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"plausible_max.{indicator}: must be a number, not {value!r}")
        else:
            out[str(indicator)] = float(value)
    return out
