"""Reading a multipart submission: fields in memory, file parts spooled to disk in the uploads
directory.

The parser is the `multipart` package's push parser. It does a fraction of the work of
werkzeug's form parser (about 6 against 43 us for a submission's one XML part, and every
request of the receiver reads one), and it leaves the storage of each part to us: a part
bigger than fits in memory goes to an unnamed file beside the blob store, so a 100 MB photo or
video does not grow a web process by 100 MB and storing it stays on one filesystem.

What a malformed body gets is decided here: a 400 that says what is wrong with it, or a 413 for
a body with too many parts or a form field too big for memory. (werkzeug's parser answers an
unparseable body with an empty form, which the receiver could only report as a missing XML
part.)
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from flask import Request
from multipart import MultipartError, MultipartSegment, PushMultipartParser

from server.problems import Problem, bad_request

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
    max_parts = request.max_form_parts
    length = request.content_length
    in_memory = length is not None and length <= IN_MEMORY_LIMIT
    fields: dict[str, str] = {}
    files: list[FilePart] = []
    opened: list[IO[bytes]] = []
    stream = request.stream
    try:
        parser = PushMultipartParser(boundary, content_length=-1 if length is None else length)
        segment: MultipartSegment | None = None
        sink: IO[bytes] | None = None  # where the current file part goes
        chunks: list[bytes] = []  # or the current field's bytes so far
        size = count = 0
        while not parser.closed:
            for event in parser.parse(stream.read(READ_SIZE)):
                if isinstance(event, MultipartSegment):
                    count += 1
                    if max_parts is not None and count > max_parts:
                        raise Problem(
                            413,
                            "submission.too_many_parts",
                            f"The submission has more than {max_parts} parts, more than the "
                            "server accepts.",
                        )
                    segment, chunks, size = event, [], 0
                    if event.filename is not None:
                        sink = io.BytesIO() if in_memory else _spool_file(uploads_dir)
                        opened.append(sink)
                elif event is None:
                    assert segment is not None
                    if sink is not None:
                        sink.seek(0)
                        files.append(
                            FilePart(
                                segment.name or "",
                                segment.filename or "",
                                segment.content_type,
                                sink,
                            )
                        )
                        sink = None
                    else:
                        charset = (segment.charset or "utf-8").lower()
                        text = b"".join(chunks).decode(
                            charset if charset in FIELD_CHARSETS else "utf-8", "replace"
                        )
                        fields.setdefault(segment.name or "", text)
                elif sink is not None:
                    sink.write(event)
                else:
                    size += len(event)
                    if max_field_bytes is not None and size > max_field_bytes:
                        raise Problem(
                            413,
                            "submission.field_too_large",
                            f"The form field {segment.name if segment else ''!r} is larger "
                            f"than {max_field_bytes} bytes. Files must be sent as file parts.",
                        )
                    chunks.append(event)
    except MultipartError as exc:
        for part in opened:
            part.close()
        raise _malformed(str(exc)[:200]) from None
    except BaseException:
        for part in opened:
            part.close()
        raise
    return Multipart(fields, files, opened)


def _spool_file(uploads_dir: Path) -> IO[bytes]:
    # Unnamed where the OS allows it: the file vanishes when closed or if we crash.
    # Multipart.close() closes it once the request is done with it.
    return tempfile.TemporaryFile("w+b", dir=uploads_dir)


def _malformed(reason: str) -> Problem:
    return bad_request(
        "submission.bad_multipart",
        f"The submission's body is not valid multipart/form-data: {reason}. Send it again.",
    )
