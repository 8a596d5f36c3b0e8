"""The OData tables of a form, from its version's field list (FormVersion.schema).

As Central models a form: `Submissions` holds the top level, and every repeat is a table of its
own named by its path ("Submissions.household", "Submissions.household.member"); groups are
nested objects (complex types). Names are Central's OData identifiers: a character that is not
a letter, digit or "_" becomes "_", and a name that starts with neither a letter nor "_" gets
one in front.

A field's `key` is where the worker's flattened row keeps its answer: its path relative to the
row's repeat (or to the root), e.g. "head/name" at the top level, "age" in a member's row
(server/domain/xform/flatten.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from server.domain.xform.typed_answers import base_type

Kind = Literal["field", "group", "repeat"]
ROOT = "Submissions"

_LEADING = re.compile(r"^([^a-z_])", re.IGNORECASE)
_INNER = re.compile(r"[^a-z0-9_]+", re.IGNORECASE)


def identifier(name: str) -> str:
    """Central's OData identifier for an XML name."""
    return _INNER.sub("_", _LEADING.sub(r"_\1", name))


@dataclass
class Node:
    """A question, group or repeat of one table. A repeat is a navigation property of the
    table around it; its own questions are in its own Table."""

    name: str  # as in the XML (Central hashes repeat ids with it)
    odata: str  # the OData identifier
    kind: Kind
    path: str  # the schema path, "/data/head/name"
    key: str = ""  # the flattened row's key (fields only)
    type: str = "string"  # the bind type without namespace (fields only)
    select_multiple: bool = False
    binary: bool = False
    children: list[Node] = field(default_factory=list)  # groups only


@dataclass
class Table:
    """`Submissions` or one repeat's table."""

    name: str
    repeat_path: str  # "" for Submissions, the repeat's schema path otherwise
    nodes: list[Node]
    parent: Table | None = None
    # The property naming the parent's row: "__Submissions-id", "__Submissions-household-id".
    parent_key: str | None = None
    # The groups and repeats from the root down to this repeat, as Central's ids hash them.
    chain: tuple[Node, ...] = ()

    @property
    def primary(self) -> bool:
        return self.parent is None

    @property
    def depth(self) -> int:
        """How many repeats deep: 0 for Submissions."""
        return sum(1 for n in self.chain if n.kind == "repeat")

    def walk(self) -> Iterator[tuple[tuple[str, ...], Node]]:
        """Every node of this table with its OData path (groups' names, then its own)."""

        def visit(nodes: Sequence[Node], prefix: tuple[str, ...]) -> Iterator[Any]:
            for node in nodes:
                path = (*prefix, node.odata)
                yield path, node
                if node.kind == "group":
                    yield from visit(node.children, path)

        yield from visit(self.nodes, ())

    def find(self, path: Sequence[str]) -> Node | None:
        """The node at this OData path ("head", "name"), or None."""
        nodes: Sequence[Node] = self.nodes
        found: Node | None = None
        for part in path:
            found = next((n for n in nodes if n.odata == part), None)
            if found is None:
                return None
            nodes = found.children
        return found

    def fields(self) -> Iterator[Node]:
        return (node for _, node in self.walk() if node.kind == "field")

    def repeats(self) -> Iterator[tuple[tuple[str, ...], Node]]:
        """The repeats directly inside this table (through groups), with their OData paths."""
        return ((path, node) for path, node in self.walk() if node.kind == "repeat")


@dataclass
class FeedModel:
    """Every table of one form version, `Submissions` first, in form order."""

    xml_form_id: str
    tables: list[Table]
    _by_name: dict[str, Table] = field(default_factory=dict, repr=False)
    _by_path: dict[str, Table] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for t in self.tables}
        self._by_path = {t.repeat_path: t for t in self.tables}

    @property
    def main(self) -> Table:
        return self.tables[0]

    def table(self, name: str) -> Table | None:
        return self._by_name.get(name)

    def by_repeat_path(self, repeat_path: str) -> Table | None:
        """Looked up once per repeat of every row of a page."""
        return self._by_path.get(repeat_path)

    def children_of(self, table: Table) -> list[Table]:
        return [t for t in self.tables if t.parent is table]


def build_model(xml_form_id: str, schema: Sequence[dict[str, Any]]) -> FeedModel:
    """The tables of a form version's field list (server/domain/xform/schema.py)."""
    if not schema:
        return FeedModel(xml_form_id, [Table(ROOT, "", [])])
    root_path = "/" + str(schema[0]["path"]).split("/")[1]
    main = Table(ROOT, "", [])
    tables = [main]
    # The containers open at this point of the depth-first field list: (path, node list to
    # fill, table, chain of groups and repeats from the root).
    stack: list[tuple[str, list[Node], Table, tuple[Node, ...]]] = [
        (root_path, main.nodes, main, ())
    ]
    for entry in schema:
        path = str(entry["path"])
        while len(stack) > 1 and not path.startswith(stack[-1][0] + "/"):
            stack.pop()
        _, into, table, chain = stack[-1]
        name = str(entry["name"])
        kind = entry["kind"]
        node = Node(name=name, odata=identifier(name), kind=kind, path=path)
        into.append(node)
        if kind == "group":
            stack.append((path, node.children, table, (*chain, node)))
        elif kind == "repeat":
            parent_parts = [ROOT]
            if table.repeat_path:
                parent_parts += _odata_parts(table.repeat_path, root_path)
            repeat = Table(
                name=".".join([ROOT, *_odata_parts(path, root_path)]),
                repeat_path=path,
                nodes=[],
                parent=table,
                parent_key="__" + "-".join(parent_parts) + "-id",
                chain=(*chain, node),
            )
            tables.append(repeat)
            stack.append((path, repeat.nodes, repeat, repeat.chain))
        else:
            base = table.repeat_path or root_path
            node.key = path[len(base) + 1 :]
            node.type = base_type(entry.get("type"))
            node.select_multiple = entry.get("select") == "multiple"
            node.binary = node.type == "binary"
    return FeedModel(xml_form_id, tables)


def _odata_parts(path: str, root_path: str) -> list[str]:
    return [identifier(p) for p in path[len(root_path) + 1 :].split("/")]
