"""Reading a multipart submission: fields in memory, file parts spooled to disk in the uploads
directory.

The parser is the `multipart` package's push parser. It does a fraction of the work of
werkzeug's form parser (every request of the receiver reads a submission's XML part), and it
leaves the storage of each part to us: a part
bigger than fits in memory goes to an unnamed file beside the blob store, so a 100 MB photo or
video does not grow a web process by 100 MB and storing it stays on one filesystem.

What a malformed body gets is decided here: a 400 that says what is wrong with it, or a 413 for
a body with too many parts or a form field too big for memory. (werkzeug's parser answers an
unparseable body with an empty form, which the receiver could only report as a missing XML
part.)
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from flask import Request
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from server.domain.problems import Problem, bad_request, insufficient_storage
from server.storage.blobs import no_room

# A body no bigger than this keeps its file parts in memory (werkzeug's threshold too).
IN_MEMORY_LIMIT = 500 * 1024
READ_SIZE = 64 * 1024
# The charsets a form field may declare; anything else is read as UTF-8, as werkzeug does.
FIELD_CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})


@dataclass(frozen=True)
class FilePart:
    """A part sent with a filename: an attachment, or the XML as Collect sends it."""

    name: str
    filename: str
    content_type: str | None
    stream: IO[bytes]


@dataclass
class Multipart:
    """The parts of one body: `fields` by name (the first of a name), `files` in body order."""

    fields: dict[str, str]
    files: list[FilePart]
    _streams: list[IO[bytes]] = field(default_factory=list)

    def file(self, name: str) -> FilePart | None:
        """The first file part called `name`."""
        return next((part for part in self.files if part.name == name), None)

    def rewind(self) -> None:
        """Put every file part back at its start, to read the body a second time."""
        for stream in self._streams:
            stream.seek(0)

    def close(self) -> None:
        """Close (and so delete) every spooled part."""
        for stream in self._streams:
            stream.close()


def parse_multipart(request: Request, uploads_dir: Path, max_field_bytes: int | None) -> Multipart:
    """Read the request's multipart body. Raises a Problem (400 or 413) for a body that is not
    valid multipart/form-data or exceeds a limit; the request stream itself raises 413 for a
    body over the app's content length limit."""
    boundary = request.mimetype_params.get("boundary", "")
    if not boundary:
        raise _malformed("its Content-Type names no boundary")
    length = request.content_length
    in_memory = length is not None and length <= IN_MEMORY_LIMIT
    parts = _Parts(None if in_memory else uploads_dir, max_field_bytes, request.max_form_parts)
    stream = request.stream
    try:
        parser = PushMultipartParser(boundary, content_length=-1 if length is None else length)
        while not parser.closed:
            for event in parser.parse(stream.read(READ_SIZE)):
                parts.take(event)
    except MultipartError as exc:
        parts.discard()
        raise _malformed(str(exc)[:200]) from None
    except OSError as exc:
        parts.discard()
        if no_room(exc):  # the spool's disk is full or read-only
            raise insufficient_storage() from exc
        raise
    except BaseException:
        parts.discard()
        raise
    return Multipart(parts.fields, parts.files, parts.opened)


class _Parts:
    """Where each part of a body goes, as the push parser's events arrive: a part's headers
    (a MultipartSegment), then its bytes, then None at its end."""

    def __init__(
        self, spool_dir: Path | None, max_field_bytes: int | None, max_parts: int | None
    ) -> None:
        self._spool_dir = spool_dir  # None: file parts stay in memory
        self._max_field_bytes = max_field_bytes
        self._max_parts = max_parts
        self.fields: dict[str, str] = {}
        self.files: list[FilePart] = []
        self.opened: list[IO[bytes]] = []
        self._count = 0
        self._segment: MultipartSegment | None = None
        self._sink: IO[bytes] | None = None  # where the current file part goes
        self._chunks: list[bytes] = []  # or the current field's bytes so far
        self._size = 0

    def take(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self._start(event)
        elif event is None:
            self._end()
        elif self._sink is not None:
            self._sink.write(event)
        else:
            self._size += len(event)
            if self._max_field_bytes is not None and self._size > self._max_field_bytes:
                name = self._segment.name if self._segment else ""
                raise Problem(
                    413,
                    "submission.field_too_large",
                    f"The form field {name!r} is larger than {self._max_field_bytes} bytes. "
                    "Files must be sent as file parts.",
                )
            self._chunks.append(event)

    def discard(self) -> None:
        """Close (and so delete) every part opened so far. A part on a full disk cannot flush
        what it buffered: it is deleted all the same, and the request's own error stands."""
        for stream in self.opened:
            with contextlib.suppress(OSError):
                stream.close()

    def _start(self, segment: MultipartSegment) -> None:
        self._count += 1
        if self._max_parts is not None and self._count > self._max_parts:
            raise Problem(
                413,
                "submission.too_many_parts",
                f"The submission has more than {self._max_parts} parts, more than the server "
                "accepts.",
            )
        self._segment, self._chunks, self._size = segment, [], 0
        if segment.filename is not None:
            self._sink = io.BytesIO() if self._spool_dir is None else _spool_file(self._spool_dir)
            self.opened.append(self._sink)

    def _end(self) -> None:
        segment = self._segment
        assert segment is not None
        if self._sink is not None:
            self._sink.seek(0)
            self.files.append(
                FilePart(
                    segment.name or "", segment.filename or "", segment.content_type, self._sink
                )
            )
            self._sink = None
            return
        charset = (segment.charset or "utf-8").lower()
        text = b"".join(self._chunks).decode(
            charset if charset in FIELD_CHARSETS else "utf-8", "replace"
        )
        self.fields.setdefault(segment.name or "", text)


def _spool_file(uploads_dir: Path) -> IO[bytes]:
    # Unnamed where the OS allows it: the file vanishes when closed or if we crash.
    # Multipart.close() closes it once the request is done with it.
    return tempfile.TemporaryFile("w+b", dir=uploads_dir)


def _malformed(reason: str) -> Problem:
    return bad_request(
        "submission.bad_multipart",
        f"The submission's body is not valid multipart/form-data: {reason}. Send it again.",
    )
