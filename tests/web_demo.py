"""A PostgreSQL database holding one demo district's data, processed and drafted, shared by the
tests of one module (loading it takes a while); users of every role around it.

    @pytest.fixture(scope="module")
    def demo(pg_url, tmp_path_factory):
        yield from demo_world(pg_url, tmp_path_factory)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.app import create_app
from server.db import Database
from server.demo.load import load_demo_data
from server.models import OrgUnit
from server.models.org import OrgLevel
from server.services.users import create_user
from server.settings import Settings
from tests.conftest import REDIS_URL, _truncate_all
from tests.paths import FORMS_DIR
from tests.web_client import sign_in
from workers import processing
from workers.regeneration import regenerate_due

PASSWORD = "password-123"
CYCLE = "2025/26"
ROLES = ("anonymous", "admin", "coordinator", "other_coordinator", "subcounty_staff", "enumerator")


@dataclass
class Demo:
    app: Flask
    settings: Settings
    db: Database
    district: str  # code of the demo district
    subcounty: str  # code of one of its sub-counties
    other: str  # code of a district without data

    def client(self, role: str) -> FlaskClient:
        client = self.app.test_client()
        if role != "anonymous":
            assert sign_in(client, role, PASSWORD).status_code == 302
        return client


def process_and_draft(db: Database) -> None:
    """What the worker does with received submissions: process each, then draft the plans."""
    processing.process_waiting(db)
    regenerate_due(db, debounce=0)


def demo_world(pg_url: str, factory: pytest.TempPathFactory) -> Iterator[Demo]:
    settings = Settings(
        data_dir=factory.mktemp("web-demo") / "data",
        database_url=pg_url,
        broker_url=REDIS_URL,
        secret_key="test-secret-key-0123456789",
        forms_dir=FORMS_DIR,
        embedded=False,
    )
    load_demo_data(settings, 1, seed=1, cycle=CYCLE)
    db = Database(pg_url)
    process_and_draft(db)
    with db.session() as s:
        subcounty = s.scalars(
            select(OrgUnit).where(OrgUnit.level == OrgLevel.subcounty).order_by(OrgUnit.code)
        ).first()
        assert subcounty is not None and subcounty.parent is not None
        district = subcounty.parent.code
        other = s.scalars(
            select(OrgUnit.code)
            .where(OrgUnit.level == OrgLevel.district, OrgUnit.code != district)
            .order_by(OrgUnit.code)
        ).first()
        assert other is not None
        realm = settings.auth_realm
        create_user(s, "admin", PASSWORD, "admin", realm)
        create_user(s, "coordinator", PASSWORD, "coordinator", realm, [district])
        create_user(s, "other_coordinator", PASSWORD, "coordinator", realm, [other])
        create_user(s, "subcounty_staff", PASSWORD, "subcounty_staff", realm, [subcounty.code])
        create_user(s, "enumerator", PASSWORD, "enumerator", realm, [subcounty.code])
        sub_code = subcounty.code
    app = create_app(settings)
    app.config["TESTING"] = True
    yield Demo(app, settings, db, district, sub_code, other)
    app.extensions["dmip"].db.dispose()
    db.dispose()
    _truncate_all(pg_url)
