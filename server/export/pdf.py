"""Drafted sections to PDF (reportlab platypus): a title page, one heading per section (also a
PDF bookmark), paragraphs, tables whose cells wrap to the page width, and charts as images.
`invariant` mode fixes the creation date and document id, so the same draft gives the same
bytes."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    Image,
    PageBreak,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Paragraph as PdfParagraph
from reportlab.platypus import Table as PdfTable

from server.export.charts import HEIGHT_IN, WIDTH_IN, chart_png
from workers.drafting.document import Chart, Paragraph, Section, Table

Progress = Callable[[float], None]

_STYLES = getSampleStyleSheet()
_CELL = ParagraphStyle("cell", parent=_STYLES["BodyText"], fontSize=7, leading=8.5)
_CELL_NUM = ParagraphStyle("cellnum", parent=_CELL, alignment=TA_RIGHT)
_CELL_HEAD = ParagraphStyle("cellhead", parent=_CELL, fontName="Helvetica-Bold")
_NOTE = ParagraphStyle("note", parent=_STYLES["BodyText"], fontSize=8, fontName="Helvetica-Oblique")


class _Heading(PdfParagraph):
    """A section heading that adds itself to the PDF outline when drawn."""

    def draw(self) -> None:
        super().draw()
        key = f"s{id(self)}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(self.getPlainText(), key, level=0)


def render_pdf(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    progress: Progress | None = None,
    generated: dt.datetime | None = None,
) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        topMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
        title=title,
        subject=subtitle,
        author="DMIP server",
        invariant=1,
    )
    story: list[Flowable] = [
        Spacer(1, 5 * cm),
        PdfParagraph(escape(title), _STYLES["Title"]),
        PdfParagraph(escape(subtitle), _STYLES["Heading3"]),
    ]
    if generated is not None:
        story.append(PdfParagraph(f"Generated on {generated:%d %B %Y}", _STYLES["BodyText"]))
    story.append(PageBreak())
    total = max(1, len(sections))
    for done, section in enumerate(sections, start=1):
        story.append(_Heading(escape(section.title), _STYLES["Heading1"]))
        for block in section.blocks:
            if isinstance(block, Paragraph):
                story.append(PdfParagraph(escape(block.text), _STYLES["BodyText"]))
            elif isinstance(block, Table):
                story.extend(_table(block, doc.width))
            elif isinstance(block, Chart):
                width = doc.width
                story.append(
                    Image(
                        io.BytesIO(chart_png(block)),
                        width=width,
                        height=width * HEIGHT_IN / WIDTH_IN,
                    )
                )
            story.append(Spacer(1, 0.25 * cm))
        # Building the document is the long part; sections are laid out as they are added.
        if progress is not None:
            progress(0.5 * done / total)
    doc.build(story)
    if progress is not None:
        progress(1.0)
    return out.getvalue()


_PAD = 14.0  # points: the cell padding (6 each side) and a little air
_MIN_TEXT = 2.0 * cm


def _widths(table: Table, width: float) -> list[float]:
    """Number columns are as wide as their longest number, so a figure never breaks across
    lines; text columns share the rest in proportion to their longest text."""
    numeric = [
        any(row[i].kind not in ("text", "missing") for row in table.rows)
        for i in range(len(table.columns))
    ]
    natural = [
        max(
            [stringWidth(row[i].text, _CELL.fontName, _CELL.fontSize) for row in table.rows]
            + [stringWidth(w, _CELL_HEAD.fontName, _CELL.fontSize) for w in name.split()]
        )
        + _PAD
        for i, name in enumerate(table.columns)
    ]
    rigid = sum(n for n, is_num in zip(natural, numeric, strict=True) if is_num)
    text_natural = sum(n for n, is_num in zip(natural, numeric, strict=True) if not is_num)
    left = max(width - rigid, 0.0)
    if not text_natural:
        scale = width / rigid if rigid else 1.0
        return [n * scale for n in natural]
    return [
        n if is_num else max(_MIN_TEXT, left * n / text_natural)
        for n, is_num in zip(natural, numeric, strict=True)
    ]


def _table(table: Table, width: float) -> list[Flowable]:
    head = [PdfParagraph(escape(c), _CELL_HEAD) for c in table.columns]
    body = [
        [
            PdfParagraph(
                escape(cell.text), _CELL_NUM if cell.kind not in ("text", "missing") else _CELL
            )
            for cell in row
        ]
        for row in table.rows
    ]
    grid = PdfTable([head, *body], colWidths=_widths(table, width), repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef3")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    out: list[Flowable] = [PdfParagraph(f"<b>{escape(table.title)}</b>", _STYLES["BodyText"]), grid]
    if table.note:
        out.append(PdfParagraph(escape(table.note), _NOTE))
    return out
