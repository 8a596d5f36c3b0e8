"""How a form's submissions lay out as tables, as ODK Central lays out its exports: the
top-level table and one per repeat, their columns in form order and each answer's cell value
(server/exports/submissions.py writes them to CSV and XLSX; the submissions pages show the same
tables).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GEO_PARTS = (("lat", "Latitude"), ("lon", "Longitude"), ("alt", "Altitude"), ("acc", "Accuracy"))
TOP_META = (
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
    "OrgUnit",
    "Cycle",
    "ProcessingStatus",
    "Demo",
)


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # the field's key in SubmissionRow.data
    part: str | None = None  # for a geopoint: lat, lon, alt or acc
    binary: bool = False


@dataclass(frozen=True)
class Table:
    """The top level (repeat_path "") or one repeat."""

    repeat_path: str
    name: str  # file stem or sheet name
    parent: str | None  # the enclosing repeat's path, "" for the top level; None for the top
    relative: str  # the repeat's path below its parent row, used in KEY
    columns: tuple[Column, ...]


def tables_for(schema: Sequence[dict[str, Any]], xml_form_id: str) -> list[Table]:
    """The export's tables for a form version's field list, parents before their repeats."""
    root = _root(schema)
    repeats = [e for e in schema if e.get("kind") == "repeat"]
    roots = {"": root, **{str(r["path"]): str(r["path"]) for r in repeats}}
    columns: dict[str, list[Column]] = defaultdict(list)
    for entry in schema:
        if entry.get("kind") != "field":
            continue
        container = entry.get("repeat") or ""
        key = str(entry["path"])[len(roots[container]) + 1 :]
        header = key.replace("/", "-")
        if _base_type(entry) == "geopoint":
            columns[container].extend(
                Column(f"{header}-{label}", key, part) for part, label in GEO_PARTS
            )
        else:
            columns[container].append(Column(header, key, binary=_base_type(entry) == "binary"))
    tables = [Table("", xml_form_id, None, "", tuple(columns[""]))]
    used = {xml_form_id}
    for entry in repeats:
        path = str(entry["path"])
        parent = entry.get("repeat") or ""
        name = f"{xml_form_id}-{entry['name']}"
        if name in used:  # two repeats of one name in different groups
            name = f"{xml_form_id}-{path[len(root) + 1 :].replace('/', '-')}"
        used.add(name)
        relative = path[len(roots[parent]) + 1 :]
        tables.append(Table(path, name, parent, relative, tuple(columns[path])))
    return tables


def headers(table: Table) -> list[str]:
    names = [c.header for c in table.columns]
    if table.parent is None:
        return ["SubmissionDate", *names, *TOP_META]
    return [*names, "PARENT_KEY", "KEY"]


def cell(value: Any, column: Column) -> str | int | float | None:
    """One answer as it goes into a cell: numbers stay numbers, lists and locations become the
    text Collect sends."""
    if column.part is not None:
        return value.get(column.part) if isinstance(value, dict) else None
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        if value and isinstance(value[0], dict):  # geotrace / geoshape
            return ";".join(_point(p) for p in value)
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return _point(value)
    return str(value)


def _point(p: dict[str, Any]) -> str:
    return " ".join(_number(p.get(k)) for k in ("lat", "lon", "alt", "acc") if p.get(k) is not None)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _base_type(entry: dict[str, Any]) -> str:
    return str(entry.get("type") or "string").rsplit(":", 1)[-1]


def _root(schema: Sequence[dict[str, Any]]) -> str:
    for entry in schema:
        return "/" + str(entry["path"]).split("/")[1]
    return "/data"
