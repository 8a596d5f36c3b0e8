"""guess_counts: failed sign-ins per account and address, for the limit on password guessing

The limit covers every way in (server/auth/guessing.py), with back-off instead of a lock, and
replaces the web form's own count of failures, login_failures, which goes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "guess_counts",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_audited", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guess_counts")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_guess_counts_kind_key")),
    )
    with op.batch_alter_table("guess_counts", schema=None) as batch_op:
        batch_op.create_index("ix_guess_counts_window_start", ["window_start"], unique=False)
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_username_at")
        batch_op.drop_index("ix_login_failures_address_at")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_address_at", ["address", "at"], unique=False)
        batch_op.create_index("ix_login_failures_username_at", ["username", "at"], unique=False)
    with op.batch_alter_table("guess_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_guess_counts_window_start")
    op.drop_table("guess_counts")
