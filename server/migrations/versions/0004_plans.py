"""draft DMIPs: plans, sections, comments, history, approved versions, document jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 03:11:02.524614
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import server.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dmip_plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("district_id", ID, nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "in_review",
                "changes_requested",
                "approved",
                name="planstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("data_changed_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("generated_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["org_units.id"], name=op.f("fk_dmip_plans_district_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dmip_plans")),
        sa.UniqueConstraint("district_id", "cycle", name=op.f("uq_dmip_plans_district_id_cycle")),
    )
    with op.batch_alter_table("dmip_plans", schema=None) as batch_op:
        batch_op.create_index("ix_dmip_plans_stale", ["stale", "data_changed_at"], unique=False)

    op.create_table(
        "document_jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=True),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("file_path", sa.String(length=1024), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_id", ID, nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dmip_plans.id"],
            name=op.f("fk_document_jobs_plan_id_dmip_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_document_jobs_requested_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_jobs")),
    )
    op.create_table(
        "plan_sections",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "in_review",
                "changes_requested",
                "approved",
                name="planstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "generated",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("generated_text", sa.Text(), nullable=False),
        sa.Column("edited_text", sa.Text(), nullable=True),
        sa.Column("edit_base", sa.Text(), nullable=True),
        sa.Column("edited_by_id", ID, nullable=True),
        sa.Column("edited_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_text", sa.Text(), nullable=True),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"], ["users.id"], name=op.f("fk_plan_sections_edited_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dmip_plans.id"],
            name=op.f("fk_plan_sections_plan_id_dmip_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_sections")),
        sa.UniqueConstraint("plan_id", "key", name=op.f("uq_plan_sections_plan_id_key")),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("approved_by_id", ID, nullable=True),
        sa.Column("approved_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_plan_versions_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dmip_plans.id"],
            name=op.f("fk_plan_versions_plan_id_dmip_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_plan_versions_plan_id_number")),
    )
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_versions_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_comments",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("section_id", ID, nullable=True),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_plan_comments_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dmip_plans.id"],
            name=op.f("fk_plan_comments_plan_id_dmip_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["plan_sections.id"],
            name=op.f("fk_plan_comments_section_id_plan_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_comments")),
    )
    with op.batch_alter_table("plan_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_comments_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("section_id", ID, nullable=True),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_plan_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dmip_plans.id"],
            name=op.f("fk_plan_events_plan_id_dmip_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["plan_sections.id"],
            name=op.f("fk_plan_events_section_id_plan_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_events")),
    )
    with op.batch_alter_table("plan_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_events_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("plan_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_events_plan_id"))

    op.drop_table("plan_events")
    with op.batch_alter_table("plan_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_comments_plan_id"))

    op.drop_table("plan_comments")
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_versions_plan_id"))

    op.drop_table("plan_versions")
    op.drop_table("plan_sections")
    op.drop_table("document_jobs")
    with op.batch_alter_table("dmip_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_dmip_plans_stale")

    op.drop_table("dmip_plans")
