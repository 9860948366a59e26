"""`workstation extract`: OCR, classify and extract files without a database.

One file is read in this process; several are spread over an OCR process pool (one single-threaded engine
per core). Results come back in input order, each page as soon as its file is done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ocr.engines import DEFAULT_ENGINE, ENGINES, get_engine
from ocr.errors import EngineUnavailable
from ocr.pipeline import FileError, Result, read_file, read_file_task
from ocr.pool import THREAD_LIMITS, OcrPool
from workstation.errors import UsageError


def check_engine(name: str) -> str:
    if name not in ENGINES:
        raise UsageError(f"unknown engine '{name}'; engines: {', '.join(ENGINES)}")
    return name


def extract(
    paths: Sequence[str | Path], *, engine: str = DEFAULT_ENGINE, workers: int | None = None
) -> Iterator[Result]:
    """Every page of every path, in order. Missing paths and bad files give FileError results, not exceptions."""
    check_engine(engine)
    files = [Path(p) for p in paths]
    readable = [p for p in files if p.is_file()]
    if len(readable) <= 1:
        yield from _in_process(files, engine)
        return
    with OcrPool(engine, workers=min(workers or os.cpu_count() or 1, len(readable))) as pool:
        futures = {p: pool.submit(read_file_task, str(p), p.name) for p in readable}
        for path in files:
            if path not in futures:
                yield _missing(path)
                continue
            try:
                yield from futures[path].result()
            except EngineUnavailable:
                raise
            except Exception as exc:  # a worker crash on this file: report it and carry on with the others
                yield FileError(
                    path.name, f"{path.name}: reading failed ({' '.join(str(exc).split())[:200]})", "failed"
                )


def _in_process(files: Sequence[Path], engine: str) -> Iterator[Result]:
    for key, value in THREAD_LIMITS.items():
        os.environ.setdefault(key, value)
    reader = None
    for path in files:
        if not path.is_file():
            yield _missing(path)
            continue
        reader = reader or get_engine(engine)
        yield from read_file(path, reader, name=path.name)


def _missing(path: Path) -> FileError:
    what = "is a directory" if path.is_dir() else "does not exist"
    return FileError(path.name or str(path), f"{path}: {what}", "missing")
