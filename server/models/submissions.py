from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, intpk, utcnow


class ProcessingStatus(enum.StrEnum):
    received = "received"  # committed by the receiver, waiting for the worker
    processed = "processed"  # validated and flattened
    failed = "failed"  # the worker found it invalid; failure_reason says why


class ReviewState(enum.StrEnum):
    received = "received"
    approved = "approved"
    has_issues = "has_issues"
    rejected = "rejected"


class Submission(Base):
    """One instance as Collect sent it. The XML is kept byte for byte.

    An edit (meta/deprecatedID) is a new row whose `supersedes_id` points at the row it replaces;
    only the newest row of a chain has `current` set.
    """

    __tablename__ = "submissions"

    id: Mapped[intpk]
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(255))
    deprecated_id: Mapped[str | None] = mapped_column(String(255))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    instance_name: Mapped[str | None] = mapped_column(String(255))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(255))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    # Collect is still sending attachments in further POSTs (*isIncomplete*=yes).
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        Enum(ProcessingStatus, native_enum=False, length=16), default=ProcessingStatus.received
    )
    failure_reason: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None] = mapped_column()
    # When the wake-up task was last sent; the sweeper re-sends after a grace period.
    enqueued_at: Mapped[dt.datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    review_state: Mapped[ReviewState] = mapped_column(
        Enum(ReviewState, native_enum=False, length=16), default=ReviewState.received
    )

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="Attachment.name"
    )

    __table_args__ = (
        UniqueConstraint("form_id", "instance_id"),
        Index("ix_submissions_status", "processing_status", "enqueued_at"),
        Index("ix_submissions_form_received", "form_id", "received_at"),
    )


class Attachment(Base):
    """A file received with a submission, stored content-addressed under the data directory."""

    __tablename__ = "attachments"

    id: Mapped[intpk]
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="attachments")

    __table_args__ = (UniqueConstraint("submission_id", "name"),)


class SubmissionRow(Base):
    """A flattened row: the submission's top level (repeat_path "") or one repeat instance.

    `data` maps field paths (relative to the row's group) to typed JSON values, so indicator
    queries read rows without touching XML.
    """

    __tablename__ = "submission_rows"

    id: Mapped[intpk]
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    repeat_path: Mapped[str] = mapped_column(String(1024), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    parent_position: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
