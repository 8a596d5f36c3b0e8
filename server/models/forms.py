from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, intpk, utcnow


class VersionState(enum.StrEnum):
    draft = "draft"  # compiled and stored, not offered to Collect, refuses submissions
    open = "open"  # listed in formList and accepts submissions
    closing = "closing"  # not listed, still accepts submissions (phones not yet updated)
    closed = "closed"  # refuses submissions


class Form(Base):
    """The logical form (one xmlFormId); its content lives in immutable FormVersions."""

    __tablename__ = "forms"

    id: Mapped[intpk]
    xml_form_id: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    # The version formList offers; None until a version is published.
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_versions.id", use_alter=True, name="fk_forms_current_version_id")
    )
    # Roles that may fill this form in Collect (admins always may).
    roles: Mapped[list[str]] = mapped_column(
        default=lambda: ["enumerator", "subcounty_staff", "coordinator"]
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    current_version: Mapped[FormVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[FormVersion]] = relationship(
        back_populates="form", foreign_keys="FormVersion.form_id", order_by="FormVersion.id"
    )


class FormVersion(Base):
    """One compiled version of a form. Never changed after publishing, except its state.

    Versions a phone can have (open, closing, closed) are unique per form. A draft may carry the
    version of one of them, as Central's drafts may: a draft copied from the published version
    starts with its version, and gets a new one when it is published (`?version=`).
    """

    __tablename__ = "form_versions"

    id: Mapped[intpk]
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    state: Mapped[VersionState] = mapped_column(Enum(VersionState, native_enum=False, length=16))
    xlsform: Mapped[bytes | None] = mapped_column(LargeBinary)
    xlsform_filename: Mapped[str | None] = mapped_column(String(255))
    xform: Mapped[bytes] = mapped_column(LargeBinary)
    # md5 hex of the exact XForm bytes served; formList says "md5:" + this.
    md5: Mapped[str] = mapped_column(String(32))
    # Field list derived from the XForm (server/domain/xform/schema.py), so the receiver and
    # the worker never re-parse the form to know its fields.
    schema: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    published_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    form: Mapped[Form] = relationship(back_populates="versions", foreign_keys=[form_id])
    media: Mapped[list[MediaFile]] = relationship(
        back_populates="form_version", cascade="all, delete-orphan", order_by="MediaFile.filename"
    )

    __table_args__ = (
        Index(
            "uq_form_versions_published_version",
            "form_id",
            "version",
            unique=True,
            postgresql_where=text("state <> 'draft'"),
            sqlite_where=text("state <> 'draft'"),
        ),
    )


class MediaFile(Base):
    """A file a form needs on the phone (a CSV for select_one_from_file, an image, ...).

    Files generated from server data (kind "orgunits") are rewritten when that data changes, so
    adding a sub-county changes the manifest hash, not the form.
    """

    __tablename__ = "media_files"

    id: Mapped[intpk]
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="file")
    size: Mapped[int] = mapped_column(Integer)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    form_version: Mapped[FormVersion] = relationship(back_populates="media")

    __table_args__ = (UniqueConstraint("form_version_id", "filename"),)


class FormAssignment(Base):
    """Restricts an enumerator to named forms; an enumerator with none sees every form open to
    the enumerator role."""

    __tablename__ = "form_assignments"

    form_id: Mapped[int] = mapped_column(
        ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
