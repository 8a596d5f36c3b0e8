"""Who may send an edit of a stored submission (an instance whose meta/deprecatedID names it).

An edit supersedes the original: from then on only the edit counts. So it is accepted only from
someone who may change the original: the person who sent it, or a reviewer (coordinator or
admin) whose scope covers the original's place, the same people who review and delete it on the
submission pages. An original stored without a place (a form with no location question) is
covered only by an admin's scope, as on those pages.

The receiver hands over who is sending (`Editor`); a caller that names none (the demo loader,
which sends every instance as one user) is held to the first rule alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.problems import forbidden
from server.domain.roles import Role
from server.domain.scope import Scope
from server.models import OrgUnit, Submission

REVIEWERS = frozenset({Role.admin, Role.coordinator})


@dataclass(frozen=True)
class Editor:
    """The role and areas of the person sending a submission."""

    role: Role
    scope: Scope


def may_edit(
    editor_id: int | None,
    editor: Editor | None,
    original_submitter_id: int | None,
    original_path: str | None,
) -> bool:
    """Whether the sender may supersede a submission sent by `original_submitter_id` for the
    place at `original_path` (None: no place)."""
    # Equal ids include None == None: a loader that stores rows as no one (no request, no
    # sender) edits what it stored; the receiver always names its sender.
    if editor_id == original_submitter_id:
        return True
    if editor is None or editor.role not in REVIEWERS:
        return False
    if original_path is None:
        return editor.scope.everywhere
    return editor.scope.covers(original_path)


def require_may_edit(
    session: Session,
    form_id: int,
    deprecated_id: str,
    editor_id: int | None,
    editor: Editor | None,
) -> None:
    """403 unless the sender may edit the submission `deprecated_id` of the form.

    An original the server does not have passes here: the write says so (404) in its own
    words, and checks again (`require_may_replace`) should the original arrive meanwhile. One
    indexed read of the original (by its unique form and instanceID) and its place.
    """
    row = session.execute(
        select(Submission.submitter_id, OrgUnit.path)
        .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(Submission.form_id == form_id, Submission.instance_id == deprecated_id)
    ).first()
    if row is not None:
        _refuse_unless(may_edit(editor_id, editor, row[0], row[1]), deprecated_id)


def require_may_replace(
    session: Session, original: Submission, editor_id: int | None, editor: Editor | None
) -> None:
    """The same rule on the original the write has locked."""
    path = None
    if original.org_unit_id is not None:
        path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == original.org_unit_id))
    allowed = may_edit(editor_id, editor, original.submitter_id, path)
    _refuse_unless(allowed, original.instance_id)


def _refuse_unless(allowed: bool, deprecated_id: str) -> None:
    if not allowed:
        raise forbidden(
            "submission.edit_forbidden",
            f"You may not edit submission {deprecated_id}: someone else sent it, and only the "
            "person who sent it or a coordinator of its area may change it. Nothing was saved.",
            deprecated_id=deprecated_id,
        )
