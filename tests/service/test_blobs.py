from __future__ import annotations

import hashlib
import io
import os
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


def test_an_upload_in_progress_keeps_the_sweep_off_until_it_ends(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    assert store.locks.root == tmp_path / "locks"
    upload = store.open_upload()
    upload.write(b"half a scan")
    assert store.try_sweep() is None  # another process's sweep would delete this temp file
    upload.write(b", the other half")
    sha = upload.commit()
    sweep = store.try_sweep()
    assert sweep is not None and store.read(sha) == b"half a scan, the other half"
    with sweep:
        assert store.clean_temp() == 0
    assert store.try_sweep() is not None


def test_a_writer_holds_the_sweep_off_until_its_row_is_committed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    with store.writing():
        store.put_bytes(b"a scan about to be referenced")
        assert store.try_sweep() is None
    lock = store.try_sweep()
    assert lock is not None
    lock.release()


def test_an_aborted_upload_lets_the_sweep_run(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    upload = store.open_upload(max_bytes=4)
    with pytest.raises(BlobError):
        upload.write(b"too long")
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
    lock = store.try_sweep()
    assert lock is not None
    lock.release()


def test_a_job_lock_is_held_by_one_holder_and_its_file_goes_with_it(tmp_path: Path) -> None:
    locks = BlobStore(tmp_path / "blobs").locks
    held = locks.try_job("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    assert held is not None and held.path.exists()
    assert locks.try_job("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b") is None  # another process, or another claim
    assert locks.sweep_jobs() == 0  # a held lock's file stays
    held.release()
    assert not held.path.exists()
    again = locks.try_job("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    assert again is not None
    os.close(os.open(locks.root / "jobs" / "left-by-a-dead-process.lock", os.O_CREAT | os.O_RDWR))
    assert locks.sweep_jobs() == 1
    again.release()
    assert list((locks.root / "jobs").iterdir()) == []
    with pytest.raises(ValueError):
        locks.try_job("../escape")
