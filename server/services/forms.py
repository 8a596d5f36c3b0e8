"""Publishing compiled XLSForms (server/domain/xform/xlsform.py) as immutable form versions.

`publish_xlsform` applies the versioning rules:

- a new xmlFormId makes a new Form and its first, open version;
- the same version with byte-identical XForm is a no-op ("unchanged");
- the same version with different content is refused: phones that have the old XForm would
  never fetch the new one, because Collect compares versions;
- a new version becomes the open one and the previous open version turns "closing", so phones
  that have not updated yet can still send what they filled in;
- with `draft=True` the new version is stored as a draft instead: not offered to Collect and
  refusing submissions until `open_version` opens it. A draft may be replaced by a file of the
  same version, since no phone has it yet;
- opening and closing are server/services/form_states.py; Central's drafts (a draft copied
  from the published version, an XForm uploaded as XML, a version given at publishing) are
  server/services/form_drafts.py, on the same compiler and storage.

Org-unit CSVs a form references (regions.csv, districts.csv, ...) are generated from the
hierarchy, never read from disk; every other referenced file must be supplied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import dialect_insert
from server.domain.xform.xlsform import CompileResult, Issue, compile_xlsform
from server.models import AuditEvent, Form, FormVersion, User
from server.models.forms import VersionState
from server.services.form_media import (
    MediaContent,
    missing_media_issues,
    plan_media,
    store_media,
)
from server.services.form_states import make_open
from server.services.orgunit_media import ORGUNIT_KIND, refresh_orgunit_media
from server.storage.blobs import BlobStore


class PublishError(Exception):
    """The form was not published; `issues` says why, in the form author's terms."""

    def __init__(self, issues: list[Issue], warnings: list[Issue] | None = None) -> None:
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues
        self.warnings = warnings or []


@dataclass
class PublishResult:
    form: Form
    version: FormVersion
    status: str  # "created" | "new_version" | "unchanged"
    warnings: list[Issue] = field(default_factory=list)
    # Supplied media whose content differed from the stored copy of an unchanged version.
    media_updated: list[str] = field(default_factory=list)


def publish_xlsform(
    session: Session,
    blobs: BlobStore,
    xlsform: bytes,
    filename: str,
    media: Mapping[str, bytes] | None = None,
    actor: User | None = None,
    draft: bool = False,
) -> PublishResult:
    """Compile and publish one XLSForm in the caller's transaction. Raises PublishError.

    With `draft`, the version is stored as a draft (status "draft") and the open one stays open.
    """
    compiled = compile_xlsform(xlsform, filename)
    if not compiled.ok:
        raise PublishError(compiled.errors, compiled.warnings)
    assert compiled.info is not None and compiled.xform is not None
    info, xform = compiled.info, compiled.xform
    contents = _collect_media(compiled, session, media or {})
    md5 = hashlib.md5(xform, usedforsecurity=False).hexdigest()

    form, created = form_for_update(session, info.xml_form_id, info.title)
    if not created:
        # A published version of that name decides first; a draft may share its name (one
        # copied by the Central API), and is replaced only when no published one has it.
        same_version = session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form.id, FormVersion.version == info.version)
            .order_by(FormVersion.state == VersionState.draft, FormVersion.id.desc())
        ).first()
        if same_version is not None and same_version.state is VersionState.draft:
            _replace_draft(blobs, same_version, xlsform, filename, compiled, contents)
            return _finish(
                session, form, same_version, "new_version", compiled, contents, actor, draft
            )
        if same_version is not None:
            return _republish(session, blobs, form, same_version, xform, contents, compiled)

    status = "created" if created else "new_version"
    version = FormVersion(
        form_id=form.id,
        version=info.version,
        title=info.title,
        state=VersionState.draft,
        xlsform=xlsform,
        xlsform_filename=filename,
        xform=xform,
        md5=md5,
        schema=info.fields,
    )
    version.media = [store_media(blobs, item) for item in contents]
    session.add(version)
    session.flush()
    return _finish(session, form, version, status, compiled, contents, actor, draft)


def form_for_update(session: Session, xml_form_id: str, title: str) -> tuple[Form, bool]:
    """The form's row, locked until the caller's transaction ends, made first if the server
    has none; and whether it was made. Two first publishes of one form at once: the second's
    INSERT waits on the first's row (xml_form_id is unique) and, once the first commits,
    inserts nothing; it goes on as a publish of that existing form (unchanged, a new version,
    or a clear refusal), not an error.
    """
    locked = select(Form).where(Form.xml_form_id == xml_form_id).with_for_update()
    form = session.scalar(locked)
    if form is not None:
        return form, False
    insert = dialect_insert(session.get_bind().dialect.name)
    made = session.scalar(
        insert(Form)
        .values(xml_form_id=xml_form_id, title=title)
        .on_conflict_do_nothing(index_elements=["xml_form_id"])
        .returning(Form.id)
    )
    return session.scalars(locked).one(), made is not None


def _collect_media(
    compiled: CompileResult, session: Session, media: Mapping[str, bytes]
) -> list[MediaContent]:
    plan = plan_media(compiled, session, media)
    if plan.missing:
        raise PublishError(missing_media_issues(plan.missing), compiled.warnings)
    return plan.contents


def _finish(
    session: Session,
    form: Form,
    version: FormVersion,
    status: str,
    compiled: CompileResult,
    contents: list[MediaContent],
    actor: User | None,
    draft: bool,
) -> PublishResult:
    """Open the stored version unless a draft was asked for, and record who did it."""
    if draft:
        status = "draft"
    else:
        make_open(form, version, session)
    session.add(
        AuditEvent(
            actor_id=actor.id if actor is not None else None,
            action="form.draft" if draft else "form.publish",
            target_type="form",
            target_id=form.xml_form_id,
            details={
                "version": version.version,
                "status": status,
                "md5": version.md5,
                "filename": version.xlsform_filename,
                "media": sorted(item.filename for item in contents),
            },
        )
    )
    session.flush()
    return PublishResult(form, version, status, compiled.warnings)


def _replace_draft(
    blobs: BlobStore,
    version: FormVersion,
    xlsform: bytes,
    filename: str,
    compiled: CompileResult,
    contents: list[MediaContent],
) -> None:
    """Give a draft new content: no phone has seen it, so its version need not change."""
    assert compiled.info is not None and compiled.xform is not None
    version.title = compiled.info.title
    version.xlsform = xlsform
    version.xlsform_filename = filename
    version.xform = compiled.xform
    version.md5 = hashlib.md5(compiled.xform, usedforsecurity=False).hexdigest()
    version.schema = compiled.info.fields
    # Rows are updated in place: replacing the list would insert the new rows before deleting
    # the old ones and trip the (version, filename) unique constraint.
    by_name = {m.filename: m for m in version.media}
    for item in contents:
        fresh = store_media(blobs, item)
        current = by_name.pop(item.filename, None)
        if current is None:
            version.media.append(fresh)
            continue
        current.sha256, current.md5, current.size = fresh.sha256, fresh.md5, fresh.size
        current.content_type, current.kind = fresh.content_type, fresh.kind
        current.updated_at = fresh.updated_at
    for unused in by_name.values():
        version.media.remove(unused)


def _republish(
    session: Session,
    blobs: BlobStore,
    form: Form,
    existing: FormVersion,
    xform: bytes,
    contents: list[MediaContent],
    compiled: CompileResult,
) -> PublishResult:
    info = compiled.info
    assert info is not None
    label = f"version {info.version!r}" if info.version else "no version"
    if existing.xform != xform:
        raise PublishError(
            [
                Issue(
                    "error",
                    f"The form {info.xml_form_id} was already published with {label} and this "
                    "file changes it: a changed form must carry a new version: set "
                    "settings/version (for example to today's date, 2024061501).",
                    "settings",
                )
            ],
            compiled.warnings,
        )
    if form.current_version_id != existing.id:
        raise PublishError(
            [
                Issue(
                    "error",
                    f"{label.capitalize()} of {info.xml_form_id} is an older version that a newer "
                    "one replaced; to bring it back, publish it with a new version: set "
                    "settings/version.",
                    "settings",
                )
            ],
            compiled.warnings,
        )
    # The XForm is the same, but a supplied image or CSV may have been corrected: take it, so
    # phones fetch it through the manifest without a new form version.
    by_name = {m.filename: m for m in existing.media}
    updated: list[str] = []
    for item in contents:
        if item.kind == ORGUNIT_KIND:
            continue
        current = by_name.get(item.filename)
        sha256 = hashlib.sha256(item.data).hexdigest()
        if current is None:
            existing.media.append(store_media(blobs, item))
            updated.append(item.filename)
        elif current.sha256 != sha256:
            fresh = store_media(blobs, item)
            current.sha256, current.md5, current.size = fresh.sha256, fresh.md5, fresh.size
            current.content_type = fresh.content_type
            current.updated_at = fresh.updated_at
            updated.append(item.filename)
    refresh_orgunit_media(session, blobs)
    session.flush()
    return PublishResult(form, existing, "unchanged", compiled.warnings, updated)
