"""DOCX and PDF export of a drafted DMIP and of the synthesis, read back with python-docx and
pdftotext."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from docx import Document

from server.domain.drafting.sections import Section
from server.exports.docx import render_docx
from server.exports.pdf import render_pdf
from tests.domain.test_drafting_district import fixture_draft
from tests.domain.test_drafting_synthesis import two_districts

TITLE = "Nyakabale District Management Improvement Plan"
SUBTITLE = "Draft for the planning cycle 2026/27"


@pytest.fixture(scope="module")
def sections() -> list[Section]:
    return fixture_draft()


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "plan.pdf"
    path.write_bytes(data)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    )
    return done.stdout


def test_docx_has_every_section_table_and_chart(sections: list[Section]) -> None:
    fractions: list[float] = []
    data = render_docx(TITLE, SUBTITLE, sections, fractions.append)
    doc = Document(io.BytesIO(data))
    assert doc.core_properties.title == TITLE
    assert doc.paragraphs[0].text == TITLE and doc.paragraphs[0].style.name == "Title"
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == [
        "District profile",
        "Management capacity",
        "Service delivery situation by sector",
        "Gap analysis",
        "Priorities and interventions",
        "Results framework",
        "Costed action plan and financing",
        "Monitoring and evaluation plan",
        "Data-quality annex",
    ]
    assert len(doc.tables) == sum(len(s.tables) for s in sections)
    assert len(doc.inline_shapes) == sum(len(s.charts) for s in sections) == 3
    grids = {tuple(c.text for c in t.rows[0].cells): t for t in doc.tables}
    financing = grids[("Source", "FY2026/27", "FY2027/28", "FY2028/29", "Total")]
    assert [c.text for c in financing.rows[-1].cells] == [
        "Total",
        "107,943,688",
        "180,760,428",
        "247,556,220",
        "536,260,336",
    ]
    targets = grids[("Indicator", "Baseline", "FY2026/27", "FY2027/28", "FY2028/29", "Standard")]
    assert [c.text for c in targets.rows[1].cells] == [
        "Pupils per teacher on the payroll",
        "59.9",
        "57.1",
        "54.8",
        "53.0",
        "53.0",
    ]
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "Bukiro, Kanyinya and Rwemiyaga" in body
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 10


def test_docx_is_the_same_bytes_for_the_same_draft(sections: list[Section]) -> None:
    assert render_docx(TITLE, SUBTITLE, sections) == render_docx(TITLE, SUBTITLE, sections)


def test_pdf_renders_headings_tables_and_numbers(sections: list[Section], tmp_path: Path) -> None:
    fractions: list[float] = []
    data = render_pdf(TITLE, SUBTITLE, sections, fractions.append)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    assert TITLE in text
    for section in sections:
        assert section.title in text
        for table in section.tables:
            assert table.title in text
    assert "536,260,336" in text and "UGX 536,260,336" in text
    assert "Recruit primary teachers" in text
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert render_pdf(TITLE, SUBTITLE, sections) == data


def test_synthesis_exports_like_a_plan(tmp_path: Path) -> None:
    synthesis = two_districts()
    doc = Document(io.BytesIO(render_docx("DMIP synthesis", "2 districts, 2026/27", synthesis)))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == [s.title for s in synthesis]
    assert len(doc.inline_shapes) == 1  # the stage delays
    text = pdf_text(render_pdf("DMIP synthesis", "2 districts, 2026/27", synthesis), tmp_path)
    assert "The DMIP process: where it stalls" in text and "721,038,672" in text


def test_text_that_looks_like_markup_is_printed_as_written(tmp_path: Path) -> None:
    from server.domain.drafting.sections import Paragraph

    odd = [Section("profile", "Notes <b> & more", (Paragraph("Budget < 5% & rising"),))]
    text = pdf_text(render_pdf("T", "S", odd), tmp_path)
    assert "Notes <b> & more" in text and "Budget < 5% & rising" in text
    doc = Document(io.BytesIO(render_docx("T", "S", odd)))
    assert "Budget < 5% & rising" in [p.text for p in doc.paragraphs]
