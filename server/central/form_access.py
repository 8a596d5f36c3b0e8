"""Which forms a caller of the Central API may read or change, and each form as Central sees it.

A Central form is one of our Forms: its published version is our current version (the one
formList offers), its state is that version's (open, closing, closed), and its draft is our
newest draft version. A form never published shows its draft.

    admin            every form, drafts included; the only role that creates or changes forms
    coordinator      every published form
    subcounty_staff, the published forms they may fill (server/auth/form_access.py) while
    enumerator       these take submissions (open or closing), as Central's data collectors

A form the caller may not read is 403 (Central's 403.1), as Central answers: within the one
project a form's existence is no secret, only its content and data. An unknown form id is 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server.auth.form_access import fillable
from server.domain.problems import Problem
from server.domain.roles import Role
from server.models import Form, FormVersion, User
from server.models.forms import VersionState

FORBIDDEN_MESSAGE = "The authentication you provided does not have rights to perform that action."
# What a data collector may read: the forms that take submissions.
_COLLECTING = (VersionState.open, VersionState.closing)


@dataclass
class FormView:
    form: Form
    published: FormVersion | None
    draft: FormVersion | None

    @property
    def id(self) -> int:
        return self.form.id

    @property
    def roles(self) -> list[str]:
        return self.form.roles

    @property
    def shown(self) -> FormVersion:
        """The version the form's own JSON describes: the published one, else the draft."""
        version = self.published or self.draft
        assert version is not None
        return version

    @property
    def state(self) -> str:
        """Central's form state; a form with only a draft is "open", as on Central."""
        return self.published.state.value if self.published is not None else "open"


def forbidden() -> Problem:
    return Problem(403, "central.forbidden", FORBIDDEN_MESSAGE)


def not_found() -> Problem:
    return Problem(404, "central.not_found", "Could not find the resource you were looking for.")


def require_admin(actor: User) -> None:
    """Creating, changing and publishing forms is for admins (Central's form.create and
    form.update verbs)."""
    if actor.role is not Role.admin:
        raise forbidden()


def load_views(session: Session, xml_form_id: str | None = None) -> list[FormView]:
    """Every form (or the one named) with its published version and draft; the versions'
    XForms and XLSForms stay unread until asked for."""
    forms_query = select(Form).order_by(Form.xml_form_id)
    if xml_form_id is not None:
        forms_query = forms_query.where(Form.xml_form_id == xml_form_id)
    forms = list(session.scalars(forms_query))
    if not forms:
        return []
    versions = session.scalars(
        select(FormVersion)
        .where(FormVersion.form_id.in_([f.id for f in forms]))
        .options(defer(FormVersion.xform), defer(FormVersion.xlsform))
        .order_by(FormVersion.id)
    )
    by_id: dict[int, FormVersion] = {}
    drafts: dict[int, FormVersion] = {}
    for version in versions:
        by_id[version.id] = version
        if version.state is VersionState.draft:
            drafts[version.form_id] = version  # the newest wins
    views = []
    for form in forms:
        published = by_id.get(form.current_version_id) if form.current_version_id else None
        view = FormView(form, published, drafts.get(form.id))
        if view.published is not None or view.draft is not None:
            views.append(view)
    return views


def readable(actor: User, views: Sequence[FormView], session: Session) -> list[FormView]:
    """The forms of `views` the caller may read."""
    if actor.role is Role.admin:
        return list(views)
    published = [v for v in views if v.published is not None]
    if actor.role is Role.coordinator:
        return published
    collecting = [v for v in published if v.published.state in _COLLECTING]  # type: ignore[union-attr]
    return fillable(actor, collecting, session)


def readable_view(actor: User, session: Session, xml_form_id: str) -> FormView:
    """The form, if the caller may read it: 404 if there is none, 403 if they may not."""
    views = load_views(session, xml_form_id)
    if not views:
        raise not_found()
    if not readable(actor, views, session):
        raise forbidden()
    return views[0]


def admin_view(actor: User, session: Session, xml_form_id: str) -> FormView:
    """The form, for a change only an admin may make: 403 for anyone else (before the form is
    looked up, so the answer says nothing of which forms exist), 404 if there is none."""
    require_admin(actor)
    views = load_views(session, xml_form_id)
    if not views:
        raise not_found()
    return views[0]
