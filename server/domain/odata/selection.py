"""$select and $orderby against one table, as Central reads them.

$select names properties by their OData paths ("age", "head/name", "meta/instanceID", a whole
group "head"), and the ids and metadata: "__id", the parent key of a repeat's table
("__Submissions-id"), "__system" or one of its properties ("__system/submitterId", on
`Submissions` only). A name the table does not have is a 400 (Central's 400.23); a question
inside a repeat is a 400 too (400.24): it is in the repeat's own table. Without $select a row
has everything; with it, only what was named (the ids too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.odata.model import Node, Table
from server.domain.odata.options import ROOT_MARKER, Order
from server.domain.problems import Problem

SYSTEM_FIELDS = (
    "submissionDate",
    "updatedAt",
    "submitterId",
    "submitterName",
    "attachmentsPresent",
    "attachmentsExpected",
    "status",
    "reviewState",
    "deviceId",
    "edits",
    "formVersion",
    "deletedAt",
)
ORDER_KEYS = {"__system/submissionDate": "submissionDate", "__id": "id"}


@dataclass(frozen=True)
class Selection:
    """What a row shows. `paths` are the schema paths of the nodes rendered (None: all);
    `system` the __system properties (None: all of them, empty: no __system at all)."""

    paths: frozenset[str] | None = None
    id: bool = True
    parent_key: bool = True
    system: tuple[str, ...] | None = None

    @property
    def everything(self) -> bool:
        return self.paths is None


def property_not_found(name: str) -> Problem:
    return Problem(
        400,
        "odata.property_not_found",
        f"Could not find a property named '{name}'",
        {"property": name},
    )


def resolve_select(table: Table, names: Sequence[str] | None) -> Selection:
    if names is None:
        return Selection()
    paths: set[str] = set()
    system: list[str] = []
    whole_system = False
    wants_id = wants_parent = False
    for name in names:
        if name == "__id":
            wants_id = True
            continue
        if table.parent_key and name == table.parent_key:
            wants_parent = True
            continue
        if table.primary and name == "__system":
            whole_system = True
            continue
        if table.primary and name.startswith("__system/") and name[9:] in SYSTEM_FIELDS:
            system.append(name[9:])
            continue
        nodes = _nodes_on_path(table, name)
        node = nodes[-1]
        paths.update(n.path for n in nodes)
        if node.kind == "group":
            paths.update(_descendants(node))
    return Selection(
        paths=frozenset(paths),
        id=wants_id,
        parent_key=wants_parent,
        system=None if whole_system else tuple(f for f in SYSTEM_FIELDS if f in system),
    )


def _nodes_on_path(table: Table, name: str) -> list[Node]:
    """The nodes from the table's top down to the property `name`; 400 when there is none."""
    nodes: Sequence[Node] = table.nodes
    found: list[Node] = []
    for part in name.split("/"):
        if found and found[-1].kind == "repeat":
            raise Problem(
                400,
                "odata.unsupported_select",
                f"The given OData select property '{name}' uses features not supported by "
                "this server.",
                {"property": name},
            )
        node = next((n for n in nodes if n.odata == part), None)
        if node is None:
            raise property_not_found(name)
        found.append(node)
        nodes = node.children
    return found


def _descendants(group: Node) -> set[str]:
    out: set[str] = set()
    for child in group.children:
        out.add(child.path)
        if child.kind == "group":
            out |= _descendants(child)
    return out


def resolve_order(table: Table, order: Order) -> tuple[str, bool]:
    """The ordering key ("submissionDate" or "id") and whether it descends."""
    prop = order.property
    if not table.primary and prop.startswith("$root/Submissions/"):
        prop = prop[len("$root/Submissions/") :]
    key = ORDER_KEYS.get(prop)
    if key is not None:
        return key, order.descending
    known = (prop.startswith("__system/") and prop[9:] in SYSTEM_FIELDS) or table.find(
        prop.split("/")
    ) is not None
    if known:
        raise Problem(
            501,
            "odata.unsupported_field",
            f"This server cannot order by {order.property}: order by __system/submissionDate "
            "or __id.",
            {"text": order.property},
        )
    raise property_not_found(order.property.replace(ROOT_MARKER, "$root/Submissions"))
