"""draft_versions: a draft may share its version with a published version of its form

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED = sa.text("state <> 'draft'")


def upgrade() -> None:
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_form_versions_form_id_version", type_="unique")
    op.create_index(
        "uq_form_versions_published_version",
        "form_versions",
        ["form_id", "version"],
        unique=True,
        postgresql_where=PUBLISHED,
        sqlite_where=PUBLISHED,
    )


def downgrade() -> None:
    # Drafts that share a version with a published one cannot survive the old constraint.
    op.execute(
        "DELETE FROM media_files WHERE form_version_id IN (SELECT d.id FROM form_versions d "
        "JOIN form_versions p ON p.form_id = d.form_id AND p.version = d.version "
        "AND p.id <> d.id WHERE d.state = 'draft')"
    )
    op.execute(
        "DELETE FROM form_versions WHERE state = 'draft' AND EXISTS (SELECT 1 FROM "
        "form_versions p WHERE p.form_id = form_versions.form_id AND p.version = "
        "form_versions.version AND p.id <> form_versions.id)"
    )
    op.drop_index("uq_form_versions_published_version", table_name="form_versions")
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_form_versions_form_id_version", ["form_id", "version"]
        )
