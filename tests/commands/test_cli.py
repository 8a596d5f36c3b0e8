"""The `dmip forms`, `dmip users` and `dmip org` commands against the test PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from werkzeug.security import check_password_hash

from server.cli import main
from server.db import Database
from server.models import FormVersion, User
from server.models.forms import VersionState
from server.services.orgunits import ensure_uganda
from server.services.users import digest_ha1
from server.settings import Settings
from tests.fixtures.xlsforms.build import location_form, logo_form, simple_form, write, xlsform


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "DMIP_DATABASE_URL": settings.database_url,
        "DMIP_DATA_DIR": str(settings.data_dir),
        "DMIP_FORMS_DIR": str(settings.forms_dir),
        "DMIP_SECRET_KEY": settings.secret_key,
    }


def run(settings: Settings, args: list[str], input: str | None = None) -> Result:
    return CliRunner().invoke(main, args, input=input, env=env_for(settings))


@pytest.fixture
def uganda(settings: Settings) -> Settings:
    database = Database(settings.database_url)
    with database.session() as session:
        ensure_uganda(session)
    database.dispose()
    return settings


def query_user(settings: Settings, username: str) -> User | None:
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            return session.scalar(select(User).where(User.username == username))
    finally:
        database.dispose()


# --- users -----------------------------------------------------------------------------------


def test_users_create_reads_the_password_from_stdin(uganda: Settings) -> None:
    result = run(
        uganda,
        ["users", "create", "okello", "--role", "enumerator", "--scope", "UG-101"],
        input="s3cret-pass\nignored second line\n",
    )
    assert result.exit_code == 0, result.output
    assert "created enumerator okello (scope: UG-101)" in result.stdout
    user = query_user(uganda, "okello")
    assert user is not None
    assert check_password_hash(user.password_hash, "s3cret-pass")
    assert user.digest_ha1 == digest_ha1("okello", uganda.auth_realm, "s3cret-pass")
    assert [s.org_unit.code for s in user.scopes] == ["UG-101"]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--role", "chief"], "long-enough", "unknown role 'chief'"),
        (["--role", "enumerator", "--scope", "UG-999"], "long-enough", "'UG-999'"),
        (["--role", "enumerator", "--scope", "UG-101"], "short", "at least 8 characters"),
        (["--role", "coordinator"], "long-enough", "needs at least one --scope"),
        (["--role", "admin"], "", "no password given"),
    ],
)
def test_users_create_errors_are_clear(
    uganda: Settings, args: list[str], password: str, message: str
) -> None:
    result = run(uganda, ["users", "create", "someone", *args], input=password and password + "\n")
    assert result.exit_code == 1
    assert message in result.stderr
    assert query_user(uganda, "someone") is None


def test_users_create_refuses_a_duplicate(uganda: Settings) -> None:
    args = ["users", "create", "admin1", "--role", "admin"]
    assert run(uganda, args, input="long-enough\n").exit_code == 0
    result = run(uganda, args, input="other-password\n")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


# --- org -------------------------------------------------------------------------------------


def test_org_import_reports_rows_and_imports_the_good_ones(
    uganda: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "subcounties.csv"
    csv_file.write_text(
        "code,name,level,parent_code\n"
        "UG-101-P1,Parish,parish,UG-101-S1\n"
        "UG-101-S1,Bujumba,subcounty,UG-101\n"
        "UG-101-S2,Nowhere,subcounty,UG-999\n"
    )
    result = run(uganda, ["org", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "added 2, changed 0, unchanged 0, rejected 1" in result.stdout
    assert "subcounties.csv: line 4: UG-101-S2: unknown parent UG-999" in result.stderr

    listed = run(uganda, ["org", "list", "--under", "UG-101"])
    assert listed.stdout.splitlines() == [
        "UG-101\tdistrict\tKalangala",
        "UG-101-S1\tsubcounty\tBujumba",
        "UG-101-P1\tparish\tParish",
    ]
    demo = run(uganda, ["org", "import", "--demo", str(csv_file)])
    assert "added 0, changed 2, unchanged 0, rejected 1" in demo.stdout
    assert "Bujumba (demo)" in run(uganda, ["org", "list", "--level", "subcounty"]).stdout


def test_org_import_refuses_a_file_without_the_columns(uganda: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("code,title\nUG-101-S1,Bujumba\n")
    result = run(uganda, ["org", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "missing: name, level" in result.stderr


def test_org_import_refreshes_generated_media(uganda: Settings, tmp_path: Path) -> None:
    write(tmp_path / "forms" / "location.xlsx", location_form())
    assert run(uganda, ["forms", "publish", str(tmp_path / "forms")]).exit_code == 0
    csv_file = tmp_path / "sc.csv"
    csv_file.write_text("code,name,level,parent_code\nUG-101-S1,Bujumba,subcounty,UG-101\n")
    result = run(uganda, ["org", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "refreshed 1 generated media file(s)" in result.stdout


# --- forms -----------------------------------------------------------------------------------


def test_forms_publish_reports_each_form_and_fails_if_any_failed(
    uganda: Settings, tmp_path: Path
) -> None:
    forms_dir = tmp_path / "forms"
    write(forms_dir / "a_school.xlsx", simple_form())
    write(forms_dir / "b_logo.xlsx", logo_form())
    (forms_dir / "logo.png").write_bytes(b"png")
    broken = write(
        tmp_path / "broken.xlsx",
        xlsform([("type", "name", "label"), ("integer", "x", "X"), ("integer", "x", "X")]),
    )

    first = run(uganda, ["forms", "publish", str(forms_dir), str(broken)])
    assert first.exit_code == 1
    assert "a_school.xlsx: created school_visit 1" in first.stdout
    assert "b_logo.xlsx: created with_logo 1" in first.stdout
    assert "broken.xlsx: sheet 'survey' row 3: " in first.stderr
    assert "1 of 3 form(s) failed" in first.stderr

    second = run(uganda, ["forms", "publish", str(forms_dir)])
    assert second.exit_code == 0
    assert "a_school.xlsx: unchanged school_visit 1" in second.stdout

    write(forms_dir / "a_school.xlsx", simple_form(version="2"))
    third = run(uganda, ["forms", "publish", str(forms_dir / "a_school.xlsx")])
    assert "a_school.xlsx: new version school_visit 2" in third.stdout
    database = Database(uganda.database_url)
    with database.session() as session:
        states = session.scalars(select(FormVersion.state).order_by(FormVersion.id)).all()
    database.dispose()
    assert states == [VersionState.closing, VersionState.open, VersionState.open]


def test_forms_publish_without_paths_uses_the_forms_dir(uganda: Settings, tmp_path: Path) -> None:
    settings = uganda.with_overrides(forms_dir=tmp_path / "shipped")
    assert "no XLSForm (.xlsx) found" in run(settings, ["forms", "publish"]).stderr
    write(settings.forms_dir / "school.xlsx", simple_form())
    result = run(settings, ["forms", "publish"])
    assert result.exit_code == 0
    assert "school.xlsx: created school_visit 1" in result.stdout


def test_real_console_script_from_another_directory(uganda: Settings, tmp_path: Path) -> None:
    dmip = shutil.which("dmip", path=str(Path(sys.executable).parent))
    assert dmip is not None, "the dmip console script is not installed in this environment"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(tmp_path / "forms" / "school.xlsx", simple_form())
    env = {**os.environ, **env_for(uganda)}
    published = subprocess.run(
        [dmip, "forms", "publish", str(tmp_path / "forms" / "school.xlsx")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    assert "school.xlsx: created school_visit 1" in published.stdout
    created = subprocess.run(
        [dmip, "users", "create", "piped", "--role", "admin"],
        cwd=elsewhere,
        env=env,
        input="piped-password\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    user = query_user(uganda, "piped")
    assert user is not None and check_password_hash(user.password_hash, "piped-password")
    # Nothing was written relative to the working directory.
    assert list(elsewhere.iterdir()) == []
