"""The pure aggregation arithmetic: exact merges and retractions, outliers, gaps."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.gaps import Direction, Severity, gap, rank, severity_of
from server.domain.outliers import modified_z_scores, outliers
from server.domain.partials import Partial, merge, to_fixed

values = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False)
contribution = st.builds(lambda v, n, d: Partial.of(v, n, d), values, values, values)


def test_fixed_point_makes_decimal_sums_exact() -> None:
    assert (Partial.of(0.1) + Partial.of(0.2)).total == Partial.of(0.3).total
    assert (Partial.of(0.1) + Partial.of(0.2)).sum() == Fraction(3, 10)
    assert 0.1 + 0.2 != 0.3  # what floats would have given
    assert to_fixed("2.5000005") == 2_500_000  # half-even at the seventh place


@given(st.lists(contribution, max_size=30), st.randoms())
def test_merge_is_independent_of_order_and_grouping(parts: list[Partial], rnd) -> None:
    shuffled = parts[:]
    rnd.shuffle(shuffled)
    cut = len(parts) // 2
    assert merge(parts) == merge(shuffled) == merge(parts[:cut]) + merge(parts[cut:])


@given(st.lists(contribution, min_size=1, max_size=30), st.data())
def test_retracting_a_contribution_equals_never_adding_it(parts: list[Partial], data) -> None:
    i = data.draw(st.integers(0, len(parts) - 1))
    assert merge(parts) - parts[i] == merge(parts[:i] + parts[i + 1 :])


def test_statistics_by_hand() -> None:
    p = merge([Partial.of(2, num=30, den=1), Partial.of(4, num=50, den=2), Partial.of(9)])
    assert p.n == 3
    assert p.mean() == 5
    # population variance of 2, 4, 9: mean 5, squared deviations 9 + 1 + 16 = 26, / 3
    assert p.variance() == Fraction(26, 3)
    assert p.ratio() == Fraction(80, 3)
    assert Partial().mean() is None and Partial().ratio() is None


def test_modified_z_scores_by_hand() -> None:
    # median 11, absolute deviations 1, 2, 0, 1, 29 -> MAD 1
    vals = {"a": 10, "b": 9, "c": 11, "d": 12, "e": 40}
    scores = modified_z_scores(vals)
    assert scores["e"] == pytest.approx(0.6745 * 29)
    assert scores["a"] == pytest.approx(-0.6745)
    assert scores["c"] == 0
    assert outliers(vals) == {"e": pytest.approx(19.5605)}
    assert modified_z_scores({"a": 1, "b": 1, "c": 1}) == {"a": None, "b": None, "c": None}
    assert outliers({"a": 1, "b": 100}) == {}


def test_gap_by_hand_for_both_directions() -> None:
    ptr = gap("ptr", value=80, standard=53, direction=Direction.lower_is_better)
    assert ptr.gap == 27 and ptr.relative == pytest.approx(0.5094, abs=1e-4)
    assert ptr.severity is Severity.high
    presence = gap("presence", value=60, standard=90, direction="higher_is_better")
    assert presence.gap == 30 and presence.relative == pytest.approx(1 / 3)
    assert presence.severity is Severity.medium
    met = gap("penta3", value=95, standard=90, direction="higher_is_better")
    assert met.gap == 0 and met.severity is Severity.none
    assert severity_of(1.2) is Severity.critical
    assert severity_of(0.05) is Severity.none
    with pytest.raises(ValueError):
        gap("x", 1, 0, "higher_is_better")
    with pytest.raises(ValueError):
        severity_of(0.3, (0.5, 0.2, 0.9))


def test_rank_orders_by_relative_gap_then_reach() -> None:
    a = gap("a", 60, 90, "higher_is_better", reach=1000)
    b = gap("b", 60, 90, "higher_is_better", reach=5000)
    c = gap("c", 80, 53, "lower_is_better")
    assert [g.key for g in rank([a, b, c])] == ["c", "b", "a"]
