"""How a form's submissions lay out as tables, as ODK Central lays out its exports
(getodk/central-backend lib/data/briefcase.js): the top-level table and one per repeat, their
columns in form order and each answer's cell value. The web export (server/exports/submissions.py)
and Central's export URLs (server/exports/central_csv.py) write these tables; the submissions
pages show the same ones.

Columns. A question's header is its path below its table's row joined with "-" (a group's name,
then the question's: "loc-gps"), or with `group_paths=False` its own name only; a geopoint is
four columns (-Latitude, -Longitude, -Altitude, -Accuracy). The top-level table starts with
SubmissionDate and ends with Central's metadata (`CENTRAL_META`), to which the web export adds
ours (`OUR_META`); a repeat's table ends with PARENT_KEY and KEY. A select_multiple split into
choices (`with_choices`) is followed by a "<header>/<choice>" column per choice, 1 when chosen
and 0 otherwise.

Files. The top-level table is "<xmlFormId>", a repeat's "<xmlFormId>-<repeat name>", and when
two repeats share a name, "~1", "~2" in form order tell them apart, as in Central.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

GEO_PARTS = (("lat", "Latitude"), ("lon", "Longitude"), ("alt", "Altitude"), ("acc", "Accuracy"))
CENTRAL_META = (
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
)
# What the web export adds for the people who read it: where, when and how far along.
OUR_META = ("OrgUnit", "Cycle", "ProcessingStatus", "Demo")
TOP_META = CENTRAL_META + OUR_META
REPEAT_META = ("PARENT_KEY", "KEY")

# How a column's answer is read from a flattened row's JSON (server/exports/table_rows.py):
TEXT = "text"  # a string, as the database gives it
NUMBER = "number"  # an int or a decimal (or a geopoint's part): text in CSV, a number in XLSX
VALUE = "value"  # a select_multiple's list or a boolean: the JSON value, rendered by `cell`
POINTS = "points"  # a geotrace's or geoshape's points: the JSON value, rendered by `cell`
_NUMBER_TYPES = {"int", "integer", "decimal"}


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # the field's key in SubmissionRow.data
    part: str | None = None  # for a geopoint: lat, lon, alt or acc
    binary: bool = False
    read: str = TEXT  # TEXT, NUMBER, VALUE or POINTS
    multiple: bool = False  # a select_multiple (its answer is a list of choices)
    choice: str | None = None  # a select_multiple's split column: 1 if this choice was made


@dataclass(frozen=True)
class Table:
    """The top level (repeat_path "") or one repeat."""

    repeat_path: str
    name: str  # file stem or sheet name
    parent: str | None  # the enclosing repeat's path, "" for the top level; None for the top
    relative: str  # the repeat's path below its parent row, used in KEY
    columns: tuple[Column, ...]


def tables_for(
    schema: Sequence[dict[str, Any]], xml_form_id: str, *, group_paths: bool = True
) -> list[Table]:
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
        header = key.replace("/", "-") if group_paths else str(entry.get("name") or key)
        kind = _base_type(entry)
        if kind == "geopoint":
            columns[container].extend(
                Column(f"{header}-{label}", key, part, read=NUMBER) for part, label in GEO_PARTS
            )
            continue
        multiple = entry.get("select") == "multiple"
        if kind in ("geotrace", "geoshape"):
            read = POINTS
        elif multiple or kind == "boolean":
            read = VALUE
        elif kind in _NUMBER_TYPES:
            read = NUMBER
        else:
            read = TEXT
        columns[container].append(
            Column(header, key, binary=kind == "binary", read=read, multiple=multiple)
        )
    tables = [Table("", xml_form_id, None, "", tuple(columns[""]))]
    totals = Counter(str(r["name"]) for r in repeats)
    seen: Counter[str] = Counter()
    for entry in repeats:
        path, name = str(entry["path"]), str(entry["name"])
        parent = entry.get("repeat") or ""
        seen[name] += 1
        stem = f"{xml_form_id}-{name}" + (f"~{seen[name]}" if totals[name] > 1 else "")
        relative = path[len(roots[parent]) + 1 :]
        tables.append(Table(path, stem, parent, relative, tuple(columns[path])))
    return tables


def with_choices(
    tables: Sequence[Table], chosen: Mapping[tuple[str, str], Iterable[str]]
) -> list[Table]:
    """The tables with each select_multiple followed by a column per choice in `chosen`
    (keyed by (repeat_path, field key)), in the order given."""
    out = []
    for table in tables:
        columns: list[Column] = []
        for column in table.columns:
            columns.append(column)
            if column.multiple and column.choice is None:
                columns.extend(
                    replace(column, header=f"{column.header}/{value}", choice=value)
                    for value in chosen.get((table.repeat_path, column.key), ())
                )
        out.append(replace(table, columns=tuple(columns)))
    return out


def merged_fields(schemas: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One field list holding every field of `schemas` (oldest first), as Central's
    deletedFields=true merges its published versions: a field keeps its place from the first
    version that has it, a newer version's definition replaces an older one's, and a field new
    in a later version follows the field before it in that version."""
    merged: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    for schema in schemas:
        after = -1
        for entry in schema:
            path = str(entry["path"])
            if path in where:
                after = where[path]
                merged[after] = entry
                continue
            after += 1
            merged.insert(after, entry)
            where = {str(e["path"]): i for i, e in enumerate(merged)}
    return merged


def headers(table: Table, meta: Sequence[str] = TOP_META) -> list[str]:
    """The table's header row; `meta` is the top-level table's metadata columns."""
    names = [c.header for c in table.columns]
    if table.parent is None:
        return ["SubmissionDate", *names, *meta]
    return [*names, *REPEAT_META]


def cell(value: Any, column: Column) -> str | int | float | None:
    """One answer as it goes into a cell: numbers stay numbers, lists and locations become the
    text Collect sends."""
    if column.choice is not None:
        return 1 if isinstance(value, list) and column.choice in value else 0
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
