"""Progress of long work on the command line (OCR of the pages taken in): pages done, rate, time left.

Drawn on stderr, on one line redrawn in place, only when stderr is a terminal and the command was not asked for
`--json`: in a pipe, a log file or a script the command stays quiet. A ticker redraws the line every half second,
so the seconds spent starting the OCR engine before the first page is read are visible too.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

_CLEAR = "\r\x1b[K"


def _seconds(value: float) -> str:
    value = max(0, round(value))
    if value < 60:
        return f"{value} 秒 s"
    return f"{value // 60} 分 {value % 60:02d} 秒 min"


class Progress:
    """`what` (e.g. "识别 reading") of `total` pages, on `stream` (stderr) when it is a terminal.

    `isatty` and `clock` can be given, for tests and for callers that know better than the stream.
    """

    def __init__(
        self,
        what: str,
        total: int,
        *,
        unit: str = "页 pages",
        rate_unit: str = "页/秒 pages/s",
        stream: TextIO | None = None,
        quiet: bool = False,
        isatty: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.5,
    ) -> None:
        self.what, self.unit, self.rate_unit, self.total = what, unit, rate_unit, total
        self._stream = stream if stream is not None else sys.stderr
        tty = isatty if isatty is not None else getattr(self._stream, "isatty", lambda: False)
        self.enabled = not quiet and total > 0 and bool(tty())
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self.done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def line(self) -> str:
        """The current progress line: done/total, rate and time left once a page is read, elapsed time."""
        now = self._clock()
        elapsed = now - self._started
        head = f"{self.what} {self.done}/{self.total} {self.unit}"
        if self.done == 0:
            return f"{head} · 正在启动 starting… {_seconds(elapsed)}"
        rate = self.done / max(elapsed, 1e-6)  # start-up included: the time left errs on the long side
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        tail = f"约剩 about {_seconds(left)} left" if self.done < self.total else "完成 done"
        return f"{head} · {rate:.2f} {self.rate_unit} · {tail} · {_seconds(elapsed)}"

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done = min(self.total, self.done + n)
        self._draw()

    def above(self, text: str, stream: TextIO | None = None) -> None:
        """Print `text` (a result, on stdout by default) above the progress line, which is then drawn again."""
        out = stream if stream is not None else sys.stdout
        with self._lock:
            if self.enabled:
                try:
                    self._stream.write(_CLEAR)
                    self._stream.flush()
                except (OSError, ValueError):
                    self.enabled = False
            print(text, file=out, flush=True)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            try:
                self._stream.write(_CLEAR + self.line())
                self._stream.flush()
            except (OSError, ValueError):  # the terminal went away: the work goes on without the line
                self.enabled = False

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self._draw()

    def start(self) -> Progress:
        if self.enabled:
            self._draw()
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def stop(self) -> None:
        """End the line: the last figures stay on the terminal, on a line of their own."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.enabled:
            self._draw()
            with self._lock:
                try:
                    self._stream.write("\n")
                    self._stream.flush()
                except (OSError, ValueError):
                    pass

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
