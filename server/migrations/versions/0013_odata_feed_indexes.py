"""odata_feed_indexes: the indexes the OData feed pages and counts through

ix_submissions_feed (form_id, received_at, id) replaces ix_submissions_form_received
(form_id, received_at): the same order, with the row id that makes it a keyset, and on
PostgreSQL the columns the feed's conditions read (current, deleted_at, org_unit_id,
form_version_id), so a page of ids or a count is an index-only scan. ix_submission_rows_place
(submission_id, repeat_path, position) replaces ix_submission_rows_submission_id: a
submission's rows of one repeat come in order from one probe, and every row of a submission
still comes from its prefix. Each write pays for the same number of indexes as before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 03:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDE = ["current", "deleted_at", "org_unit_id", "form_version_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # CONCURRENTLY, outside a transaction, as 0008: the receiver and the worker keep
        # writing meanwhile. A build that failed half-way leaves an invalid index of that
        # name: dropped first.
        with op.get_context().autocommit_block():
            for name, table in (
                ("ix_submissions_feed", "submissions"),
                ("ix_submission_rows_place", "submission_rows"),
            ):
                op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(
                "ix_submissions_feed",
                "submissions",
                ["form_id", "received_at", "id"],
                postgresql_include=INCLUDE,
                postgresql_concurrently=True,
            )
            op.create_index(
                "ix_submission_rows_place",
                "submission_rows",
                ["submission_id", "repeat_path", "position"],
                postgresql_concurrently=True,
            )
            op.drop_index(
                "ix_submissions_form_received",
                table_name="submissions",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.drop_index(
                "ix_submission_rows_submission_id",
                table_name="submission_rows",
                postgresql_concurrently=True,
                if_exists=True,
            )
    else:
        op.create_index("ix_submissions_feed", "submissions", ["form_id", "received_at", "id"])
        op.create_index(
            "ix_submission_rows_place",
            "submission_rows",
            ["submission_id", "repeat_path", "position"],
        )
        op.drop_index("ix_submissions_form_received", table_name="submissions")
        op.drop_index("ix_submission_rows_submission_id", table_name="submission_rows")


def downgrade() -> None:
    op.create_index("ix_submissions_form_received", "submissions", ["form_id", "received_at"])
    op.create_index("ix_submission_rows_submission_id", "submission_rows", ["submission_id"])
    op.drop_index("ix_submission_rows_place", table_name="submission_rows")
    op.drop_index("ix_submissions_feed", table_name="submissions")
