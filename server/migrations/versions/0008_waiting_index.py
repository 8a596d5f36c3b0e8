"""waiting_index: the submissions still waiting for the worker, by id

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("processing_status = 'received'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Built without blocking the receiver's inserts for the length of a full scan of a
        # large submissions table (CONCURRENTLY must run outside a transaction). A build that
        # failed half-way leaves an invalid index of that name behind: dropped first.
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_submissions_waiting",
                table_name="submissions",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_submissions_waiting",
                "submissions",
                ["id"],
                postgresql_where=WAITING,
                postgresql_concurrently=True,
            )
    else:
        op.create_index("ix_submissions_waiting", "submissions", ["id"], sqlite_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_submissions_waiting", table_name="submissions")
