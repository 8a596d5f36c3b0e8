"""The export files' formats: CSV (one file per table, zipped) and XLSX (a sheet per table).

Rows arrive one at a time from server/exports/submissions.py and go straight to disk: each CSV
table streams to its own temporary file, and openpyxl's write-only workbook spools its sheets.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from server.exports.layout import Table, headers

# Characters Excel refuses in a sheet's title.
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


class CsvTables:
    """One CSV file per table in a temporary directory, zipped at the end."""

    def __init__(self, tables: Sequence[Table], workdir: Path) -> None:
        self.files: list[tuple[Table, Path, IO[str]]] = []
        self.writers = []
        for i, table in enumerate(tables):
            path = workdir / f"{i}.csv"
            handle = path.open("w", newline="", encoding="utf-8")
            writer = csv.writer(handle)
            writer.writerow(headers(table))
            self.files.append((table, path, handle))
            self.writers.append(writer)

    def add(self, index: int, values: list[Any]) -> None:
        self.writers[index].writerow(values)

    def finish(self, archive: zipfile.ZipFile) -> None:
        for table, path, handle in self.files:
            handle.close()
            archive.write(path, f"{safe_name(table.name)}.csv")


class XlsxTables:
    """A write-only workbook with one sheet per table."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self.book = Workbook(write_only=True)
        self.sheets: list[WriteOnlyWorksheet] = []
        used: set[str] = set()
        for table in tables:
            sheet = self.book.create_sheet(_sheet_title(table, used))
            sheet.append(headers(table))
            self.sheets.append(sheet)

    def add(self, index: int, values: list[Any]) -> None:
        sheet = self.sheets[index]
        sheet.append([_xlsx_value(sheet, v) for v in values])

    def save(self, path: Path) -> None:
        self.book.save(path)


def _xlsx_value(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        # openpyxl would store this as a formula; an answer is text, never code to run.
        text_cell = WriteOnlyCell(sheet, value)
        text_cell.data_type = "s"
        return text_cell
    return value


def _sheet_title(table: Table, used: set[str]) -> str:
    base = _SHEET_UNSAFE.sub("-", table.relative.rsplit("/", 1)[-1] or table.name)[:31] or "data"
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}-{n}"
    used.add(title.lower())
    return title


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
