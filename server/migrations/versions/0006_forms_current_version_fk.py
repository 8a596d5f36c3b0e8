"""forms.current_version_id: the foreign key 0001 declared but never created

0001 declared it inside create_table with use_alter=True; on PostgreSQL such a constraint is
left to a later ALTER that never came, so those databases have no such key. SQLite, which
cannot add a constraint later, got it inline and needs nothing.
(tests/infrastructure/test_migrations.py compares the migrated schema with the models on both.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            "fk_forms_current_version_id",
            "forms",
            "form_versions",
            ["current_version_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_forms_current_version_id", "forms", type_="foreignkey")
