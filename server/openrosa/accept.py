"""Accepting one submission, whatever carried it: the checks and the storage that POST
/submission (and its key routes) and the Central API's POST and PUT of a submission share.

The caller has authenticated the sender (a `Principal`) and read what was sent (`Sent`: the XML
and, from a multipart body, its files). `accept` parses the XML once, resolves the form version
and the place from short-lived per-process caches, checks the sender's right to fill the form
and to report for that place, and hands everything to `server.services.ingest`, which commits
before it returns (and whose write re-checks the snapshot's credentials against the user row).
What only one protocol asks (Central's form id in the URL, its create that never resends) comes
in `Rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from server.app_state import db_session, open_db_session
from server.auth.form_access import principal_can_fill
from server.auth.principal import Principal
from server.domain.problems import bad_request, forbidden, not_found
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
from server.openrosa.deps import Place, Receiver
from server.openrosa.form_cache import FormTarget
from server.services.ingest import (
    IncomingAttachment,
    IncomingSubmission,
    IngestResult,
    StaleSubmitter,
    ingest_submission,
)
from server.services.ingest_edits import Editor
from server.services.orgunits import MAX_CODE_LENGTH

ACCEPTING = (VersionState.open, VersionState.closing)


@dataclass(frozen=True)
class Sent:
    """What a client sent for one submission."""

    xml: bytes
    attachments: Sequence[IncomingAttachment] = ()
    # Collect will send more attachments of this instance in further POSTs.
    incomplete: bool = False
    device_id: str | None = None


@dataclass(frozen=True)
class Rules:
    """What a protocol asks beyond the checks every submission passes."""

    # The form the request's URL names; the XML must be of that form.
    xml_form_id: str | None = None
    # Only a new instance is accepted (server/services/ingest.py `new_only`).
    new_only: bool = False
    # Called with the submission's meta before anything is stored; raises a Problem to refuse.
    check: Callable[[SubmissionMeta], None] | None = None


OPENROSA = Rules()


@dataclass(frozen=True)
class Accepted:
    result: IngestResult
    meta: SubmissionMeta
    # Who it was accepted from: after a retry, a fresher snapshot than the caller's.
    principal: Principal


def accept(
    rx: Receiver,
    principal: Principal,
    sent: Sent,
    reauthenticate: Callable[[], Principal],
    rules: Rules = OPENROSA,
    rewind: Callable[[], None] | None = None,
) -> Accepted:
    """Check and store `sent` from `principal`; raise a Problem to refuse it.

    The snapshot of the sender may be out of date (a password change or a deactivation a
    moment ago): the write then refuses it, and `reauthenticate` gives a snapshot from the
    database to start over with (after `rewind` puts the attachments' streams back).
    """
    try:
        return _accept(rx, principal, sent, rules)
    except StaleSubmitter:
        principal = reauthenticate()
        if rewind is not None:
            rewind()
        return _accept(rx, principal, sent, rules)


def _accept(rx: Receiver, principal: Principal, sent: Sent, rules: Rules) -> Accepted:
    try:
        root = parse(sent.xml)
        meta = read_meta(root)
    except (XmlError, MetaError) as exc:
        raise bad_request(exc.code, exc.message) from None
    if rules.xml_form_id is not None and meta.xml_form_id != rules.xml_form_id:
        raise bad_request(
            "submission.form_mismatch",
            f"The submission is of form {meta.xml_form_id!r} (its root's id), not of form "
            f"{rules.xml_form_id!r} that the address names.",
            xml_form_id=meta.xml_form_id,
        )
    target, version_id = _target(rx, meta)
    if not principal_can_fill(principal, target):
        raise forbidden(
            "submission.form_forbidden",
            f"You may not send submissions for form {meta.xml_form_id!r}.",
        )
    if rules.check is not None:
        rules.check(meta)
    org_unit_id = None
    location = deepest_location(root, target.location_fields)
    if location is not None:
        _level, sent_code = location
        code = canonical_code(sent_code)
        place = _place(rx, code)
        if place is None:
            # Never stored without its place: no one's scope would cover it and no indicator
            # would count it, silently. The phone keeps it and can send it again once the
            # place is right (or the register has it).
            shown = sent_code[:MAX_CODE_LENGTH]
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
        xml=sent.xml,
        attachments=sent.attachments,
        incomplete=sent.incomplete,
        device_id=sent.device_id,
        org_unit_id=org_unit_id,
        submitter_credentials_version=principal.credentials_version,
        editor=Editor(principal.role, principal.scope),
        new_only=rules.new_only,
    )
    # The session is made only if needed: a new submission is stored by one shared INSERT
    # (and one that cache misses opened gives its connection back before that INSERT).
    session = open_db_session() or db_session
    return Accepted(ingest_submission(session, rx.blobs, incoming, rx.inserts), meta, principal)


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
