"""Evaluating an expression on one submission's values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from server.domain.expressions.syntax import (
    _NODE_TYPES,
    Arith,
    Compare,
    Const,
    Count,
    ExpressionError,
    If,
    Logic,
    Node,
    Not,
    Number,
    Ref,
    Selected,
    Sum,
    parse_expression,
    references,
)

# --- Evaluation on one submission -------------------------------------------------------------


def as_number(value: Any) -> Number | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def evaluate(
    expr: Node | str | Number,
    row_values: Mapping[str, Any],
    derived: Mapping[str, Node] | None = None,
) -> Number | bool | None:
    """Evaluate an expression on one submission.

    `row_values` maps question names to answers (strings as in the XML, or numbers); groups
    are flattened away and each repeat maps to a list of its instances, each a mapping of the
    same kind: {"district": "UG-101", "staffing": [{"department": "health", ...}, ...]}.
    A missing or empty answer, or a division by zero, gives None.
    """
    node = expr if isinstance(expr, _NODE_TYPES) else parse_expression(expr)
    return _eval(node, row_values, derived or {}, ())


def _eval(
    node: Node,
    row: Mapping[str, Any],
    derived: Mapping[str, Node],
    stack: tuple[str, ...],
) -> Any:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Ref):
        if node.name not in row and node.name in derived:
            if node.name in stack:
                raise ExpressionError(f"circular definition: {' -> '.join((*stack, node.name))}")
            return _eval(derived[node.name], row, derived, (*stack, node.name))
        value = row.get(node.name)
        return None if _empty(value) else value
    if isinstance(node, Arith):
        left = as_number(_eval(node.left, row, derived, stack))
        right = as_number(_eval(node.right, row, derived, stack))
        if left is None or right is None:
            return None
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return None if right == 0 else left / right
    if isinstance(node, Compare):
        return _compare(
            node.op,
            _eval(node.left, row, derived, stack),
            _eval(node.right, row, derived, stack),
        )
    if isinstance(node, Logic):
        # Three-valued logic: an unknown operand decides nothing the known ones already decide.
        values = [truth(_eval(o, row, derived, stack)) for o in node.operands]
        if node.op == "and":
            if any(v is False for v in values):
                return False
            return None if any(v is None for v in values) else True
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False
    if isinstance(node, Not):
        value = truth(_eval(node.operand, row, derived, stack))
        return None if value is None else not value
    if isinstance(node, If):
        cond = truth(_eval(node.cond, row, derived, stack))
        if cond is None:
            return None
        return _eval(node.then if cond else node.other, row, derived, stack)
    if isinstance(node, Sum):
        instances = _instances(row, node.repeat, references(node.inner))
        if instances is None:
            return None
        total: Number = 0
        for instance in instances:
            scoped = {**row, **instance}
            value = as_number(_eval(node.inner, scoped, derived, stack))
            if value is not None:
                total += value
        return total
    if isinstance(node, Count):
        if node.name in row and isinstance(row[node.name], list):
            return len(row[node.name])
        instances = _instances(row, node.repeat, {node.name})
        if instances is None:
            return None
        return sum(1 for i in instances if not _empty(i.get(node.name)))
    if isinstance(node, Selected):
        value = row.get(node.name)
        if _empty(value):
            return None
        chosen = value if isinstance(value, list | tuple) else str(value).split()
        return node.choice in chosen
    raise ExpressionError(f"unsupported expression {node!r}")  # pragma: no cover


def _instances(
    row: Mapping[str, Any], repeat: str | None, names: Iterable[str]
) -> list[Mapping[str, Any]] | None:
    """The repeat instances an aggregate runs over: the named repeat when the expression was
    checked against the form, else the one repeat whose instances hold the names read."""
    if repeat is not None:
        value = row.get(repeat)
        return list(value) if isinstance(value, list) else None
    wanted = set(names)
    for value in row.values():
        if isinstance(value, list) and any(
            isinstance(i, Mapping) and wanted & set(i) for i in value
        ):
            return list(value)
    return None


def truth(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    number = as_number(value)
    return None if number is None else number != 0


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    ln, rn = as_number(left), as_number(right)
    if ln is not None and rn is not None:
        a: Any = ln
        b: Any = rn
    elif op in {"==", "!="}:
        a, b = str(left), str(right)
    else:
        return None
    return {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def row_values_for_form(data: Any, fields: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The evaluate() row of a submission's instance element (lxml) and its form's field list:
    leaves by question name, groups flattened away (names are unique in an XLSForm, so nothing
    is lost), each repeat a list of instance rows, even when it has one instance or none."""
    repeats = {f["name"] for f in fields if f.get("kind") == "repeat"}

    def walk(element: Any, row: dict[str, Any]) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = child.tag.rsplit("}", 1)[-1]
            if name in repeats:
                inner: dict[str, Any] = {}
                walk(child, inner)
                row.setdefault(name, []).append(inner)
            elif len(child):
                walk(child, row)
            else:
                row[name] = child.text or ""

    row: dict[str, Any] = {}
    walk(data, row)
    for name in repeats:
        row.setdefault(name, [])
    return row
