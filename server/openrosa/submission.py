"""POST /submission: receive one OpenRosa submission (or one part of a split one).

The handler authenticates before reading the body (a cached snapshot of the user,
server/auth/principal.py), parses the multipart body with file parts spooled to disk, and hands
the XML and the files to server/openrosa/accept.py, the checks and storage every way in to the
server shares, which commits before we answer 201.
"""

from __future__ import annotations

from flask import Request, Response, request

from server.auth.http import principal_cache, require_principal, require_user
from server.auth.principal import Principal
from server.domain.problems import Problem, bad_request
from server.openrosa.accept import Sent, accept
from server.openrosa.deps import receiver
from server.openrosa.responses import xml_response
from server.openrosa.spool import FilePart, Multipart, parse_multipart
from server.openrosa.xml_documents import openrosa_response
from server.services.ingest import IncomingAttachment

XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
# Submission XML is text; anything bigger is not a form instance. Attachments may be larger.
MAX_XML_BYTES = 16 * 1024 * 1024
# The same words every time: built once rather than serialised per submission.
RECEIVED = openrosa_response("Thank you. The submission was received.", "submit_success")


def submission() -> Response:
    # The request itself rather than Flask's proxy to it: each attribute read through the
    # proxy costs a context look-up, and a submission reads a dozen.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    if req.method != "POST":
        require_user()
        # Collect sends HEAD first, to be challenged and to learn the size limit (a header
        # every answer of this endpoint carries: responses.add_protocol_headers).
        return Response(status=204)
    principal = require_principal()
    if req.mimetype != "multipart/form-data":
        raise bad_request(
            "submission.not_multipart",
            "A submission must be sent as multipart/form-data with an xml_submission_file part.",
        )
    # The app's form-memory limit bounds the parts kept in memory whatever the body's size:
    # non-file fields (the XML itself, from some clients).
    rx = receiver()
    parts = parse_multipart(req, rx.state.settings.uploads_dir, req.max_form_memory_size)

    def reauthenticate() -> Principal:
        # The cached snapshot of the user is out of date: authenticate from the database.
        principal_cache().forget(principal.username)
        return require_principal(fresh=True)

    try:
        sent = _read_parts(parts, device_id(req))
        result = accept(rx, principal, sent, reauthenticate, rewind=parts.rewind).result
    finally:
        parts.close()
    if result.needs_processing:
        # After commit, from a background thread; if the broker is away that logs and the
        # sweeper re-sends later.
        rx.wakeups.add(result.submission_id)
    # No Location header: the stored submission has no URL of its own here, and a 201 without
    # one names the request's target as what was created (RFC 9110), all that a Location of
    # /submission said. Collect reads Location only on HEAD's 204, as a redirect; every 201
    # paid for building the absolute URL and werkzeug's conversion of it.
    return xml_response(RECEIVED, 201)


def device_id(req: Request) -> str | None:
    """The device Collect names in the query string ("collect:abc..."); the column holds 255."""
    return (req.args.get("deviceID") or "")[:255] or None


def _read_parts(parts: Multipart, device: str | None) -> Sent:
    xml_part = parts.file(XML_PART)
    if xml_part is not None:
        xml = xml_part.stream.read(MAX_XML_BYTES + 1)
    elif XML_PART in parts.fields:
        xml = parts.fields[XML_PART].encode("utf-8")
    else:
        raise bad_request(
            "submission.no_xml",
            "The submission has no xml_submission_file part, so there is nothing to store.",
        )
    if len(xml) > MAX_XML_BYTES:
        raise Problem(
            413,
            "submission.xml_too_large",
            f"The submission's XML is larger than {MAX_XML_BYTES} bytes.",
        )
    attachments: dict[str, IncomingAttachment] = {}
    for part in parts.files:
        if part.name == XML_PART:
            continue
        name = _attachment_name(part)
        # A name sent twice in one body: the later part wins, as a later POST would.
        attachments[name] = IncomingAttachment(
            name=name,
            content_type=(part.content_type or "application/octet-stream")[:128],
            stream=part.stream,
        )
    incomplete = parts.fields.get(INCOMPLETE_PART, "").strip().lower() in {"yes", "true"}
    return Sent(xml, list(attachments.values()), incomplete, device)


def _attachment_name(part: FilePart) -> str:
    name = part.filename or part.name
    if (
        not name
        or len(name) > 255
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or ".." in name
        or name == "."
    ):
        raise bad_request(
            "submission.bad_attachment_name",
            f"The attachment name {name!r} is not allowed: it must be a plain file name "
            "without folders.",
            name=name,
        )
    return name
