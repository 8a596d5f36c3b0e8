"""A submission version's files: those its XML names in the form's binary fields, whether the
server has each, and adding or removing one by hand (Central's submission attachments).

Files live in the blob store as the receiver's do: the blob is written (and fsynced) before its
`Attachment` row, so a row always has its file, and a blob a failed request leaves behind is
harmless (content addressed, reused by the next identical upload). The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.domain.xform.binary_fields import binary_paths, named_files
from server.domain.xform.safe_xml import XmlError, parse
from server.models import Attachment, FormVersion, Submission
from server.services.form_media import content_type_for
from server.storage.blobs import BlobStore

CONTENT_TYPE_LENGTH = 128


@dataclass(frozen=True)
class FileState:
    """A file the XML names, and what the server has of it (None: nothing yet)."""

    name: str
    attachment: Attachment | None


def expected_files(session: Session, row: Submission) -> list[str]:
    """The file names the version's XML gives in its form version's binary fields, sorted."""
    schema = session.scalar(select(FormVersion.schema).where(FormVersion.id == row.form_version_id))
    try:
        root = parse(row.xml)
    except XmlError:
        return []  # stored XML was parsed when it came in; nothing to name if it now is not
    return named_files(root, binary_paths(schema or []))


def file_states(session: Session, row: Submission) -> list[FileState]:
    stored = {a.name: a for a in row.attachments}
    return [FileState(name, stored.get(name)) for name in expected_files(session, row)]


def file_state(session: Session, row: Submission, name: str) -> FileState | None:
    """What the server has of `name`, or None when the XML names no such file."""
    return next((f for f in file_states(session, row) if f.name == name), None)


def attach(
    session: Session,
    blobs: BlobStore,
    row: Submission,
    name: str,
    stream: BinaryIO,
    content_type: str | None,
) -> Attachment:
    """Store `stream` as the version's file `name`, replacing what it had under that name.
    The caller has checked that the XML names it, and commits."""
    sha256, size = blobs.put_stream(stream)
    _lock(session, row)
    now = utcnow()
    kind = (content_type or "").strip() or content_type_for(name)
    attachment = _stored(session, row, name)
    if attachment is None:
        attachment = Attachment(submission_id=row.id, name=name)
        session.add(attachment)
    attachment.content_type = kind[:CONTENT_TYPE_LENGTH]
    attachment.sha256, attachment.size, attachment.received_at = sha256, size, now
    row.updated_at = now
    session.flush()
    return attachment


def detach(session: Session, row: Submission, name: str) -> bool:
    """Forget the version's file `name` (its blob stays, as every blob does); whether it had
    one. The caller commits."""
    _lock(session, row)
    attachment = _stored(session, row, name)
    if attachment is None:
        return False
    session.delete(attachment)
    row.updated_at = utcnow()
    session.flush()
    return True


def _lock(session: Session, row: Submission) -> None:
    # Two uploads of one file at once take turns rather than both inserting its row.
    session.execute(select(Submission.id).where(Submission.id == row.id).with_for_update())


def _stored(session: Session, row: Submission, name: str) -> Attachment | None:
    return session.scalar(
        select(Attachment).where(Attachment.submission_id == row.id, Attachment.name == name)
    )
