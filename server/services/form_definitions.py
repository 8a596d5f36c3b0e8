"""A form definition as a client sends it (an XLSForm, or an XForm's XML), compiled by the
compiler `dmip forms publish` and the admin page use (server/domain/xform/xlsform.py; an XForm
is read by server/domain/xform/xform_files.py), with the refusals Central makes of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.domain.xform.xform_files import read_xform
from server.domain.xform.xlsform import CompileResult, Issue, compile_xlsform

# The file name pyxform's form id falls back to when neither the settings sheet nor the
# client names one; a form compiled with it is refused, since nobody chose that id.
NO_FORM_ID = "dmip-no-form-id-given"
# Suffixes Central refuses at the end of a form id: its URLs for a form's files end so.
FILE_SUFFIXES = (".xls", ".xlsx", ".xml")


@dataclass(frozen=True)
class Definition:
    """A form definition as a client sent it: an XLSForm (xlsx, xls) or an XForm (xml)."""

    data: bytes
    kind: Literal["xlsx", "xls", "xml"]
    # The form id to use when the XLSForm's settings give none (X-XlsForm-FormId-Fallback).
    form_id_fallback: str | None = None


@dataclass
class Compiled:
    """A definition compiled, with the spreadsheet it came from (None for an XForm)."""

    result: CompileResult
    xlsform: bytes | None = None
    xlsform_filename: str | None = None

    @property
    def xml_form_id(self) -> str:
        assert self.result.info is not None
        return self.result.info.xml_form_id


class DefinitionError(ValueError):
    """The definition cannot become a form; `kind` says how it failed: "xlsform" (pyxform's
    errors), "xml" (not readable XML), "no_form_id" (no form id given), "no_meta" (an
    XForm without meta/instanceID), "form_id" (an id this server cannot serve)."""

    def __init__(self, kind: str, issues: list[Issue], warnings: list[Issue] | None = None):
        super().__init__("; ".join(str(i) for i in issues))
        self.kind = kind
        self.issues = issues
        self.warnings = warnings or []


class DefinitionWarnings(ValueError):
    """pyxform compiled the XLSForm with warnings, and the client did not say to ignore them."""

    def __init__(self, warnings: list[Issue]) -> None:
        super().__init__("; ".join(str(w) for w in warnings))
        self.warnings = warnings


def compile_definition(definition: Definition) -> Compiled:
    """Compile an XLSForm (pyxform) or read an XForm; raises DefinitionError. pyxform's
    warnings are the result's; the services refuse them unless told to ignore them, at the
    point Central does."""
    if definition.kind == "xml":
        result = read_xform(definition.data)
        if not result.ok:
            kinds = {"xform.no_id": "no_form_id", "xform.no_meta": "no_meta"}
            kind = kinds.get(result.error_code or "", "xml")
            raise DefinitionError(kind, result.errors)
        compiled = Compiled(result)
    else:
        stem = definition.form_id_fallback or NO_FORM_ID
        filename = f"{stem}.{definition.kind}"
        result = compile_xlsform(definition.data, filename)
        if not result.ok:
            raise DefinitionError("xlsform", result.errors, result.warnings)
        if definition.form_id_fallback is None and result.info.xml_form_id == NO_FORM_ID:  # type: ignore[union-attr]
            raise DefinitionError(
                "no_form_id",
                [
                    Issue(
                        "error",
                        "The XLSForm gives no form_id in its settings sheet: add one, or send "
                        "the X-XlsForm-FormId-Fallback header.",
                        "settings",
                    )
                ],
            )
        compiled = Compiled(result, definition.data, filename)
    _check_form_id(compiled.xml_form_id)
    return compiled


def refuse_warnings(compiled: Compiled, ignore_warnings: bool) -> None:
    if compiled.result.warnings and not ignore_warnings:
        raise DefinitionWarnings(compiled.result.warnings)


def _check_form_id(xml_form_id: str) -> None:
    if xml_form_id.lower().endswith(FILE_SUFFIXES) or "/" in xml_form_id or "\\" in xml_form_id:
        raise DefinitionError(
            "form_id",
            [
                Issue(
                    "error",
                    f"The form id {xml_form_id!r} cannot be served: a form id may not contain "
                    "'/' or '\\' nor end in .xls, .xlsx or .xml. Set another form_id in the "
                    "settings sheet (or rename the file).",
                    "settings",
                )
            ],
        )
