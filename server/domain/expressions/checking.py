"""Checking an expression against a form's fields: names, types, repeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.domain.expressions.evaluation import as_number
from server.domain.expressions.syntax import (
    NUMERIC_TYPES,
    Arith,
    Compare,
    Const,
    Count,
    ExpressionError,
    If,
    Logic,
    Node,
    Not,
    Ref,
    Selected,
    Sum,
    unparse,
)

# --- Checking an expression against a form's fields ------------------------------------------

# Expression types: "number", "bool", "text" (a select_one or text answer), "multi"
# (a select_multiple answer), "repeat".


@dataclass
class Scope:
    form: str
    fields: dict[str, dict[str, Any]]
    derived: dict[str, Node]
    checking: list[str] = field(default_factory=list)  # derived names being checked, in order
    derived_types: dict[str, str] = field(default_factory=dict)


def _field_type(entry: dict[str, Any]) -> str:
    if entry.get("kind") == "repeat":
        return "repeat"
    if entry.get("kind") == "group":
        return "group"
    if entry.get("select") == "multiple":
        return "multi"
    if entry.get("select") == "one":
        choices = entry.get("choices") or []
        # A select_one whose choices are all numbers is an ordinal scale (e.g. scores 0-3).
        if choices and all(as_number(c) is not None for c in choices):
            return "number"
        return "text"
    if entry.get("type") in NUMERIC_TYPES and not entry.get("calculate"):
        return "number"
    return "text"


def _describe(entry: dict[str, Any]) -> str:
    if entry.get("calculate"):
        return "a calculate field (text in the XForm; refer to the questions it adds up)"
    if entry.get("select"):
        return f"a select_{entry['select']} question"
    return f"a question of type {entry.get('type', 'string')}"


def check(node: Node, scope: Scope) -> tuple[Node, str]:
    """Type-check a top-level expression against a form; returns the node with the repeats of
    its sum() and count() resolved, and its type ("number", "bool", "text", ...)."""
    checked, kind, _ = _check(node, scope, None)
    return checked, kind


def _check(node: Node, scope: Scope, repeat: str | None) -> tuple[Node, str, str | None]:
    """Type-check `node`; returns the node (with repeats resolved), its type, and the repeat
    its non-aggregated references live in (None for top level)."""
    if isinstance(node, Const):
        return node, ("text" if isinstance(node.value, str) else "number"), None
    if isinstance(node, Ref):
        return _check_ref(node, scope, repeat)
    if isinstance(node, Arith):
        left, lt, lr = _check(node.left, scope, repeat)
        right, rt, rr = _check(node.right, scope, repeat)
        for child, t in ((node.left, lt), (node.right, rt)):
            if t != "number":
                raise ExpressionError(
                    f"'{node.op}' needs numbers, but {_show(child, scope)} is {type_phrase(t)}"
                )
        return Arith(node.op, left, right), "number", _same_repeat(lr, rr)
    if isinstance(node, Compare):
        left, lt, lr = _check(node.left, scope, repeat)
        right, rt, rr = _check(node.right, scope, repeat)
        if node.op in {"<", "<=", ">", ">="} and (lt != "number" or rt != "number"):
            raise ExpressionError(f"'{node.op}' compares numbers only, in {_show(node, scope)}")
        if lt != rt or lt not in {"number", "text"}:
            raise ExpressionError(
                f"cannot compare {type_phrase(lt)} with {type_phrase(rt)} in {_show(node, scope)}"
            )
        _check_choice(node.left, node.right, scope)
        _check_choice(node.right, node.left, scope)
        return Compare(node.op, left, right), "bool", _same_repeat(lr, rr)
    if isinstance(node, Logic):
        checked = [_check(o, scope, repeat) for o in node.operands]
        for operand, (_, t, _) in zip(node.operands, checked, strict=True):
            if t != "bool":
                raise ExpressionError(
                    f"'{node.op}' needs conditions, but {_show(operand, scope)} is {type_phrase(t)}"
                )
        rep: str | None = None
        for _, _, r in checked:
            rep = _same_repeat(rep, r)
        return Logic(node.op, tuple(c[0] for c in checked)), "bool", rep
    if isinstance(node, Not):
        inner, t, r = _check(node.operand, scope, repeat)
        if t != "bool":
            raise ExpressionError(f"'not' needs a condition, not {type_phrase(t)}")
        return Not(inner), "bool", r
    if isinstance(node, If):
        cond, ct, cr = _check(node.cond, scope, repeat)
        then, tt, tr = _check(node.then, scope, repeat)
        other, ot, orr = _check(node.other, scope, repeat)
        if ct != "bool":
            raise ExpressionError(
                f"the first argument of if() must be a condition, not {type_phrase(ct)}"
            )
        if tt != "number" or ot != "number":
            raise ExpressionError("the two results of if() must be numbers")
        return If(cond, then, other), "number", _same_repeat(_same_repeat(cr, tr), orr)
    if isinstance(node, Sum):
        if repeat is not None:
            raise ExpressionError("sum() cannot be nested inside another sum()")
        inner, t, r = _check(node.inner, scope, "*")
        if r is None:
            raise ExpressionError(
                f"sum() runs over a repeat, but {_show(node.inner, scope)} "
                "refers to no question inside a repeat"
            )
        if t != "number":
            raise ExpressionError(f"sum() needs a number, but its argument is {type_phrase(t)}")
        return Sum(inner, r), "number", None
    if isinstance(node, Count):
        entry = _lookup(node.name, scope)
        if entry.get("kind") == "repeat":
            return Count(node.name, node.name), "number", None
        if entry.get("repeat") is None:
            raise ExpressionError(
                f"count() runs over a repeat, but {node.name!r} is not a repeat "
                "nor a question inside one"
            )
        return Count(node.name, _repeat_name(entry["repeat"])), "number", None
    if isinstance(node, Selected):
        entry = _lookup(node.name, scope)
        if not entry.get("select"):
            raise ExpressionError(
                f"selected() needs a select question, but {node.name!r} is {_describe(entry)}"
            )
        choices = entry.get("choices")
        if choices and node.choice not in choices:
            raise ExpressionError(
                f"{node.choice!r} is not a choice of {node.name!r} "
                f"(choices: {', '.join(map(str, choices))})"
            )
        rep = _repeat_name(entry["repeat"]) if entry.get("repeat") else None
        if rep is not None and repeat is None:
            raise ExpressionError(
                f"{node.name!r} is inside the repeat {rep!r}: use it inside sum() or count()"
            )
        return node, "bool", rep
    raise ExpressionError(f"unsupported expression {node!r}")  # pragma: no cover


def _check_ref(node: Ref, scope: Scope, repeat: str | None) -> tuple[Node, str, str | None]:
    entry = scope.fields.get(node.name)
    if entry is None and node.name in scope.derived:
        return node, check_derived(node.name, scope), None
    entry = _lookup(node.name, scope)
    t = _field_type(entry)
    if t in {"repeat", "group"}:
        raise ExpressionError(
            f"{node.name!r} is a {t}, not a question; use count({node.name}) for a repeat"
        )
    rep = _repeat_name(entry["repeat"]) if entry.get("repeat") else None
    if rep is not None and repeat is None:
        raise ExpressionError(
            f"{node.name!r} is inside the repeat {rep!r}: use sum({node.name}) or "
            f"count({node.name})"
        )
    if t == "text" and entry.get("calculate"):
        t = "calculated"
    return node, t, rep


def check_derived(name: str, scope: Scope) -> str:
    if name in scope.derived_types:
        return scope.derived_types[name]
    if name in scope.checking:
        cycle = [*scope.checking[scope.checking.index(name) :], name]
        raise ExpressionError(f"circular definition: {' -> '.join(cycle)}")
    scope.checking.append(name)
    try:
        _, t, _ = _check(scope.derived[name], scope, None)
    finally:
        scope.checking.pop()
    scope.derived_types[name] = t
    return t


def _lookup(name: str, scope: Scope) -> dict[str, Any]:
    entry = scope.fields.get(name)
    if entry is None:
        raise ExpressionError(f"unknown question {name!r} in form {scope.form!r}")
    return entry


def _check_choice(ref: Node, other: Node, scope: Scope) -> None:
    """Comparing a select answer with a string that is not one of its choices is a typo."""
    if not (isinstance(ref, Ref) and isinstance(other, Const) and isinstance(other.value, str)):
        return
    entry = scope.fields.get(ref.name)
    choices = entry.get("choices") if entry else None
    if choices and other.value not in choices:
        raise ExpressionError(
            f"{other.value!r} is not a choice of {ref.name!r} "
            f"(choices: {', '.join(map(str, choices))})"
        )


def _same_repeat(a: str | None, b: str | None) -> str | None:
    if a and b and a != b:
        raise ExpressionError(f"one sum() cannot mix the repeats {a!r} and {b!r}")
    return a or b


def _repeat_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def type_phrase(t: str) -> str:
    return {
        "number": "a number",
        "bool": "a condition",
        "text": "text (a text or select answer)",
        "multi": "a select_multiple answer (use selected())",
        "calculated": "a calculate field (text in the XForm; refer to the questions it adds up)",
    }.get(t, t)


def _show(node: Node, scope: Scope) -> str:
    if isinstance(node, Ref):
        entry = scope.fields.get(node.name)
        if entry is not None:
            return f"{node.name!r} ({_describe(entry)})"
        return repr(node.name)
    return repr(unparse(node))
