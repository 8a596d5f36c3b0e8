"""Configuration files parsed once per process and again only when they change on disk.

The worker redraws district plans, and the web app renders dashboards, far more often than
anyone edits forms/expectations.yaml or forms/interventions.yaml; keyed by the file's path,
modification time and size (plus whatever else the parse depends on), a cached result is
never older than the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_parsed: dict[tuple[Any, ...], Any] = {}


def parsed(path: Path, parse: Callable[[Path], T], *depends_on: Hashable) -> T:
    """`parse(path)`, from the cache while the file and `depends_on` are unchanged. One entry
    per path and parser (by its qualified name, so a lambda written at one place is one
    parser): a changed file replaces its old result. A missing file is parsed (and whatever
    `parse` does about it happens) every time."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return parse(path)
    slot = (str(path), parse.__module__, parse.__qualname__)
    stamp = (stat.st_mtime_ns, stat.st_size, depends_on)
    with _lock:
        found = _parsed.get(slot)
    if found is not None and found[0] == stamp:
        return found[1]  # type: ignore[no-any-return]
    result = parse(path)
    with _lock:
        _parsed[slot] = (stamp, result)
    return result
