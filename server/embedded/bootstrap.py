"""Everything the embedded mode needs before it serves: schema, hierarchy, forms, demo logins.

Safe to run on every start: each step leaves existing data as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import migrate
from server.db import Database
from server.domain.roles import Role
from server.models import OrgUnit, User
from server.models.org import OrgLevel
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import ensure_uganda, make_demo_hierarchy
from server.services.shipped_forms import publish_shipped
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore


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
        publish_shipped(database, blobs, settings.forms_dir)
        with database.session() as session:
            return _demo_users(session, settings.auth_realm, districts)
    finally:
        database.dispose()
