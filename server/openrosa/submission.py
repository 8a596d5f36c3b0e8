"""POST /submission: receive one OpenRosa submission (or one part of a split one).

The handler authenticates before reading the body, parses the multipart body with file parts
spooled to disk, parses the XML once, resolves the form version and the place from short-lived
per-process caches, checks the user's right to fill the form and to report for that place
against a cached snapshot of the user (server/auth/principal.py), and hands everything to
`server.services.ingest`, which commits before we answer 201 and whose write re-checks the
snapshot's credentials against the user row.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request, Response, request
from sqlalchemy import select

from server.app_state import db_session, open_db_session
from server.auth.form_access import principal_can_fill
from server.auth.http import principal_cache, require_principal, require_user
from server.auth.principal import Principal
from server.domain.problems import Problem, bad_request, forbidden, not_found
from server.domain.xform.safe_xml import XmlError, parse
from server.domain.xform.submission_meta import (
    MetaError,
    SubmissionMeta,
    deepest_location,
    read_meta,
)
from server.models import OrgUnit
from server.models.forms import VersionState
from server.models.org import canonical_code
from server.openrosa.deps import Place, Receiver, receiver
from server.openrosa.form_cache import FormTarget
from server.openrosa.responses import xml_response
from server.openrosa.spool import FilePart, Multipart, parse_multipart
from server.openrosa.xml_documents import openrosa_response
from server.services.ingest import (
    IncomingAttachment,
    IncomingSubmission,
    IngestResult,
    StaleSubmitter,
    ingest_submission,
)
from server.services.ingest_edits import Editor
from server.services.orgunits import MAX_CODE_LENGTH

XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
# Submission XML is text; anything bigger is not a form instance. Attachments may be larger.
MAX_XML_BYTES = 16 * 1024 * 1024
ACCEPTING = (VersionState.open, VersionState.closing)
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
    # Collect names itself in the query string ("collect:abc..."); the column holds 255.
    device_id = (req.args.get("deviceID") or "")[:255] or None
    try:
        try:
            result = _accept(rx, principal, parts, device_id)
        except StaleSubmitter:
            # The cached snapshot of the user is out of date (a password change or a
            # deactivation a moment ago): authenticate from the database and start over.
            principal_cache().forget(principal.username)
            principal = require_principal(fresh=True)
            parts.rewind()
            result = _accept(rx, principal, parts, device_id)
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


@dataclass(frozen=True)
class _Parts:
    xml: bytes
    attachments: list[IncomingAttachment]
    incomplete: bool


def _read_parts(parts: Multipart) -> _Parts:
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
    return _Parts(xml, list(attachments.values()), incomplete)


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


def _accept(
    rx: Receiver, principal: Principal, parts: Multipart, device_id: str | None
) -> IngestResult:
    pieces = _read_parts(parts)
    try:
        root = parse(pieces.xml)
        meta = read_meta(root)
    except (XmlError, MetaError) as exc:
        raise bad_request(exc.code, exc.message) from None
    target, version_id = _target(rx, meta)
    if not principal_can_fill(principal, target):
        raise forbidden(
            "submission.form_forbidden",
            f"You may not send submissions for form {meta.xml_form_id!r}.",
        )
    org_unit_id = None
    location = deepest_location(root, target.location_fields)
    if location is not None:
        _level, sent = location
        code = canonical_code(sent)
        place = _place(rx, code)
        if place is None:
            # Never stored without its place: no one's scope would cover it and no indicator
            # would count it, silently. The phone keeps it and can send it again once the
            # place is right (or the register has it).
            shown = sent[:MAX_CODE_LENGTH]
            raise bad_request(
                "submission.org_unit_unknown",
                f"The org unit code {shown!r} is not in the register; choose the place again "
                "from the list in the form (get the current blank form first), or ask your "
                "coordinator to add it.",
                org_unit=shown,
            )
        if not principal.scope.covers(place.path):
            raise forbidden(
                "submission.out_of_scope",
                f"You may not send submissions for {place.name} ({code}); it is outside "
                "the area your account covers.",
                org_unit=code,
            )
        org_unit_id = place.id
    incoming = IncomingSubmission(
        form_id=target.id,
        form_version_id=version_id,
        submitter_id=principal.id,
        meta=meta,
        xml=pieces.xml,
        attachments=pieces.attachments,
        incomplete=pieces.incomplete,
        device_id=device_id,
        org_unit_id=org_unit_id,
        submitter_credentials_version=principal.credentials_version,
        editor=Editor(principal.role, principal.scope),
    )
    # The session is made only if needed: a new submission is stored by one shared INSERT
    # (and one that cache misses opened gives its connection back before that INSERT).
    session = open_db_session() or db_session
    return ingest_submission(session, rx.blobs, incoming, rx.inserts)


def _place(rx: Receiver, code: str) -> Place | None:
    """The org unit of a code in the register's form (`canonical_code`): the register's codes
    are upper case (server/services/orgunits.py makes them so as they enter), so the look-up
    goes through the unique index on `code`, once per code and process while the cache
    remembers it, with no functional index to keep."""
    if len(code) > MAX_CODE_LENGTH:
        return None  # longer than any code the register can hold
    cache = rx.places
    place = cache.get(code)
    if place is None:
        row = (
            db_session()
            .execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.code == code))
            .first()
        )
        if row is not None:
            place = Place(*row)
            cache.put(code, place)
    return place


def _target(rx: Receiver, meta: SubmissionMeta) -> tuple[FormTarget, int]:
    target = rx.forms.get(db_session, meta.xml_form_id, meta.version)
    if target is None:
        raise not_found(
            "submission.form_unknown",
            f"The server has no form {meta.xml_form_id!r}. Get the blank form from this server "
            "before filling it in.",
        )
    version_id = target.version_id
    if version_id is None:
        # 404 rather than 409: that version is a resource the server does not have (it was
        # never published here); nothing in the server's current state conflicts with it, and
        # no retry can succeed until the phone gets a blank form from this server.
        raise not_found(
            "submission.version_unknown",
            f"The server has no version {meta.version!r} of form {meta.xml_form_id!r}. Get "
            "the current blank form and fill it in again.",
        )
    if target.version_state not in ACCEPTING:
        # 403 rather than 409: the server understood the submission and refuses it by an
        # admin's decision (draft or closed form); resending cannot change that.
        raise forbidden(
            "submission.form_closed",
            f"Form {meta.xml_form_id!r} version {meta.version!r} is not accepting submissions.",
        )
    return target, version_id
