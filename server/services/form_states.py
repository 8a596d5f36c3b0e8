"""The states of a form's versions: opening a draft, closing a form, and Central's form state
(open, closing, closed) mapped onto them.

A form's state is its current version's: "open" is listed in formList and takes submissions,
"closing" is not listed and still takes them (phones that have it may send what they filled
in), "closed" takes none. Drafts are neither: not offered, refusing submissions. The receiver
sees a change within the 5 seconds it remembers a form version (server/openrosa/form_cache.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import AuditEvent, Form, FormVersion, User
from server.models.forms import VersionState
from server.services.form_media import missing_media
from server.services.orgunit_media import refresh_orgunit_media
from server.storage.blobs import BlobStore


class FormStateError(ValueError):
    """The action does not apply to the form or version in its present state."""


class VersionTaken(FormStateError):
    """The draft carries the version of one already published: phones that have that version
    would never fetch this one, because Collect compares versions."""


class MediaMissing(FormStateError):
    """The draft references media files the server has not been given."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


def published_with_version(session: Session, form: Form, version: str) -> FormVersion | None:
    return session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form.id,
            FormVersion.version == version,
            FormVersion.state != VersionState.draft,
        )
    ).first()


def open_version(
    session: Session, blobs: BlobStore, version: FormVersion, actor: User | None = None
) -> None:
    """Open a draft: Collect sees it at once, the version open before it turns "closing".

    Refused (FormStateError) unless the draft has a version no published version has, and
    every media file it references."""
    if version.state is not VersionState.draft:
        raise FormStateError(
            f"Version {version.version!r} is {version.state.value}; only a draft can be opened."
        )
    form = version.form
    if published_with_version(session, form, version.version) is not None:
        raise VersionTaken(
            f"Version {version.version!r} of {form.xml_form_id} is already published; a "
            "changed form must carry a new version."
        )
    missing = missing_media(version)
    if missing:
        raise MediaMissing(
            f"The draft of {form.xml_form_id} uses media files the server does not have: "
            f"{', '.join(missing)}. Upload them to the draft first.",
            missing,
        )
    make_open(form, version, session)
    refresh_orgunit_media(session, blobs)
    audit(session, actor, "form.open", form, {"version": version.version})


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
    audit(session, actor, "form.close", form, {"versions": closed})
    return closed


def audit(
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


def make_open(form: Form, version: FormVersion, session: Session) -> None:
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


def set_form_state(
    session: Session, blobs: BlobStore, form: Form, state: VersionState, actor: User | None
) -> bool:
    """Give the form's current version the state `state` (open, closing or closed); returns
    whether anything changed. Closing a form closes every version phones may still send
    (close_form); opening or setting "closing" acts on the current version only, so versions
    closed before stay closed."""
    if state is VersionState.draft:
        raise FormStateError("A published form cannot become a draft again.")
    current = form.current_version
    if current is None:
        raise FormStateError(
            f"The form {form.xml_form_id} has no published version yet; publish its draft first."
        )
    before = current.state
    if before is state:
        return False
    if state is VersionState.closed:
        close_form(session, form, actor)
        return True
    current.state = state
    # A version that was closed missed the org-unit CSV updates meanwhile.
    refresh_orgunit_media(session, blobs)
    audit(
        session,
        actor,
        "form.state",
        form,
        {"version": current.version, "from": before.value, "to": state.value},
    )
    return True
