"""A flattened row as Central's OData JSON: every question of the table present (null when
unanswered), groups as nested objects, numbers as numbers, select_multiple as the space-separated
choices Collect sent, dates and times as text, and locations as GeoJSON (lon, lat, alt, with the
accuracy in `properties`) or, with $wkt=true, as Well-Known Text.

A table's `Plan` is worked out once per request; rendering a row then only walks it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.odata.model import Node

Converter = Callable[[Any], Any]
# Called for a repeat of the row being rendered, with the object it belongs in.
RepeatHook = Callable[[Node, dict[str, Any]], None]


def _number(value: float) -> str:
    """A coordinate as JavaScript prints it (Central's WKT): 32.0 is "32"."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _coordinates(point: Mapping[str, Any]) -> list[float] | None:
    lat, lon = point.get("lat"), point.get("lon")
    if lat is None or lon is None:
        return None
    out = [lon, lat]
    if point.get("alt") is not None:
        out.append(point["alt"])
    return out


def geopoint(value: Any, wkt: bool) -> Any:
    if not isinstance(value, Mapping):
        return value
    coordinates = _coordinates(value)
    if coordinates is None:
        return None
    if wkt:
        return f"POINT ({' '.join(_number(c) for c in coordinates)})"
    out: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if value.get("acc") is not None:
        out["properties"] = {"accuracy": value["acc"]}
    return out


def geo_line(value: Any, wkt: bool, polygon: bool) -> Any:
    if not isinstance(value, list):
        return value
    points = [p for p in value if isinstance(p, Mapping)]
    coords = [c for c in (_coordinates(p) for p in points) if c is not None]
    if wkt:
        text = ",".join(" ".join(_number(c) for c in point) for point in coords)
        return f"POLYGON (({text}))" if polygon else f"LINESTRING ({text})"
    out: dict[str, Any] = {
        "type": "Polygon" if polygon else "LineString",
        "coordinates": [coords] if polygon else coords,
    }
    accuracies = [p.get("acc") or None for p in points if _coordinates(p) is not None]
    if any(a is not None for a in accuracies):
        out["properties"] = {"accuracies": accuracies}
    return out


def date_time(value: Any) -> Any:
    """A dateTime as Collect writes it, with milliseconds and the offset ("...T14:05:00.000+03:00");
    the worker keeps it as Python's isoformat, which drops zero milliseconds."""
    if not isinstance(value, str):
        return value
    try:
        return dt.datetime.fromisoformat(value).isoformat(timespec="milliseconds")
    except ValueError:
        return value


def time_of_day(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return dt.time.fromisoformat(value).isoformat(timespec="milliseconds")
    except ValueError:
        return value


def _choices(value: Any) -> Any:
    return " ".join(str(v) for v in value) if isinstance(value, list) else value


def _same(value: Any) -> Any:
    return value


def converter(node: Node, wkt: bool) -> Converter:
    if node.select_multiple:
        return _choices
    kind = node.type
    if kind == "geopoint":
        return lambda v: geopoint(v, wkt)
    if kind in ("geotrace", "geoshape"):
        polygon = kind == "geoshape"
        return lambda v: geo_line(v, wkt, polygon)
    if kind == "dateTime":
        return date_time
    if kind == "time":
        return time_of_day
    return _same


@dataclass(frozen=True)
class Step:
    """One property of a plan: a field (key, convert), a group (its steps) or a repeat."""

    name: str
    node: Node
    key: str = ""
    convert: Converter = _same
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]


def plan(nodes: Sequence[Node], wkt: bool, only: Collection[str] | None = None) -> Plan:
    """How to render a row of a table with these nodes; `only` (schema paths) keeps the
    selected nodes and the groups around them ($select), None keeps all."""
    return Plan(_steps(nodes, wkt, only))


def _steps(nodes: Sequence[Node], wkt: bool, only: Collection[str] | None) -> tuple[Step, ...]:
    steps: list[Step] = []
    for node in nodes:
        if only is not None and node.path not in only:
            continue
        if node.kind == "field":
            steps.append(Step(node.odata, node, node.key, converter(node, wkt)))
        elif node.kind == "group":
            steps.append(Step(node.odata, node, steps=_steps(node.children, wkt, only)))
        else:
            steps.append(Step(node.odata, node))
    return tuple(steps)


def render(plan: Plan, data: Mapping[str, Any] | None, repeat: RepeatHook | None) -> dict[str, Any]:
    """The row's properties: `data` is its flattened answers (None before the worker has
    processed it: every question null, as Central shows a row it cannot read)."""
    return _render(plan.steps, data or {}, repeat)


def _render(
    steps: Sequence[Step], data: Mapping[str, Any], repeat: RepeatHook | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for step in steps:
        if step.steps or step.node.kind == "group":
            out[step.name] = _render(step.steps, data, repeat)
        elif step.node.kind == "repeat":
            if repeat is not None:
                repeat(step.node, out)
        else:
            value = data.get(step.key)
            out[step.name] = None if value is None else step.convert(value)
    return out


def timestamp(moment: dt.datetime | None) -> str | None:
    """A timestamp as Central writes it: UTC, milliseconds, "Z"."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
