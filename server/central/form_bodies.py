"""Reading what a client sends to make a form: a definition (an XLSForm or an XForm) or a media
file, each from the raw request body, as Central takes them.

- An XLSForm comes with Content-Type application/vnd.openxmlformats-officedocument.
  spreadsheetml.sheet (.xlsx) or application/vnd.ms-excel (.xls), and optionally the header
  X-XlsForm-FormId-Fallback (URL-encoded): the form id when the settings sheet gives none.
- Any other body is read as an XForm's XML, as Central reads it; a form-encoded or multipart
  body cannot be (its bytes are a form's fields), and is 415.
- A definition may be at most DEFINITION_MAX_BYTES (413 beyond), a media file the server's
  submission limit; an empty definition is 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from flask import current_app, request

from server.domain.problems import Problem
from server.services.form_definitions import Definition

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS_TYPE = "application/vnd.ms-excel"
EXCEL_KINDS = {XLSX_TYPE: "xlsx", XLS_TYPE: "xls"}
# The DMIP XLSForms are about 10 KB and their XForms under 1 MB: this leaves room for a form
# a hundred times larger, and no more.
DEFINITION_MAX_BYTES = 10 * 1024 * 1024
FALLBACK_HEADER = "X-XlsForm-FormId-Fallback"
CHUNK = 256 * 1024
_FORM_BODIES = ("multipart/form-data", "application/x-www-form-urlencoded")
_ZIP_MAGIC = b"PK\x03\x04"


def query_flag(name: str) -> bool:
    """A query parameter as Central reads a boolean one: true only when it says "true"."""
    return (request.args.get(name) or "").strip().lower() == "true"


def has_body() -> bool:
    """Whether the request carries a body at all (Central's test for "copy the published
    version"): a Content-Length above zero, or a chunked one."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return True
    return (request.content_length or 0) > 0


def _refuse_form_bodies() -> None:
    if request.mimetype in _FORM_BODIES:
        raise Problem(
            415,
            "central.unsupported_media_type",
            f"Send the file itself as the request body (Content-Type {XLSX_TYPE}, "
            f"{XLS_TYPE} or application/xml), not a {request.mimetype} form.",
            {"accepted": [XLSX_TYPE, XLS_TYPE, "application/xml", "text/xml"]},
        )


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "central.too_large",
        f"The request body is larger than the server accepts here ({limit} bytes).",
        {"limit": limit},
    )


def read_definition() -> Definition:
    """The definition in the request body, or a 4xx Problem."""
    _refuse_form_bodies()
    kind = EXCEL_KINDS.get(request.mimetype, "xml")
    # A chunked body is cut at the stream's limit without a word: one byte more than allowed
    # is read, so that a body larger than the limit shows as such.
    request.max_content_length = DEFINITION_MAX_BYTES + 1
    data = request.get_data(cache=True)
    if len(data) > DEFINITION_MAX_BYTES:
        raise too_large(DEFINITION_MAX_BYTES)
    if not data:
        raise Problem(
            400,
            "central.unparseable",
            "The request has no body: send the XLSForm or the XForm's XML.",
            {"format": kind, "rawLength": 0},
        )
    if kind == "xml" and data.startswith(_ZIP_MAGIC) and request.mimetype not in EXCEL_KINDS:
        raise Problem(
            400,
            "central.unparseable",
            "The body looks like an .xlsx file, but was sent as "
            f"{request.mimetype or 'no Content-Type'}: send an XLSForm with Content-Type "
            f"{XLSX_TYPE}.",
            {"format": "xml", "rawLength": len(data)},
        )
    return Definition(data, kind, _fallback() if kind != "xml" else None)  # type: ignore[arg-type]


def _fallback() -> str | None:
    raw = request.headers.get(FALLBACK_HEADER)
    if raw is None or not raw.strip():
        return None
    try:
        value = unquote(raw.strip(), errors="strict")
    except UnicodeDecodeError:
        value = ""
    if not value or len(value) > 255 or value in (".", "..") or any(_unusable(c) for c in value):
        raise Problem(
            400,
            "central.invalid_header",
            f"An expected header field ({FALLBACK_HEADER}) did not match the expected format "
            f"(got: {raw[:100]}): a URL-encoded form id of at most 255 characters, without "
            "'/', '\\' or control characters.",
            {"field": FALLBACK_HEADER, "value": raw[:255]},
        )
    return value


def _unusable(char: str) -> bool:
    return char in "/\\" or ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF


def media_chunks() -> Iterator[bytes]:
    """The request body as chunks, for a media file (pyodk streams them chunked); at most the
    server's submission limit (413 beyond)."""
    _refuse_form_bodies()
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    if request.is_json:
        # The request guard has read a JSON body already (to check its strings).
        data = request.get_data(cache=True)
        if len(data) > limit:
            raise too_large(limit)
        if data:
            yield data
        return
    request.max_content_length = limit + 1  # see read_definition
    stream = request.stream
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        yield chunk
