"""Files people download: a form's submissions as CSV (zipped, one file per repeat) or XLSX
(`submissions`, `csv_xlsx`, `layout`), and drafted DMIP sections as DOCX and PDF with their
charts (`docx`, `pdf`, `charts`). The document renderers read only
server.domain.drafting.sections structures, so a district's DMIP and the cross-district
synthesis are exported the same way."""
