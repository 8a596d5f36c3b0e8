"""A submission and its versions, as Central has them: one logical submission, named by the
instanceID it was first sent with, whose versions are that first row and the edits that
followed it.

Here every version is a `Submission` row: an edit is a new row whose `supersedes_id` names the
row it replaced, and only the newest of a chain is `current`. So the logical submission is its
first row (the "root", which supersedes nothing) together with the current row of its chain.
What it shows (its review state, its place, whether it is deleted) is its current row's, as on
the submission pages, which list current rows only; a deletion of either row hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server.domain.scope import Scope
from server.models import OrgUnit, Submission
from server.models.org import in_scope

# A chain longer than this is not a chain of edits (a cycle would be a bug elsewhere).
MAX_VERSIONS = 10_000


@dataclass(frozen=True)
class Logical:
    """A submission as Central lists it: its first version and its current one (the same row
    when it was never edited), and the path of the current one's place (None: no place)."""

    root: Submission
    current: Submission
    place_path: str | None

    @property
    def deleted(self) -> bool:
        return self.root.deleted_at is not None or self.current.deleted_at is not None


def row_by_instance(session: Session, form_id: int, instance_id: str) -> Submission | None:
    """The version with this instanceID (of any chain), or None."""
    return session.scalar(
        select(Submission).where(
            Submission.form_id == form_id, Submission.instance_id == instance_id
        )
    )


def root_of(session: Session, row: Submission) -> Submission:
    """The first version of the chain `row` belongs to."""
    seen = 0
    while row.supersedes_id is not None and seen < MAX_VERSIONS:
        parent = session.get(Submission, row.supersedes_id)
        if parent is None:
            break
        row, seen = parent, seen + 1
    return row


def chain(session: Session, root: Submission) -> list[Submission]:
    """Every version of `root`'s submission, oldest first: each edit is found by the row it
    supersedes (one indexed look-up per version)."""
    versions = [root]
    while len(versions) < MAX_VERSIONS:
        following = session.scalar(
            select(Submission)
            .where(Submission.supersedes_id == versions[-1].id)
            .order_by(Submission.id)
            .limit(1)
        )
        if following is None:
            break
        versions.append(following)
    return versions


def place_path(session: Session, row: Submission) -> str | None:
    if row.org_unit_id is None:
        return None
    return session.scalar(select(OrgUnit.path).where(OrgUnit.id == row.org_unit_id))


def logical(session: Session, form_id: int, instance_id: str) -> Logical | None:
    """The submission first sent as `instance_id`, or None (none such, or deleted). The
    instanceID of a later version names no submission (Central's `versions` name those)."""
    root = row_by_instance(session, form_id, instance_id)
    if root is None or root.supersedes_id is not None:
        return None
    current = root if root.current else chain(session, root)[-1]
    found = Logical(root, current, place_path(session, current))
    return None if found.deleted else found


def visible(session: Session, form_id: int, scope: Scope) -> list[Logical]:
    """The form's submissions (not deleted) whose current version lies in `scope`, newest
    first; a submission without a place only for a scope that covers everywhere. Three
    queries whatever their number: the current rows, the links of edited chains, the roots."""
    current_rows = session.execute(
        select(Submission, OrgUnit.path)
        .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .options(defer(Submission.xml))
        .where(
            Submission.form_id == form_id,
            Submission.current.is_(True),
            Submission.deleted_at.is_(None),
            in_scope(scope),
        )
    ).all()
    edited = [row for row, _path in current_rows if row.supersedes_id is not None]
    roots = _roots(session, form_id, edited)
    found = []
    for row, path in current_rows:
        root = roots.get(row.id, row)
        if root.deleted_at is None:
            found.append(Logical(root, row, path))
    found.sort(key=lambda s: (s.root.received_at, s.root.id), reverse=True)
    return found


def _roots(session: Session, form_id: int, edited: Sequence[Submission]) -> dict[int, Submission]:
    """The first version of each edited current row, by the current row's id."""
    if not edited:
        return {}
    parent = dict(
        session.execute(
            select(Submission.id, Submission.supersedes_id).where(
                Submission.form_id == form_id, Submission.supersedes_id.is_not(None)
            )
        ).all()
    )
    root_ids: dict[int, int] = {}
    for row in edited:
        at, steps = row.id, 0
        while at in parent and steps < MAX_VERSIONS:
            at, steps = parent[at], steps + 1
        root_ids[row.id] = at
    rows = {
        r.id: r
        for r in session.scalars(
            select(Submission)
            .options(defer(Submission.xml))
            .where(Submission.id.in_(sorted(set(root_ids.values()))))
        )
    }
    return {current: rows[root] for current, root in root_ids.items() if root in rows}
