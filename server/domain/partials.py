"""Mergeable partial sums, exact under any order of adds, merges and retractions.

An indicator value per (indicator, org unit, cycle) is kept as a `Partial`: counts and sums that
add when two partials merge (a sub-county into its district) and subtract when a contribution is
retracted (an edit replaces a submission, a reviewer rejects one). For "incremental equals
rebuild" to hold exactly, the sums must be associative, which floats are not: values are fixed
point, in millionths (`SCALE`), held as Python integers (PostgreSQL NUMERIC in storage).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

SCALE = 1_000_000  # six decimal places: plenty for counts, ratios and shillings


def to_fixed(value: float | int | Decimal | str) -> int:
    """A number in millionths, rounded half-even, so 0.1 + 0.2 adds up to exactly 0.3."""
    scaled = (Decimal(str(value)) * SCALE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)


@dataclass(frozen=True)
class Partial:
    """Sufficient statistics of a set of contributions.

    `n` counts contributions; `total` and `total_sq` are the sum and sum of squares of their
    values (fixed point: `total` in millionths, `total_sq` in millionths squared); `num` and
    `den` are the summed numerator and denominator for ratio indicators.
    """

    n: int = 0
    total: int = 0
    total_sq: int = 0
    num: int = 0
    den: int = 0

    @classmethod
    def of(
        cls,
        value: float | int | None = None,
        num: float | int | None = None,
        den: float | int | None = None,
    ) -> Partial:
        """One submission's contribution."""
        v = to_fixed(value) if value is not None else 0
        return cls(
            n=1,
            total=v,
            total_sq=v * v,
            num=to_fixed(num) if num is not None else 0,
            den=to_fixed(den) if den is not None else 0,
        )

    def __add__(self, other: Partial) -> Partial:
        return Partial(
            self.n + other.n,
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.num + other.num,
            self.den + other.den,
        )

    def __sub__(self, other: Partial) -> Partial:
        return Partial(
            self.n - other.n,
            self.total - other.total,
            self.total_sq - other.total_sq,
            self.num - other.num,
            self.den - other.den,
        )

    def __neg__(self) -> Partial:
        return Partial() - self

    @property
    def is_empty(self) -> bool:
        return self == Partial()

    def sum(self) -> Fraction:
        return Fraction(self.total, SCALE)

    def mean(self) -> Fraction | None:
        return Fraction(self.total, SCALE * self.n) if self.n > 0 else None

    def variance(self) -> Fraction | None:
        """Population variance, exact."""
        if self.n <= 0:
            return None
        mean_scaled = Fraction(self.total, self.n)
        return (Fraction(self.total_sq, self.n) - mean_scaled**2) / (SCALE * SCALE)

    def ratio(self) -> Fraction | None:
        """Ratio of sums (e.g. pupils / teachers); None when the denominator is zero."""
        return Fraction(self.num, self.den) if self.den != 0 else None


def merge(partials: list[Partial]) -> Partial:
    out = Partial()
    for p in partials:
        out = out + p
    return out
