"""$filter: odata-query's syntax tree (server/domain/odata/options.py parses it) turned into one
SQL condition over the submissions and their flattened rows, typed, so a filter the database
could not run is refused before it gets there.

What a filter may name:
- a submission's metadata, on every table ($root/Submissions/... on a repeat's, as Central):
  __id, __system/submissionDate, updatedAt, deletedAt (date and time: compare with a date,
  a date and time, or their text), __system/submitterId (a number or its text),
  __system/reviewState (null, 'hasIssues', 'approved', 'rejected', 'edited'),
  __system/deviceId; on a repeat's table also its __Submissions-id (a repeat at the top
  level);
- a question of the table (or, with $root/Submissions/, of the submission's top level):
  numbers, text and single choices, dates, dates and times, yes/no (boolean); Central answers
  501 for every question, this server reads them from the worker's flattened rows;
- the operators eq, ne, lt, le, gt, ge, in, and, or, not and parentheses, and the functions
  year, month, day, hour, minute, second, now (Central's), contains, startswith, endswith,
  tolower, toupper, trim and length.

`__id eq '<instanceID>'` (and ne, in; a repeat's __Submissions-id likewise) finds the
submission that instanceID names: its first version's, as the feed shows it, or any later
one's; its other comparisons (lt, startswith, ...) read the current version's instanceID.

A name the table does not have is a 400; something it has but that cannot be filtered here (a
location, a select_multiple, a repeat row's hashed __id, arithmetic, other functions) is a 501;
comparing things of different kinds ("age eq 'ten'") is a 400. As in Central, deleted
submissions are left out unless the filter names __system/deletedAt. Times of day of the
metadata are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from odata_query import ast
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    and_,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    not_,
    or_,
    true,
)
from sqlalchemy.sql.expression import FromClause

from server.domain.odata.model import Node, Table
from server.domain.odata.options import DASH_MARKER, ROOT_MARKER
from server.domain.odata.selection import SYSTEM_FIELDS, property_not_found
from server.domain.problems import Problem
from server.models.submissions import ReviewState

# Central's names of review states (null: nobody reviewed it), and ours.
REVIEW_BY_CENTRAL = {
    "hasIssues": ReviewState.has_issues.value,
    "approved": ReviewState.approved.value,
    "rejected": ReviewState.rejected.value,
    "edited": "edited",
}
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
_PARTS = ("year", "month", "day", "hour", "minute", "second")
_TEXT_FUNCTIONS = {"contains", "startswith", "endswith"}
_COMPARATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


def unsupported(text: str, what: str) -> Problem:
    return Problem(
        501,
        "odata.unsupported_field",
        f"The given OData filter expression references fields not supported by this server: "
        f"{text} ({what}).",
        {"text": text},
    )


def unsupported_expression(kind: str, text: str) -> Problem:
    return Problem(
        501,
        "odata.unsupported_expression",
        f"The given OData filter expression uses features not supported by this server: "
        f"{kind} ({text}).",
        {"type": kind, "text": text},
    )


def mismatch(message: str) -> Problem:
    return Problem(400, "odata.filter_type", message)


@dataclass(frozen=True)
class Typed:
    """A filter operand: its SQL and its kind (number, string, date, datetime, boolean,
    review, submitter, null, condition); `value` holds a literal's Python value."""

    sql: Any
    kind: str
    name: str = ""
    literal: bool = False
    value: Any = None


@dataclass
class Sources:
    """What the condition reads: the submissions table, the table's own rows and the
    submission's top-level row (aliases of submission_rows the caller joins when used)."""

    submissions: FromClause
    own_rows: FromClause
    top_rows: FromClause
    dialect: str
    # The current version's row id of the submission named by an instanceID (its first, as
    # Central names it, or any later one), for `__id eq '...'`.
    current_row: Callable[[str], int | None] | None = None
    used_own: bool = False
    used_top: bool = False
    mentions_deleted: bool = False


@dataclass
class Compiled:
    condition: ColumnElement[bool]
    uses_own_rows: bool
    uses_top_rows: bool
    mentions_deleted: bool


def compile_filter(node: ast._Node, table: Table, main: Table, sources: Sources) -> Compiled:
    compiler = _Compiler(table, main, sources)
    result = compiler.condition(node)
    return Compiled(result, sources.used_own, sources.used_top, sources.mentions_deleted)


def _names(node: ast._Node) -> list[str] | None:
    if isinstance(node, ast.Identifier):
        return [p.replace(DASH_MARKER, "-") for p in (*node.namespace, node.name)]
    if isinstance(node, ast.Attribute):
        owner = _names(node.owner)
        return None if owner is None else [*owner, node.attr.replace(DASH_MARKER, "-")]
    return None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@dataclass
class _Compiler:
    table: Table
    main: Table
    src: Sources
    depth: int = field(default=0)

    # --- operands ------------------------------------------------------------------------

    def operand(self, node: ast._Node) -> Typed:
        if isinstance(node, ast.Identifier | ast.Attribute):
            return self.property(node)
        if isinstance(node, ast.Null):
            return Typed(None, "null", "null", True, None)
        if isinstance(node, ast.Integer | ast.Float):
            value = node.py_val
            if abs(value) >= 2**63:
                raise mismatch(f"The number {node.val} is out of range.")
            return Typed(literal(value), "number", node.val, True, value)
        if isinstance(node, ast.Boolean):
            return Typed(true() if node.py_val else false(), "boolean", node.val, True, node.py_val)
        if isinstance(node, ast.String):
            return Typed(literal(node.py_val), "string", repr(node.py_val), True, node.py_val)
        if isinstance(node, ast.Date):
            return Typed(None, "date", node.val, True, node.py_val)
        if isinstance(node, ast.DateTime):
            return Typed(None, "datetime", node.val, True, _utc(node.py_val))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Compare | ast.BoolOp | ast.UnaryOp):
            return Typed(self.condition(node), "condition", type(node).__name__)
        if isinstance(node, ast.BinOp):
            raise unsupported_expression("arithmetic", _text(node))
        raise unsupported_expression(type(node).__name__, _text(node))

    def property(self, node: ast._Node) -> Typed:
        names = _names(node)
        if names is None:
            raise unsupported_expression(type(node).__name__, _text(node))
        text = "/".join(names).replace(ROOT_MARKER, "$root/Submissions")
        on_root = names[0] == ROOT_MARKER
        if on_root:
            names = names[1:]
        if not names:
            raise property_not_found(text)
        primary_scope = on_root or self.table.primary
        sub = self.src.submissions.c
        # __system is the submission's on every table (Central asks for $root/Submissions/
        # on a repeat's; without it the meaning is the same).
        if names[0] == "__system":
            if len(names) != 2 or names[1] not in SYSTEM_FIELDS:
                raise property_not_found(text)
            return self.system(names[1], text)
        if names == ["__id"]:
            if primary_scope:
                return Typed(sub.instance_id, "instance", text)
            raise unsupported(text, "a repeat row's __id is a hash; filter on __Submissions-id")
        if not on_root and names == [self.table.parent_key]:
            assert self.table.parent is not None
            if self.table.parent.primary:
                return Typed(sub.instance_id, "instance", text)
            raise unsupported(text, "the key of a nested repeat's parent is a hash")
        table = self.main if on_root else self.table
        found = self.node_on(table, names, text)
        if on_root and not self.table.primary:
            self.src.used_top = True
            rows = self.src.top_rows
        else:
            self.src.used_own = True
            rows = self.src.own_rows
        return self.question(found, rows, text)

    def node_on(self, table: Table, names: Sequence[str], text: str) -> Node:
        nodes: Sequence[Node] = table.nodes
        found: Node | None = None
        for part in names:
            if found is not None and found.kind == "repeat":
                raise unsupported(text, "a question inside a repeat is in that repeat's table")
            found = next((n for n in nodes if n.odata == part), None)
            if found is None:
                raise property_not_found(text)
            nodes = found.children
        assert found is not None
        if found.kind != "field":
            raise mismatch(f"{text} is a {found.kind}: name one of its questions.")
        return found

    def system(self, name: str, text: str) -> Typed:
        sub = self.src.submissions.c
        if name == "submissionDate":
            return Typed(sub.received_at, "datetime", text)
        if name == "updatedAt":
            # Null until something happens to the submission after it came in, as shown.
            return Typed(case((sub.updated_at > sub.received_at, sub.updated_at)), "datetime", text)
        if name == "deletedAt":
            self.src.mentions_deleted = True
            return Typed(sub.deleted_at, "datetime", text)
        if name == "submitterId":
            return Typed(sub.submitter_id, "submitter", text)
        if name == "reviewState":
            return Typed(sub.review_state, "review", text)
        if name == "deviceId":
            return Typed(sub.device_id, "string", text)
        raise unsupported(
            text,
            "this metadata is not filterable; use submissionDate, "
            "updatedAt, deletedAt, submitterId, reviewState or deviceId",
        )

    def question(self, node: Node, rows: FromClause, text: str) -> Typed:
        if node.select_multiple:
            raise unsupported(text, "a select_multiple question")
        kind = node.type
        if kind in ("geopoint", "geotrace", "geoshape"):
            raise unsupported(text, "a location")
        data = rows.c.data
        key = node.key
        pg = self.src.dialect == "postgresql"
        if pg:
            element = data[key]
            text_sql = element.as_string()
            json_type = func.jsonb_typeof(element)
        else:
            path = f'$."{key}"'
            text_sql = func.json_extract(data, path)
            json_type = func.json_type(data, path)
        if kind in ("int", "integer", "decimal"):
            if pg:
                number = case((json_type == "number", element.as_float()))
            else:
                number = case((json_type.in_(("integer", "real")), text_sql))
            return Typed(number, "number", text)
        if kind == "boolean":
            if pg:
                flag = case((json_type == "boolean", element.as_boolean()))
            else:
                flag = case((json_type.in_(("true", "false")), cast(text_sql, Boolean)))
            return Typed(flag, "boolean", text)
        if kind == "date":
            return Typed(text_sql, "date", text)
        if kind == "dateTime":
            if pg:
                moment = case(
                    (text_sql.op("~")(_ISO_DATETIME), cast(text_sql, DateTime(timezone=True)))
                )
                return Typed(moment, "datetime", text)
            return Typed(func.datetime(text_sql), "datetime_text", text)
        return Typed(text_sql, "string", text)

    # --- functions -----------------------------------------------------------------------

    def call(self, node: ast.Call) -> Typed:
        name = node.func.name.lower()
        args = [self.operand(a) for a in node.args]
        text = _text(node)
        if name == "now" and not args:
            return Typed(func.now(), "datetime", "now()")
        if name in _PARTS and len(args) == 1:
            return Typed(self.part(name, args[0]), "number", text)
        if name in _TEXT_FUNCTIONS and len(args) == 2:
            subject, needle = args
            if subject.kind != "string" or needle.kind != "string" or not needle.literal:
                raise mismatch(f"{name}() takes a text property and a text in quotes: {text}")
            method = getattr(subject.sql, name)
            return Typed(method(needle.value, autoescape=True), "condition", text)
        if name in ("tolower", "toupper", "trim", "length") and len(args) == 1:
            (subject,) = args
            if subject.kind != "string":
                raise mismatch(f"{name}() takes text: {text}")
            sql = {
                "tolower": func.lower,
                "toupper": func.upper,
                "trim": func.trim,
                "length": func.length,
            }[name](subject.sql)
            return Typed(sql, "number" if name == "length" else "string", text)
        raise unsupported_expression(f"function {node.func.name}", text)

    def part(self, name: str, arg: Typed) -> Any:
        pg = self.src.dialect == "postgresql"
        if arg.literal:
            raise mismatch(f"{name}() takes a property of dates or times, not a literal.")
        if arg.kind == "datetime":
            sql = func.timezone("UTC", arg.sql) if pg else arg.sql
        elif arg.kind == "datetime_text":
            sql = arg.sql
        elif arg.kind == "date":
            if name in ("hour", "minute", "second"):
                raise mismatch(f"{name}() of a date: a date has no time of day.")
            sql = case((arg.sql.op("~")(_ISO_DATE), cast(arg.sql, Date))) if pg else arg.sql
        else:
            raise mismatch(f"{name}() takes a date or a date and time, not {arg.name}.")
        return extract(name, sql)

    # --- conditions ----------------------------------------------------------------------

    def condition(self, node: ast._Node) -> ColumnElement[bool]:
        self.depth += 1
        if self.depth > 200:
            raise Problem(400, "odata.unparseable_filter", "The filter is nested too deeply.")
        try:
            return self._condition(node)
        finally:
            self.depth -= 1

    def _condition(self, node: ast._Node) -> ColumnElement[bool]:
        if isinstance(node, ast.BoolOp):
            left, right = self.condition(node.left), self.condition(node.right)
            return and_(left, right) if isinstance(node.op, ast.And) else or_(left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return not_(self.condition(node.operand))
            raise unsupported_expression("negation of a number", _text(node))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        operand = self.operand(node)
        if operand.kind == "condition":
            return operand.sql
        if operand.kind == "boolean":
            return operand.sql if operand.literal else operand.sql.is_(True)
        raise mismatch(f"{operand.name} is not a condition: compare it with something.")

    def compare(self, node: ast.Compare) -> ColumnElement[bool]:
        if isinstance(node.comparator, ast.In):
            left = self.operand(node.left)
            if not isinstance(node.right, ast.List):
                raise mismatch("in takes a list of values in parentheses.")
            return or_(
                false(), *(self.pair(ast.Eq(), left, self.operand(v)) for v in node.right.val)
            )
        op = _COMPARATORS.get(type(node.comparator))
        if op is None:
            raise unsupported_expression(type(node.comparator).__name__, _text(node))
        return self.pair(node.comparator, self.operand(node.left), self.operand(node.right))

    def pair(self, comparator: ast._Comparator, left: Typed, right: Typed) -> ColumnElement[bool]:
        op = _COMPARATORS[type(comparator)]
        if left.literal and not right.literal:
            # "5 lt age" as "age gt 5": the literal's conversion follows the property's kind.
            flipped = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
            comparator = flipped.get(type(comparator), type(comparator))()
            return self.pair(comparator, right, left)
        equality = isinstance(comparator, ast.Eq | ast.NotEq)
        if right.kind == "null" or left.kind == "null":
            if not equality:
                raise mismatch("null can only be compared with eq or ne.")
            if left.kind == "null" and right.kind == "null":
                return true() if isinstance(comparator, ast.Eq) else false()
            subject = left if right.kind == "null" else right
            if subject.kind == "review":
                # Central's null review state is our "received".
                is_received = subject.sql == ReviewState.received.value
                return is_received if isinstance(comparator, ast.Eq) else not_(is_received)
            return (
                subject.sql.is_(None) if isinstance(comparator, ast.Eq) else subject.sql.isnot(None)
            )
        if left.kind == "instance" and right.kind == "string" and right.literal and equality:
            # A submission is named by the instanceID it was first sent with; an edit's row
            # has its own, so the name is looked up rather than compared.
            found = self.src.current_row(right.value) if self.src.current_row else None
            same = self.src.submissions.c.id == found if found is not None else false()
            return same if isinstance(comparator, ast.Eq) else not_(same)
        if left.kind == "instance":
            left = Typed(left.sql, "string", left.name)
        if right.kind == "instance":
            right = Typed(right.sql, "string", right.name)
        if right.literal:
            return op(left.sql, self.coerce(left, right, equality))
        if left.kind != right.kind or left.kind in ("condition", "review"):
            raise mismatch(f"{left.name} and {right.name} cannot be compared.")
        return op(left.sql, right.sql)

    def coerce(self, prop: Typed, value: Typed, equality: bool) -> Any:
        """The literal `value` as a SQL value of `prop`'s kind; 400 when it cannot be one."""
        kind = prop.kind
        given = value.kind
        if kind == "condition" and given == "boolean" and equality:
            return value.value
        if kind == "review":
            if not equality:
                raise mismatch("A review state can only be compared with eq, ne or in.")
            if given != "string" or value.value not in REVIEW_BY_CENTRAL:
                raise mismatch(
                    f"{value.name} is not a review state: use null, "
                    + ", ".join(f"'{k}'" for k in REVIEW_BY_CENTRAL)
                    + "."
                )
            return REVIEW_BY_CENTRAL[value.value]
        if kind == "submitter":
            number = value.value
            if given == "string" and str(number).isascii() and str(number).isdigit():
                number = int(number)
            if not isinstance(number, int) or isinstance(number, bool) or number >= 2**63:
                raise mismatch(f"{prop.name} is a user's number, not {value.name}.")
            return number
        if kind == "datetime":
            moment = self.moment(value, prop)
            return literal(moment, type_=self.src.submissions.c.received_at.type)
        if kind == "datetime_text":
            return func.datetime(self.moment(value, prop).isoformat())
        if kind == "date":
            if given == "date":
                return value.value.isoformat()
            if given == "string" and re.match(_ISO_DATE, str(value.value)):
                return value.value
            raise mismatch(f"{prop.name} is a date: compare it with a date (2024-03-31).")
        if kind == "number":
            if given != "number":
                raise mismatch(
                    f"{prop.name} is a number: compare it with a number, not {value.name}."
                )
            return cast(value.sql, Float) if self.src.dialect == "postgresql" else value.sql
        if kind == "boolean":
            if given != "boolean":
                raise mismatch(f"{prop.name} is true or false, not {value.name}.")
            return value.value
        if kind == "string":
            if given == "string":
                return value.value
            raise mismatch(
                f"{prop.name} is text: compare it with a text in quotes, not {value.name}."
            )
        raise mismatch(f"{prop.name} cannot be compared with {value.name}.")

    def moment(self, value: Typed, prop: Typed) -> dt.datetime:
        if value.kind == "datetime":
            return value.value
        if value.kind == "date":
            return dt.datetime.combine(value.value, dt.time(), tzinfo=dt.UTC)
        if value.kind == "string":
            try:
                return _utc(dt.datetime.fromisoformat(str(value.value).replace("Z", "+00:00")))
            except ValueError:
                pass
        raise mismatch(
            f"{prop.name} is a date and time: compare it with one (2024-03-31T00:00:00Z) "
            f"or a date, not {value.name}."
        )


def _text(node: ast._Node) -> str:
    """A short reading of a node for a message."""
    names = _names(node)
    if names is not None:
        return "/".join(names).replace(ROOT_MARKER, "$root/Submissions")
    if isinstance(node, ast.Call):
        return f"{node.func.name}(...)"
    if isinstance(node, ast.BinOp):
        return f"arithmetic ({type(node.op).__name__.lower()})"
    if isinstance(node, ast._Literal):
        return str(getattr(node, "val", type(node).__name__))
    return type(node).__name__
