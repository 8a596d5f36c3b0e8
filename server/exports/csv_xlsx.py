"""The export files' formats: CSV (one file per table, zipped) and XLSX (a sheet per table).

Rows arrive a batch at a time, one table after another (server/exports/table_rows.py): a CSV
table is encoded batch by batch into its zip entry, and openpyxl's write-only workbook spools
its sheets to disk.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from server.exports.layout import TOP_META, Table, headers

# Characters Excel refuses in a sheet's title.
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")


class CsvChunks:
    """CSV text for batches of rows, encoded as UTF-8: what goes into a zip entry as the rows
    arrive (quoted where needed; CRLF line ends as RFC 4180 has them, or "\n" as Central's
    files and PostgreSQL's COPY end lines)."""

    def __init__(self, lineterminator: str = "\r\n") -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator=lineterminator)

    def encode(self, rows: Iterable[Sequence[Any]]) -> bytes:
        self._writer.writerows(rows)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


def csv_name(table: Table) -> str:
    return f"{safe_name(table.name)}.csv"


class XlsxTables:
    """A write-only workbook with one sheet per table."""

    def __init__(self, tables: Sequence[Table], meta: Sequence[str] = TOP_META) -> None:
        self.book = Workbook(write_only=True)
        self.sheets: list[WriteOnlyWorksheet] = []
        used: set[str] = set()
        for table in tables:
            sheet = self.book.create_sheet(_sheet_title(table, used))
            sheet.append(headers(table, meta))
            self.sheets.append(sheet)

    def add(self, index: int, rows: Iterable[Sequence[Any]]) -> None:
        sheet = self.sheets[index]
        for values in rows:
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
