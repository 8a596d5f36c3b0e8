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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from odata_query import ast
from sqlalchemy import ColumnElement, Float, and_, cast, false, func, literal, not_, or_, true

from server.domain.odata.model import Table
from server.domain.problems import Problem
from server.models.submissions import ReviewState
from server.queries.odata_filter_terms import (
    ISO_DATE,
    Sources,
    Terms,
    Typed,
    describe,
    mismatch,
    unsupported_expression,
    utc,
)

# Central's names of review states (null: nobody reviewed it), and ours.
REVIEW_BY_CENTRAL = {
    "hasIssues": ReviewState.has_issues.value,
    "approved": ReviewState.approved.value,
    "rejected": ReviewState.rejected.value,
    "edited": "edited",
}
_COMPARATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


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


@dataclass
class _Compiler(Terms):
    """Turns a filter's conditions and comparisons into SQL."""

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
            raise unsupported_expression("negation of a number", describe(node))
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
            raise unsupported_expression(type(node.comparator).__name__, describe(node))
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
            if given == "string" and re.match(ISO_DATE, str(value.value)):
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
                return utc(dt.datetime.fromisoformat(str(value.value).replace("Z", "+00:00")))
            except ValueError:
                pass
        raise mismatch(
            f"{prop.name} is a date and time: compare it with one (2024-03-31T00:00:00Z) "
            f"or a date, not {value.name}."
        )
