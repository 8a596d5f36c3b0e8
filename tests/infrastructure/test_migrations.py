"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, make_url, text

import server.models  # noqa: F401  (every table on Base.metadata)
from server import migrate
from server.db import Base
from tests.conftest import ADMIN_PG_URL


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_postgresql_schema_matches_the_models(pg_url: str) -> None:
    assert _differences(pg_url) == []


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.sqlite3'}"
    migrate.upgrade(url)
    assert _differences(url) == []


@pytest.mark.parametrize(
    ("before", "index", "status"),
    [("0007", "ix_submissions_waiting", "received"), ("0008", "ix_submissions_failed", "failed")],
)
def test_a_partial_index_is_built_again_over_a_failed_build(
    before: str, index: str, status: str
) -> None:
    """0008 and 0009 build their indexes CONCURRENTLY, outside a transaction: a build that
    failed half-way leaves an invalid index of that name, which a second run must replace,
    not trip over."""
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    name = f"dmip_test_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        config = migrate.alembic_config(url)
        command.upgrade(config, before)
        with engine.begin() as conn:  # what a failed build leaves: an index of that name
            conn.execute(text(f"CREATE INDEX {index} ON submissions (id)"))
        command.upgrade(config, "head")
        with engine.connect() as conn:
            definition = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": index}
            ).scalar_one()
            names = set(
                conn.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'submissions'")
                )
            )
        assert "WHERE" in definition and f"'{status}'" in definition
        assert not names & {"ix_submissions_status", "ix_submissions_org_unit_id"}
        command.downgrade(config, before)
        command.upgrade(config, "head")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()
