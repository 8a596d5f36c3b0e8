"""The media files of a form version: which a compiled form references, where their content
comes from (generated from the org hierarchy, compiled by pyxform, or supplied), and storing
them as content-addressed blobs."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy.orm import Session

from server.db import utcnow
from server.domain.xform.schema import read_form
from server.domain.xform.xlsform import CompileResult, Issue
from server.models import FormVersion, MediaFile
from server.services.orgunit_media import (
    CSV_TYPE,
    ORGUNIT_KIND,
    generate_orgunit_files,
    is_orgunit_file,
)
from server.storage.blobs import BlobStore

# Content types Collect cares about that mimetypes may not know on a minimal system.
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".xml": "text/xml",
    ".geojson": "application/geo+json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
}


@dataclass(frozen=True)
class MediaContent:
    filename: str
    kind: str
    data: bytes
    content_type: str


def content_type_for(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class MediaPlan:
    """The media files a compiled form references: those the server has content for (the
    generated org-unit CSVs, pyxform's itemsets.csv, the files supplied), and those it has
    not."""

    contents: list[MediaContent]
    missing: list[str]


def plan_media(compiled: CompileResult, session: Session, media: Mapping[str, bytes]) -> MediaPlan:
    assert compiled.info is not None
    generated = None
    contents: list[MediaContent] = []
    missing: list[str] = []
    for filename in compiled.info.media:
        if is_orgunit_file(filename):
            if generated is None:
                generated = generate_orgunit_files(session)
            contents.append(
                MediaContent(filename, ORGUNIT_KIND, generated[filename].data, CSV_TYPE)
            )
        elif filename in media:
            contents.append(
                MediaContent(filename, "file", media[filename], content_type_for(filename))
            )
        elif filename == "itemsets.csv" and compiled.itemsets is not None:
            contents.append(MediaContent(filename, "file", compiled.itemsets, CSV_TYPE))
        else:
            missing.append(filename)
    return MediaPlan(contents, missing)


def missing_media_issues(missing: list[str]) -> list[Issue]:
    return [
        Issue(
            "error",
            f"The form uses the media file {name}, which was not supplied: put it beside "
            "the XLSForm (or upload it with the form).",
        )
        for name in missing
    ]


def store_media(blobs: BlobStore, item: MediaContent) -> MediaFile:
    sha256, size = blobs.put_bytes(item.data)
    return MediaFile(
        filename=item.filename,
        content_type=item.content_type,
        kind=item.kind,
        size=size,
        md5=hashlib.md5(item.data, usedforsecurity=False).hexdigest(),
        sha256=sha256,
        updated_at=utcnow(),
    )


def missing_media(version: FormVersion) -> list[str]:
    """The media the version's XForm references that it has no file for."""
    present = {m.filename for m in version.media}
    return [name for name in read_form(version.xform).media if name not in present]
