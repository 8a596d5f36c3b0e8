"""Shared fixtures.

Integration tests run against a real PostgreSQL (a throwaway database per test session, built
with `alembic upgrade head`) and a real Redis. Tables are emptied after each test that used the
database, because a separate worker process may read what a test wrote, so a rolled-back
savepoint would not do.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server import migrate
from server.db import Database
from server.settings import Settings
from tests.paths import FORMS_DIR

# No wall-clock limit on any property test: how long an example takes says nothing about
# whether the property holds, and a loaded CI machine would fail them at random.
hypothesis_settings.register_profile("dmip", deadline=None)
hypothesis_settings.load_profile("dmip")

ADMIN_PG_URL = os.environ.get(
    "DMIP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DMIP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    admin = create_engine(ADMIN_PG_URL, isolation_level="AUTOCOMMIT")
    name = f"dmip_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    from server.db import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Iterator[Settings]:
    """Production-mode settings: PostgreSQL and Redis, data in a temporary directory."""
    yield Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        broker_url=REDIS_URL,
        secret_key="test-secret-key-0123456789",
        forms_dir=FORMS_DIR,
        embedded=False,
    )
    _truncate_all(pg_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Embedded-mode settings: a SQLite file and the filesystem queue, migrated to head."""
    data_dir = tmp_path / "embedded"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'dmip.sqlite3'}"
    migrate.upgrade(url)
    return Settings(
        data_dir=data_dir,
        database_url=url,
        broker_url="filesystem://",
        secret_key="test-secret-key-0123456789",
        forms_dir=FORMS_DIR,
        embedded=True,
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The same test on PostgreSQL and on the embedded mode's SQLite (a module may define its
    own `database` instead)."""
    fixture = "settings" if request.param == "postgresql" else "sqlite_settings"
    settings: Settings = request.getfixturevalue(fixture)
    db = Database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from server.app import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    application.extensions["dmip"].db.dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def db(app):  # type: ignore[no-untyped-def]
    """A session on the app's database; commits are real (tables are emptied afterwards)."""
    session = app.extensions["dmip"].db.sessionmaker()
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _default_catalog() -> Iterator[None]:
    """Commands run in-process (CliRunner) point the process at their settings' catalog; the
    next test starts from the shipped one again."""
    yield
    from server.aggregation import catalog_source

    catalog_source.configure(None)


DOMAIN_TESTS = Path(__file__).resolve().parent / "domain"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of the pure domain (tests/domain) are the fast tier, `make test-fast`."""
    for item in items:
        if DOMAIN_TESTS in item.path.parents:
            item.add_marker(pytest.mark.pure)
