"""The expression tree and its parser (see the package docstring for the language)."""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

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
