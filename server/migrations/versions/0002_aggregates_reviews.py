"""aggregates, review history, demo and deletion marks, JSONB rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:47:17.333752
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import server.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "aggregates",
        sa.Column("indicator_id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", ID, nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", server.db.ExactInt(), nullable=False),
        sa.Column("total_sq", server.db.ExactInt(), nullable=False),
        sa.Column("num", server.db.ExactInt(), nullable=False),
        sa.Column("den", server.db.ExactInt(), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_aggregates_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("indicator_id", "org_unit_id", "cycle", name=op.f("pk_aggregates")),
    )
    op.create_table(
        "submission_reviews",
        sa.Column("id", ID, nullable=False),
        sa.Column("submission_id", ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "received",
                "approved",
                "has_issues",
                "rejected",
                name="reviewstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reviewer_id", ID, nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_submission_reviews_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_reviews_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_reviews")),
    )
    with op.batch_alter_table("submission_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_reviews_submission_id"), ["submission_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "submission_rows",
            "data",
            existing_type=postgresql.JSON(astext_type=sa.Text()),
            type_=postgresql.JSONB(astext_type=sa.Text()),
            existing_nullable=False,
            postgresql_using="data::jsonb",
        )

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("cycle", sa.String(length=7), nullable=True))
        batch_op.add_column(
            sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_submissions_org_cycle", ["org_unit_id", "cycle"], unique=False)
        batch_op.create_index("ix_submissions_supersedes_id", ["supersedes_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_supersedes_id")
        batch_op.drop_index("ix_submissions_org_cycle")
        batch_op.drop_column("counted")
        batch_op.drop_column("cycle")
        batch_op.drop_column("demo")
        batch_op.drop_column("deleted_at")

    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "submission_rows",
            "data",
            existing_type=postgresql.JSONB(astext_type=sa.Text()),
            type_=postgresql.JSON(astext_type=sa.Text()),
            existing_nullable=False,
            postgresql_using="data::json",
        )

    with op.batch_alter_table("submission_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_reviews_submission_id"))
    op.drop_table("submission_reviews")
    op.drop_table("aggregates")
