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
- `close_form` closes every version: the form leaves formList and refuses submissions.

Org-unit CSVs a form references (regions.csv, districts.csv, ...) are generated from the
hierarchy, never read from disk; every other referenced file must be supplied.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import dialect_insert, utcnow
from server.domain.xform.xlsform import CompileResult, Issue, compile_xlsform
from server.models import AuditEvent, Form, FormVersion, MediaFile, User
from server.models.forms import VersionState
from server.services.orgunit_media import (
    CSV_TYPE,
    ORGUNIT_KIND,
    generate_orgunit_files,
    is_orgunit_file,
    refresh_orgunit_media,
)
from server.storage.blobs import BlobStore

# Content types Collect cares about that mimetypes may not know on a minimal system.
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".xml": "text/xml",
    ".geojson": "application/geo+json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
}


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


@dataclass(frozen=True)
class _MediaContent:
    filename: str
    kind: str
    data: bytes
    content_type: str


def content_type_for(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def _collect_media(
    compiled: CompileResult, session: Session, media: dict[str, bytes]
) -> list[_MediaContent]:
    assert compiled.info is not None
    wanted = compiled.info.media
    generated = None
    contents: list[_MediaContent] = []
    missing: list[str] = []
    for filename in wanted:
        if is_orgunit_file(filename):
            if generated is None:
                generated = generate_orgunit_files(session)
            contents.append(
                _MediaContent(filename, ORGUNIT_KIND, generated[filename].data, CSV_TYPE)
            )
        elif filename in media:
            contents.append(
                _MediaContent(filename, "file", media[filename], content_type_for(filename))
            )
        elif filename == "itemsets.csv" and compiled.itemsets is not None:
            contents.append(_MediaContent(filename, "file", compiled.itemsets, CSV_TYPE))
        else:
            missing.append(filename)
    if missing:
        raise PublishError(
            [
                Issue(
                    "error",
                    f"The form uses the media file {name}, which was not supplied: put it beside "
                    "the XLSForm (or upload it with the form).",
                )
                for name in missing
            ],
            compiled.warnings,
        )
    return contents


def _store_media(blobs: BlobStore, item: _MediaContent) -> MediaFile:
    sha256, size = blobs.put_bytes(item.data)
    return MediaFile(
        filename=item.filename,
        content_type=item.content_type,
        kind=item.kind,
        size=size,
        md5=hashlib.md5(item.data, usedforsecurity=False).hexdigest(),
        sha256=sha256,
        updated_at=utcnow(),
    )


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

    form, created = _form_for_update(session, info.xml_form_id, info.title)
    if not created:
        same_version = session.scalar(
            select(FormVersion).where(
                FormVersion.form_id == form.id, FormVersion.version == info.version
            )
        )
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
    version.media = [_store_media(blobs, item) for item in contents]
    session.add(version)
    session.flush()
    return _finish(session, form, version, status, compiled, contents, actor, draft)


def _form_for_update(session: Session, xml_form_id: str, title: str) -> tuple[Form, bool]:
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


def _finish(
    session: Session,
    form: Form,
    version: FormVersion,
    status: str,
    compiled: CompileResult,
    contents: list[_MediaContent],
    actor: User | None,
    draft: bool,
) -> PublishResult:
    """Open the stored version unless a draft was asked for, and record who did it."""
    if draft:
        status = "draft"
    else:
        _make_open(form, version, session)
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


def _make_open(form: Form, version: FormVersion, session: Session) -> None:
    previous = session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form.id,
            FormVersion.state == VersionState.open,
            FormVersion.id != version.id,
        )
    )
    for older in previous:
        older.state = VersionState.closing
    version.state = VersionState.open
    version.published_at = utcnow()
    form.current_version = version
    form.title = version.title
    session.flush()


def _replace_draft(
    blobs: BlobStore,
    version: FormVersion,
    xlsform: bytes,
    filename: str,
    compiled: CompileResult,
    contents: list[_MediaContent],
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
        fresh = _store_media(blobs, item)
        current = by_name.pop(item.filename, None)
        if current is None:
            version.media.append(fresh)
            continue
        current.sha256, current.md5, current.size = fresh.sha256, fresh.md5, fresh.size
        current.content_type, current.kind = fresh.content_type, fresh.kind
        current.updated_at = fresh.updated_at
    for unused in by_name.values():
        version.media.remove(unused)


class FormStateError(ValueError):
    """The action does not apply to the form or version in its present state."""


def open_version(
    session: Session, blobs: BlobStore, version: FormVersion, actor: User | None = None
) -> None:
    """Open a draft: Collect sees it at once, the version open before it turns "closing"."""
    if version.state is not VersionState.draft:
        raise FormStateError(
            f"Version {version.version!r} is {version.state.value}; only a draft can be opened."
        )
    form = version.form
    _make_open(form, version, session)
    refresh_orgunit_media(session, blobs)
    _audit(session, actor, "form.open", form, {"version": version.version})


def close_form(session: Session, form: Form, actor: User | None = None) -> list[str]:
    """Close every open or closing version of a form; returns the versions closed.

    Collect no longer lists the form and the server refuses its submissions; drafts are kept.
    """
    closed = []
    for version in form.versions:
        if version.state in (VersionState.open, VersionState.closing):
            version.state = VersionState.closed
            closed.append(version.version)
    if not closed:
        raise FormStateError(f"The form {form.xml_form_id} has no open version to close.")
    _audit(session, actor, "form.close", form, {"versions": closed})
    return closed


def _audit(
    session: Session, actor: User | None, action: str, form: Form, details: dict[str, Any]
) -> None:
    session.add(
        AuditEvent(
            actor_id=actor.id if actor is not None else None,
            action=action,
            target_type="form",
            target_id=form.xml_form_id,
            details=details,
        )
    )
    session.flush()


def _republish(
    session: Session,
    blobs: BlobStore,
    form: Form,
    existing: FormVersion,
    xform: bytes,
    contents: list[_MediaContent],
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
            existing.media.append(_store_media(blobs, item))
            updated.append(item.filename)
        elif current.sha256 != sha256:
            fresh = _store_media(blobs, item)
            current.sha256, current.md5, current.size = fresh.sha256, fresh.md5, fresh.size
            current.content_type = fresh.content_type
            current.updated_at = fresh.updated_at
            updated.append(item.filename)
    refresh_orgunit_media(session, blobs)
    session.flush()
    return PublishResult(form, existing, "unchanged", compiled.warnings, updated)
