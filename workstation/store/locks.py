"""Locks between the processes that share one data directory: `flock` on files under `<data_dir>/locks/`.

No daemon and nothing to clean up after a crash: the kernel drops a process's locks when it dies, however it dies.

- `blobs.lock`: held *shared* by whoever is writing a blob until the row that refers to it has committed (an
  ingest, an upload's temp file), *exclusively* by the sweep that removes temp files and unreferenced blobs. The
  sweep only tries: when some process is writing, it leaves its work for the next start-up.
- `jobs/<job id>.lock`: held exclusively by the process reading that OCR job, from before it marks the job
  `reading` until the job's result has committed. A job found `reading` whose lock can be taken was cut off by a
  dead process and goes back to the queue; one whose lock is held is being read by a live process and is left.

Other operating systems than POSIX ones get no-op locks (a single desk process is then assumed).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_BLOBS = "blobs.lock"
_JOBS = "jobs"


class HeldLock:
    """A lock this process holds on one file (released by `release`, or by the kernel when the process dies)."""

    def __init__(self, path: Path, fd: int | None, *, owned_file: bool) -> None:
        self.path = path
        self._fd = fd
        self._owned_file = owned_file

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go; a per-job lock file is removed first, while still held (so nobody locks a file on its way out)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._owned_file:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _lock(path: Path, *, exclusive: bool, wait: bool) -> int | None:
    """An fd of `path` locked as asked, or None when `wait` is False and another holder conflicts.

    The file may be removed by its previous holder just as it is locked here: the lock is kept only if the fd
    is still the file at `path`."""
    if fcntl is None:  # pragma: no cover - Windows
        return -1
    operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


class DataLocks:
    """The locks of one data directory (`root` is `<data_dir>/locks`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._jobs = self.root / _JOBS
        self._jobs.mkdir(parents=True, exist_ok=True)

    # -- the blob store ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def blob_writes(self) -> Iterator[None]:
        """Shared: a blob is being written and will be referenced before this ends (waits only for a sweep)."""
        lock = self.blob_writer()
        try:
            yield
        finally:
            lock.release()

    def blob_writer(self) -> HeldLock:
        fd = _lock(self.root / _BLOBS, exclusive=False, wait=True)
        return HeldLock(self.root / _BLOBS, None if fd == -1 else fd, owned_file=False)

    def try_blob_sweep(self) -> HeldLock | None:
        """Exclusive, without waiting: None while any process is writing a blob."""
        fd = _lock(self.root / _BLOBS, exclusive=True, wait=False)
        if fd is None:
            return None
        return HeldLock(self.root / _BLOBS, None if fd == -1 else fd, owned_file=False)

    # -- OCR jobs ----------------------------------------------------------------------------------------------

    def try_job(self, job_id: str) -> HeldLock | None:
        """The job's lock, without waiting: None while another process (or another claim here) holds it."""
        path = self._jobs / f"{_safe(job_id)}.lock"
        fd = _lock(path, exclusive=True, wait=False)
        if fd is None:
            return None
        return HeldLock(path, None if fd == -1 else fd, owned_file=True)

    def sweep_jobs(self) -> int:
        """Remove the lock files of jobs nobody holds (a process that died between filing a result and letting go
        of its lock leaves one behind); returns how many."""
        removed = 0
        for path in self._jobs.glob("*.lock"):
            fd = _lock(path, exclusive=True, wait=False)
            if fd is None or fd == -1:
                continue
            HeldLock(path, fd, owned_file=True).release()
            removed += 1
        return removed


def _safe(name: str) -> str:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"not a job id: {name[:80]!r}")
    return name
