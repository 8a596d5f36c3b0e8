"""aggregation_state: the catalog the aggregates were computed with, and a rebuild request

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 07:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "aggregation_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("catalog_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("built_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rebuild_requested_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregation_state")),
    )
    # The one row, there from the start, so readers never race to create it. No fingerprint
    # yet: the first aggregate update records the catalog it uses.
    op.bulk_insert(table, [{"id": 1}])


def downgrade() -> None:
    op.drop_table("aggregation_state")
