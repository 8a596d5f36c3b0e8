"""Property: for any form and any valid answers, processing gives back exactly what was put in."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from server.domain.xform.flatten import FormSpec, process
from server.domain.xform.typed_answers import DECIMAL_LIMIT, INT_MAX, INT_MIN

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda n: n != "meta")
TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() != "")
FINITE = st.floats(allow_nan=False, allow_infinity=False)
# What an XForm can hold (server/domain/xform/typed_answers.py): beyond these is refused.
DECIMALS = st.floats(
    -DECIMAL_LIMIT, DECIMAL_LIMIT, allow_nan=False, exclude_min=True, exclude_max=True
)
OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
TYPES = [
    "string",
    "int",
    "decimal",
    "date",
    "dateTime",
    "time",
    "boolean",
    "geopoint",
    "one",
    "many",
]


def _value(draw: st.DrawFn, node: dict[str, Any]) -> tuple[str, Any]:
    """(text written in the XML, value expected in the row) for one answer."""
    kind = node["t"]
    if kind == "string":
        text = draw(TEXT)
        return text, text
    if kind == "int":
        number = draw(st.integers(INT_MIN, INT_MAX))
        return str(number), number
    if kind == "decimal":
        real = draw(DECIMALS)
        return repr(real), real
    if kind == "date":
        day = draw(st.dates())
        return day.isoformat(), day.isoformat()
    if kind == "dateTime":
        moment = draw(st.datetimes(timezones=OFFSETS))
        return moment.isoformat(), moment.isoformat()
    if kind == "time":
        clock = draw(st.times())
        return clock.isoformat(), clock.isoformat()
    if kind == "boolean":
        flag = draw(st.booleans())
        return ("true" if flag else "false"), flag
    if kind == "geopoint":
        lat = draw(st.floats(-90, 90))
        lon = draw(st.floats(-180, 180))
        alt, acc = draw(FINITE), draw(st.floats(0, 1e6))  # not bounded: not summed
        return f"{lat!r} {lon!r} {alt!r} {acc!r}", {"lat": lat, "lon": lon, "alt": alt, "acc": acc}
    if kind == "one":
        choice = draw(st.sampled_from(node["choices"]))
        return choice, choice
    picked = draw(st.lists(st.sampled_from(node["choices"]), min_size=1, unique=True))
    return " ".join(picked), picked


def _structure(draw: st.DrawFn, depth: int) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    nodes: list[dict[str, Any]] = []
    for name in names:
        kind = draw(st.sampled_from(["field"] * 4 + (["group", "repeat"] if depth < 3 else [])))
        node: dict[str, Any] = {"name": name, "kind": kind}
        if kind == "field":
            node["t"] = draw(st.sampled_from(TYPES))
            if node["t"] in ("one", "many"):
                node["choices"] = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
        else:
            node["children"] = _structure(draw, depth + 1)
        nodes.append(node)
    return nodes


def _schema(nodes: list[dict[str, Any]], path: str, repeat: str | None) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for node in nodes:
        node_path = f"{path}/{node['name']}"
        if node["kind"] == "field":
            select = {"one": "one", "many": "multiple"}.get(node["t"])
            fields.append(
                {
                    "path": node_path,
                    "name": node["name"],
                    "kind": "field",
                    "type": "string" if select else node["t"],
                    "required": False,
                    "relevant": None,
                    "calculate": False,
                    "repeat": repeat,
                    "select": select,
                    "choices": node.get("choices"),
                    "choices_file": None,
                }
            )
        else:
            fields.append(
                {"path": node_path, "name": node["name"], "kind": node["kind"], "repeat": repeat}
            )
            inner = node_path if node["kind"] == "repeat" else repeat
            fields.extend(_schema(node["children"], node_path, inner))
    return fields


class _Expected:
    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int | None, dict[str, Any]]] = []
        self.counters: Counter[str] = Counter()


def _fill(
    draw: st.DrawFn,
    nodes: list[dict[str, Any]],
    parent: etree._Element,
    path: str,
    key_prefix: str,
    row: dict[str, Any],
    row_position: int | None,
    expected: _Expected,
) -> None:
    for node in nodes:
        node_path = f"{path}/{node['name']}"
        key = f"{key_prefix}{node['name']}"
        if node["kind"] == "field":
            presence = draw(st.sampled_from(["answered", "answered", "empty", "absent"]))
            if presence == "absent":
                continue
            element = etree.SubElement(parent, node["name"])
            if presence == "empty":
                row[key] = None
            else:
                element.text, row[key] = _value(draw, node)
        elif node["kind"] == "group":
            element = etree.SubElement(parent, node["name"])
            _fill(
                draw, node["children"], element, node_path, f"{key}/", row, row_position, expected
            )
        else:
            for _ in range(draw(st.integers(0, 3))):
                expected.counters[node_path] += 1
                position = expected.counters[node_path]
                data: dict[str, Any] = {}
                expected.rows.append((node_path, position, row_position, data))
                element = etree.SubElement(parent, node["name"])
                _fill(draw, node["children"], element, node_path, "", data, position, expected)


@st.composite
def forms_and_submissions(draw: st.DrawFn) -> tuple[FormSpec, bytes, list[Any]]:
    nodes = _structure(draw, 0)
    spec = FormSpec("prop", "7", _schema(nodes, "/data", None))
    root = etree.Element("data", id="prop", version="7")
    expected = _Expected()
    top: dict[str, Any] = {}
    expected.rows.append(("", 0, None, top))
    _fill(draw, nodes, root, "/data", "", top, None, expected)
    # Rows come out in document order: a repeat instance before the rows nested in it.
    return spec, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), expected.rows


@settings(max_examples=300, deadline=None)
@given(forms_and_submissions())
def test_valid_answers_round_trip_through_processing(case: tuple[FormSpec, bytes, Any]) -> None:
    spec, xml, expected_rows = case
    result = process(xml, spec)
    assert [p.message for p in result.problems] == []
    rows = [(r.repeat_path, r.position, r.parent_position, r.data) for r in result.rows]
    assert sorted(rows, key=_order) == sorted(expected_rows, key=_order)


def _order(row: tuple[str, int, int | None, dict[str, Any]]) -> tuple[str, int]:
    return row[0], row[1]


FIELD = {"path": "/data/q", "name": "q", "kind": "field", "repeat": None}


@given(
    number=st.integers().filter(lambda n: not INT_MIN <= n <= INT_MAX),
    zeros=st.integers(0, 20),
)
@settings(max_examples=200)
def test_whole_numbers_beyond_an_xform_int_are_refused_naming_the_field(
    number: int, zeros: int
) -> None:
    text = ("-" if number < 0 else "") + "0" * zeros + str(abs(number))
    spec = FormSpec("f", "", [{**FIELD, "type": "int"}])
    result = process(f'<data id="f"><q>{text}</q></data>'.encode(), spec)
    assert not result.ok
    assert result.failure_reason().startswith("q: ")
    assert "out of range for a whole number" in result.failure_reason()


@given(
    real=st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) >= DECIMAL_LIMIT)
)
def test_decimals_beyond_the_limit_are_refused(real: float) -> None:
    spec = FormSpec("f", "", [{**FIELD, "type": "decimal"}])
    result = process(f'<data id="f"><q>{real!r}</q></data>'.encode(), spec)
    assert not result.ok
    assert "too large a number" in result.failure_reason()


def test_a_long_value_is_shortened_in_the_reason_but_keeps_its_ends() -> None:
    text = "9" * 44 + "1"
    spec = FormSpec("f", "", [{**FIELD, "type": "int"}])
    reason = process(f'<data id="f"><q>{text}</q></data>'.encode(), spec).failure_reason()
    assert "'99999999999999999999...99999991'" in reason
    assert process(b'<data id="f"><q>0002147483647</q></data>', spec).ok
