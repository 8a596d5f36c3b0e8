"""Tables for the web app: export jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, intpk, utcnow


class ExportJob(Base):
    """A requested export of a form's submissions, built by a worker."""

    __tablename__ = "export_jobs"

    id: Mapped[intpk]
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    format: Mapped[str] = mapped_column(String(8))  # "csv" | "xlsx"
    with_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    file_path: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    # Moved when a worker claims the job and with each progress commit (at least every 30 s
    # while it runs): a running job silent for long lost its worker (server/jobs.py).
    updated_at: Mapped[dt.datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
