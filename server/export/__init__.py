"""Documents from drafted sections: DOCX (python-docx) and PDF (reportlab), with charts drawn
by matplotlib. Renderers read only workers.drafting.document structures, so a district's DMIP
and the cross-district synthesis are exported the same way."""

from server.export.docx import render_docx
from server.export.pdf import render_pdf

__all__ = ["render_docx", "render_pdf"]
