"""Counts of failed sign-ins, for the limit on password guessing (server/auth/guessing.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, intpk


class GuessCount(Base):
    """Failed sign-ins under one key (`kind` "pair", "account" or "address"; see
    server/domain/guessing.py), in the database so every web process sees the same count."""

    __tablename__ = "guess_counts"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(160))
    failures: Mapped[int] = mapped_column(default=0)
    # When the first failure of the current count happened: the count starts afresh a window
    # later.
    window_start: Mapped[dt.datetime] = mapped_column()
    # No attempt under this key is checked before then.
    blocked_until: Mapped[dt.datetime | None] = mapped_column()
    # Whether a refused attempt of the current wait is in the audit log already: one row per
    # wait, so refused attempts cannot flood the log.
    refusal_audited: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_guess_counts_window_start", "window_start"),
    )
