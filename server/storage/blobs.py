"""Content-addressed file storage under the data directory, durable before we answer.

A blob is stored once under blobs/ab/cdef... (its sha256). Writing goes to a temporary file in
the same directory tree, is fsynced, then renamed into place and the directory fsynced, so a
crash leaves either the whole file or nothing. Identical content is stored once, which also
makes re-sent attachments free.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from server.domain.problems import insufficient_storage

CHUNK = 1024 * 1024
# What a disk that will not take a file says: full, over quota, read-only, or not ours to
# write. None of these is the request's fault, and none lasts: a 507 the client retries.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def no_room(exc: BaseException) -> bool:
    """Whether `exc` says the disk will not take what was being written."""
    return isinstance(exc, OSError) and exc.errno in NO_ROOM


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = root / ".tmp"
        self._tmp.mkdir(exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.put_chunks([data])

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        return self.put_chunks(iter(lambda: stream.read(CHUNK), b""))

    def put_chunks(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the concatenated chunks; returns (sha256 hex, size in bytes). A disk that
        will not take them raises the 507 Problem, with nothing left behind."""
        try:
            return self._put_chunks(chunks)
        except OSError as exc:
            if no_room(exc):
                raise insufficient_storage() from exc
            raise

    def _put_chunks(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            self._settle(Path(tmp_name), sha)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return sha, size

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store a file that already exists on disk (e.g. a spooled upload)."""
        with source.open("rb") as fh:
            return self.put_stream(fh)

    def _settle(self, tmp: Path, sha: str) -> None:
        final = self.path(sha)
        if final.exists():  # same content stored before: keep the old file
            tmp.unlink()
            return
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def copy_to(self, sha256: str, target: Path) -> None:
        with self.open(sha256) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
