"""Content-addressed blob store: files named by their sha256, written atomically, verified on read.

Processes sharing the data directory coordinate through `locks` (`<data_dir>/locks`): an upload holds the shared
blob-writing lock while its temp file exists, and a writer that will refer to a blob from a database row holds it
(`writing()`) until that row has committed; the sweep of temp files and unreferenced blobs runs only under the
exclusive lock (`try_sweep()`), so it never removes what another process is writing or about to refer to.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from workstation.errors import BlobError
from workstation.store.locks import DataLocks, HeldLock

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def _check_digest(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise BlobError(f"not a sha256 digest: {sha256[:80]!r}")
    return sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """`root/ab/cd/<sha256>`; a blob is visible only once complete and durable (temp, fsync, rename)."""

    def __init__(self, root: Path, *, locks: DataLocks | None = None):
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        # A desk's store is `<data_dir>/blobs`: its locks are the data directory's, `<data_dir>/locks`.
        self.locks = locks or DataLocks(
            self.root.parent / "locks" if self.root.name == "blobs" else self.root / "locks"
        )

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold while writing blobs that a transaction is about to refer to, until it has committed."""
        return self.locks.blob_writes()

    def try_sweep(self) -> HeldLock | None:
        """The exclusive lock for `clean_temp` and deleting unreferenced blobs; None while anyone is writing."""
        return self.locks.try_blob_sweep()

    def path_for(self, sha256: str) -> Path:
        _check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put_bytes(self, data: bytes) -> str:
        return self._put(iter([data]))

    def put_stream(self, stream: BinaryIO) -> str:
        return self._put(iter(lambda: stream.read(_CHUNK), b""))

    def put_file(self, path: Path) -> str:
        with Path(path).open("rb") as fh:
            return self.put_stream(fh)

    def put_expected(self, chunks: Iterator[bytes], sha256: str, *, max_bytes: int) -> str:
        """Store an upload only if it hashes to `sha256` and stays within `max_bytes`; else BlobError, nothing kept."""
        _check_digest(sha256)
        return self._put(chunks, expected=sha256, max_bytes=max_bytes)

    def _put(self, chunks: Iterator[bytes], *, expected: str | None = None, max_bytes: int | None = None) -> str:
        upload = self.open_upload(expected=expected, max_bytes=max_bytes)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit()
        except BaseException:
            upload.abort()
            raise

    def open_upload(self, *, expected: str | None = None, max_bytes: int | None = None) -> Upload:
        """A blob written piece by piece (memory stays flat whatever its size); visible only once committed."""
        if expected is not None:
            _check_digest(expected)
        return Upload(self, expected, max_bytes)

    def _adopt(self, tmp: Path, sha: str) -> None:
        """Make a complete, durable temp file the blob `sha` (or drop it when an intact copy is there already)."""
        final = self.path_for(sha)
        if final.is_file() and self._matches(final, sha):
            tmp.unlink()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def read(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing from {self.root}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(f"blob {sha256} is corrupt: its content no longer matches its hash")
        return data

    def verify(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        return path.is_file() and self._matches(path, sha256)

    @staticmethod
    def _matches(path: Path, sha256: str) -> bool:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def __iter__(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if _SHA256.match(path.name):
                yield path.name

    def clean_temp(self) -> int:
        """Remove temp files a crash left behind; they were never visible as blobs. Call it under `try_sweep()`:
        another process's upload in progress has its temp file there too."""
        removed = 0
        for path in self._tmp.glob("put-*"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed


class Upload:
    """One blob being written: `write` its bytes in order, then `commit` (verified, durable, visible) or `abort`."""

    def __init__(self, store: BlobStore, expected: str | None, max_bytes: int | None):
        self._store = store
        self._expected = expected
        self._max = max_bytes
        self._digest = hashlib.sha256()
        self.size = 0
        self._writer: HeldLock | None = store.locks.blob_writer()
        try:
            fd, name = tempfile.mkstemp(dir=store._tmp, prefix="put-")
        except BaseException:
            self._release()
            raise
        self._tmp = Path(name)
        self._out: BinaryIO | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        assert self._out is not None, "the upload is finished"
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            self.abort()
            raise BlobError(f"blob is larger than {self._max} bytes")
        self._digest.update(chunk)
        self._out.write(chunk)

    def commit(self) -> str:
        assert self._out is not None, "the upload is finished"
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
            sha = self._digest.hexdigest()
            if self._expected is not None and sha != self._expected:
                raise BlobError(f"the bytes sent hash to {sha}, not {self._expected}")
            self._store._adopt(self._tmp, sha)
            self._release()
            return sha
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            if self._out is not None:
                self._out.close()
                self._out = None
            self._tmp.unlink(missing_ok=True)
        finally:
            self._release()

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
