"""Configuration files are parsed again exactly when they (or what they depend on) change."""

from __future__ import annotations

import os
from pathlib import Path

from server.domain import file_cache


def test_a_file_is_parsed_again_only_when_it_or_a_dependency_changes(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("one")
    calls: list[str] = []

    def read(p: Path) -> str:
        calls.append(p.read_text())
        return p.read_text()

    def load(depends: str = "a") -> str:
        return file_cache.parsed(path, lambda p: read(p), depends)

    assert [load(), load()] == ["one", "one"] and calls == ["one"]
    path.write_text("two!")  # another size
    os.utime(path, ns=(1, 1))
    assert load() == "two!" and calls == ["one", "two!"]
    assert load("b") == "two!" and len(calls) == 3  # a dependency changed
    assert load("b") == "two!" and len(calls) == 3


def test_a_missing_file_is_left_to_the_parser_every_time(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    calls = []
    for _ in range(2):
        assert file_cache.parsed(missing, lambda p: calls.append(p) or "default") == "default"
    assert len(calls) == 2
