"""Central's REST API: sign-in sessions, app users and their keys, comments on submissions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = server.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("app_user", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "api_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("credentials_version", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_api_sessions")),
    )
    with op.batch_alter_table("api_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_api_sessions_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "app_user_keys",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_app_user_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_app_user_keys_created_by_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_app_user_keys")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_app_user_keys_token_sha256")),
    )
    op.create_table(
        "submission_comments",
        sa.Column("id", ID, nullable=False),
        sa.Column("submission_id", ID, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_comments_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_submission_comments_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_comments")),
    )
    with op.batch_alter_table("submission_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_comments_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_comments_submission_id"))
    op.drop_table("submission_comments")
    op.drop_table("app_user_keys")
    with op.batch_alter_table("api_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_api_sessions_user_id"))
    op.drop_table("api_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("app_user")
