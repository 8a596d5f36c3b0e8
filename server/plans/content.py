"""Drafted sections as stored JSON, and back.

A PlanSection keeps the drafted `Section` (server/domain/drafting/sections.py) as JSON, and its
narrative as plain text, which is what a coordinator edits. For reading and export, `with_text`
puts an edited narrative in place of the generated paragraphs and keeps the tables and charts,
which always follow the data.
"""

from __future__ import annotations

from typing import Any

from server.domain.drafting.sections import (
    Block,
    Cell,
    Chart,
    Paragraph,
    Ref,
    Section,
    Series,
    Table,
)


def ref_json(ref: Ref) -> dict[str, Any]:
    return {
        "org_unit": ref.org_unit,
        "cycle": ref.cycle,
        "indicator_id": ref.indicator_id,
        "fact": ref.fact,
        "submissions": ref.submissions,
        "derived_from": [ref_json(r) for r in ref.derived_from],
    }


def ref_from(data: dict[str, Any]) -> Ref:
    return Ref(
        org_unit=data["org_unit"],
        cycle=data["cycle"],
        indicator_id=data.get("indicator_id"),
        fact=data.get("fact"),
        submissions=int(data.get("submissions") or 0),
        derived_from=tuple(ref_from(r) for r in data.get("derived_from") or ()),
    )


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "text": cell.text,
        "kind": cell.kind,
        "value": cell.value,
        "ref": ref_json(cell.ref) if cell.ref is not None else None,
    }


def _cell_from(data: dict[str, Any]) -> Cell:
    ref = data.get("ref")
    return Cell(data["text"], data.get("kind", "text"), data.get("value"), ref and ref_from(ref))


def block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "text": block.text, "refs": [ref_json(r) for r in block.refs]}
    if isinstance(block, Table):
        return {
            "kind": "table",
            "title": block.title,
            "columns": list(block.columns),
            "rows": [[_cell_json(c) for c in row] for row in block.rows],
            "note": block.note,
        }
    return {
        "kind": "chart",
        "title": block.title,
        "categories": list(block.categories),
        "series": [{"name": s.name, "values": list(s.values)} for s in block.series],
        "unit": block.unit,
        "stacked": block.stacked,
        "reference_line": block.reference_line,
        "reference_label": block.reference_label,
    }


def block_from(data: dict[str, Any]) -> Block:
    kind = data["kind"]
    if kind == "paragraph":
        return Paragraph(data["text"], tuple(ref_from(r) for r in data.get("refs") or ()))
    if kind == "table":
        return Table(
            data["title"],
            tuple(data["columns"]),
            tuple(tuple(_cell_from(c) for c in row) for row in data["rows"]),
            data.get("note", ""),
        )
    if kind == "chart":
        return Chart(
            data["title"],
            tuple(data["categories"]),
            tuple(Series(s["name"], tuple(s["values"])) for s in data["series"]),
            data["unit"],
            bool(data.get("stacked")),
            data.get("reference_line"),
            data.get("reference_label", ""),
        )
    raise ValueError(f"unknown block kind {kind!r}")


def section_json(section: Section) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "blocks": [block_json(b) for b in section.blocks],
    }


def section_from(data: dict[str, Any]) -> Section:
    return Section(
        data["key"], data["title"], tuple(block_from(b) for b in data.get("blocks") or ())
    )


def narrative(section: Section) -> str:
    """The section's paragraphs as plain text, one paragraph per blank-line-separated block."""
    return "\n\n".join(p.text for p in section.paragraphs)


def with_text(section: Section, text: str | None) -> Section:
    """The section with `text` (a coordinator's edit) as its narrative: the edited paragraphs
    stand where the first generated paragraph stood; tables and charts stay as generated."""
    if text is None:
        return section
    edited = [Paragraph(p.strip()) for p in text.split("\n\n") if p.strip()]
    blocks: list[Block] = []
    placed = False
    for block in section.blocks:
        if isinstance(block, Paragraph):
            if not placed:
                blocks.extend(edited)
                placed = True
            continue
        blocks.append(block)
    if not placed:
        blocks = [*edited, *blocks]
    return Section(section.key, section.title, tuple(blocks))
