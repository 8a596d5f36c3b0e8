"""Plain-English formatting for draft DMIPs: numbers, shillings, percentages, plurals and lists.

Rounding is half-up on the decimal value ("2.5" -> "3", "0.125%" at one place -> "0.1%"), the
rule readers expect from a printed report; Python's round() is half-even and would print
12.5 as "12". Floats are read through their shortest repr, so 0.15 rounds to 0.2, not 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

NOT_ENOUGH_DATA = "not enough data"

# Words whose plural is not the word plus "s".
_PLURALS = {
    "sub-county": "sub-counties",
    "county": "counties",
    "facility": "facilities",
    "health facility": "health facilities",
    "child": "children",
    "person": "people",
    "stance": "stances",
    "block": "blocks",
    "classroom block": "classroom blocks",
    "latrine block": "latrine blocks",
    "inquiry": "inquiries",
    "activity": "activities",
    "committee": "committees",
    "office": "offices",
    "submission": "submissions",
}


def to_decimal(value: float | int | Fraction | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def round_half_up(value: float | int | Fraction | Decimal, places: int = 0) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return to_decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def number(value: float | int | Fraction | Decimal, places: int = 0) -> str:
    """Thousands separators and a fixed number of places: 1234567.891 -> "1,234,567.9" at 1.
    A value that rounds to zero prints without a minus sign."""
    rounded = round_half_up(value, places)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:,.{places}f}"


def ugx(value: int | float | Decimal) -> str:
    """Shillings are whole: "UGX 1,250,000"."""
    return f"UGX {number(value, 0)}"


def ugx_millions(value: int | float | Decimal) -> str:
    """For narrative where millions read better: "UGX 84.9 million"."""
    return f"UGX {number(to_decimal(value) / Decimal(1_000_000), 1)} million"


def percent(value: float | int | Fraction | Decimal, places: int = 1) -> str:
    """A value already in percent (56.25 -> "56.3%")."""
    return f"{number(value, places)}%"


def share(part: float | int, whole: float | int, places: int = 1) -> str:
    """part/whole as a percentage; "not enough data" when whole is zero."""
    if not whole:
        return NOT_ENOUGH_DATA
    return percent(to_decimal(part) * 100 / to_decimal(whole), places)


def plural(count: int | float | Decimal, singular: str, plural_form: str | None = None) -> str:
    """The noun for a count: 1 teacher, 2 teachers, 0 teachers, 1.5 teachers."""
    if count == 1:
        return singular
    if plural_form is not None:
        return plural_form
    if singular in _PLURALS:
        return _PLURALS[singular]
    head, _, last = singular.rpartition(" ")
    if last in _PLURALS:
        return f"{head} {_PLURALS[last]}".strip()
    if last.endswith(("s", "x", "ch", "sh")):
        return singular + "es"
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return singular[:-1] + "ies"
    return singular + "s"


def count_of(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 sub-county", "3 sub-counties", "1,200 pupils"."""
    return f"{number(count)} {plural(count, singular, plural_form)}"


def join_names(names: Sequence[str], conjunction: str = "and") -> str:
    """ "A", "A and B", "A, B and C" (no serial comma, as Ugandan government documents write)."""
    items = [n for n in names if n]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def value_text(value: float | None, unit: str) -> str:
    """An indicator value in its unit: percent -> "56.3%", ratio -> "62.4", count -> "1,204",
    ugx -> "UGX 1,204,000"; None -> "not enough data"."""
    if value is None:
        return NOT_ENOUGH_DATA
    if unit == "percent":
        return percent(value, 1)
    if unit == "ratio":
        return number(value, 1)
    if unit == "ugx":
        return ugx(value)
    return number(value, 0)
