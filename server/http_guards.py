"""Guards that turn malformed requests into a precise 400 or 404 before any handler sees them.

PostgreSQL refuses NUL in text, psycopg cannot encode a lone UTF-16 surrogate (which a JSON
body can carry as "\\ud800"), and an id beyond a column's range is an error of the database,
not an absent row. Each would surface deep inside some handler as a 500; here they are refused
once, for every route, in words the sender can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from flask import Request, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

# The largest value of PostgreSQL's BIGINT (and SQLite's INTEGER): every id column's type.
BIGINT_MAX = 2**63 - 1
# The largest value of PostgreSQL's INTEGER, for numbers kept in such a column.
INTEGER_MAX = 2**31 - 1

# NUL, which PostgreSQL text cannot hold, and lone surrogates, which UTF-8 cannot encode.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BODY_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class MalformedInput(BadRequest):
    """A 400 whose description is written for the sender and shown to them as it is."""


class BoundedIntegerConverter(IntegerConverter):
    """Flask's `int` converter with an upper bound (BIGINT's unless a rule names another,
    `<int(max=2147483647):n>`): a larger number matches no rule, so it is a 404 like any other
    id that names nothing, rather than an out-of-range error from the database."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = BIGINT_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def _unstorable(value: str | None) -> bool:
    return value is not None and _UNSTORABLE.search(value) is not None


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def _refuse(where: str) -> MalformedInput:
    return MalformedInput(
        f"{where} contains a character the server cannot accept (a NUL character or a broken "
        "Unicode character). Remove it and send again."
    )


def check_request(req: Request, *, address: bool = True, body: bool = True) -> None:
    """Raises MalformedInput for NUL in a header, and for NUL or a lone surrogate in the address
    and the query string (with `address`) or in a form field, an uploaded file's name or a
    JSON body (with `body`)."""
    for key, value in req.environ.items():
        # Every header as the server decoded it (and the raw path, when that is checked).
        if isinstance(value, str) and "\x00" in value:
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").title()
                raise _refuse(f"The {name} header")
            if address:
                raise _refuse("The address")
    if address:
        if _unstorable(req.path):
            raise _refuse("The address")
        for name, value in req.args.items(multi=True):
            if _unstorable(name) or _unstorable(value):
                raise _refuse(f"The query parameter {name!r}")
    if not body or req.method in ("GET", "HEAD", "OPTIONS"):
        return
    mimetype = req.mimetype
    if mimetype in _BODY_FORMS:
        for name, value in req.form.items(multi=True):
            if name is None:
                # A part whose Content-Disposition the parser could not read.
                raise MalformedInput("A part of the form has no readable name. Send it again.")
            if _unstorable(name) or _unstorable(value):
                raise _refuse(f"The form field {name!r}")
        for name, upload in req.files.items(multi=True):
            if name is None:
                raise MalformedInput("A file in the form has no readable name. Send it again.")
            if _unstorable(name) or _unstorable(upload.filename):
                raise _refuse(f"The name of the file sent as {name!r}")
    # Parsed once and cached: the handler's own get_json() reuses it. A body that is not JSON
    # at all is left to the handler, which says what it expected.
    elif req.is_json and any(_unstorable(s) for s in _json_strings(req.get_json(silent=True))):
        raise _refuse("The JSON body")


def guard_request(
    own_address_checks: Callable[[Request], bool], own_body: Callable[[Request], bool]
) -> Callable[[], None]:
    """A before_request hook running `check_request`. `own_address_checks` names requests
    whose handlers check their path and query themselves, in their own codes (the indicator
    API's); `own_body` those whose body a handler streams itself (Collect's submissions),
    which the hook must not read first."""

    def _guard() -> None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        check_request(req, address=not own_address_checks(req), body=not own_body(req))

    return _guard


class _ChunkedInput:
    """A chunked request body whose framing errors are the client's: the server's reader
    raises its own exception for a malformed chunk, which becomes a 400 here rather than an
    unexpected error wherever the body happens to be read."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def _guarded(self, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except BadRequest:
            raise
        except Exception as exc:
            raise MalformedInput(
                "The request's body was cut off or its chunked encoding is malformed. "
                "Send it again."
            ) from exc

    def read(self, size: int | None = -1) -> bytes:
        return self._guarded(self._stream.read, size)  # type: ignore[no-any-return]

    def readline(self, size: int | None = -1) -> bytes:
        return self._guarded(self._stream.readline, size)  # type: ignore[no-any-return]

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return self._guarded(self._stream.readlines, hint)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def chunked_input_errors_as_400(wsgi_app: WSGIApp) -> WSGIApp:
    """Wraps a WSGI app so that a malformed chunked body reads as a 400 (see _ChunkedInput);
    other bodies pass untouched."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input"] = _ChunkedInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)

    return app
