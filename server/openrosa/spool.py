"""Parsing a multipart submission with file parts spooled to disk in the uploads directory.

werkzeug keeps parts in memory or in the system temporary directory; a 100 MB photo or video
must not grow a web process by 100 MB, and spooling next to the blob store keeps the copy into
the store on one filesystem. The parser is werkzeug's own, only its stream factory differs.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from flask import Request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser

# Parts of a body smaller than this may stay in memory (werkzeug uses the same threshold).
IN_MEMORY_LIMIT = 500 * 1024


@dataclass
class Multipart:
    form: MultiDict[str, str]
    files: MultiDict[str, FileStorage]
    _streams: list[IO[bytes]] = field(default_factory=list)

    def rewind(self) -> None:
        """Put every part back at its start, to read the body a second time."""
        for stream in self._streams:
            stream.seek(0)

    def close(self) -> None:
        """Close (and so delete) every spooled part."""
        for stream in self._streams:
            stream.close()


def parse_multipart(
    request: Request, uploads_dir: Path, max_form_memory_size: int | None
) -> Multipart:
    """Parse the request body; raises RequestEntityTooLarge when it exceeds the app's limit."""
    opened: list[IO[bytes]] = []

    def stream_factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream: IO[bytes]
        if total_content_length is not None and total_content_length <= IN_MEMORY_LIMIT:
            stream = io.BytesIO()
        else:
            # Unnamed where the OS allows it: the file vanishes when closed or if we crash.
            # Multipart.close() closes it once the request is done with it.
            stream = tempfile.TemporaryFile("w+b", dir=uploads_dir)  # noqa: SIM115
        opened.append(stream)
        return stream

    parser = FormDataParser(
        stream_factory=stream_factory,
        max_form_memory_size=max_form_memory_size,
        max_content_length=request.max_content_length,
        max_form_parts=request.max_form_parts,
        cls=MultiDict,
    )
    try:
        _stream, form, files = parser.parse(
            request.stream, request.mimetype, request.content_length, request.mimetype_params
        )
    except BaseException:
        for stream in opened:
            stream.close()
        raise
    return Multipart(form, files, opened)
