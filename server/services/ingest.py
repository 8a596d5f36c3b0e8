"""Storing a submission durably: blobs first, then every row in one transaction.

Called by the OpenRosa receiver after it has authenticated the user, parsed the XML and resolved
the form version; it knows nothing of HTTP. When it returns, the rows are committed and the
files fsynced, so the caller may answer 201 and then wake the worker.

The database is the guard against duplicates: (form_id, instance_id) is unique. Two requests
racing with the same instance both try to insert, one wins, the other gets an IntegrityError,
rolls back and re-runs as a resend of the winner's row. Blobs are content addressed, so a blob
written for a transaction that then fails is harmless: the next identical upload reuses it.

A submission row is written in one of three ways, each for a reason:

- a new instance without attachments on PostgreSQL, which is nearly every request under load:
  server/services/ingest_insert.py, one prepared statement (for many concurrent requests at
  once), committed by itself with the submitter check inside it, because SQLAlchemy's
  execution would cost the receiver as much CPU as the insert;
- the same on SQLite: `_checked_insert`, the same statement built by SQLAlchemy, in autocommit;
- anything else (attachments, a resend, an edit, a row the single statement did not take), in
  one transaction: `_insert_unless_exists` for a new instance, and an ORM row for an edit, which
  also marks the version it replaces and carries its attachments forward.

An edit is accepted only from someone who may change the original (its sender, or a reviewer
whose area covers it: server/services/ingest_edits.py), checked before any file is stored.
What a caller hands in and gets back is in server/services/ingest_requests.py (and importable
from here).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import dialect_insert, utcnow
from server.domain.problems import conflict, not_found
from server.group_commit import GroupCommit
from server.models import Attachment, Submission, User
from server.models.submissions import ProcessingStatus, ReviewState
from server.services.ingest_edits import require_may_edit, require_may_replace
from server.services.ingest_insert import CHECKS, insert_new_rows
from server.services.ingest_requests import (
    IncomingAttachment,
    IncomingSubmission,
    IngestResult,
    Outcome,
    StaleSubmitter,
)
from server.storage.blobs import BlobStore

__all__ = [
    "IncomingAttachment",
    "IncomingSubmission",
    "IngestResult",
    "Outcome",
    "StaleSubmitter",
    "ingest_submission",
    "new_row_values",
]

# Each retry follows a lost insert race; a third loss in a row means something else is wrong.
_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class _StoredBlob:
    name: str
    content_type: str
    sha256: str
    size: int


def ingest_submission(
    session: Session | Callable[[], Session],
    blobs: BlobStore,
    incoming: IncomingSubmission,
    inserts: GroupCommit[dict[str, Any], int | None] | None = None,
) -> IngestResult:
    """Store `incoming` and commit; raise a Problem (409/404) if it cannot be accepted.

    `session` may be a function that makes one: the common case, a new submission stored by
    one INSERT, needs none when `inserts` is given. `inserts` (PostgreSQL only) gathers the new
    rows of concurrent requests into one statement (server/group_commit.py); its rows are
    built by `new_row_values` and written by server.services.ingest_insert.
    """
    if incoming.meta.deprecated_id is not None:
        # Before any file is stored, so a refused edit leaves nothing behind. An edit never
        # takes the single statement (nor the group commit) below: it is written in the
        # transaction, which checks again on the original it locks.
        session = _session(session)
        require_may_edit(
            session,
            incoming.form_id,
            incoming.meta.deprecated_id,
            incoming.submitter_id,
            incoming.editor,
        )
    stored = [_store_blob(blobs, a) for a in incoming.attachments]
    xml_sha256 = hashlib.sha256(incoming.xml).hexdigest()
    if _single_statement(incoming, stored):
        if isinstance(session, Session) and session.in_transaction():
            # Only reads happened so far (cache misses): end that transaction, so its
            # connection is free for the INSERT (whose isolation level is chosen when it is
            # procured).
            session.commit()
        values = new_row_values(incoming, xml_sha256)
        if inserts is not None:
            new_id = inserts.submit(values)
        else:
            new_id = _insert_new_alone(_session(session), values)
        if new_id is not None:
            return IngestResult(new_id, Outcome.created, True, values["received_at"])
        # The instance exists, or the submitter's snapshot is stale: the transaction below
        # tells which and answers as before.
    session = _session(session)
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            _check_submitter(session, incoming)
            result = _write_rows(session, incoming, xml_sha256, stored)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == _MAX_ATTEMPTS:
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _session(session: Session | Callable[[], Session]) -> Session:
    return session if isinstance(session, Session) else session()


def _single_statement(incoming: IncomingSubmission, stored: list[_StoredBlob]) -> bool:
    """Whether the submission can be stored by one INSERT in its own transaction: a new
    instance (not an edit) with no attachment rows, from a submitter the INSERT can check."""
    return (
        incoming.meta.deprecated_id is None
        and not stored
        and incoming.submitter_id is not None
        and incoming.submitter_credentials_version is not None
    )


def new_row_values(incoming: IncomingSubmission, xml_sha256: str) -> dict[str, Any]:
    """Every column of the new row (those a default would fill included, so nothing computes
    defaults) and the submitter check, for server.services.ingest_insert."""
    return {
        **_new_row(incoming, xml_sha256, utcnow()),
        "processing_status": ProcessingStatus.received.value,
        "attempts": 0,
        "review_state": ReviewState.received.value,
        "counted": False,
        "check_user_id": incoming.submitter_id,
        "check_version": incoming.submitter_credentials_version,
    }


def _insert_new_alone(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT the row of `values` (`new_row_values`) unless its instance exists or the
    submitter's credentials changed.

    The one statement runs in autocommit: the database commits it (durably) before answering,
    which saves the BEGIN and COMMIT round trips of a transaction. Returns the new id, or None
    when nothing was inserted. The session has no transaction open.
    """
    if session.get_bind().dialect.name == "postgresql":
        (outcome,) = insert_new_rows(session.get_bind(), [values])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome
    connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    # The submitter check is bound apart from the row's columns.
    columns = tuple(k for k in values if k not in CHECKS)
    statement = _checked_insert("sqlite", columns)
    try:
        new_id = connection.execute(statement, values).scalar()
    finally:
        # Gives the connection back to the pool, which restores its isolation level.
        session.commit()
    return new_id


@functools.cache
def _checked_insert(dialect: str, columns: tuple[str, ...]) -> Any:
    """INSERT ... SELECT <values> WHERE <submitter still valid> ON CONFLICT DO NOTHING.

    Built once per dialect with named parameters, so each request only binds values.
    """
    table = Submission.__table__
    users = User.__table__
    values = select(*[bindparam(c, type_=table.c[c].type) for c in columns]).where(
        exists().where(
            users.c.id == bindparam("check_user_id"),
            users.c.active.is_(true()),
            users.c.credentials_version == bindparam("check_version"),
        )
    )
    return (
        dialect_insert(dialect)(table)
        .from_select(list(columns), values)
        .on_conflict_do_nothing(index_elements=["form_id", "instance_id"])
        .returning(table.c.id)
    )


def _check_submitter(session: Session, incoming: IncomingSubmission) -> None:
    if incoming.submitter_credentials_version is None:
        return
    valid = session.scalar(
        select(User.id).where(
            User.id == incoming.submitter_id,
            User.active.is_(True),
            User.credentials_version == incoming.submitter_credentials_version,
        )
    )
    if valid is None:
        raise StaleSubmitter(incoming.submitter_id)


def _store_blob(blobs: BlobStore, attachment: IncomingAttachment) -> _StoredBlob:
    sha256, size = blobs.put_stream(attachment.stream)
    return _StoredBlob(attachment.name, attachment.content_type, sha256, size)


def _by_instance(session: Session, form_id: int, instance_id: str) -> Submission | None:
    # FOR UPDATE serialises concurrent parts of one split submission merging attachments
    # (SQLite ignores it and serialises every writer anyway).
    return session.scalar(
        select(Submission)
        .where(Submission.form_id == form_id, Submission.instance_id == instance_id)
        .with_for_update()
    )


def _write_rows(
    session: Session,
    incoming: IncomingSubmission,
    xml_sha256: str,
    stored: list[_StoredBlob],
) -> IngestResult:
    now = utcnow()
    meta = incoming.meta
    if meta.deprecated_id is None:
        # The common case, a new instance, costs one statement: insert unless it exists.
        new_id = _insert_unless_exists(session, incoming, xml_sha256, stored, now)
        if new_id is not None:
            return IngestResult(new_id, Outcome.created, True, now)
    existing = _by_instance(session, incoming.form_id, meta.instance_id)
    if existing is not None:
        if incoming.new_only:
            same = existing.xml_sha256 == xml_sha256
            raise conflict(
                "submission.exists",
                f"A submission with instanceID {meta.instance_id} is already on the server"
                + (" (with the same XML: it was stored before)." if same else "."),
                instance_id=meta.instance_id,
                same_xml=same,
            )
        if incoming.submitter_id != existing.submitter_id and (
            stored or (existing.incomplete and not incoming.incomplete)
        ):
            # A resend that would add or replace a file, or complete the submission, changes
            # it: only its sender or a reviewer of its area may (the same rule as an edit).
            require_may_replace(session, existing, incoming.submitter_id, incoming.editor)
        return _resend(existing, incoming, xml_sha256, stored, now)

    previous = None
    if meta.deprecated_id is not None:
        previous = _by_instance(session, incoming.form_id, meta.deprecated_id)
        if previous is None:
            # 404: the edit names a resource (the instance it replaces) that this server does
            # not have; no retry of this request can succeed, and the message says which.
            raise not_found(
                "submission.edit_unknown",
                f"This edit replaces submission {meta.deprecated_id}, which the server does "
                "not have. Send the original first, or send this one as a new submission.",
                deprecated_id=meta.deprecated_id,
            )
        if not previous.current:
            # 409: the edit is based on a version that another edit already replaced; it
            # conflicts with the current state of the record rather than being malformed.
            raise conflict(
                "submission.edit_outdated",
                f"Submission {meta.deprecated_id} was already edited on the server; this edit "
                "is based on an old version and was not saved.",
                deprecated_id=meta.deprecated_id,
            )
        require_may_replace(session, previous, incoming.submitter_id, incoming.editor)

    row = Submission(**_new_row(incoming, xml_sha256, now), deprecated_id=meta.deprecated_id)
    attachments: dict[str, Attachment] = {}
    if previous is not None:
        row.supersedes_id = previous.id
        # As in Central: an edit shows as "edited" until it is reviewed, and counts as a
        # received one does (only "rejected" leaves the indicators).
        row.review_state = ReviewState.edited
        previous.current = False
        previous.updated_at = now
        # Collect re-sends only the files the person changed; the others come forward by name.
        for old in previous.attachments:
            attachments[old.name] = Attachment(
                name=old.name,
                content_type=old.content_type,
                size=old.size,
                sha256=old.sha256,
                received_at=old.received_at,
            )
    for blob in stored:
        attachments[blob.name] = Attachment(
            name=blob.name,
            content_type=blob.content_type,
            size=blob.size,
            sha256=blob.sha256,
            received_at=now,
        )
    row.attachments = list(attachments.values())
    session.add(row)
    session.flush()
    outcome = Outcome.edited if previous is not None else Outcome.created
    return IngestResult(row.id, outcome, True, now)


def _insert_unless_exists(
    session: Session,
    incoming: IncomingSubmission,
    xml_sha256: str,
    stored: list[_StoredBlob],
    now: dt.datetime,
) -> int | None:
    """Insert the row with ON CONFLICT DO NOTHING; its id, or None if the instance exists.

    A concurrent insert of the same instance makes this wait for that transaction and then
    return None, so the caller goes on to treat it as a resend, with no exception involved.
    """
    upsert = dialect_insert(session.get_bind().dialect.name)
    statement = (
        upsert(Submission)
        .values(**_new_row(incoming, xml_sha256, now))
        .on_conflict_do_nothing(index_elements=["form_id", "instance_id"])
        .returning(Submission.id)
    )
    new_id = session.execute(statement).scalar()
    if new_id is not None and stored:
        session.execute(
            insert(Attachment),
            [
                {
                    "submission_id": new_id,
                    "name": blob.name,
                    "content_type": blob.content_type,
                    "size": blob.size,
                    "sha256": blob.sha256,
                    "received_at": now,
                }
                for blob in stored
            ],
        )
    return new_id


def _resend(
    existing: Submission,
    incoming: IncomingSubmission,
    xml_sha256: str,
    stored: list[_StoredBlob],
    now: dt.datetime,
) -> IngestResult:
    if existing.xml_sha256 != xml_sha256:
        raise conflict(
            "submission.conflict",
            f"A different submission with instanceID {incoming.meta.instance_id} is already on "
            "the server. If you edited it, send it as an edit; otherwise it was not saved.",
            instance_id=incoming.meta.instance_id,
        )
    by_name = {a.name: a for a in existing.attachments}
    changed = False
    for blob in stored:
        current = by_name.get(blob.name)
        if current is None:
            attachment = Attachment(
                name=blob.name,
                content_type=blob.content_type,
                size=blob.size,
                sha256=blob.sha256,
                received_at=now,
            )
            existing.attachments.append(attachment)
            by_name[blob.name] = attachment
            changed = True
        elif current.sha256 != blob.sha256:
            # The same XML names this file; a differing copy means an earlier upload was cut
            # short or damaged on the phone, so the newest one is kept.
            current.sha256, current.size = blob.sha256, blob.size
            current.content_type = blob.content_type
            current.received_at = now
            changed = True
    completed = existing.incomplete and not incoming.incomplete
    if completed:
        # Only the last part clears the flag; an earlier part re-sent later never sets it back.
        existing.incomplete = False
        existing.enqueued_at = now
        changed = True
    if changed:
        existing.updated_at = now
    return IngestResult(existing.id, Outcome.resent, completed, existing.received_at)


def _new_row(incoming: IncomingSubmission, xml_sha256: str, now: dt.datetime) -> dict[str, Any]:
    """Column values of a newly received submission (a first version or an edit)."""
    return {
        "form_id": incoming.form_id,
        "form_version_id": incoming.form_version_id,
        "instance_id": incoming.meta.instance_id,
        "instance_name": incoming.meta.instance_name,
        "submitter_id": incoming.submitter_id,
        "device_id": incoming.device_id,
        "org_unit_id": incoming.org_unit_id,
        "received_at": now,
        "updated_at": now,
        "xml": incoming.xml,
        "xml_sha256": xml_sha256,
        "incomplete": incoming.incomplete,
        "current": True,
        "enqueued_at": now,
        "demo": incoming.demo,
    }
