"""A zip archive written as a stream of bytes, for a response that starts before the archive
exists.

Python's own zipfile writes to a file it cannot seek: each entry's sizes and CRC then follow
its data (a data descriptor) instead of being patched into its header, and the central
directory comes at the end as usual, so any unzip, R's, Excel's or Python's, reads the result.
The writer here is such a file: it keeps what zipfile wrote until `take` hands it on, so the
caller decides how much is held (a batch of rows, a piece of an attachment) and a response
body is a generator of these pieces. Using zipfile rather than a streaming-zip package keeps
one zip writer for every export (server/exports/submissions.py writes its files with it too).
"""

from __future__ import annotations

import zipfile
from typing import IO


class _Pending:
    """A write-only, unseekable file: zipfile sees no `tell` or `seek` and streams."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        pass


class ZipStream:
    def __init__(self, compresslevel: int = 1) -> None:
        # Level 1: CSV shrinks about as much as at the default level, at a fraction of the CPU;
        # photos hardly shrink at any level.
        self._pending = _Pending()
        self._zip = zipfile.ZipFile(
            self._pending, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )

    def open(self, name: str, large: bool = False) -> IO[bytes]:
        """A new entry to write; `large` when it may pass 2 GiB (zip64 sizes)."""
        return self._zip.open(name, "w", force_zip64=large)

    def pending(self) -> int:
        return len(self._pending.data)

    def take(self) -> bytes:
        """What has been written since the last take."""
        out = bytes(self._pending.data)
        self._pending.data.clear()
        return out

    def close(self) -> bytes:
        """The archive's end (its central directory), with anything not yet taken."""
        self._zip.close()
        return self.take()
