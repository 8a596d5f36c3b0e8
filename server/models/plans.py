"""Draft DMIPs: one plan per district and planning cycle, its sections, the coordinators' edits,
comments, the review history, and the versions frozen at approval."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, JSONDocument, intpk, utcnow


class PlanState(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"


def _state_column() -> Any:
    return mapped_column(Enum(PlanState, native_enum=False, length=24), default=PlanState.draft)


class DmipPlan(Base):
    """The plan of one district for one cycle.

    `stale` is set when new data changes an aggregate of the district; the worker regenerates
    the sections once no new data has come for a short while (`data_changed_at`), so a burst
    of submissions costs one regeneration."""

    __tablename__ = "dmip_plans"

    id: Mapped[intpk]
    district_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    cycle: Mapped[str] = mapped_column(String(7))
    state: Mapped[PlanState] = _state_column()
    stale: Mapped[bool] = mapped_column(Boolean, default=True)
    data_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    generated_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    sections: Mapped[list[PlanSection]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanSection.position"
    )

    __table_args__ = (
        UniqueConstraint("district_id", "cycle"),
        Index("ix_dmip_plans_stale", "stale", "data_changed_at"),
    )


class PlanSection(Base):
    """One section of a plan.

    `generated` is the section as the data writes it (server/domain/drafting/sections.py Section, as
    JSON), replaced at every regeneration. `edited_text`, when set, is a coordinator's text for
    the section's narrative and survives regenerations; `edit_base` is the generated narrative
    it was written against, so a later change of the data can be shown as what changed."""

    __tablename__ = "plan_sections"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(ForeignKey("dmip_plans.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(255))
    state: Mapped[PlanState] = _state_column()
    generated: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    generated_text: Mapped[str] = mapped_column(Text, default="")
    edited_text: Mapped[str | None] = mapped_column(Text)
    edit_base: Mapped[str | None] = mapped_column(Text)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    edited_at: Mapped[dt.datetime | None] = mapped_column()
    # The narrative the last review looked at, for "what changed since the last review".
    reviewed_text: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    plan: Mapped[DmipPlan] = relationship(back_populates="sections")

    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    @property
    def text(self) -> str:
        """The narrative a reader sees: the coordinator's, else the generated one."""
        return self.edited_text if self.edited_text is not None else self.generated_text

    @property
    def data_changed_since_edit(self) -> bool:
        return self.edited_text is not None and self.edit_base != self.generated_text


class PlanComment(Base):
    __tablename__ = "plan_comments"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("dmip_plans.id", ondelete="CASCADE"), index=True
    )
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan_sections.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlanEvent(Base):
    """The history of a plan: state changes, edits, regenerations, comments, exports."""

    __tablename__ = "plan_events"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("dmip_plans.id", ondelete="CASCADE"), index=True
    )
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan_sections.id", ondelete="CASCADE")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlanVersion(Base):
    """A plan as approved: every section's content and narrative, frozen."""

    __tablename__ = "plan_versions"

    id: Mapped[intpk]
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("dmip_plans.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("plan_id", "number"),)


class DocumentJob(Base):
    """A DOCX or PDF export of a plan (or of the cross-district synthesis when `plan_id` is
    empty), run by the worker, with its progress."""

    __tablename__ = "document_jobs"

    id: Mapped[intpk]
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("dmip_plans.id", ondelete="CASCADE"))
    cycle: Mapped[str] = mapped_column(String(7))
    format: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    file_path: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    # Moved when a worker claims the job and with each progress commit (at least every 30 s
    # while it runs): a running job silent for long lost its worker (server/jobs.py).
    updated_at: Mapped[dt.datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
