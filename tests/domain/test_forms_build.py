"""The committed .xlsx files are exactly what forms/src/build_forms.py produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from openpyxl import load_workbook

from tests.engine_helper import FORMS_DIR


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_forms", FORMS_DIR / "src" / "build_forms.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_module()


def _committed(path: Path) -> dict[str, list[list[object]]]:
    book = load_workbook(path, read_only=True)
    sheets = {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }
    book.close()
    return sheets


@pytest.mark.parametrize("filename", sorted(BUILD.FORMS))
def test_committed_xlsx_matches_the_build_script(filename: str) -> None:
    expected = BUILD.sheets(BUILD.FORMS[filename]())
    assert _committed(FORMS_DIR / filename) == expected, (
        f"forms/{filename} differs from forms/src/build_forms.py: "
        "run `python forms/src/build_forms.py` or port the edit back to the script"
    )


def test_every_shipped_xlsx_comes_from_the_script() -> None:
    assert sorted(p.name for p in FORMS_DIR.glob("*.xlsx")) == sorted(BUILD.FORMS)
