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

from server.domain.drafting.sections import Chart, Paragraph, Section, Table
from server.exports.charts import HEIGHT_IN, WIDTH_IN, chart_png

Progress = Callable[[float], None]

_STYLES = getSampleStyleSheet()
_CELL = ParagraphStyle("cell", parent=_STYLES["BodyText"], fontSize=7, leading=8.5)
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


_MIN_TEXT = 1.7 * cm


def _styles(size: float) -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    """Text, number and header cell styles at a font size."""
    text = ParagraphStyle(f"cell{size}", parent=_CELL, fontSize=size, leading=size * 1.2)
    number = ParagraphStyle(f"cellnum{size}", parent=text, alignment=TA_RIGHT)
    head = ParagraphStyle(f"cellhead{size}", parent=text, fontName="Helvetica-Bold")
    return text, number, head


def _widths(table: Table, width: float, size: float, pad: float) -> list[float] | None:
    """Number columns are as wide as their longest number, so a figure never breaks across
    lines; text columns share the rest in proportion to their longest text. None when the
    numbers alone do not leave the text columns their minimum width."""
    numeric = [
        any(row[i].kind not in ("text", "missing") for row in table.rows)
        for i in range(len(table.columns))
    ]
    natural = [
        max(
            [stringWidth(row[i].text, "Helvetica", size) for row in table.rows]
            + [stringWidth(w, "Helvetica-Bold", size) for w in name.split()]
        )
        + 2 * pad
        + 2
        for i, name in enumerate(table.columns)
    ]
    rigid = sum(n for n, is_num in zip(natural, numeric, strict=True) if is_num)
    text_natural = sum(n for n, is_num in zip(natural, numeric, strict=True) if not is_num)
    if not text_natural:
        return [n * width / rigid for n in natural] if rigid <= width else None
    left = width - rigid
    texts = sum(1 for is_num in numeric if not is_num)
    if left < texts * _MIN_TEXT:
        return None
    shares = [
        max(_MIN_TEXT, left * n / text_natural) if not num else n
        for n, num in zip(natural, numeric, strict=True)
    ]
    # The minimum may take more than the text's share: scale the text columns back to fit.
    spare = width - rigid
    text_total = sum(w for w, num in zip(shares, numeric, strict=True) if not num)
    return [w if num else w * spare / text_total for w, num in zip(shares, numeric, strict=True)]


def _table(table: Table, width: float) -> list[Flowable]:
    # Wide tables (the action plan) step down to a smaller font and tighter padding before
    # any figure would have to break across lines.
    for size, pad in ((7.0, 6.0), (6.0, 3.0), (5.0, 2.0)):
        widths = _widths(table, width, size, pad)
        if widths is not None:
            break
    else:
        size, pad = 5.0, 2.0
        widths = [width / len(table.columns)] * len(table.columns)
    text_style, number_style, head_style = _styles(size)
    head = [PdfParagraph(escape(c), head_style) for c in table.columns]
    body = [
        [
            PdfParagraph(
                escape(cell.text),
                number_style if cell.kind not in ("text", "missing") else text_style,
            )
            for cell in row
        ]
        for row in table.rows
    ]
    grid = PdfTable([head, *body], colWidths=widths, repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef3")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), pad),
                ("RIGHTPADDING", (0, 0), (-1, -1), pad),
            ]
        )
    )
    out: list[Flowable] = [PdfParagraph(f"<b>{escape(table.title)}</b>", _STYLES["BodyText"]), grid]
    if table.note:
        out.append(PdfParagraph(escape(table.note), _NOTE))
    return out
