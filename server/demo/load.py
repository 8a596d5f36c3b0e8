"""Loading the demo data set through the path real submissions take.

Each generated instance is parsed and read like a received one (server/domain/xform), stored by
`ingest_submission` (committed, deduplicated by instanceID) marked as demo data in the same
row, so no worker (which may take any waiting row into its batch) sees it unmarked. The
generator's instanceIDs are deterministic, so a second load re-sends: nothing is duplicated.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from server.db import Database
from server.demo.common import DEMO_DEVICE, DEMO_USERNAME
from server.demo.dataset import (
    DEFAULT_SIZE,
    FORM_IDS,
    DemoDistrict,
    DemoError,
    DemoInstance,
    DemoSize,
    DemoSubcounty,
    FormShape,
    generate,
)
from server.domain.problems import Problem
from server.domain.roles import Role
from server.domain.xform.safe_xml import parse
from server.domain.xform.schema import location_fields
from server.domain.xform.submission_meta import deepest_location, read_meta
from server.models import Form, FormVersion, OrgUnit, Submission, User
from server.models.org import OrgLevel
from server.services.ingest import IncomingSubmission, Outcome, ingest_submission
from server.services.orgunit_media import refresh_orgunit_media
from server.services.orgunits import ensure_uganda, make_demo_hierarchy
from server.services.shipped_forms import publish_shipped
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from server.task_queue import PROCESS_SUBMISSION, TaskSender

# Rows are marked demo and their tasks sent in batches: few round trips, and a worker never
# waits long for the first of them.
BATCH = 100


@dataclass
class DemoLoadReport:
    cycle: str
    districts: list[str]
    # form_id -> instances stored for the first time / already there (a re-run).
    created: Counter[str] = field(default_factory=Counter)
    resent: Counter[str] = field(default_factory=Counter)
    # Instances refused because a different instance with the same ID is stored (the data set
    # of an older release): the stored one is kept.
    conflicts: Counter[str] = field(default_factory=Counter)
    flawed: int = 0
    tasks_sent: int = 0
    tasks_failed: int = 0

    @property
    def total(self) -> int:
        return sum(self.created.values()) + sum(self.resent.values())


def demo_districts(session: Session, codes: Sequence[str]) -> list[DemoDistrict]:
    """The districts named by `codes` with their sub-counties and parishes, as the generator
    takes them."""
    units = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}
    missing = [c for c in codes if c not in units or units[c].level != OrgLevel.district]
    if missing:
        raise DemoError(f"No such district: {', '.join(missing)}.")
    out: list[DemoDistrict] = []
    for code in codes:
        district = units[code]
        region = session.scalar(select(OrgUnit.code).where(OrgUnit.id == district.parent_id))
        below = session.scalars(
            select(OrgUnit)
            .where(OrgUnit.path.startswith(district.path, autoescape=True))
            .where(OrgUnit.level.in_([OrgLevel.subcounty, OrgLevel.parish]))
            .order_by(OrgUnit.code)
        ).all()
        parishes: dict[int, list[str]] = {}
        for unit in below:
            if unit.level == OrgLevel.parish and unit.parent_id is not None:
                parishes.setdefault(unit.parent_id, []).append(unit.code)
        subcounties = tuple(
            DemoSubcounty(u.code, tuple(parishes.get(u.id, ())))
            for u in below
            if u.level == OrgLevel.subcounty
        )
        out.append(DemoDistrict(code, region or "", subcounties))
    return out


@dataclass(frozen=True)
class _Target:
    form_id: int
    version_id: int
    shape: FormShape
    location_fields: dict[str, str]


def _targets(session: Session) -> dict[str, _Target]:
    rows = session.execute(
        select(Form, FormVersion)
        .join(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.xml_form_id.in_(FORM_IDS))
    ).all()
    out: dict[str, _Target] = {}
    for form, version in rows:
        schema = list(version.schema or [])
        out[form.xml_form_id] = _Target(
            form.id,
            version.id,
            FormShape(form.xml_form_id, version.version, schema),
            location_fields(schema),
        )
    return out


def ensure_demo_submitter(session: Session, realm: str, districts: Sequence[str]) -> User:
    """The enumerator the demo submissions come from, covering the demo districts.

    Nobody logs in as it: the password is random and never shown.
    """
    user = session.scalar(select(User).where(User.username == DEMO_USERNAME))
    if user is None:
        user = create_user(
            session,
            DEMO_USERNAME,
            secrets.token_urlsafe(24),
            Role.enumerator,
            realm,
            list(districts),
            display_name="Demo enumerator (generated data)",
        )
        session.flush()
    return user


def load_demo(
    session: Session,
    blobs: BlobStore,
    tasks: TaskSender | None,
    districts: Sequence[str],
    realm: str,
    seed: int = 0,
    cycle: str = "2025/26",
    size: DemoSize = DEFAULT_SIZE,
) -> DemoLoadReport:
    """Generate the data set for `districts` and ingest it; wake the worker for new rows.

    With `tasks` None nothing is sent (the sweeper picks the rows up). Commits as it goes.
    """
    targets = _targets(session)
    missing = [f for f in FORM_IDS if f not in targets]
    if missing:
        raise DemoError(f"Publish these forms first: {', '.join(missing)}.")
    submitter_id = ensure_demo_submitter(session, realm, districts).id
    session.commit()
    shapes = {form_id: t.shape for form_id, t in targets.items()}
    instances = generate(demo_districts(session, districts), shapes, seed, cycle, size)
    org_ids = _org_ids(session, districts)
    report = DemoLoadReport(cycle, list(districts))
    pending: list[tuple[int, bool]] = []
    for instance in instances:
        target = targets[instance.form_id]
        outcome = _ingest_one(session, blobs, target, instance, submitter_id, org_ids, report)
        if outcome is not None:
            pending.append(outcome)
        if len(pending) >= BATCH:
            _mark_and_send(session, tasks, pending, report)
            pending = []
    _mark_and_send(session, tasks, pending, report)
    return report


def _org_ids(session: Session, districts: Sequence[str]) -> dict[str, int]:
    paths = session.scalars(select(OrgUnit.path).where(OrgUnit.code.in_(districts))).all()
    ids: dict[str, int] = {}
    for path in paths:
        query = select(OrgUnit.code, OrgUnit.id).where(
            OrgUnit.path.startswith(path, autoescape=True)
        )
        ids.update({code: unit_id for code, unit_id in session.execute(query)})
    return ids


def _ingest_one(
    session: Session,
    blobs: BlobStore,
    target: _Target,
    instance: DemoInstance,
    submitter_id: int,
    org_ids: dict[str, int],
    report: DemoLoadReport,
) -> tuple[int, bool] | None:
    # Read exactly as the receiver reads a submission: the XML is the only input.
    root = parse(instance.xml)
    meta = read_meta(root)
    location = deepest_location(root, target.location_fields)
    incoming = IncomingSubmission(
        form_id=target.form_id,
        form_version_id=target.version_id,
        submitter_id=submitter_id,
        meta=meta,
        xml=instance.xml,
        device_id=DEMO_DEVICE,
        org_unit_id=org_ids.get(location[1]) if location else None,
        demo=True,
    )
    try:
        result = ingest_submission(session, blobs, incoming)
    except Problem as exc:
        if exc.status != 409:
            raise
        report.conflicts[instance.form_id] += 1
        return None
    if result.outcome is Outcome.created:
        report.created[instance.form_id] += 1
    else:
        report.resent[instance.form_id] += 1
    report.flawed += bool(instance.flaws)
    return result.submission_id, result.needs_processing


def _mark_and_send(
    session: Session,
    tasks: TaskSender | None,
    batch: Iterable[tuple[int, bool]],
    report: DemoLoadReport,
) -> None:
    batch = list(batch)
    if not batch:
        return
    # Rows stored before demo rows were marked on arrival, resent now, are marked here.
    session.execute(
        update(Submission)
        .where(Submission.id.in_([sid for sid, _ in batch]), Submission.demo.is_(False))
        .values(demo=True)
    )
    session.commit()
    if tasks is None:
        return
    for submission_id, needs_processing in batch:
        if needs_processing:
            if tasks.send(PROCESS_SUBMISSION, submission_id):
                report.tasks_sent += 1
            else:
                report.tasks_failed += 1


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
        publish_shipped(database, blobs, settings.forms_dir, only_missing=True)
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
