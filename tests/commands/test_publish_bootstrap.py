"""The embedded-mode bootstrap, on PostgreSQL and on the SQLite file the embedded mode uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from server.db import Database
from server.embedded.bootstrap import bootstrap_embedded
from server.models import Form, FormVersion, MediaFile, OrgUnit, User
from server.models.org import OrgLevel
from server.settings import Settings
from tests.fixtures.xlsforms.build import location_form, logo_form, simple_form, write


def counts(settings: Settings) -> dict[str, int]:
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            return {
                model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Form, FormVersion, MediaFile, OrgUnit, User)
            }
    finally:
        database.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_bootstrap_twice_is_idempotent(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    base: Settings = request.getfixturevalue(
        "settings" if backend == "postgresql" else "sqlite_settings"
    )
    forms_dir = tmp_path / "shipped"
    write(forms_dir / "school.xlsx", simple_form())
    write(forms_dir / "location.xlsx", location_form())
    write(forms_dir / "logo.xlsx", logo_form())  # logo.png missing: skipped, not fatal
    settings = base.with_overrides(forms_dir=forms_dir)

    logins = bootstrap_embedded(settings, demo_districts=2)
    first = counts(settings)
    assert bootstrap_embedded(settings, demo_districts=2) == logins
    assert counts(settings) == first

    assert [login.username for login in logins] == [
        "admin",
        "coordinator",
        "subcounty",
        "enumerator",
    ]
    assert first["Form"] == 2 and first["FormVersion"] == 2 and first["User"] == 4
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            by_name = {u.username: u for u in session.scalars(select(User))}
            for login in logins:
                user = by_name[login.username]
                assert user.role.value == login.role
                assert check_password_hash(user.password_hash, login.password)
                assert sorted(u.code for u in user.scope_units) == sorted(login.scope)
            coordinator = next(x for x in logins if x.username == "coordinator")
            assert len(coordinator.scope) == 2
            [subcounty] = next(x for x in logins if x.username == "subcounty").scope
            unit = session.scalar(select(OrgUnit).where(OrgUnit.code == subcounty))
            assert unit is not None and unit.level == OrgLevel.subcounty and unit.is_demo
            [enumerator_district] = next(x for x in logins if x.username == "enumerator").scope
            assert unit.code.startswith(enumerator_district + "-")
    finally:
        database.dispose()


def test_bootstrap_without_shipped_forms_publishes_nothing(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.with_overrides(forms_dir=sqlite_settings.data_dir / "no-forms")
    assert len(bootstrap_embedded(settings, demo_districts=1)) == 4
    assert counts(settings)["Form"] == 0
