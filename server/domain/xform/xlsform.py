"""Compiling an XLSForm with pyxform, with its errors and warnings as sheet-and-row issues a
person can act on. Needs nothing but the file, so the web app shows a form's problems before
anyone publishes it (server/services/forms.py publishes).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2json_backends import Definition, SupportedFileTypes
from pyxform.xls2xform import convert

from server.domain.xform.safe_xml import XmlError
from server.domain.xform.schema import FormInfo, read_form

ROW = re.compile(r"^\s*\[row\s*:\s*(\d+)\]\s*")
SHEET = re.compile(r"\bOn the '([^']+)' sheet\b")
MAX_ID_LENGTH = 255


@dataclass(frozen=True)
class Issue:
    """One problem pyxform (or we) found in an XLSForm, located where the message says."""

    severity: str  # "error" or "warning"
    message: str
    sheet: str | None = None
    row: int | None = None

    def location(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        return " ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "sheet": self.sheet,
            "row": self.row,
        }


def parse_issue(text: str, severity: str, context: dict[str, Any] | None = None) -> Issue:
    """Split pyxform's "[row : 12] On the 'survey' sheet, ..." into sheet, row and message."""
    text = text.strip()
    row: int | None = None
    match = ROW.match(text)
    if match:
        row = int(match.group(1))
        text = text[match.end() :]
    sheet_match = SHEET.search(text)
    sheet = sheet_match.group(1) if sheet_match else None
    context = context or {}
    if row is None and isinstance(context.get("row"), int):
        row = context["row"]
    if sheet is None and isinstance(context.get("sheet"), str):
        sheet = context["sheet"]
    if sheet is None and row is not None:
        # pyxform only leaves the sheet unnamed in messages from its pass over the survey sheet.
        sheet = "survey"
    return Issue(severity=severity, message=text, sheet=sheet, row=row)


@dataclass
class CompileResult:
    filename: str
    xform: bytes | None = None
    info: FormInfo | None = None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    # CSV of choices for select_one_external questions, which pyxform produces as itemsets.csv.
    itemsets: bytes | None = None
    # For an uploaded XForm that could not be read: which rule it broke (XmlError.code), so an
    # API can tell unreadable XML from an XForm without an id.
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.xform is not None and self.info is not None


def _file_type(filename: str) -> SupportedFileTypes | None:
    try:
        return SupportedFileTypes(PurePath(filename).suffix.lower())
    except ValueError:
        return None


def compile_xlsform(xlsform: bytes, filename: str) -> CompileResult:
    """Compile an XLSForm to an XForm and read the XForm back. Never raises for a bad form."""
    result = CompileResult(filename=filename)
    file_type = _file_type(filename)
    if file_type is None:
        supported = ", ".join(t.value for t in SupportedFileTypes)
        result.errors.append(
            Issue("error", f"{filename} is not an XLSForm file; use one of: {supported}.")
        )
        return result
    warnings: list[str] = []
    definition = Definition(
        data=io.BytesIO(xlsform), file_type=file_type, file_path_stem=PurePath(filename).stem
    )
    try:
        converted = convert(definition, warnings=warnings)
    except PyXFormError as exc:
        if str(exc).startswith("Argument 'definition' was not recognized"):
            # pyxform's wording is meant for programmers calling it.
            message = (
                f"The file could not be read as an XLSForm: it is not a valid {file_type.value} "
                "file."
            )
            result.errors.append(Issue("error", message))
        else:
            result.errors.append(parse_issue(str(exc), "error", exc.context))
    except Exception as exc:  # pyxform lets reader errors of broken files escape as-is
        result.errors.append(
            Issue("error", f"The file could not be read as an XLSForm ({exc.__class__.__name__}).")
        )
    else:
        result.xform = converted.xform.encode("utf-8")
        if converted.itemsets is not None:
            result.itemsets = converted.itemsets.encode("utf-8")
    result.warnings = [parse_issue(w, "warning") for w in warnings]
    if result.xform is None:
        return result
    try:
        result.info = read_form(result.xform)
    except XmlError as exc:
        result.errors.append(Issue("error", f"The compiled XForm is not usable: {exc.message}"))
        return result
    if len(result.info.xml_form_id) > MAX_ID_LENGTH:
        result.errors.append(
            Issue("error", f"The form_id is longer than {MAX_ID_LENGTH} characters.", "settings")
        )
    if len(result.info.version) > MAX_ID_LENGTH:
        result.errors.append(
            Issue("error", f"The version is longer than {MAX_ID_LENGTH} characters.", "settings")
        )
    return result
