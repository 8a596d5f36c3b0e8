"""An indicator's value from its stored partial sums, by aggregation kind and unit.

Arithmetic stays exact (Fractions) until the value is shown: `Value.exact` is what comparisons
and gap analysis may use, `Value.rounded()` and `Value.as_float()` are for people and JSON.
A value that cannot be computed is None with a reason, never 0:

- `no_data`: no submission contributes (n == 0);
- `zero_denominator`: the denominators add up to 0 (no teachers reported, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from server.domain.partials import SCALE, Partial

Reason = Literal["no_data", "zero_denominator"]

REASONS: dict[str, str] = {
    "no_data": "No submission contributes to this value yet.",
    "zero_denominator": "The denominators add up to zero, so the ratio has no value.",
}

# Decimal places shown per unit: a percentage to one place (72.5%), a ratio to one (53.4
# pupils per teacher), counts and shillings whole unless a mean makes them fractional.
PLACES = {"percent": 1, "ratio": 1, "count": 2, "ugx": 0}

RATIO_KINDS = frozenset({"ratio_of_sums", "proportion", "score"})
KINDS = frozenset({"sum", "mean"}) | RATIO_KINDS


@dataclass(frozen=True)
class Value:
    exact: Fraction | None
    reason: Reason | None = None
    places: int = 2

    @property
    def known(self) -> bool:
        return self.exact is not None

    def rounded(self, places: int | None = None) -> Decimal | None:
        """Rounded half away from zero to `places` (the unit's default) decimal places."""
        if self.exact is None:
            return None
        return round_fraction(self.exact, self.places if places is None else places)

    def as_float(self, places: int | None = None) -> float | None:
        rounded = self.rounded(places)
        return None if rounded is None else float(rounded)


def round_fraction(value: Fraction, places: int) -> Decimal:
    """Exact half-away-from-zero rounding of a Fraction (no float on the way)."""
    scaled = value * 10**places
    whole, rest = divmod(abs(scaled.numerator), scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    sign = "-" if scaled < 0 and whole else ""
    # From a string, so the Decimal is exact: scaleb() would round to the context's 28 digits.
    return Decimal(f"{sign}{whole}E-{places}")


def indicator_value(
    partial: Partial,
    aggregation: str,
    multiplier: int = 1,
    *,
    has_denominator: bool = False,
    unit: str | None = None,
) -> Value:
    """The value of an indicator whose contributions add up to `partial`.

    sum: the sum of the values; mean: their mean; score: the mean of per-submission ratios;
    ratio_of_sums and proportion: sum of numerators / sum of denominators. `multiplier` (100
    for a percent unit) scales ratios only: a `mean` scales when each submission's value is
    itself a ratio (`has_denominator`), a `sum` never does.
    """
    if aggregation not in KINDS:
        raise ValueError(f"unknown aggregation {aggregation!r} (one of {', '.join(sorted(KINDS))})")
    places = PLACES.get(unit or "", 2)
    if partial.n <= 0:
        return Value(None, "no_data", places)
    if aggregation == "sum":
        return Value(Fraction(partial.total, SCALE), None, places)
    if aggregation in {"mean", "score"}:
        mean = partial.mean()
        assert mean is not None  # n > 0
        scale = multiplier if aggregation == "score" or has_denominator else 1
        return Value(mean * scale, None, places)
    ratio = partial.ratio()
    if ratio is None:
        return Value(None, "zero_denominator", places)
    return Value(ratio * multiplier, None, places)


def contribution_value(
    fixed_value: int | None, aggregation: str, multiplier: int = 1, *, has_denominator: bool
) -> Fraction | None:
    """One submission's own value (the contribution query's `iN_v`, in millionths) in the
    indicator's unit: a percentage when the indicator is one."""
    if fixed_value is None:
        return None
    value = Fraction(int(fixed_value), SCALE)
    is_ratio = aggregation in RATIO_KINDS or (aggregation == "mean" and has_denominator)
    return value * multiplier if is_ratio else value
