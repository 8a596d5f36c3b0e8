"""submission_write_indexes: two indexes fewer on every write of a submission, one for failures

ix_submissions_status (processing_status, enqueued_at) served only the failures once the
waiting ones had their own index (0008), while every new submission and every processed one
added an entry to it; and PostgreSQL, its statistics thin, would read the whole list of
processed submissions through it to check a worker's batch for edits. ix_submissions_org_unit_id
repeats the first column of ix_submissions_org_cycle. The failures get a partial index of their
own, newest first as the dashboard lists them; rows enter it only when the worker fails them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILED = sa.text("processing_status = 'failed'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # CONCURRENTLY, outside a transaction, as 0008: the receiver keeps inserting meanwhile.
        # A build that failed half-way leaves an invalid index of that name: dropped first.
        with op.get_context().autocommit_block():
            op.drop_index(
                "ix_submissions_failed",
                table_name="submissions",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_submissions_failed",
                "submissions",
                ["received_at"],
                postgresql_where=FAILED,
                postgresql_concurrently=True,
            )
            for name in ("ix_submissions_status", "ix_submissions_org_unit_id"):
                op.drop_index(
                    name, table_name="submissions", postgresql_concurrently=True, if_exists=True
                )
    else:
        op.drop_index("ix_submissions_status", table_name="submissions")
        op.drop_index("ix_submissions_org_unit_id", table_name="submissions")
        op.create_index(
            "ix_submissions_failed", "submissions", ["received_at"], sqlite_where=FAILED
        )


def downgrade() -> None:
    op.drop_index("ix_submissions_failed", table_name="submissions")
    op.create_index(
        "ix_submissions_status", "submissions", ["processing_status", "enqueued_at"], unique=False
    )
    op.create_index("ix_submissions_org_unit_id", "submissions", ["org_unit_id"], unique=False)
