"""Forms the way Central makes them: a new form starts as a draft, a draft is replaced whole
(by a new definition, or by a copy of the published version), its media files are uploaded one
by one (server/services/draft_media.py), and publishing may give it a version at the last
moment.

The definition is compiled by the same compiler as `dmip forms publish` and the admin page
(server/services/form_definitions.py), and stored, opened and closed by the same services
(server/services/forms.py, form_media.py, form_states.py). What differs is Central's habit:

- a form has at most one draft; a new draft replaces it;
- a draft may carry the version of the published form (a copy starts with it); publishing it
  then needs a new version (`publish_draft(version=...)`), else it is refused (VersionTaken);
- media files a draft references but nobody supplied yet are listed as missing rather than
  refused; a new draft takes those it lacks from the draft it replaces, else from the published
  version, by name (Central carries attachments forward). Publishing still needs every one
  (MediaMissing): a phone cannot fill a form whose files the server does not have.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from server.domain.xform.safe_xml import XmlError
from server.domain.xform.xform_files import read_xform, with_version
from server.models import Form, FormVersion, MediaFile, Submission, User
from server.models.forms import VersionState
from server.services.form_definitions import (
    Compiled,
    DefinitionError,
    refuse_warnings,
)
from server.services.form_media import plan_media, store_media
from server.services.form_states import audit, open_version
from server.services.forms import form_for_update
from server.services.orgunit_media import ORGUNIT_KIND
from server.storage.blobs import BlobStore


class FormExists(ValueError):
    """A form with this id exists already; a new version goes through its draft."""


class WrongForm(ValueError):
    """The definition is of another form than the one whose draft it was sent for."""


class NoDraft(LookupError):
    """The form has no draft."""


class NoPublishedVersion(LookupError):
    """The form has never been published (so there is nothing to copy, or to fall back to)."""


def locked(session: Session, form: Form) -> Form:
    """The form's row, locked until the transaction ends and read afresh once locked: two
    admins changing one form's draft at once take turns."""
    return session.scalars(
        select(Form)
        .where(Form.id == form.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def latest_draft(session: Session, form: Form) -> FormVersion | None:
    """The form's draft (the newest, should there be several from the admin page)."""
    return session.scalars(
        select(FormVersion)
        .where(FormVersion.form_id == form.id, FormVersion.state == VersionState.draft)
        .order_by(FormVersion.id.desc())
    ).first()


def create_form(
    session: Session,
    blobs: BlobStore,
    compiled: Compiled,
    actor: User,
    publish: bool = False,
    ignore_warnings: bool = False,
) -> FormVersion:
    """A new form with `compiled` as its draft, published at once with `publish` (which
    raises VersionTaken or MediaMissing like any publish). DefinitionWarnings for warnings not
    ignored, then FormExists if the id is taken."""
    refuse_warnings(compiled, ignore_warnings)
    result = compiled.result
    assert result.info is not None
    form, created = form_for_update(session, result.info.xml_form_id, result.info.title)
    if not created:
        raise FormExists(result.info.xml_form_id)
    version = _store_draft(session, blobs, form, compiled, actor, created=True)
    if publish:
        open_version(session, blobs, version, actor)
    return version


def create_draft(
    session: Session,
    blobs: BlobStore,
    form: Form,
    compiled: Compiled | None,
    actor: User,
    ignore_warnings: bool = False,
) -> FormVersion:
    """Replace the form's draft by `compiled`, or (None) by a copy of its published version.
    Raises WrongForm, then DefinitionWarnings for warnings not ignored; NoPublishedVersion for
    a copy of a form never published."""
    form = locked(session, form)
    if compiled is None:
        current = form.current_version
        if current is None:
            raise NoPublishedVersion(form.xml_form_id)
        result = read_xform(current.xform)
        if result.info is None:  # a version stored before the rules above: say why
            raise DefinitionError("xml", result.errors)
        # The schema stays the published one's, read when it was compiled.
        result.info.fields = current.schema
        compiled = Compiled(result, current.xlsform, current.xlsform_filename)
    elif compiled.xml_form_id != form.xml_form_id:
        raise WrongForm(compiled.xml_form_id)
    else:
        refuse_warnings(compiled, ignore_warnings)
    return _store_draft(session, blobs, form, compiled, actor, created=False)


def _carried_media(session: Session, form: Form, drafts: list[FormVersion]) -> dict[str, MediaFile]:
    """Media a new draft may take by name: the replaced draft's first, then the published
    version's (Central carries attachments forward)."""
    carried: dict[str, MediaFile] = {}
    sources = [*drafts[:1]]
    if form.current_version is not None:
        sources.append(form.current_version)
    for source in sources:
        for media in source.media:
            if media.kind != ORGUNIT_KIND:
                carried.setdefault(media.filename, media)
    return carried


def _store_draft(
    session: Session,
    blobs: BlobStore,
    form: Form,
    compiled: Compiled,
    actor: User,
    created: bool,
) -> FormVersion:
    result = compiled.result
    assert result.info is not None and result.xform is not None
    info = result.info
    drafts = list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form.id, FormVersion.state == VersionState.draft)
            .order_by(FormVersion.id.desc())
        )
    )
    carried = _carried_media(session, form, drafts)
    plan = plan_media(result, session, {})
    media = [store_media(blobs, item) for item in plan.contents]
    for name in plan.missing:
        source = carried.get(name)
        if source is not None:
            media.append(_copy_media(source))
    # Central keeps one draft: the ones it replaces go (no submission can name a draft).
    for old in drafts:
        if not session.scalar(select(exists().where(Submission.form_version_id == old.id))):
            session.delete(old)
    session.flush()
    version = FormVersion(
        form_id=form.id,
        version=info.version,
        title=info.title,
        state=VersionState.draft,
        xlsform=compiled.xlsform,
        xlsform_filename=compiled.xlsform_filename,
        xform=result.xform,
        md5=hashlib.md5(result.xform, usedforsecurity=False).hexdigest(),
        schema=info.fields,
    )
    version.media = media
    session.add(version)
    session.flush()
    audit(
        session,
        actor,
        "form.draft",
        form,
        {
            "version": version.version,
            "status": "created" if created else "draft",
            "md5": version.md5,
            "filename": version.xlsform_filename,
            "media": sorted(m.filename for m in media),
            "replaced": [d.version for d in drafts],
        },
    )
    return version


def _copy_media(source: MediaFile) -> MediaFile:
    return MediaFile(
        filename=source.filename,
        content_type=source.content_type,
        kind=source.kind,
        size=source.size,
        md5=source.md5,
        sha256=source.sha256,
        updated_at=source.updated_at,
    )


def discard_draft(session: Session, form: Form, actor: User) -> None:
    """Delete the form's draft. NoPublishedVersion for a form that has only its draft (it
    would be left with nothing), NoDraft when there is none."""
    form = locked(session, form)
    if form.current_version_id is None:
        raise NoPublishedVersion(form.xml_form_id)
    draft = latest_draft(session, form)
    if draft is None:
        raise NoDraft(form.xml_form_id)
    versions = []
    for old in session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.state == VersionState.draft
        )
    ):
        versions.append(old.version)
        session.delete(old)
    session.flush()
    audit(session, actor, "form.draft.delete", form, {"versions": versions})


def publish_draft(
    session: Session, blobs: BlobStore, form: Form, version: str | None, actor: User
) -> FormVersion:
    """Publish the form's draft, first giving its XForm the version `version` when one is
    given (its hash changes with it). Raises NoDraft, ValueError for a version the XForm cannot
    carry, VersionTaken, MediaMissing."""
    form = locked(session, form)
    draft = latest_draft(session, form)
    if draft is None:
        raise NoDraft(form.xml_form_id)
    if version is not None and version != draft.version:
        try:
            xform = with_version(draft.xform, version)
        except XmlError as exc:
            raise ValueError(exc.message) from None
        audit(
            session,
            actor,
            "form.draft.version",
            form,
            {"from": draft.version, "to": version},
        )
        draft.xform = xform
        draft.version = version
        draft.md5 = hashlib.md5(xform, usedforsecurity=False).hexdigest()
    open_version(session, blobs, draft, actor)
    return draft
