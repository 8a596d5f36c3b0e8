"""The operands of a $filter (server/queries/odata_filter.py): the properties it names (a
submission's metadata, a table's questions read from the flattened rows with each database's
JSON functions), its literals and its functions, each as SQL with its kind, so the comparisons
can be checked before the database sees them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from odata_query import ast
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    true,
)
from sqlalchemy.sql.expression import FromClause

from server.domain.odata.model import Node, Table
from server.domain.odata.options import DASH_MARKER, ROOT_MARKER
from server.domain.odata.selection import SYSTEM_FIELDS, property_not_found
from server.domain.problems import Problem

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
_PARTS = ("year", "month", "day", "hour", "minute", "second")
_TEXT_FUNCTIONS = {"contains", "startswith", "endswith"}


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


def names_of(node: ast._Node) -> list[str] | None:
    if isinstance(node, ast.Identifier):
        return [p.replace(DASH_MARKER, "-") for p in (*node.namespace, node.name)]
    if isinstance(node, ast.Attribute):
        owner = names_of(node.owner)
        return None if owner is None else [*owner, node.attr.replace(DASH_MARKER, "-")]
    return None


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@dataclass
class Terms:
    """Reads a filter's operands for one table (and the submissions' top level)."""

    table: Table
    main: Table
    src: Sources
    depth: int = field(default=0)

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
            return Typed(None, "datetime", node.val, True, utc(node.py_val))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Compare | ast.BoolOp | ast.UnaryOp):
            return Typed(self.condition(node), "condition", type(node).__name__)
        if isinstance(node, ast.BinOp):
            raise unsupported_expression("arithmetic", describe(node))
        raise unsupported_expression(type(node).__name__, describe(node))

    def property(self, node: ast._Node) -> Typed:
        names = names_of(node)
        if names is None:
            raise unsupported_expression(type(node).__name__, describe(node))
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
                    (text_sql.op("~")(ISO_DATETIME), cast(text_sql, DateTime(timezone=True)))
                )
                return Typed(moment, "datetime", text)
            return Typed(func.datetime(text_sql), "datetime_text", text)
        return Typed(text_sql, "string", text)

    def call(self, node: ast.Call) -> Typed:
        name = node.func.name.lower()
        args = [self.operand(a) for a in node.args]
        text = describe(node)
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
            sql = case((arg.sql.op("~")(ISO_DATE), cast(arg.sql, Date))) if pg else arg.sql
        else:
            raise mismatch(f"{name}() takes a date or a date and time, not {arg.name}.")
        return extract(name, sql)

    def condition(self, node: ast._Node) -> ColumnElement[bool]:
        """A condition inside an operand (the compiler's)."""
        raise NotImplementedError


def describe(node: ast._Node) -> str:
    """A short reading of a node for a message."""
    names = names_of(node)
    if names is not None:
        return "/".join(names).replace(ROOT_MARKER, "$root/Submissions")
    if isinstance(node, ast.Call):
        return f"{node.func.name}(...)"
    if isinstance(node, ast.BinOp):
        return f"arithmetic ({type(node.op).__name__.lower()})"
    if isinstance(node, ast._Literal):
        return str(getattr(node, "val", type(node).__name__))
    return type(node).__name__
