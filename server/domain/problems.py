"""One catalogue of coded problems, rendered once per protocol.

A handler raises `Problem(...)`; the app renders it as an OpenRosaResponse for Collect's
endpoints and as JSON for the API. Messages are written for the person holding the phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Problem(Exception):
    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def bad_request(code: str, message: str, **details: Any) -> Problem:
    return Problem(400, code, message, details)


def unauthorized(
    message: str = "Please sign in with your username and password.",
    headers: dict[str, str] | None = None,
) -> Problem:
    return Problem(401, "auth.required", message, headers=headers or {})


def forbidden(code: str, message: str, **details: Any) -> Problem:
    return Problem(403, code, message, details)


def not_found(code: str, message: str, **details: Any) -> Problem:
    return Problem(404, code, message, details)


def conflict(code: str, message: str, **details: Any) -> Problem:
    return Problem(409, code, message, details)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "submission.too_large",
        f"The submission is larger than the server accepts ({limit} bytes).",
        {"limit": limit},
    )


# How long a client waits before trying again when the server's disk will not take its files.
STORAGE_RETRY_AFTER_SECONDS = 60


def insufficient_storage() -> Problem:
    """507: the server's disk is full or cannot be written. Nothing was stored, and nothing is
    wrong with the request: Collect keeps the submission and sends it again later."""
    return Problem(
        507,
        "server.storage_unavailable",
        "The server cannot store files just now (its disk is full or cannot be written). "
        "Nothing was saved; please send again later.",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )
