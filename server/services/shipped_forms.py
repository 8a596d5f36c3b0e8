"""Publishing the XLSForms of a directory (the shipped forms in forms/, or a path given to
`dmip forms publish`), each with the media files beside it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database
from server.models import Form, User
from server.services.forms import PublishError, PublishResult, publish_xlsform
from server.storage.blobs import BlobStore

log = logging.getLogger(__name__)


def shipped_forms(forms_dir: Path) -> list[Path]:
    """The XLSForms at the top level of the forms directory (Excel's lock files excluded)."""
    if not forms_dir.is_dir():
        return []
    return sorted(p for p in forms_dir.glob("*.xlsx") if not p.name.startswith("~$"))


class MediaBeside(Mapping[str, bytes]):
    """The files beside an XLSForm, read only when the form asks for them by name."""

    def __init__(self, xlsform: Path) -> None:
        self.directory = xlsform.parent
        self.xlsform = xlsform

    def _path(self, name: str) -> Path | None:
        if not name or "/" in name or "\\" in name or name in {".", ".."}:
            return None
        path = self.directory / name
        return path if path.is_file() and path != self.xlsform else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._path(name) is not None

    def __getitem__(self, name: str) -> bytes:
        path = self._path(name)
        if path is None:
            raise KeyError(name)
        return path.read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.name for p in self.directory.iterdir() if p.name in self))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def publish_file(
    session: Session, blobs: BlobStore, path: Path, actor: User | None = None
) -> PublishResult:
    """Publish an XLSForm from disk, taking the media it references from its directory."""
    return publish_xlsform(session, blobs, path.read_bytes(), path.name, MediaBeside(path), actor)


def publish_shipped(
    database: Database, blobs: BlobStore, forms_dir: Path, only_missing: bool = False
) -> None:
    """Publish the shipped forms (with `only_missing`, those the server does not have yet).

    A form that fails to compile is logged and skipped, so one broken spreadsheet does not
    keep the server from starting; `dmip forms publish` shows its errors in full.
    """
    for path in shipped_forms(forms_dir):
        if only_missing:
            with database.session() as session:
                if session.scalar(select(Form.id).where(Form.xml_form_id == path.stem)):
                    continue
        try:
            with database.session() as session:
                publish_file(session, blobs, path)
        except PublishError as exc:
            log.warning("form %s not published: %s", path.name, exc)
