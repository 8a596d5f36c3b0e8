import hashlib
import io
from pathlib import Path

import pytest

from server.storage.blobs import BlobStore


def test_stores_content_under_its_sha256_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"hello field" * 1000
    sha, size = store.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.path(sha).read_bytes() == data
    again, _ = store.put_stream(io.BytesIO(data))
    assert again == sha
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [store.path(sha)], "identical content must be stored once, no temp left"


def test_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")

    def chunks():
        yield b"first part"
        raise OSError("connection dropped")

    with pytest.raises(OSError):
        store.put_chunks(chunks())
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_rejects_paths_that_are_not_digests(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
