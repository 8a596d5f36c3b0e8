"""Turning one answer's text into a typed JSON value, or a sentence saying why it cannot be.

The texts are what ODK Collect writes into a submission (getodk.github.io/xforms-spec, "Data
types"): numbers in plain decimal notation, dates as ISO 8601, geopoints as "lat lon alt acc".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

_INT = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# What a calculation over blank answers yields on the phone: it means "no value", not an error.
_NOT_A_NUMBER = {"NaN", "Infinity", "-Infinity"}
_MAX_CHOICES_SHOWN = 8
# The range of an XForm integer: ODK Collect keeps one in a 32-bit signed int, so a larger
# value did not come from a phone's number pad but from a typo in a script or a hand-edited
# file, and it would overflow the indicators' exact sums of squares further on.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Decimals are doubles on the phone; beyond 10^15 a double no longer holds every whole number,
# and no count, ratio or amount in shillings a district records comes near it.
DECIMAL_LIMIT = 1e15


class InvalidValue(ValueError):
    """The text is not a value of the field's type; the message completes "<field>: ..."."""


def base_type(bind_type: str | None) -> str:
    """The bind type without a namespace prefix ("xsd:int" -> "int"); a missing type is a string."""
    if not bind_type:
        return "string"
    return bind_type.rsplit(":", 1)[-1]


def convert(text: str, field: dict[str, Any]) -> Any:
    """The typed value of a non-empty answer `text` to `field` (an entry of FormVersion.schema).

    Raises InvalidValue with a message such as "'abc' is not a whole number".
    """
    return converter(field)(text)


def converter(field: dict[str, Any]) -> Callable[[str], Any]:
    """`convert` for one field, with what it asks of the field's entry worked out once: the
    worker builds these once per form version (FormSpec.converters) and calls one for every
    answer of every submission."""
    kind = base_type(field.get("type"))
    select = field.get("select")
    if select == "one":

        def one(text: str) -> str:
            value = text.strip()
            _check_choice(value, field)
            return value

        return one
    if select == "multiple":

        def multiple(text: str) -> list[str]:
            values = text.split()
            for value in values:
                _check_choice(value, field)
            return values

        return multiple
    typed = _CONVERTERS.get(kind)
    if typed is None:
        return _as_text
    if field.get("calculate") and kind in ("int", "decimal"):

        def calculated(text: str) -> Any:
            stripped = text.strip()
            return None if stripped in _NOT_A_NUMBER else typed(stripped)

        return calculated
    return lambda text: typed(text.strip())


def _as_text(text: str) -> str:
    return text


def _check_choice(value: str, field: dict[str, Any]) -> None:
    choices = field.get("choices")
    # Choices that live in a media file (select_one_from_file) change without a new form
    # version, so they are not checked here.
    if field.get("choices_file") or choices is None or value in choices:
        return
    shown = ", ".join(choices[:_MAX_CHOICES_SHOWN])
    if len(choices) > _MAX_CHOICES_SHOWN:
        shown += f", ... ({len(choices)} in all)"
    raise InvalidValue(f"{value!r} is not one of the choices ({shown})")


def _int(text: str) -> int:
    if not _INT.match(text):
        raise InvalidValue(f"{text!r} is not a whole number")
    # Checked on the digits before converting: int() of a long string of digits is itself
    # slow (Python limits it for that reason), and no valid answer has more than ten
    # significant digits.
    digits = len(text.lstrip("+-").lstrip("0"))
    value = int(text) if digits <= 12 else None
    if value is None or not INT_MIN <= value <= INT_MAX:
        raise InvalidValue(
            f"{_shown(text)} is out of range for a whole number ({INT_MIN:,} to {INT_MAX:,})"
        )
    return value


def _decimal(text: str) -> float:
    if not _DECIMAL.match(text):
        raise InvalidValue(f"{text!r} is not a number")
    value = float(text)
    if not math.isfinite(value) or abs(value) >= DECIMAL_LIMIT:
        raise InvalidValue(f"{_shown(text)} is too large a number (less than 10^15 either way)")
    return value


def _shown(text: str) -> str:
    """The answer as a reviewer reads it in a failure reason: whole, unless it is very long."""
    return repr(text) if len(text) <= 40 else repr(text[:20] + "..." + text[-8:])


def _date(text: str) -> str:
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(
            f"{text!r} is not a date (expected year-month-day, e.g. 2024-03-31)"
        ) from None


def _datetime(text: str) -> str:
    try:
        if not _DATE.match(text[:10]) or "T" not in text:
            raise ValueError
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(
            f"{text!r} is not a date and time (expected e.g. 2024-03-31T14:05:00.000+03:00)"
        ) from None


def _time(text: str) -> str:
    try:
        return dt.time.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(f"{text!r} is not a time of day (expected e.g. 14:05:00)") from None


def _boolean(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidValue(f"{text!r} is not true or false")


def _geopoint(text: str) -> dict[str, float | None]:
    parts = text.split()
    error = InvalidValue(
        f"{text!r} is not a location (expected latitude longitude [altitude accuracy])"
    )
    if not 2 <= len(parts) <= 4:
        raise error
    numbers: list[float] = []
    for part in parts:
        if not _DECIMAL.match(part):
            raise error
        numbers.append(float(part))
    lat, lon = numbers[0], numbers[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidValue(
            f"{text!r} is not a location on Earth (latitude must be within -90..90 and "
            "longitude within -180..180)"
        )
    alt = numbers[2] if len(numbers) > 2 else None
    acc = numbers[3] if len(numbers) > 3 else None
    return {"lat": lat, "lon": lon, "alt": alt, "acc": acc}


def _geo_list(text: str) -> list[dict[str, float | None]]:
    return [_geopoint(point.strip()) for point in text.split(";") if point.strip()]


_CONVERTERS = {
    "int": _int,
    "integer": _int,
    "decimal": _decimal,
    "date": _date,
    "dateTime": _datetime,
    "time": _time,
    "boolean": _boolean,
    "geopoint": _geopoint,
    "geotrace": _geo_list,
    "geoshape": _geo_list,
}
