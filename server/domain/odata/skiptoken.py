"""$skiptoken, in Central's format: "01" (the format's version) and the base64 of a JSON
object. The feed puts in it what Central does (the last row's instanceId, or repeatId) and
the order and keyset of the last row, which is where the next page starts; the client only
passes it back."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from server.domain.problems import Problem

TOKEN_VERSION = "01"


def make_skiptoken(data: Mapping[str, Any]) -> str:
    text = json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False)
    return TOKEN_VERSION + base64.b64encode(text.encode("utf-8")).decode("ascii")


def invalid_skiptoken() -> Problem:
    return Problem(400, "odata.invalid_skiptoken", "Invalid $skiptoken")


def parse_skiptoken(raw: str) -> dict[str, Any]:
    if not raw.startswith(TOKEN_VERSION) or len(raw) > 4096:
        raise invalid_skiptoken()
    try:
        decoded = base64.b64decode(raw[len(TOKEN_VERSION) :], validate=True).decode("utf-8")
        data = json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_skiptoken() from None
    if not isinstance(data, dict):
        raise invalid_skiptoken()
    return data
