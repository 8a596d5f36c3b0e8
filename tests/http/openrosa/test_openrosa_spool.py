"""Reading multipart bodies (server/openrosa/spool.py): what comes out is what was sent, in
memory or spooled to disk by the body's size, and a malformed body is a precise 400 or 413
that leaves no part open."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from server.domain.problems import Problem
from server.openrosa.spool import IN_MEMORY_LIMIT, Multipart, parse_multipart

BOUNDARY = "dmipSpoolBoundary7d1c"


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def encode(parts: list[Part], boundary: str = BOUNDARY) -> bytes:
    out = io.BytesIO()
    for part in parts:
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        out.write(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode())
        if part.content_type:
            out.write(f"Content-Type: {part.content_type}\r\n".encode())
        out.write(b"\r\n" + part.data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


class Trickle(io.RawIOBase):
    """A request body that arrives a few bytes per read, as over a slow link."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        chunk = self._data[self._at : self._at + min(self._step, len(buffer))]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)


def request_for(
    body: bytes,
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}",
    step: int | None = None,
    chunked: bool = False,
) -> Request:
    headers = {"Transfer-Encoding": "chunked"} if chunked else {}
    environ = EnvironBuilder(
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        content_length=None if chunked else len(body),
        headers=headers,
    ).get_environ()
    if step is not None:
        environ["wsgi.input"] = Trickle(body, step)
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    return Request(environ)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def uploads(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    assert list(tmp_path.iterdir()) == []  # spooled parts never linger as named files


def read_all(parts: Multipart) -> list[Part]:
    return [Part(p.name, p.filename, p.content_type, p.stream.read()) for p in parts.files]


# Names and filenames as Collect sends them: no quotes, backslashes or line breaks.
names = st.text(
    st.characters(blacklist_characters='"\\\r\n%', blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
)
# Bodies that look like the boundary and line breaks, to try the delimiter search.
payloads = st.lists(
    st.sampled_from([b"\r\n", b"--", BOUNDARY.encode()[:8], b"\r\n--", b"x" * 70_000])
    | st.binary(max_size=40),
    max_size=6,
).map(b"".join)
parts_strategy = st.lists(
    st.builds(
        Part,
        name=names,
        filename=st.none() | names,
        content_type=st.none() | st.sampled_from(["image/jpeg", "text/xml"]),
        data=payloads,
    ),
    max_size=5,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sent=parts_strategy,
    step=st.none() | st.integers(1, 5000),
    chunked=st.booleans(),
)
def test_what_comes_out_is_what_was_sent(uploads: Path, sent, step, chunked) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_multipart(request_for(encode(sent), step=step, chunked=chunked), uploads, None)
    try:
        files = [p for p in sent if p.filename is not None]
        assert read_all(parsed) == files
        expected: dict[str, str] = {}
        for p in sent:
            if p.filename is None:
                expected.setdefault(p.name, p.data.decode("utf-8", "replace"))
        assert parsed.fields == expected
        parsed.rewind()
        assert read_all(parsed) == files  # a second read, as the receiver's retry does
    finally:
        parsed.close()


def test_parts_of_a_small_body_stay_in_memory_and_of_a_big_or_chunked_one_go_to_disk(
    uploads: Path,
) -> None:
    small = encode([Part("p", "p.jpg", "image/jpeg", b"x" * 1000)])
    big = encode([Part("p", "p.jpg", "image/jpeg", b"x" * (IN_MEMORY_LIMIT + 1))])
    kinds = []
    for request in (request_for(small), request_for(big), request_for(small, chunked=True)):
        parsed = parse_multipart(request, uploads, None)
        kinds.append(isinstance(parsed.files[0].stream, io.BytesIO))
        parsed.close()
    assert kinds == [True, False, False]


def test_the_first_field_of_a_name_wins(uploads: Path) -> None:
    body = encode([Part("a", None, None, b"first"), Part("a", None, None, b"second")])
    assert parse_multipart(request_for(body), uploads, None).fields == {"a": "first"}


def problem_of(request: Request, uploads: Path, max_field_bytes: int | None = None) -> Problem:
    before = open_fds()
    with pytest.raises(Problem) as caught:
        parse_multipart(request, uploads, max_field_bytes)
    assert open_fds() == before  # every part opened was closed
    return caught.value


@pytest.mark.parametrize("cut", [1, 30, 200, 1_000, -40, -3])
def test_a_body_cut_short_is_a_400_that_says_so(uploads: Path, cut: int) -> None:
    whole = encode(
        [
            Part("xml_submission_file", "s.xml", "text/xml", b"<data/>"),
            Part("p", "p.jpg", None, b"y" * 600_000),
        ]
    )
    body = whole[:cut]
    # Declared as what arrived: a proxy or a client that stopped writing.
    problem = problem_of(request_for(body), uploads)
    assert (problem.status, problem.code) == (400, "submission.bad_multipart")
    assert "multipart/form-data" in problem.message


def test_no_boundary_and_a_wrong_boundary_are_400(uploads: Path) -> None:
    body = encode([Part("a", None, None, b"x")])
    for request in (
        request_for(body, content_type="multipart/form-data"),
        request_for(body, content_type="multipart/form-data; boundary=other"),
    ):
        problem = problem_of(request, uploads)
        assert (problem.status, problem.code) == (400, "submission.bad_multipart")


def test_too_many_parts_is_413(uploads: Path) -> None:
    request = request_for(encode([Part(f"f{i}", "f.jpg", None, b"x") for i in range(1001)]))
    assert request.max_form_parts == 1000
    problem = problem_of(request, uploads)
    assert (problem.status, problem.code) == (413, "submission.too_many_parts")


def test_a_field_too_big_for_memory_is_413_and_a_file_part_that_big_is_not(uploads: Path) -> None:
    field = encode([Part("note", None, None, b"n" * 2000)])
    problem = problem_of(request_for(field), uploads, max_field_bytes=1000)
    assert (problem.status, problem.code) == (413, "submission.field_too_large")
    file = encode([Part("note", "note.txt", None, b"n" * 2000)])
    parsed = parse_multipart(request_for(file), uploads, 1000)
    assert parsed.files[0].stream.read() == b"n" * 2000
    parsed.close()
