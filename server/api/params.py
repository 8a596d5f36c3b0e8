"""Query parameters: one precise 400 per mistake, and opaque cursors for keyset paging.

A cursor is the key of the last row of a page and a fingerprint of the query's filters, signed
with the server's secret: it cannot be forged into another query, and a client can only pass it
back. The next page starts strictly after that key, so rows added between two requests never
repeat or hide rows that were there throughout.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Request, current_app
from itsdangerous import BadSignature, URLSafeSerializer

from server.domain.cycles import is_cycle
from server.domain.problems import bad_request
from server.models.org import OrgLevel

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PAGING = ("cursor", "limit")


class Query:
    """The request's query string, checked against the parameters an endpoint accepts."""

    def __init__(
        self, request: Request, accepted: Collection[str], repeatable: Collection[str] = ()
    ) -> None:
        self.args = request.args
        self.path = request.path
        unknown = sorted(set(self.args) - set(accepted) - set(PAGING))
        if unknown:
            raise bad_request(
                "api.unknown_parameter",
                f"Unknown query parameter {unknown[0]!r}; this endpoint accepts "
                f"{', '.join(sorted(set(accepted) | set(PAGING)))}.",
                parameter=unknown[0],
            )
        for name, value in self.args.items(multi=True):
            if "\x00" in value:
                # PostgreSQL text cannot hold NUL; no code, id or cycle contains one.
                raise bad_request(
                    "api.bad_parameter", f"{name!r} contains a NUL character.", parameter=name
                )
        for name in self.args:
            if name not in repeatable and len(self.args.getlist(name)) > 1:
                raise bad_request("api.repeated_parameter", f"Give {name!r} once.", parameter=name)

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.args.get(name)
        if value is not None:
            value = value.strip()
        if not value:
            if required:
                raise bad_request("api.missing_parameter", f"Give {name!r}.", parameter=name)
            return None
        return value

    def texts(self, name: str) -> list[str]:
        return [v.strip() for raw in self.args.getlist(name) for v in raw.split(",") if v.strip()]

    def cycle(self, required: bool = False) -> str | None:
        value = self.text("cycle", required)
        if value is not None and not is_cycle(value):
            raise bad_request(
                "api.bad_cycle",
                f"{value!r} is not a planning cycle; write the financial year, e.g. 2025/26.",
                parameter="cycle",
            )
        return value

    def level(self, choices: Sequence[OrgLevel] = tuple(OrgLevel)) -> OrgLevel | None:
        value = self.text("level")
        if value is None:
            return None
        if value not in {c.value for c in choices}:
            raise bad_request(
                "api.bad_level",
                f"Unknown level {value!r}; use one of {', '.join(c.value for c in choices)}.",
                parameter="level",
            )
        return OrgLevel(value)

    def limit(self, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
        raw = self.text("limit")
        if raw is None:
            return default
        # isdecimal, not isdigit: int() refuses digits such as "²"; the length check keeps
        # int() from a string of thousands of digits, which it refuses too.
        if not (raw.isdecimal() and len(raw) <= len(str(maximum))) or not 1 <= int(raw) <= maximum:
            raise bad_request(
                "api.bad_limit",
                f"limit must be a whole number from 1 to {maximum}, not {raw!r}.",
                parameter="limit",
            )
        return int(raw)

    def fingerprint(self) -> str:
        """The filters, so a cursor is only accepted by the query that made it."""
        filters = sorted((k, v) for k in self.args if k not in PAGING for v in self.args.getlist(k))
        return hashlib.sha256(json.dumps([self.path, filters]).encode()).hexdigest()[:16]

    def after(self) -> list[Any] | None:
        """The key the requested page starts after, from its cursor; None for the first."""
        token = self.text("cursor")
        if token is None:
            return None
        try:
            payload = _serializer().loads(token)
        except BadSignature:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
            raise bad_request(
                "api.bad_cursor",
                "The cursor is not one this server gave out; start again without it.",
                parameter="cursor",
            )
        if payload.get("f") != self.fingerprint():
            raise bad_request(
                "api.bad_cursor",
                "The cursor belongs to a query with other filters; pass the same filters as "
                "the page it came from, or start again without it.",
                parameter="cursor",
            )
        return payload["k"]

    def next_link(self, last_key: Sequence[Any] | None) -> str | None:
        """The link to the page after the row with `last_key`; None when there is none."""
        if last_key is None:
            return None
        token = _serializer().dumps({"k": list(last_key), "f": self.fingerprint()})
        params = [(k, v) for k in self.args if k != "cursor" for v in self.args.getlist(k)]
        return f"{self.path}?{urlencode([*params, ('cursor', token)])}"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="dmip.api.cursor")


def page(rows: Sequence[Any], limit: int) -> tuple[list[Any], bool]:
    """Rows fetched with limit + 1: the page, and whether more follow."""
    return list(rows[:limit]), len(rows) > limit
