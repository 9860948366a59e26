from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.errors import BlobError
from workstation.store.blobs import BlobStore


def test_put_returns_the_sha256_and_read_gives_the_bytes_back(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put_bytes(b"scan of page 1")
    assert sha == hashlib.sha256(b"scan of page 1").hexdigest()
    assert store.read(sha) == b"scan of page 1"
    assert store.path_for(sha).parent.parent.name == sha[:2]


def test_putting_the_same_content_twice_keeps_one_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    a = store.put_bytes(b"same")
    b = store.put_stream(io.BytesIO(b"same"))
    assert a == b
    assert list(store) == [a]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_blob_edited_on_disk_is_refused_on_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put_bytes(b"original")
    store.path_for(sha).write_bytes(b"tampered")
    assert not store.verify(sha)
    with pytest.raises(BlobError, match="corrupt"):
        store.read(sha)


def test_a_corrupt_blob_is_repaired_by_putting_the_right_content_again(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put_bytes(b"original")
    store.path_for(sha).write_bytes(b"x")
    assert store.put_bytes(b"original") == sha
    assert store.read(sha) == b"original"


def test_missing_blob_and_bad_digest_are_clear_errors(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobError, match="missing"):
        store.read("0" * 64)
    with pytest.raises(BlobError, match="not a sha256"):
        store.read("../../etc/passwd")


def test_a_failed_write_leaves_no_blob_and_no_temp_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    class Exploding(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("scanner share went away")
            return b"x" * 100

    with pytest.raises(OSError):
        store.put_stream(Exploding())  # type: ignore[arg-type]
    assert list(store) == []
    assert list((tmp_path / "tmp").iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=4096))
def test_any_content_round_trips(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = BlobStore(tmp_path_factory.mktemp("blobs"))
    assert store.read(store.put_bytes(data)) == data
