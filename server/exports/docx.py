"""Drafted sections to a Word document (python-docx): a title page, one heading per section,
paragraphs, tables with a bold header row and right-aligned numbers, and charts as pictures."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable, Sequence

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.shared import Inches, Pt

from server.domain.drafting.sections import Chart, Paragraph, Section, Table
from server.exports.charts import chart_png

Progress = Callable[[float], None]
# Zip entries get this timestamp so the same draft gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def render_docx(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    progress: Progress | None = None,
    generated: dt.datetime | None = None,
) -> bytes:
    """The document as bytes. `progress(fraction)` is called after each section and at the
    end with 1.0; `generated` is printed on the title page and stored as the document date."""
    doc = Document()
    props = doc.core_properties
    props.title = title
    props.subject = subtitle
    props.author = "DMIP server"
    props.created = props.modified = generated or _EPOCH
    props.last_printed = generated or _EPOCH
    props.revision = 1
    doc.styles["Normal"].font.size = Pt(10)

    doc.add_heading(title, level=0)
    doc.add_paragraph(subtitle)
    if generated is not None:
        doc.add_paragraph(f"Generated on {generated:%d %B %Y}")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    total = max(1, len(sections))
    for done, section in enumerate(sections, start=1):
        doc.add_heading(section.title, level=1)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                doc.add_paragraph(block.text)
            elif isinstance(block, Table):
                _table(doc, block)
            elif isinstance(block, Chart):
                doc.add_picture(io.BytesIO(chart_png(block)), width=Inches(6.0))
                doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        if progress is not None:
            progress(done / total if done < total else 0.99)
    out = io.BytesIO()
    doc.save(out)
    data = _fixed_zip_times(out.getvalue())
    if progress is not None:
        progress(1.0)
    return data


def _table(doc: object, table: Table) -> None:
    heading = doc.add_paragraph()  # type: ignore[attr-defined]
    heading.add_run(table.title).bold = True
    grid = doc.add_table(rows=1, cols=len(table.columns))  # type: ignore[attr-defined]
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, name in zip(grid.rows[0].cells, table.columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(name)
        run.bold = True
        run.font.size = Pt(8)
    for row in table.rows:
        out = grid.add_row().cells
        for cell, value in zip(out, row, strict=True):
            run = cell.paragraphs[0].add_run(value.text)
            run.font.size = Pt(8)
            if value.kind not in ("text", "missing"):
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if value.kind == "missing":
                run.italic = True
    if table.note:
        doc.add_paragraph().add_run(table.note).italic = True  # type: ignore[attr-defined]


def _fixed_zip_times(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
