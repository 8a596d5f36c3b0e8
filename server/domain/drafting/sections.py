"""The structure of a drafted section: ordered blocks of paragraphs, tables and charts, where
every number carries a reference back to the aggregate (indicator, org unit, cycle) or the fact
it came from. Renderers (server/exports/) and the web app read only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CellKind = Literal["text", "number", "percent", "ratio", "count", "ugx", "missing"]


@dataclass(frozen=True)
class Ref:
    """Where a number comes from.

    An aggregate: `indicator_id`, `org_unit` (code) and `cycle`, with how many submissions
    lie behind it. A fact of the district that is not an indicator (the profile's population,
    a unit cost, a workshop rank): `fact` names it, e.g. "profile.population_total" or
    "library.recruit_primary_teachers.unit_cost_ugx". A computed number (a quantity, a cost, a
    target) names its inputs in `derived_from`.
    """

    org_unit: str
    cycle: str
    indicator_id: str | None = None
    fact: str | None = None
    submissions: int = 0
    derived_from: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class Cell:
    text: str
    kind: CellKind = "text"
    value: float | int | None = None  # the unrounded number, None for text and missing
    ref: Ref | None = None


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    """A bar chart as data: one bar group per category, one bar per series."""

    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str  # axis label, e.g. "percent" or "UGX million"
    stacked: bool = False
    reference_line: float | None = None  # a standard, drawn across the bars
    reference_label: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    refs: tuple[Ref, ...] = ()


Block = Paragraph | Table | Chart


@dataclass(frozen=True)
class Section:
    key: str  # one of server.domain.catalog.DMIP_SECTIONS, or "synthesis_*"
    title: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    @property
    def paragraphs(self) -> list[Paragraph]:
        return [b for b in self.blocks if isinstance(b, Paragraph)]

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def charts(self) -> list[Chart]:
        return [b for b in self.blocks if isinstance(b, Chart)]

    @property
    def references(self) -> list[Ref]:
        refs: list[Ref] = []
        for block in self.blocks:
            if isinstance(block, Paragraph):
                refs.extend(block.refs)
            elif isinstance(block, Table):
                refs.extend(c.ref for row in block.rows for c in row if c.ref is not None)
        return refs


def text(value: str) -> Cell:
    return Cell(value, "text")


def missing(label: str = "not enough data") -> Cell:
    return Cell(label, "missing")


def notice(key: str, title: str, message: str) -> Section:
    """A section that has only one thing to say, e.g. that there is not enough data."""
    return Section(key, title, (Paragraph(message),))
