from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, ExactInt, utcnow


class Aggregate(Base):
    """The mergeable partial sums of one indicator for one org unit and planning cycle
    (server/domain/partials.py gives their meaning).

    Every level of the hierarchy has its own row: a submission's contribution is added to its
    org unit and to each ancestor, so a district's value is the merge of its sub-counties' and
    reading it costs one row. Values are fixed-point integers, exact under any order of updates.
    """

    __tablename__ = "aggregates"

    indicator_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    cycle: Mapped[str] = mapped_column(String(7), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(ExactInt, default=0)
    total_sq: Mapped[int] = mapped_column(ExactInt, default=0)
    num: Mapped[int] = mapped_column(ExactInt, default=0)
    den: Mapped[int] = mapped_column(ExactInt, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AggregationState(Base):
    """One row: the catalog the aggregates were computed with (the fingerprint of the catalog
    file and the published form versions, server/aggregation/catalog_source.py), and whether
    a rebuild is due because that changed (server/aggregation/catalog_state.py)."""

    __tablename__ = "aggregation_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_fingerprint: Mapped[str | None] = mapped_column(String(64))
    built_at: Mapped[dt.datetime | None] = mapped_column()
    rebuild_requested_at: Mapped[dt.datetime | None] = mapped_column()
