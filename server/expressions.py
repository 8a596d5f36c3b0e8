"""The expression language of the indicator catalog: parsing, checking against a form, and
evaluation on one submission.

    numbers         12   0.5
    strings         'none'          (only to compare with a select answer, or in selected())
    question names  teachers_payroll          (plain names, exactly as in the XLSForm)
    arithmetic      + - * /  and parentheses
    comparisons     == != < <= > >=
    logic           and  or  not
    functions       if(cond, a, b)
                    sum(expr)       expr summed over the instances of the repeat it refers to
                    count(name)     instances of a repeat, or non-empty answers of a repeat field
                    selected(name, 'choice')   for select_multiple (and select_one) answers

A name that is not a question of the form may be a derived value of the catalog defined for the
same form (e.g. `pupils` = the sum of the 14 enrolment questions).

Expressions are parsed with Python's `ast` module and then converted to a small tree of our own
node types; anything outside the allow-list (attributes, subscripts, calls to other functions,
lambdas...) is refused. Nothing is ever passed to eval().

Evaluation follows the rules the aggregations need: a missing or empty answer makes the result
None, so does a division by zero; logic is three-valued (unknown stays unknown unless the known
operands decide).
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Number = int | float
NUMERIC_TYPES = {"int", "integer", "decimal"}


class ExpressionError(ValueError):
    """An expression is not in the catalog's language or does not fit the form."""


# --- Expression tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    value: Number | str


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic:
    op: str  # and, or
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class If:
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True)
class Sum:
    inner: Node
    # The repeat the sum runs over, set when the expression is checked against a form.
    repeat: str | None = None


@dataclass(frozen=True)
class Count:
    name: str
    repeat: str | None = None


@dataclass(frozen=True)
class Selected:
    name: str
    choice: str


Node = Const | Ref | Arith | Compare | Logic | Not | If | Sum | Count | Selected
_NODE_TYPES = (Const, Ref, Arith, Compare, Logic, Not, If, Sum, Count, Selected)

_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_IF = "if_"


def _rename_if(source: str) -> str:
    """`if` is a Python keyword, so `if(` becomes `if_(` before parsing (strings untouched)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise ExpressionError(f"cannot read {source!r}: {exc}") from None
    out = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            tok.type == tokenize.NAME
            and tok.string == "if"
            and nxt is not None
            and nxt.string == "("
        ):
            tok = tok._replace(string=_IF)
        out.append(tok)
    # Offsets shift by one character per rename; untokenize in compatibility mode copes.
    return tokenize.untokenize((t.type, t.string) for t in out).strip()


def parse_expression(source: str | Number) -> Node:
    """Parse an expression of the catalog language, or raise ExpressionError."""
    if isinstance(source, bool):
        raise ExpressionError(f"{source!r} is not an expression")
    if isinstance(source, int | float):
        return Const(source)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("the expression is empty")
    if "${" in source:
        raise ExpressionError(f"write question names plainly, without ${{...}}: {source.strip()!r}")
    text = _rename_if(source)
    try:
        tree = ast.parse(text, mode="eval")
        return _convert(tree.body, source.strip())
    except SyntaxError as exc:
        raise ExpressionError(f"cannot read {source.strip()!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"the expression is nested too deeply: {source[:60]!r}...") from None


def _convert(node: ast.AST, source: str) -> Node:
    def bad(what: str) -> ExpressionError:
        return ExpressionError(f"{what} is not allowed in {source!r}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
            raise bad(f"the constant {node.value!r}")
        return Const(node.value)
    if isinstance(node, ast.Name):
        if node.id == _IF:
            raise bad("'if' without arguments")
        return Ref(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        return Arith(
            _ARITH[type(node.op)], _convert(node.left, source), _convert(node.right, source)
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _convert(node.operand, source)
        if isinstance(operand, Const) and not isinstance(operand.value, str):
            return Const(-operand.value)
        return Arith("-", Const(0), operand)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_convert(node.operand, source))
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return Logic(op, tuple(_convert(v, source) for v in node.values))
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            raise bad("a chained or unsupported comparison")
        return Compare(
            _COMPARE[type(node.ops[0])],
            _convert(node.left, source),
            _convert(node.comparators[0], source),
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name, args = node.func.id, node.args
        if name == _IF:
            if len(args) != 3:
                raise ExpressionError(f"if() takes 3 arguments (cond, a, b) in {source!r}")
            return If(*(_convert(a, source) for a in args))
        if name == "sum":
            if len(args) != 1:
                raise ExpressionError(f"sum() takes 1 argument in {source!r}")
            return Sum(_convert(args[0], source))
        if name == "count":
            if len(args) != 1 or not isinstance(args[0], ast.Name):
                raise ExpressionError(
                    f"count() takes the name of a repeat or repeat question in {source!r}"
                )
            return Count(args[0].id)
        if name == "selected":
            if (
                len(args) != 2
                or not isinstance(args[0], ast.Name)
                or not isinstance(args[1], ast.Constant)
                or not isinstance(args[1].value, str)
            ):
                raise ExpressionError(
                    f"selected() takes a question name and a quoted choice in {source!r}"
                )
            return Selected(args[0].id, args[1].value)
        raise bad(f"the function {name}()")
    raise bad(f"'{ast.unparse(node)}'")


def references(node: Node) -> set[str]:
    """Every name an expression reads."""
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Count | Selected):
        return {node.name}
    if isinstance(node, Const):
        return set()
    found: set[str] = set()
    for child in _children(node):
        found |= references(child)
    return found


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Arith | Compare):
        return (node.left, node.right)
    if isinstance(node, Logic):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, If):
        return (node.cond, node.then, node.other)
    if isinstance(node, Sum):
        return (node.inner,)
    return ()


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


def unparse(node: Node) -> str:
    """The expression as text, fully parenthesised where it matters."""
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Arith | Compare):
        return f"({unparse(node.left)} {node.op} {unparse(node.right)})"
    if isinstance(node, Logic):
        return "(" + f" {node.op} ".join(unparse(o) for o in node.operands) + ")"
    if isinstance(node, Not):
        return f"not {unparse(node.operand)}"
    if isinstance(node, If):
        return f"if({unparse(node.cond)}, {unparse(node.then)}, {unparse(node.other)})"
    if isinstance(node, Sum):
        return f"sum({unparse(node.inner)})"
    if isinstance(node, Count):
        return f"count({node.name})"
    return f"selected({node.name}, {node.choice!r})"


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
