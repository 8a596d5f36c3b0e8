"""Everything the embedded mode needs before it serves: schema, hierarchy, forms, demo logins.

Safe to run on every start: each step leaves existing data as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from server import migrate
from server.db import Database
from server.models import Form, OrgUnit, Submission, User
from server.models.org import OrgLevel
from server.models.users import Role
from server.services.blobs import BlobStore
from server.services.demo_data import DEFAULT_SIZE, DemoSize
from server.services.demo_load import DemoLoadReport, load_demo
from server.services.forms import PublishError, PublishResult, publish_xlsform
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import ensure_uganda, make_demo_hierarchy
from server.services.users import create_user
from server.settings import Settings
from server.task_queue import TaskSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    scope: list[str]


# Fixed on purpose: the embedded mode is for laptops and workshops, and the start-up banner
# prints these so a trainer can hand them out. Production creates users with `dmip users create`.
DEMO_PASSWORDS = {
    "admin": "demo-admin-pass",
    "coordinator": "demo-coordinator-pass",
    "subcounty": "demo-subcounty-pass",
    "enumerator": "demo-enumerator-pass",
}


def shipped_forms(forms_dir: Path) -> list[Path]:
    """The XLSForms at the top level of the forms directory (Excel's lock files excluded)."""
    if not forms_dir.is_dir():
        return []
    return sorted(p for p in forms_dir.glob("*.xlsx") if not p.name.startswith("~$"))


class MediaBeside(Mapping[str, bytes]):
    """The files beside an XLSForm, read only when the form asks for them by name."""

    def __init__(self, xlsform: Path) -> None:
        self.directory = xlsform.parent
        self.xlsform = xlsform

    def _path(self, name: str) -> Path | None:
        if not name or "/" in name or "\\" in name or name in {".", ".."}:
            return None
        path = self.directory / name
        return path if path.is_file() and path != self.xlsform else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._path(name) is not None

    def __getitem__(self, name: str) -> bytes:
        path = self._path(name)
        if path is None:
            raise KeyError(name)
        return path.read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.name for p in self.directory.iterdir() if p.name in self))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def publish_file(
    session: Session, blobs: BlobStore, path: Path, actor: User | None = None
) -> PublishResult:
    """Publish an XLSForm from disk, taking the media it references from its directory."""
    return publish_xlsform(session, blobs, path.read_bytes(), path.name, MediaBeside(path), actor)


def _demo_users(session: Session, realm: str, districts: list[str]) -> list[DemoLogin]:
    # The sub-county staff user works in the enumerator's district, so one demo covers both.
    subcounty = None
    if districts:
        district_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == districts[0]))
        subcounty = session.scalar(
            select(OrgUnit.code)
            .where(OrgUnit.parent_id == district_id, OrgUnit.level == OrgLevel.subcounty)
            .order_by(OrgUnit.code)
        )
    wanted = [
        DemoLogin("admin", DEMO_PASSWORDS["admin"], Role.admin.value, []),
        DemoLogin("coordinator", DEMO_PASSWORDS["coordinator"], Role.coordinator.value, districts),
        DemoLogin(
            "subcounty",
            DEMO_PASSWORDS["subcounty"],
            Role.subcounty_staff.value,
            [subcounty] if subcounty else [],
        ),
        DemoLogin("enumerator", DEMO_PASSWORDS["enumerator"], Role.enumerator.value, districts[:1]),
    ]
    logins: list[DemoLogin] = []
    for login in wanted:
        if login.role != Role.admin.value and not login.scope:
            continue  # no demo area to put this user in
        exists = session.scalar(select(User.id).where(User.username == login.username))
        if exists is None:
            create_user(
                session,
                login.username,
                login.password,
                login.role,
                realm,
                login.scope,
                display_name=f"Demo {login.role.replace('_', ' ')}",
            )
        logins.append(login)
    return logins


def _publish_shipped(
    database: Database, blobs: BlobStore, forms_dir: Path, only_missing: bool = False
) -> None:
    """Publish the shipped forms (with `only_missing`, those the server does not have yet).

    A form that fails to compile is logged and skipped, so one broken spreadsheet does not
    keep the server from starting; `dmip forms publish` shows its errors in full.
    """
    for path in shipped_forms(forms_dir):
        if only_missing:
            with database.session() as session:
                if session.scalar(select(Form.id).where(Form.xml_form_id == path.stem)):
                    continue
        try:
            with database.session() as session:
                publish_file(session, blobs, path)
        except PublishError as exc:
            log.warning("form %s not published: %s", path.name, exc)


def bootstrap_embedded(settings: Settings, demo_districts: int = 3) -> list[DemoLogin]:
    """Migrate, load the hierarchy and demo units, publish shipped forms, create demo users."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    blobs = BlobStore(settings.attachments_dir)
    try:
        with database.session() as session:
            ensure_uganda(session)
            districts = make_demo_hierarchy(session, demo_districts) if demo_districts else []
            refresh_orgunit_media(session, blobs)
        _publish_shipped(database, blobs, settings.forms_dir)
        with database.session() as session:
            return _demo_users(session, settings.auth_realm, districts)
    finally:
        database.dispose()


def load_demo_data(
    settings: Settings,
    districts: int,
    seed: int = 0,
    cycle: str = "2025/26",
    size: DemoSize = DEFAULT_SIZE,
    first_start: bool = False,
) -> DemoLoadReport | None:
    """`dmip demo`: demo sub-counties for `districts` districts, the shipped forms if missing,
    and the demo data set through the ingest path; the worker is woken for every new row.

    The districts are chosen as `dmip serve` chooses them, so the data lands where its demo
    users work. With `first_start`, nothing is done (None) once the server holds any
    submission: demo data is for an empty server, and one deleted is not brought back.
    """
    database = Database(settings.database_url)
    blobs = BlobStore(settings.attachments_dir)
    try:
        if first_start:
            with database.session() as session:
                if session.scalar(select(exists().where(Submission.id.is_not(None)))):
                    return None
        with database.session() as session:
            ensure_uganda(session)
            codes = make_demo_hierarchy(session, districts)
            refresh_orgunit_media(session, blobs)
        _publish_shipped(database, blobs, settings.forms_dir, only_missing=True)
        with database.session() as session:
            return load_demo(
                session,
                blobs,
                TaskSender(settings),
                codes,
                settings.auth_realm,
                seed=seed,
                cycle=cycle,
                size=size,
            )
    finally:
        database.dispose()
