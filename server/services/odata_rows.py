"""Rows of a form's OData tables as Central's JSON, from what server/queries/odata_feed.py and
odata_repeats.py read: a submission's top level with its `__system` metadata, or a repeat's
row with its `__id` and its parent's key; each with a navigation link to every repeat it has
rows of, and, with $expand=*, those rows nested in it (their own repeats too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from server.domain.odata.ids import Tree
from server.domain.odata.model import FeedModel, Node, Table
from server.domain.odata.selection import SYSTEM_FIELDS, Selection
from server.domain.odata.values import Plan, plan, render, timestamp
from server.queries.odata_feed import MainRow
from server.queries.odata_repeats import RepeatData, RepeatRow, repeat_rows, repeats_present

# Central's names of our review states; a submission nobody reviewed has none.
CENTRAL_REVIEW = {
    "received": None,
    "approved": "approved",
    "has_issues": "hasIssues",
    "rejected": "rejected",
    "edited": "edited",
}


@dataclass
class Renderer:
    """How rows of one request are written: the model, the selection of the table asked for,
    the repeats present and, for $expand=*, every repeat row of the page's submissions."""

    model: FeedModel
    table: Table
    selection: Selection
    wkt: bool
    expand: bool
    # (submission, repeat path, parent row's position) that have rows.
    present: set[tuple[int, str, int | None]] = field(default_factory=set)
    # For $expand=* and nested tables: each submission's repeat rows.
    repeats: Mapping[int, RepeatData] = field(default_factory=dict)
    _plans: dict[str, Plan] = field(default_factory=dict)
    _trees: dict[int, Tree] = field(default_factory=dict)
    _binaries: dict[str, list[str]] | None = None

    def load(self, session: Session, ids: Sequence[int]) -> None:
        """What the rows of these submissions need beyond their own: which repeats they have
        rows of (their links), and the rows that place nested repeat rows, that files are
        counted in, or that $expand=* nests."""
        model, table = self.model, self.table
        needed: set[str] = set()
        if self.expand:
            needed |= {t.repeat_path for t in model.tables if _inside(t, table)}
        if table.depth > 1:
            current: Table | None = table
            while current is not None and current.repeat_path:
                needed.add(current.repeat_path)
                current = current.parent
        if table.primary:
            needed |= {t.repeat_path for t in model.tables[1:] if any(f.binary for f in t.fields())}
        if needed:
            with_data = self.expand or table.primary
            self.repeats = repeat_rows(session, ids, sorted(needed), with_data)
        if not self.expand:
            children = [t.repeat_path for t in model.children_of(table)]
            self.present = repeats_present(session, ids, children)

    def plan_of(self, table: Table) -> Plan:
        found = self._plans.get(table.name)
        if found is None:
            only = self.selection.paths if table is self.table else None
            found = self._plans[table.name] = plan(table.nodes, self.wkt, only)
        return found

    def tree(self, submission_id: int, instance_id: str) -> Tree:
        found = self._trees.get(submission_id)
        if found is None:
            data = self.repeats.get(submission_id)
            found = Tree(instance_id, data.places() if data is not None else ())
            self._trees[submission_id] = found
        return found

    def _hook(self, submission_id: int, tree: Tree, position: int | None) -> Any:
        """What a row writes for each repeat in it: a navigation link where it has rows of
        it, and with $expand=* the rows themselves."""

        def hook(node: Node, into: dict[str, Any]) -> None:
            child = self.model.by_repeat_path(node.path)
            if child is None:
                return
            rows: list[tuple[int, int | None, dict[str, Any]]] = []
            if self.expand:
                data = self.repeats.get(submission_id)
                rows = [
                    r
                    for r in (data.rows.get(child.repeat_path, []) if data is not None else [])
                    if r[1] == position
                ]
                if not rows:
                    return
            elif (submission_id, child.repeat_path, position) not in self.present:
                return
            into[f"{node.odata}@odata.navigationLink"] = tree.link(child, position)
            if self.expand:
                into[node.odata] = [
                    self.repeat_json(child, submission_id, tree, pos, parent, data, False)
                    for pos, parent, data in rows
                ]

        return hook

    def main_json(self, row: MainRow) -> dict[str, Any]:
        instance_id = row.root_instance_id or row.instance_id
        tree = self.tree(row.id, instance_id)
        out: dict[str, Any] = {}
        if self.selection.id:
            out["__id"] = instance_id
        out.update(render(self.plan_of(self.table), row.data, self._hook(row.id, tree, None)))
        system = self.system_json(row)
        wanted = self.selection.system
        if wanted is None:
            out["__system"] = system
        elif wanted:
            out["__system"] = {k: system[k] for k in wanted}
        return out

    def system_json(self, row: MainRow) -> dict[str, Any]:
        edited = row.root_instance_id is not None
        # When anything happened after it came in (a review, a file, an edit); null if not.
        changed = max(row.updated_at, row.received_at) if edited else row.updated_at
        first = row.root_received_at if edited else row.received_at
        updated = changed if first is not None and changed > first else None
        system: dict[str, Any] = {
            "submissionDate": timestamp(first),
            "updatedAt": timestamp(updated),
            "submitterId": None if row.submitter_id is None else str(row.submitter_id),
            "submitterName": row.submitter_name,
            "attachmentsPresent": row.attachments_present,
            "attachmentsExpected": self.expected_attachments(row),
            "status": None,
            "reviewState": CENTRAL_REVIEW.get(row.review_state),
            "deviceId": row.device_id,
            "edits": row.edits,
            "formVersion": row.form_version,
            "deletedAt": timestamp(row.deleted_at),
        }
        assert set(system) == set(SYSTEM_FIELDS)
        return system

    def expected_attachments(self, row: MainRow) -> int:
        """The files the answers name: binary questions answered, at every level."""
        if self._binaries is None:
            self._binaries = {
                t.repeat_path: keys
                for t in self.model.tables
                if (keys := [f.key for f in t.fields() if f.binary])
            }
        answers = row.data or {}
        count = sum(1 for key in self._binaries.get("", []) if answers.get(key))
        data = self.repeats.get(row.id)
        if data is None:
            return count
        for path, keys in self._binaries.items():
            for _, _, values in data.rows.get(path, []) if path else []:
                count += sum(1 for key in keys if values.get(key))
        return count

    def repeat_json(
        self,
        table: Table,
        submission_id: int,
        tree: Tree,
        position: int,
        parent_position: int | None,
        data: dict[str, Any],
        with_parent_key: bool,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        top = table is self.table
        if not top or self.selection.id:
            out["__id"] = tree.row_id(table, position)
        out.update(render(self.plan_of(table), data, self._hook(submission_id, tree, position)))
        if with_parent_key and table.parent_key and self.selection.parent_key:
            out[table.parent_key] = tree.parent_id(table, position, parent_position)
        return out

    def repeat_row_json(self, row: RepeatRow) -> dict[str, Any]:
        tree = self.tree(row.submission_id, row.root_instance_id or row.instance_id)
        return self.repeat_json(
            self.table, row.submission_id, tree, row.position, row.parent_position, row.data, True
        )

    def row_id(self, row: RepeatRow) -> str:
        tree = self.tree(row.submission_id, row.root_instance_id or row.instance_id)
        return tree.row_id(self.table, row.position)


def _inside(candidate: Table, table: Table) -> bool:
    parent = candidate.parent
    while parent is not None:
        if parent is table:
            return True
        parent = parent.parent
    return False
