"""What the ingest service (server/services/ingest.py) takes and answers: a submission as the
receiver resolved it, its attachments' streams, and the outcome of storing it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from server.domain.xform.submission_meta import SubmissionMeta
from server.services.ingest_edits import Editor


@dataclass(frozen=True)
class IncomingAttachment:
    name: str
    content_type: str
    stream: BinaryIO


@dataclass(frozen=True)
class IncomingSubmission:
    form_id: int
    form_version_id: int
    submitter_id: int | None
    meta: SubmissionMeta
    xml: bytes
    attachments: Sequence[IncomingAttachment] = ()
    # Collect will send more attachments of this instance in further POSTs.
    incomplete: bool = False
    device_id: str | None = None
    org_unit_id: int | None = None
    # The credentials version the submitter was authenticated with, from a cached snapshot of
    # the user: the write then only happens while the user row is active and still has it.
    submitter_credentials_version: int | None = None
    # Synthetic data (`dmip demo`), marked in the row it arrives in, so no worker ever sees it
    # unmarked.
    demo: bool = False
    # Who is sending, for an edit: a reviewer may edit what others sent in their area
    # (server/services/ingest_edits.py). None holds an edit to its original's own submitter.
    editor: Editor | None = None
    # Only a new instance is accepted: one the server has is a 409 whatever its XML, never a
    # resend (the Central API's create and edit, which answer as Central does).
    new_only: bool = False


class StaleSubmitter(Exception):
    """The submitter was deactivated or changed password since the snapshot was taken."""


class Outcome(enum.StrEnum):
    created = "created"  # a new instance
    edited = "edited"  # a new row superseding the instance named by deprecatedID
    resent = "resent"  # the same XML again: attachments merged, nothing duplicated


@dataclass(frozen=True)
class IngestResult:
    submission_id: int
    outcome: Outcome
    # Send the processing task after commit: a new row, or a split submission just completed.
    needs_processing: bool
    # When the stored row was received, for a caller that shows it without reading it back.
    received_at: dt.datetime | None = None
