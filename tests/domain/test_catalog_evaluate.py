"""server.domain.expressions: the catalog's expression language on one submission's values."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.expressions import (
    Arith,
    Compare,
    Const,
    ExpressionError,
    If,
    Node,
    Ref,
    Sum,
    evaluate,
    parse_expression,
    row_values_for_form,
    unparse,
)
from server.domain.xform.safe_xml import parse

ROW: dict[str, Any] = {
    "pupils": "420",
    "teachers": "8",
    "zero": "0",
    "empty": "",
    "ratio": "2.5",
    "ownership": "government",
    "services": "anc deliveries",
    "staffing": [
        {"department": "health", "approved": "10", "filled": "7"},
        {"department": "education", "approved": "20", "filled": "15"},
        {"department": "health", "approved": "5", "filled": ""},
    ],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("pupils / teachers", 52.5),
        ("pupils + teachers * 2", 436),
        ("(pupils + teachers) * 2", 856),
        ("pupils - 20 - 100", 300),
        ("-teachers + 10", 2),
        ("ratio * 2", 5.0),
        ("12", 12),
        ("pupils > 400", True),
        ("pupils == 420", True),
        ("pupils != '420'", False),
        ("ownership == 'government'", True),
        ("ownership != 'private'", True),
        ("if(pupils > 400, 1, 0)", 1),
        ("if(pupils > 500, 1, 0)", 0),
        ("teachers > 5 and pupils > 5", True),
        ("teachers > 50 or pupils > 500", False),
        ("not teachers > 50", True),
        ("selected(services, 'anc')", True),
        ("selected(services, 'art')", False),
        ("sum(filled)", 22),
        ("sum(approved)", 35),
        ("sum(if(department == 'health', approved, 0))", 15),
        ("count(staffing)", 3),
        ("count(filled)", 2),
        ("sum(filled) / sum(approved) * 100", 22 / 35 * 100),
    ],
)
def test_hand_computed(expr: str, expected: Any) -> None:
    result = evaluate(expr, ROW)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
    else:
        assert result == expected
        assert type(result) is type(expected)


@pytest.mark.parametrize(
    "expr",
    [
        "pupils / zero",  # division by zero
        "pupils / empty",  # empty answer
        "pupils + missing",  # question not answered (not relevant)
        "missing > 3",
        "if(missing > 3, 1, 0)",
        "ownership + 1",  # text where a number is needed
        "selected(missing, 'anc')",
        "sum(nothing_in_any_repeat)",
    ],
)
def test_unknowns_give_none(expr: str) -> None:
    assert evaluate(expr, ROW) is None


def test_three_valued_logic() -> None:
    assert evaluate("missing > 1 and teachers > 50", ROW) is False
    assert evaluate("missing > 1 or teachers > 5", ROW) is True
    assert evaluate("missing > 1 and teachers > 5", ROW) is None
    assert evaluate("not missing > 1", ROW) is None


def test_empty_repeat_sums_to_zero() -> None:
    row = {"staffing": []}
    parsed = parse_expression("sum(filled)")
    # Checked against a form, sum() knows its repeat even when it has no instances.
    assert isinstance(parsed, Sum)
    assert evaluate(Sum(parsed.inner, "staffing"), row) == 0
    assert evaluate(Sum(parsed.inner, "staffing"), {}) is None


def test_derived_values() -> None:
    derived = {
        "total": parse_expression("pupils + 80"),
        "per_teacher": parse_expression("total / teachers"),
    }
    assert evaluate("per_teacher", ROW, derived) == 62.5
    # A question answered in the row wins over nothing; a loop is refused, not recursed forever.
    loop = {"a": parse_expression("b + 1"), "b": parse_expression("a + 1")}
    with pytest.raises(ExpressionError, match="circular definition: a -> b -> a"):
        evaluate("a", {}, loop)


def test_row_values_for_form_keeps_single_repeats_as_lists() -> None:
    xml = (
        b"<data id='f'><cycle>2026/27</cycle><grp><n>3</n></grp>"
        b"<staffing><filled>4</filled></staffing><meta><instanceID>uuid:1</instanceID></meta>"
        b"</data>"
    )
    fields = [
        {"name": "cycle", "kind": "field"},
        {"name": "grp", "kind": "group"},
        {"name": "n", "kind": "field"},
        {"name": "staffing", "kind": "repeat"},
        {"name": "other_repeat", "kind": "repeat"},
    ]
    row = row_values_for_form(parse(xml), fields)
    assert row == {
        "cycle": "2026/27",
        "n": "3",
        "staffing": [{"filled": "4"}],
        "instanceID": "uuid:1",
        "other_repeat": [],
    }
    assert evaluate("sum(filled) + n", row) == 7


small = st.integers(min_value=-(10**6), max_value=10**6)


@given(small, small)
def test_arithmetic_matches_python(a: int, b: int) -> None:
    row = {"a": str(a), "b": b}
    assert evaluate("a + b", row) == a + b
    assert evaluate("a - b", row) == a - b
    assert evaluate("a * b", row) == a * b
    result = evaluate("a / b", row)
    if b == 0:
        assert result is None
    else:
        assert isinstance(result, float) and math.isclose(result, a / b)


@given(st.text(max_size=40))
def test_any_text_either_parses_or_raises_expression_error(text: str) -> None:
    """Arbitrary input never escapes as another exception, and never runs as Python."""
    try:
        node = parse_expression(text)
    except ExpressionError:
        return
    with contextlib.suppress(ExpressionError):
        evaluate(node, {})


def test_absurdly_deep_expressions_are_refused_not_crashing() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression(" + ".join(["x"] * 20000))


numbers: st.SearchStrategy[Node] = st.one_of(
    st.integers(min_value=-50, max_value=50).map(Const),
    st.sampled_from(["pupils", "teachers", "zero", "empty", "missing"]).map(Ref),
)
trees: st.SearchStrategy[Node] = st.recursive(
    numbers,
    lambda inner: st.one_of(
        st.builds(Arith, st.sampled_from("+-*/"), inner, inner),
        st.builds(
            If,
            st.builds(Compare, st.sampled_from(["<", "==", ">="]), inner, inner),
            inner,
            inner,
        ),
    ),
    max_leaves=12,
)


@given(trees)
def test_unparse_round_trips(node: Node) -> None:
    """The text form of an expression means the same as the expression."""
    again = parse_expression(unparse(node))
    first, second = evaluate(node, ROW), evaluate(again, ROW)
    if isinstance(first, float) and isinstance(second, float):
        assert math.isclose(first, second, rel_tol=1e-9, abs_tol=1e-9)
    else:
        assert first == second
