"""A pool of OCR worker processes: one single-threaded engine per process, one process per core.

Workers are started with `forkserver` (or `spawn`), never `fork`: onnxruntime and OpenMP must start in a
clean process. Each worker's initializer limits every numeric library to one thread *before* numpy or
onnxruntime is imported, then builds the engine once; a task (a top-level function) gets it from
`worker_engine()`. Keep numpy/onnxruntime imports out of the top of a script that is the main module
of a pool's parent: workers import `__main__` before their initializer runs.

A worker that dies (a crash in native code, the OOM killer) breaks a ProcessPoolExecutor for good; here
the tasks that were running or queued fail with EngineFailed and the next `submit` starts a fresh set
of workers.

Workers die with the process that owns the pool, however it ends (kill -9 included). A forkserver's workers are
children of the forkserver, not of the pool's owner, and each holds the pipes that would tell the forkserver
and the resource tracker that the owner is gone, so none of them would ever notice by itself. Each worker
therefore watches the owner's pid (a pidfd on Linux, else a poll) from a thread and ends itself when the
owner is gone; and on Linux it also asks the kernel for SIGKILL when its own parent dies
(prctl PR_SET_PDEATHSIG). With the workers gone, the forkserver and the resource tracker see their pipes
close and exit too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from ocr.engines import DEFAULT_ENGINE, ENGINES, Engine, unavailable_reason
from ocr.errors import EngineFailed, EngineUnavailable

T = TypeVar("T")

# Set in each worker before anything numeric is imported.
THREAD_LIMITS = {
    "OMP_NUM_THREADS": "1",
    "OMP_THREAD_LIMIT": "1",  # Tesseract's OpenMP
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

_engine: Engine | None = None
_engine_error: BaseException | None = None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent process ends. A no-op where prctl is not there."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return


def _owner_gone(owner: int) -> bool:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _watch_owner(owner: int) -> None:
    """End this worker as soon as the process that owns the pool has ended."""
    pidfd = -1
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(owner)
    if pidfd >= 0:
        while True:
            ready, _, _ = select.select([pidfd], [], [])
            if ready:
                break
    else:
        while not _owner_gone(owner) and os.getppid() != 1:
            time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)


def _init_worker(engine: str, options: Mapping[str, Any], owner: int | None = None) -> None:
    global _engine, _engine_error
    _die_with_parent()
    if owner is not None and owner != os.getpid():
        if _owner_gone(owner):
            os.kill(os.getpid(), signal.SIGKILL)
        threading.Thread(target=_watch_owner, args=(owner,), name="owner-watch", daemon=True).start()
    os.environ.update(THREAD_LIMITS)
    from ocr.engines import get_engine

    try:
        _engine = get_engine(engine, **dict(options))
    except Exception as exc:
        # Keep the worker alive: every task then raises this reason instead of the pool breaking.
        _engine_error = exc


def worker_engine() -> Engine:
    """The engine of the worker process this task runs in."""
    if _engine_error is not None:
        if isinstance(_engine_error, EngineUnavailable):
            raise EngineUnavailable(str(_engine_error))
        raise EngineUnavailable(f"the OCR engine did not start: {' '.join(str(_engine_error).split())[:200]}")
    if _engine is None:
        raise RuntimeError("worker_engine() is only available inside an OcrPool task")
    return _engine


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def worker_stats() -> dict[str, Any]:
    """A task: the worker's pid, engine name and peak RSS in MB."""
    engine = _engine.name if _engine is not None else None
    return {"pid": os.getpid(), "engine": engine, "peak_rss_mb": round(peak_rss_mb(), 1)}


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, int, float]:
    """Run a task and report which worker ran it and how high its memory has been."""
    return fn(*args), os.getpid(), peak_rss_mb()


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class OcrPool:
    """`with OcrPool() as pool: text = pool.submit(ocr_page, path).result()`."""

    def __init__(
        self,
        engine: str = DEFAULT_ENGINE,
        workers: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise EngineUnavailable(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
        reason = unavailable_reason(engine)
        if reason:
            raise EngineUnavailable(reason)
        self.engine = engine
        self.workers = workers or os.cpu_count() or 1
        self.options = dict(options or {})
        self.restarts = 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._broken: ProcessPoolExecutor | None = None  # set from the executor's own thread
        self._closed = False
        self._peaks: dict[int, float] = {}

    # -- running tasks ---------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run top-level function `fn(*args)` in a worker. The future raises EngineFailed if the worker
        died while the task ran or waited."""
        outer: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the OCR pool is closed")
            executor = self._live_executor()
            try:
                inner = executor.submit(_call, fn, args)
            except BrokenProcessPool:
                self._discard(executor)
                executor = self._live_executor()
                inner = executor.submit(_call, fn, args)
        outer.set_running_or_notify_cancel()
        inner.add_done_callback(lambda done: self._relay(done, outer, executor))
        return outer

    def map(self, fn: Callable[..., T], iterable: Iterable[Any]) -> Iterator[T]:
        """`fn(item)` for each item, in order; all are queued at once, results come as they are ready."""
        futures = [self.submit(fn, item) for item in iterable]

        def results() -> Iterator[T]:
            for future in futures:
                yield future.result()

        return results()

    def _live_executor(self) -> ProcessPoolExecutor:
        if self._executor is not None and self._executor is self._broken:
            self._discard(self._executor)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(self.engine, self.options, os.getpid()),
            )
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Drop a broken executor (under the lock, in a caller's thread); the next submit starts new workers.
        The broken executor has already failed its futures and is terminating its processes."""
        if self._executor is executor:
            self._executor = None
            self.restarts += 1
            executor.shutdown(wait=False, cancel_futures=True)

    def _relay(self, inner: Future[Any], outer: Future[Any], executor: ProcessPoolExecutor) -> None:
        if inner.cancelled():  # close(wait=False) dropped it before a worker took it
            outer.set_exception(EngineFailed("the OCR pool was closed before this page was read"))
            return
        error = inner.exception()
        if error is None:
            result, pid, peak = inner.result()
            self._peaks[pid] = peak
            outer.set_result(result)
        elif isinstance(error, BrokenProcessPool):
            # This runs in the executor's management thread: only mark it; submit() replaces it.
            self._broken = executor
            failure = EngineFailed("an OCR worker process died while this page was being read or waiting")
            failure.__cause__ = error
            outer.set_exception(failure)
        else:
            outer.set_exception(error)

    # -- figures -----------------------------------------------------------------------------------

    def peak_rss_mb(self) -> dict[int, float]:
        """Peak RSS in MB of each worker that has finished a task, by pid (as of its latest task)."""
        return dict(self._peaks)

    def worker_stats(self) -> list[dict[str, Any]]:
        """`worker_stats()` from as many workers as answer a round of tasks (one per worker at most)."""
        futures = [self.submit(worker_stats) for _ in range(self.workers)]
        seen: dict[int, dict[str, Any]] = {}
        for future in futures:
            stats = future.result()
            seen[stats["pid"]] = stats
        return list(seen.values())

    # -- life cycle --------------------------------------------------------------------------------

    def close(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
