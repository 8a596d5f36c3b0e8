"""CSV media generated from the org hierarchy, for select_one_from_file cascades.

A form asks region > district > sub-county > parish with choice filters such as
`select_one_from_file subcounties.csv` + `district=${district}`. Each CSV has `name` (the code),
`label` (the name) and one column per ancestor level, named for that level. Rows are sorted by
code so the same hierarchy always gives the same bytes and the same md5: the manifest only
changes when the hierarchy does.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import FormVersion, MediaFile, OrgUnit
from server.models.forms import VersionState
from server.models.org import OrgLevel
from server.storage.blobs import BlobStore

# filename -> (level listed, ancestor levels given as columns)
ORGUNIT_FILES: dict[str, tuple[OrgLevel, tuple[OrgLevel, ...]]] = {
    "regions.csv": (OrgLevel.region, ()),
    "districts.csv": (OrgLevel.district, (OrgLevel.region,)),
    "subcounties.csv": (OrgLevel.subcounty, (OrgLevel.region, OrgLevel.district)),
    "parishes.csv": (
        OrgLevel.parish,
        (OrgLevel.region, OrgLevel.district, OrgLevel.subcounty),
    ),
}
ORGUNIT_KIND = "orgunits"
CSV_TYPE = "text/csv"
DEMO_LABEL = " (demo)"


@dataclass(frozen=True)
class GeneratedFile:
    filename: str
    data: bytes
    md5: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def is_orgunit_file(filename: str) -> bool:
    return filename in ORGUNIT_FILES


def label(unit: OrgUnit) -> str:
    if unit.is_demo and not unit.name.endswith(DEMO_LABEL):
        return unit.name + DEMO_LABEL
    return unit.name


def render_csv(units: list[OrgUnit], filename: str) -> bytes:
    """The CSV for one level from units of every level (ancestors are looked up by code)."""
    level, ancestors = ORGUNIT_FILES[filename]
    levels_by_code = {u.code: u.level for u in units}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label", *(a.value for a in ancestors)])
    for unit in sorted((u for u in units if u.level == level), key=lambda u: u.code):
        # path is "/UG/UG-C/UG-101/..."; the ancestor for a level is the code at that level.
        chain = {levels_by_code.get(code): code for code in unit.path.strip("/").split("/")}
        writer.writerow([unit.code, label(unit), *(chain.get(a, "") for a in ancestors)])
    return out.getvalue().encode("utf-8")


def generate_orgunit_files(session: Session) -> dict[str, GeneratedFile]:
    units = list(session.scalars(select(OrgUnit)))
    files: dict[str, GeneratedFile] = {}
    for filename in ORGUNIT_FILES:
        data = render_csv(units, filename)
        files[filename] = GeneratedFile(
            filename=filename,
            data=data,
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
        )
    return files


def refresh_orgunit_media(
    session: Session, blobs: BlobStore, files: dict[str, GeneratedFile] | None = None
) -> int:
    """Rewrite every org-unit media file of open and closing versions; returns how many changed.

    Closing versions are included because phones that have not updated still fetch their
    manifest, and a new sub-county must reach them too.
    """
    media = session.scalars(
        select(MediaFile)
        .join(FormVersion, MediaFile.form_version_id == FormVersion.id)
        .where(
            MediaFile.kind == ORGUNIT_KIND,
            FormVersion.state.in_([VersionState.open, VersionState.closing]),
        )
    ).all()
    if not media:
        return 0
    files = files if files is not None else generate_orgunit_files(session)
    stored: set[str] = set()
    changed = 0
    for row in media:
        generated = files.get(row.filename)
        if generated is None or row.sha256 == generated.sha256:
            continue
        if generated.sha256 not in stored:
            blobs.put_bytes(generated.data)
            stored.add(generated.sha256)
        row.sha256 = generated.sha256
        row.md5 = generated.md5
        row.size = generated.size
        row.updated_at = utcnow()
        changed += 1
    session.flush()
    return changed
