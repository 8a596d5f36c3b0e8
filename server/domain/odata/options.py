"""The query options of an OData data request, read strictly: a value that is not what the
option takes is a 400 in Central's shape, never a guess.

    $top       rows wanted; at most MAX_PAGE rows come in one response (a larger $top is
               capped to it, the rest follow through @odata.nextLink)
    $skip      rows to leave out first (ignored with $skiptoken, as in Central)
    $skiptoken where the previous page ended ("01" and base64 of JSON, Central's format); the
               server makes it, in @odata.nextLink
    $count     true: @odata.count, the rows matching whatever the paging
    $wkt       true: locations as Well-Known Text instead of GeoJSON
    $expand    "*": repeats nested in their parent rows (nothing else, as Central)
    $select    the properties wanted, comma-separated (server/domain/odata/selection.py)
    $orderby   __system/submissionDate or __id, asc or desc (default: newest first, as Central)
    $filter    an OData expression (server/queries/odata_filter.py says what it may use)
    $format    json, the only format (anything else is 406)

A name beginning with "$" that is not one of these is a 400, as a typo (say "$fitler") must not
silently give the whole table; other parameters are not the feed's and are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

from server.domain.odata.skiptoken import parse_skiptoken
from server.domain.problems import Problem

# Rows in one response at most. A 1,000-row page of the benchmark's form is about a megabyte
# of JSON and is served in tens of milliseconds; ten thousand stays well under a second and
# ten megabytes, so a client that pages by nextLink (Power BI, Excel, pyodata) never holds
# the server long, and one that does not (pyodk's get_table) still gets most forms whole.
MAX_PAGE = 10_000
# A longer filter is not typed by a person; it would only cost the parser.
MAX_FILTER = 4_000
# Beyond this no table has rows; a longer number is a mistake, not a position.
MAX_SKIP = 10**15
# $root/Submissions/ in a repeat table's filter names the submission's own properties; the
# parser has no $root, so it reads this marker instead.
ROOT_MARKER = "__odata_root__"
# The parent keys ("__Submissions-household-id") hold dashes, which the parser reads as
# minus signs; it reads them with this in place of each dash.
DASH_MARKER = "__odash__"
_PARENT_KEY = re.compile(r"__Submissions(?:-[A-Za-z0-9_]+)*-id\b")

KNOWN = frozenset(
    {
        "$top",
        "$skip",
        "$skiptoken",
        "$count",
        "$wkt",
        "$expand",
        "$select",
        "$orderby",
        "$filter",
        "$format",
    }
)
NOT_SUPPORTED = frozenset(
    {"$search", "$apply", "$compute", "$index", "$levels", "$deltatoken", "$schemaversion"}
)


@dataclass(frozen=True)
class Order:
    """The order of the rows: the property (as given) and its direction."""

    property: str
    descending: bool

    @property
    def text(self) -> str:
        return f"{self.property} {'desc' if self.descending else 'asc'}"


DEFAULT_ORDER = Order("__system/submissionDate", True)


@dataclass(frozen=True)
class Options:
    top: int | None = None
    skip: int = 0
    skiptoken: dict[str, Any] | None = None
    count: bool = False
    wkt: bool = False
    expand: bool = False
    select: tuple[str, ...] | None = None
    order: Order = DEFAULT_ORDER
    order_given: bool = False
    filter_text: str | None = None
    filter: ast._Node | None = None

    @property
    def page_size(self) -> int:
        return MAX_PAGE if self.top is None else min(self.top, MAX_PAGE)


def invalid(option: str, value: str, expected: str) -> Problem:
    return Problem(
        400,
        "odata.invalid_option",
        f"The query option {option} cannot be {value!r}: it takes {expected}.",
        {"field": option, "value": value, "expected": expected},
    )


def _count(option: str, raw: str, limit: int) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(limit)):
        raise invalid(option, raw, "a whole number, 0 or more")
    value = int(text)
    if value > limit:
        raise invalid(option, raw, f"a whole number up to {limit}")
    return value


def _flag(option: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise invalid(option, raw, "true or false")
    return value == "true"


def parse_options(args: Mapping[str, str], *, filter_allowed: bool = True) -> Options:
    """The feed's options from a query string (a mapping of the first value of each name)."""
    for name, value in args.items():
        if "\x00" in name or "\x00" in value:
            raise Problem(400, "odata.invalid_option", "A query option holds a NUL character.")
        if not name.startswith("$"):
            continue
        if name in NOT_SUPPORTED:
            raise Problem(
                501,
                "odata.unsupported_option",
                f"The requested feature {name} is not supported by this server.",
                {"feature": name},
            )
        if name not in KNOWN:
            raise Problem(
                400,
                "odata.unknown_option",
                f"{name} is not a query option of this feed; it reads "
                + ", ".join(sorted(KNOWN))
                + ".",
                {"option": name},
            )
    fmt = args.get("$format")
    if fmt is not None and fmt.strip().lower() not in ("json", "application/json"):
        raise Problem(
            406,
            "odata.not_acceptable",
            "Requested format not acceptable; this resource allows: (application/json, json).",
            {"allowed": ["application/json", "json"]},
        )
    top = _count("$top", args["$top"], MAX_SKIP) if "$top" in args else None
    skiptoken = parse_skiptoken(args["$skiptoken"]) if "$skiptoken" in args else None
    # As Central: a skiptoken says where to go on, and $skip is then ignored.
    skip = _count("$skip", args["$skip"], MAX_SKIP) if "$skip" in args and not skiptoken else 0
    expand = False
    if "$expand" in args:
        if args["$expand"].strip() != "*":
            raise Problem(
                501,
                "odata.unsupported_expand",
                "The given OData expand expression is not supported by this server: "
                f'"{args["$expand"]}". Currently, only "$expand=*" is supported.',
                {"text": args["$expand"]},
            )
        expand = True
    select = _select(args.get("$select"))
    if select is not None and expand:
        raise Problem(
            501,
            "odata.select_with_expand",
            "This server doesn't support $select query parameter with $expand.",
        )
    order = _order(args["$orderby"]) if "$orderby" in args else DEFAULT_ORDER
    filter_text = args.get("$filter")
    parsed = None
    if filter_text is not None and filter_text.strip():
        if not filter_allowed:
            raise Problem(
                501,
                "odata.unsupported_option",
                "The requested feature $filter is not supported here.",
                {"feature": "$filter"},
            )
        parsed = parse_filter(filter_text)
    return Options(
        top=top,
        skip=skip,
        skiptoken=skiptoken,
        count=_flag("$count", args["$count"]) if "$count" in args else False,
        wkt=_flag("$wkt", args["$wkt"]) if "$wkt" in args else False,
        expand=expand,
        select=select,
        order=order,
        order_given="$orderby" in args,
        filter_text=filter_text if parsed is not None else None,
        filter=parsed,
    )


def _select(raw: str | None) -> tuple[str, ...] | None:
    if raw is None or raw.strip() in ("", "*"):
        return None
    names = tuple(p.strip() for p in raw.split(","))
    if any(not n for n in names):
        raise invalid("$select", raw, "property names separated by commas")
    return names


def _order(raw: str) -> Order:
    clauses = [c.strip() for c in raw.split(",") if c.strip()]
    if len(clauses) != 1:
        raise Problem(
            501,
            "odata.unsupported_field",
            "This server orders by one property at a time: $orderby=__system/submissionDate "
            "or $orderby=__id, each asc or desc.",
            {"text": raw},
        )
    words = clauses[0].split()
    if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise invalid("$orderby", raw, "a property, then asc or desc")
    descending = len(words) == 2 and words[1].lower() == "desc"
    return Order(words[0], descending)


def unparseable(reason: str) -> Problem:
    return Problem(
        400,
        "odata.unparseable_filter",
        f"The OData filter expression you provided could not be parsed: {reason}",
        {"reason": reason},
    )


def _mark_root(text: str) -> str:
    """`text` with $root/Submissions/ (outside string literals) read as the marker."""
    out: list[str] = []
    quoted = False
    i = 0
    prefix = "$root/Submissions/"
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        if not quoted and text.startswith(prefix, i):
            out.append(ROOT_MARKER + "/")
            i += len(prefix)
            continue
        key = _PARENT_KEY.match(text, i) if not quoted and char == "_" else None
        if key is not None:
            out.append(key.group(0).replace("-", DASH_MARKER))
            i = key.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_filter(text: str) -> ast._Node:
    """The syntax tree of a $filter (odata-query's parser); 400 when it is not OData."""
    if len(text) > MAX_FILTER:
        raise unparseable(f"it is longer than {MAX_FILTER} characters")
    try:
        return ODataParser().parse(ODataLexer().tokenize(_mark_root(text)))
    except ODataException as exc:
        reason = str(exc).replace(ROOT_MARKER, "$root/Submissions").replace(DASH_MARKER, "-")
        raise unparseable(reason) from None
    except (RecursionError, ValueError, TypeError, IndexError, AttributeError) as exc:
        # The parser's own failures on input it was not written for (an unbalanced
        # parenthesis at the end, an impossible date) are the request's fault, not ours.
        raise unparseable(str(exc) or type(exc).__name__) from None
