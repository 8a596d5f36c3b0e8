"""Planning cycles: Uganda's local government financial year runs 1 July to 30 June, and a
DMIP cycle is named by the financial year it starts in, "2025/26"."""

from __future__ import annotations

import datetime as dt
import re

_CYCLE = re.compile(r"^(\d{4})/(\d{2})$")


def financial_year(day: dt.date) -> str:
    """The financial year a day falls in: 2026-06-30 is in 2025/26, 2026-07-01 in 2026/27."""
    start = day.year if day.month >= 7 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def is_cycle(text: str | None) -> bool:
    """A well-formed cycle name whose second year follows the first ("2025/26", not
    "2025/27")."""
    match = _CYCLE.match(text or "")
    return bool(match) and (int(match.group(1)) + 1) % 100 == int(match.group(2))


def cycle_start(cycle: str) -> dt.date:
    """1 July of the cycle's first year."""
    if not is_cycle(cycle):
        raise ValueError(f"not a planning cycle: {cycle!r} (expected e.g. 2025/26)")
    return dt.date(int(cycle[:4]), 7, 1)


def cycle_end(cycle: str) -> dt.date:
    """30 June of the cycle's second year."""
    return dt.date(cycle_start(cycle).year + 1, 6, 30)
