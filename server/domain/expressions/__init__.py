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

from server.domain.expressions.checking import (
    Scope,
    check,
    check_derived,
    type_phrase,
)
from server.domain.expressions.evaluation import (
    as_number,
    evaluate,
    row_values_for_form,
    truth,
)
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
    Number,
    Ref,
    Selected,
    Sum,
    parse_expression,
    references,
    unparse,
)

__all__ = [
    "NUMERIC_TYPES",
    "Arith",
    "Compare",
    "Const",
    "Count",
    "ExpressionError",
    "If",
    "Logic",
    "Node",
    "Not",
    "Number",
    "Ref",
    "Scope",
    "Selected",
    "Sum",
    "as_number",
    "check",
    "check_derived",
    "evaluate",
    "parse_expression",
    "references",
    "row_values_for_form",
    "truth",
    "type_phrase",
    "unparse",
]
