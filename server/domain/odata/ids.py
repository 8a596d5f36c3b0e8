"""The ids that join a form's OData tables, as Central makes them, so a Power BI model or an R
script built on Central's feed joins ours the same way.

A submission's `__id` is its instanceID. A repeat row's `__id` is the SHA-1 (hex) of
"Submissions#<instanceID>" followed by each group and repeat from the top down to the row
("<name>#" for a group, "<name>#<n>" for a repeat, n counting that repeat's instances from 0
within the row around it), joined with "%%". A repeat row names its parent's row in
`__Submissions-id` (a repeat at the top level) or `__Submissions-<path>-id` (a nested one).

The worker's flattened rows number a repeat's instances through the whole submission
(`position`, from 1) and name the enclosing repeat's row (`parent_position`); `Tree` turns that
into Central's counts within each parent.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable

from server.domain.odata.model import ROOT, Table

# (repeat_path, position, parent_position) of one flattened repeat row.
RowPlace = tuple[str, int, "int | None"]


def hash_id(instance_id: str, parts: Iterable[str]) -> str:
    text = "%%".join([f"{ROOT}#{instance_id}", *parts])
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


_UNSAFE = re.compile(r"[^A-Za-z0-9\-_.!~*'()]")


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8"))


def quote_id(instance_id: str) -> str:
    """An id in a URL as JavaScript's encodeURIComponent writes it (urllib's quote, with its
    own safe characters, costs tens of microseconds a call: once per row of a page)."""
    return _UNSAFE.sub(_escape, instance_id)


class Tree:
    """Where the repeat rows of one submission sit: enough to name any of them.

    Built from the places of the rows of every repeat around the rows wanted (and of their
    siblings); for a repeat at the top level nothing is needed, as its count within the
    submission is its position less one."""

    def __init__(self, instance_id: str, places: Iterable[RowPlace] = ()) -> None:
        self.instance_id = instance_id
        self.parent: dict[tuple[str, int], int | None] = {}
        siblings: dict[tuple[str, int | None], list[int]] = defaultdict(list)
        for path, position, parent in places:
            self.parent[(path, position)] = parent
            siblings[(path, parent)].append(position)
        self.index: dict[tuple[str, int], int] = {}
        for (path, _), positions in siblings.items():
            for i, position in enumerate(sorted(positions)):
                self.index[(path, position)] = i
        self._ids: dict[tuple[str, int], str] = {}

    def ancestry(self, table: Table, position: int) -> list[tuple[Table, int]]:
        """The rows from the outermost repeat down to this one, as (table, position)."""
        out: list[tuple[Table, int]] = []
        current: Table | None = table
        place: int | None = position
        while current is not None and current.repeat_path and place is not None:
            out.append((current, place))
            place = self.parent.get((current.repeat_path, place))
            current = current.parent
        out.reverse()
        return out

    def row_id(self, table: Table, position: int) -> str:
        """The `__id` of the row at `position` of a repeat's table."""
        cached = self._ids.get((table.repeat_path, position))
        if cached is not None:
            return cached
        counts = {
            t.repeat_path: self.index.get((t.repeat_path, p), p - 1)
            for t, p in self.ancestry(table, position)
        }
        parts = [
            f"{node.name}#{counts.get(node.path, 0)}" if node.kind == "repeat" else f"{node.name}#"
            for node in table.chain
        ]
        found = self._ids[(table.repeat_path, position)] = hash_id(self.instance_id, parts)
        return found

    def parent_id(self, table: Table, position: int, parent_position: int | None) -> str:
        """The value of the row's parent key: the instanceID for a repeat at the top level,
        the enclosing repeat row's id otherwise."""
        parent = table.parent
        if parent is None or parent.primary or parent_position is None:
            return self.instance_id
        return self.row_id(parent, parent_position)

    def link(self, repeat: Table, parent_position: int | None) -> str:
        """The navigation link of `repeat`'s rows inside one row of its parent table (the
        parent row's position; None for a submission's top level)."""
        ancestors: list[str] = []
        if repeat.parent is not None and not repeat.parent.primary and parent_position:
            ancestors = [
                self.row_id(t, p) for t, p in self.ancestry(repeat.parent, parent_position)
            ]
        segments = [f"{ROOT}('{quote_id(self.instance_id)}')"]
        repeats_seen = 0
        last = len(repeat.chain) - 1
        for i, node in enumerate(repeat.chain):
            if node.kind == "repeat" and i < last and repeats_seen < len(ancestors):
                segments.append(f"{node.odata}('{ancestors[repeats_seen]}')")
                repeats_seen += 1
            else:
                segments.append(node.odata)
        return "/".join(segments)
