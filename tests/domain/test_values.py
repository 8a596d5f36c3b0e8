"""An indicator's value from its partial sums, by aggregation kind and unit, computed by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.indicator_values import contribution_value, indicator_value, round_fraction
from server.domain.partials import Partial, merge


def test_sum_adds_the_values() -> None:
    p = merge([Partial.of(value=120), Partial.of(value=80), Partial.of(value=7)])
    assert indicator_value(p, "sum", unit="count").exact == 207


def test_sum_is_never_scaled_by_a_percent_unit() -> None:
    assert indicator_value(Partial.of(value=3), "sum", 100).exact == 3


def test_mean_of_plain_values() -> None:
    p = merge([Partial.of(value=100), Partial.of(value=150)])
    assert indicator_value(p, "mean").exact == 125


def test_mean_of_per_submission_ratios_is_scaled_to_percent() -> None:
    p = merge([Partial.of(value=0.5), Partial.of(value=1)])
    value = indicator_value(p, "mean", 100, has_denominator=True, unit="percent")
    assert value.exact == 75


def test_ratio_of_sums_divides_the_sums_not_the_ratios() -> None:
    # 30/1 and 10/9: the ratio of sums is 40/10 = 4; the mean of the ratios would be 15.6.
    p = merge([Partial.of(value=30, num=30, den=1), Partial.of(value=10 / 9, num=10, den=9)])
    assert indicator_value(p, "ratio_of_sums", unit="ratio").exact == 4


def test_proportion_in_percent() -> None:
    p = merge([Partial.of(num=2, den=2), Partial.of(num=1, den=3)])
    value = indicator_value(p, "proportion", 100, has_denominator=True, unit="percent")
    assert value.exact == 60
    assert value.rounded() == Decimal("60.0")


def test_score_is_the_mean_of_scores_in_percent() -> None:
    # Two assessments scoring 6/9 and 9/9: (66.67 + 100) / 2 = 83.33%
    p = merge([Partial.of(value=6 / 9), Partial.of(value=1)])
    value = indicator_value(p, "score", 100, has_denominator=True, unit="percent")
    # 6/9 is stored to the millionth (0.666667), so the mean is 83.33335%.
    assert value.exact == Fraction(666667 + 1_000_000, 2 * 1_000_000) * 100
    assert value.rounded() == Decimal("83.3")


def test_no_contribution_is_no_data_not_zero() -> None:
    for kind in ("sum", "mean", "ratio_of_sums", "proportion", "score"):
        value = indicator_value(Partial(), kind)
        assert (value.exact, value.reason, value.as_float()) == (None, "no_data", None)


def test_zero_denominator_has_no_value() -> None:
    p = merge([Partial.of(num=0, den=0), Partial.of(num=5, den=0)])
    value = indicator_value(p, "ratio_of_sums", unit="ratio")
    assert (value.exact, value.reason) == (None, "zero_denominator")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        indicator_value(Partial.of(value=1), "median")


def test_rounding_by_unit_and_half_away_from_zero() -> None:
    ratio = indicator_value(merge([Partial.of(num=1069, den=20)]), "ratio_of_sums", unit="ratio")
    assert ratio.exact == Fraction(1069, 20)  # 53.45
    assert ratio.rounded() == Decimal("53.5")  # one place for a ratio, .45 rounds up
    assert ratio.as_float() == 53.5
    ugx = indicator_value(Partial.of(value=1_234_567.5), "sum", unit="ugx")
    assert ugx.rounded() == Decimal("1234568")
    assert round_fraction(Fraction(-5, 2), 0) == Decimal("-3")
    assert round_fraction(Fraction(1, 3), 3) == Decimal("0.333")
    assert str(round_fraction(Fraction(-1, 1000), 1)) == "0.0"  # not "-0.0"
    # Exact beyond Decimal's default 28 digits.
    assert round_fraction(Fraction(10**28 + 1), 0) == Decimal(10**28 + 1)


def test_a_submission_own_value_in_the_indicator_unit() -> None:
    assert contribution_value(750_000, "proportion", 100, has_denominator=True) == 75
    assert contribution_value(750_000, "mean", 100, has_denominator=False) == Fraction(3, 4)
    assert contribution_value(None, "sum", 1, has_denominator=False) is None


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 10_000)), min_size=1, max_size=30))
def test_ratio_of_sums_equals_the_exact_quotient(pairs: list[tuple[int, int]]) -> None:
    p = merge([Partial.of(num=n, den=d) for n, d in pairs])
    value = indicator_value(p, "ratio_of_sums", 100)
    assert value.exact == Fraction(sum(n for n, _ in pairs), sum(d for _, d in pairs)) * 100


@given(st.fractions(), st.integers(0, 6))
def test_rounding_is_within_half_a_unit_of_the_last_place(x: Fraction, places: int) -> None:
    rounded = round_fraction(x, places)
    assert abs(Fraction(rounded) - x) <= Fraction(1, 2 * 10**places)
