"""The files a submission names: the answers of its form's binary fields (photos, audio, an
audit log), which are file names of attachments sent beside the XML.

Pure functions over a parsed instance and its form version's field list (server/domain/xform/
schema.py). A field inside a repeat names one file per repeat instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lxml import etree

from server.domain.xform.safe_xml import local_name
from server.domain.xform.schema import BINARY_TYPES


def binary_paths(schema: Iterable[Mapping[str, Any]]) -> list[str]:
    """The absolute paths ("/data/photo") of the form's fields that hold a file name."""
    return [
        str(f["path"])
        for f in schema
        if f.get("kind") == "field" and f.get("type") in BINARY_TYPES and f.get("path")
    ]


def named_files(root: etree._Element, paths: Iterable[str]) -> list[str]:
    """The file names the instance gives at those paths, each once, sorted."""
    names: set[str] = set()
    for path in paths:
        steps = [s for s in path.split("/") if s]
        if not steps or steps[0] != local_name(root):
            continue
        for element in _matching(root, steps[1:]):
            text = "".join(element.itertext()).strip()
            if text:
                names.add(text)
    return sorted(names)


def _matching(element: etree._Element, steps: list[str]) -> Iterator[etree._Element]:
    if not steps:
        yield element
        return
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == steps[0]:
            yield from _matching(child, steps[1:])
