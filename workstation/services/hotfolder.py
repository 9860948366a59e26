"""The hot folder: the filesystem side of intake: watching, settling, handing over, moving, quarantining.

Knows nothing of the database. A `Handler` decides what a file is; this module decides when a file is ready,
hands files over one at a time, and moves them out of the inbox according to the handler's answer.

Layout (fixed): the two output folders sit *beside* the inbox, in the inbox's parent::

    <root>/inbox/                      scanners drop files here (the folder passed as `inbox`)
    <root>/inbox/<受理号>/scan.jpg      a first-level sub-folder routes its files: the handler gets its name as hint
    <root>/processed/<dest_subdir>/    TAKEN and DUPLICATE files (dest_subdir from the handler, e.g. the 受理号)
    <root>/quarantine/name.ext         QUARANTINE files (and files whose handler kept raising) ...
    <root>/quarantine/name.ext.reason.txt   ... each with its reason: reason line, original path, time (UTF-8)

Point the inbox at a sub-folder of a network share (not at the share's root), so the output folders are on
the same filesystem and a move is one atomic rename. Where they are not, a move copies (fsync), renames the
copy into place, then deletes the source: a crash in between leaves the file in both places, never in none.
Inside the inbox, only files at the top level and one level down are candidates; hidden names, the temp
names of scanners and copy tools, Explorer/NAS clutter, and sub-folders named `processed` or `quarantine`
are ignored.

When a file is ready: its size and mtime were seen unchanged across `settle_seconds` (two observations that
far apart, by an event, a rescan, or the re-check just before the hand-over). Events come from a watchdog
observer (inotify; a polling observer with `polling=True` for network shares, where inotify sees nothing);
a full rescan at start and every `rescan_seconds` catches what events missed.

Contract with the handler:
- One worker thread calls it, one file at a time, settled files in order of mtime then path, so it never
  runs concurrently with itself. It gets the absolute path (still in the inbox) and the routing hint.
- The handler is told about a file *before* the file is moved. After a crash (or a failed move) between the
  handler's return and the move, the file is still in the inbox and is handed over again on the next pass or
  restart; the handler must recognise a file it has already taken (answer DUPLICATE, or TAKEN again).
  The move itself is `os.replace`, so a file is either in the inbox or at its destination, never gone.
- `on_moved` runs after the move succeeded (directory fsynced); an exception there is logged, nothing undone.
- RETRY_LATER leaves the file for a later pass, after a capped per-file backoff. An exception from the
  handler counts as a failure with the same backoff; after `max_failures` the file is quarantined with the
  exception's text. A file that changes on disk starts afresh. Other files are handed over meanwhile.
- A file that changed while the handler had it (a scanner that paused longer than the settle time) is not
  moved, whatever the answer: it settles again and is handed over again, whole.
- One HotFolder per inbox: two desks sharing an inbox would hand the same file over twice.
- `clock` only measures settle and backoff times (inject a fake one to drive `scan_once` in tests); the worker
  thread waits in real seconds.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger("workstation.intake")

PROCESSED = "processed"
QUARANTINE = "quarantine"
REASON_SUFFIX = ".reason.txt"

# Names that are never input: partial downloads and copies, editor swap files, Office lock files, and what
# Explorer and NAS boxes leave in every folder they look at.
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".filepart", ".swp")
_CLUTTER_FILES = frozenset({"thumbs.db", "desktop.ini"})
_IGNORED_DIRS = frozenset(
    {PROCESSED, QUARANTINE, "@eadir", "#recycle", "$recycle.bin", "system volume information", "lost+found"}
)
_MAX_REASON = 500


class Outcome(Enum):
    TAKEN = "taken"
    DUPLICATE = "duplicate"
    QUARANTINE = "quarantine"
    RETRY_LATER = "retry_later"


@dataclass(frozen=True)
class Handled:
    """The handler's answer for one file."""

    outcome: Outcome
    reason: str | None = None
    """One line: why a file is quarantined (also logged for DUPLICATE)."""
    dest_subdir: str | None = None
    """Where under processed/ a TAKEN or DUPLICATE file goes (e.g. the dossier number); None for the top."""
    on_moved: Callable[[], None] | None = None
    """Called once the file is at its destination."""


Handler = Callable[[Path, str | None], Handled]
"""(absolute path of a settled file in the inbox, routing hint or None) -> Handled."""


@dataclass(frozen=True)
class QuarantineEntry:
    path: Path
    reason: str
    when: datetime
    original: str | None = None
    """The file's path relative to the inbox when it was quarantined."""


def is_ignored_name(name: str) -> bool:
    """True for names that are never input: hidden, temp and clutter files."""
    lowered = name.lower()
    return name.startswith((".", "~$")) or lowered.endswith(_TEMP_SUFFIXES) or lowered in _CLUTTER_FILES


def _is_ignored_dir(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_DIRS


def one_line(text: str) -> str:
    """A reason fit for one line of a list: whitespace collapsed, length capped."""
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


@dataclass
class _Track:
    """What the folder knows of one candidate file."""

    size: int
    mtime_ns: int
    stable_since: float
    failures: int = 0
    retries: int = 0
    not_before: float = 0.0


class _Events(FileSystemEventHandler):
    def __init__(self, folder: HotFolder) -> None:
        self._folder = folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, event.dest_path):
            if raw:
                self._folder._note(Path(os.fsdecode(raw)), is_dir=event.is_directory)


class HotFolder:
    """Watches `inbox` and hands settled files to `handler`; see the module docstring for the contract."""

    def __init__(
        self,
        inbox: Path,
        handler: Handler,
        *,
        settle_seconds: float = 2.0,
        polling: bool = False,
        poll_interval: float = 1.0,
        rescan_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_failures: int = 5,
        retry_base_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
    ) -> None:
        self.inbox = Path(os.path.abspath(inbox))
        if self.inbox.name.lower() in (PROCESSED, QUARANTINE) or self.inbox.parent == self.inbox:
            raise ValueError(f"{self.inbox} cannot be an inbox: processed/ and quarantine/ go beside it")
        self.processed_dir = self.inbox.parent / PROCESSED
        self.quarantine_dir = self.inbox.parent / QUARANTINE
        self._handler = handler
        self._settle = settle_seconds
        self._polling = polling
        self._poll_interval = poll_interval
        self._rescan_seconds = rescan_seconds
        self._clock = clock
        self._max_failures = max_failures
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds

        self._tracks: dict[Path, _Track] = {}  # touched only under _pass_lock
        self._pass_lock = threading.Lock()
        self._lock = threading.Lock()  # guards what the observer thread hands to the worker
        self._dirty: set[Path] = set()
        self._dirty_dirs: set[Path] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._observer: BaseObserver | None = None
        self._observer_lock = threading.Lock()
        self._rearm = False  # the inbox came back: its old watch (inotify or polling) died with it
        self._worker: threading.Thread | None = None
        self._next_rescan = 0.0
        self._inbox_readable = True

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the folders, start watching, and scan what is already there (in the worker)."""
        if self._worker is not None:
            raise RuntimeError("hot folder already started")
        for folder in (self.inbox, self.processed_dir, self.quarantine_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if os.stat(self.inbox).st_dev != os.stat(self.processed_dir).st_dev:
            log.warning("%s and %s are on different filesystems: moves will copy", self.inbox, self.processed_dir)
        # A fresh event per run: a worker told to stop (perhaps still finishing a file) stays stopped.
        self._stopping = threading.Event()
        with self._observer_lock:
            self._observer = self._start_observer()
        self._next_rescan = float("-inf")  # the first pass is a full scan: files dropped while the desk was off
        self._worker = threading.Thread(target=self._run, args=(self._stopping,), name="hotfolder", daemon=True)
        self._worker.start()
        log.info("watching %s (%s)", self.inbox, "polling" if self._polling else "events")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; a file being handled is finished first (waits up to `timeout` seconds)."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._observer_lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(max(0.0, deadline - time.monotonic()))
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():  # the handler may call stop() too
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("hot folder worker still busy after %.1f s; left to finish on its own", timeout)

    def __enter__(self) -> HotFolder:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.stop()

    def _start_observer(self) -> BaseObserver:
        observer: BaseObserver = PollingObserver(timeout=self._poll_interval) if self._polling else Observer()
        try:
            observer.schedule(_Events(self), str(self.inbox), recursive=True)
            observer.start()
        except OSError as exc:
            # e.g. the inotify watch limit: polling sees the same files, only later.
            log.warning("cannot watch %s for events (%s); polling instead", self.inbox, exc)
            observer = PollingObserver(timeout=self._poll_interval)
            observer.schedule(_Events(self), str(self.inbox), recursive=True)
            observer.start()
        return observer

    def _restart_observer(self) -> None:
        with self._observer_lock:
            if self._observer is None or self._stopping.is_set():
                return
            self._observer.stop()
            self._observer.join(2.0)
            self._observer = self._start_observer()
        log.info("watching %s again", self.inbox)

    # -- passes ------------------------------------------------------------------------------------------------

    def scan_once(self) -> int:
        """One full pass: look at every candidate, hand over the settled ones; returns how many were handed over."""
        return self._pass(full=True, stopping=None)

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            pause = 0.0
            try:
                self._pass(full=self._clock() >= self._next_rescan, stopping=stopping)
                if self._rearm:
                    self._rearm = False
                    self._restart_observer()
            except Exception:
                log.exception("hot folder pass failed")
                pause = 1.0  # an error that repeats must not spin
            self._wake.wait(max(pause, self._seconds_to_next_wakeup()))
            self._wake.clear()

    def _seconds_to_next_wakeup(self) -> float:
        with self._pass_lock:
            due = [max(t.stable_since + self._settle, t.not_before) for t in self._tracks.values()]
        due.append(self._next_rescan)
        # A little slack so a wait that ends on the dot does not find the file a hair short of settled.
        return min(max(0.0, min(due) - self._clock() + 0.01), self._rescan_seconds)

    def _pass(self, *, full: bool, stopping: threading.Event | None) -> int:
        with self._pass_lock:
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                dirty_dirs, self._dirty_dirs = self._dirty_dirs, set()
            now = self._clock()
            if full:
                self._next_rescan = now + self._rescan_seconds
                listing = self._list_inbox()
                if listing is not None:
                    for path in set(self._tracks) - listing.keys():
                        del self._tracks[path]
                    for path, st in listing.items():
                        self._observe(path, st, now)
            else:
                for folder in dirty_dirs:
                    dirty.update(self._list_subfolder(folder))
                    dirty.update(p for p in self._tracks if p.parent == folder)
                for path in dirty:
                    try:
                        self._restat(path, now)
                    except OSError as exc:
                        log.debug("cannot stat %s: %s", path, exc)
            ready = [p for p, t in self._tracks.items() if self._is_ready(t, now)]
            ready.sort(key=lambda p: (self._tracks[p].mtime_ns, str(p)))
            handed = 0
            for path in ready:
                if stopping is not None and stopping.is_set():
                    break
                handed += self._hand_over(path)
            return handed

    def _is_ready(self, track: _Track, now: float) -> bool:
        return now - track.stable_since >= self._settle and now >= track.not_before

    def _observe(self, path: Path, st: os.stat_result, now: float) -> _Track:
        track = self._tracks.get(path)
        if track is None:
            track = self._tracks[path] = _Track(st.st_size, st.st_mtime_ns, now)
        elif (track.size, track.mtime_ns) != (st.st_size, st.st_mtime_ns):
            # Changed on disk: a new file as far as settling, retries and failures go.
            self._tracks[path] = track = _Track(st.st_size, st.st_mtime_ns, now)
        return track

    def _restat(self, path: Path, now: float) -> bool:
        """Observe one path; False (and forgotten) if it is gone or no longer a plain file. May raise OSError."""
        try:
            st = path.stat(follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            self._tracks.pop(path, None)
            return False
        self._observe(path, st, now)
        return True

    def _list_inbox(self) -> dict[Path, os.stat_result] | None:
        """Every candidate in the inbox with its stat, or None when the inbox cannot be read (share offline)."""
        try:
            entries = list(os.scandir(self.inbox))
        except OSError as exc:
            if self._inbox_readable:
                log.warning("cannot read the inbox %s: %s", self.inbox, exc)
            self._inbox_readable = False
            return None
        if not self._inbox_readable:
            log.info("the inbox %s can be read again", self.inbox)
            self._inbox_readable = True
            self._rearm = True
            self._wake.set()
        found: dict[Path, os.stat_result] = {}
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not _is_ignored_dir(entry.name):
                        found.update(self._list_subfolder(Path(entry.path)))
                elif entry.is_file(follow_symlinks=False) and not is_ignored_name(entry.name):
                    found[Path(entry.path)] = entry.stat(follow_symlinks=False)
            except OSError as exc:
                log.debug("skipping %s: %s", entry.path, exc)
        return found

    def _list_subfolder(self, folder: Path) -> dict[Path, os.stat_result]:
        found: dict[Path, os.stat_result] = {}
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return found
        except OSError as exc:
            log.warning("cannot read %s: %s", folder, exc)
            return found
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and not is_ignored_name(entry.name):
                    found[Path(entry.path)] = entry.stat(follow_symlinks=False)
            except OSError as exc:
                log.debug("skipping %s: %s", entry.path, exc)
        return found

    def _note(self, path: Path, *, is_dir: bool) -> None:
        """Called on the observer's thread for each event path: remember it and wake the worker."""
        try:
            parts = path.relative_to(self.inbox).parts
        except ValueError:
            return
        if not parts or len(parts) > 2 or (len(parts) == 2 and _is_ignored_dir(parts[0])):
            return
        if is_dir:
            if len(parts) != 1 or _is_ignored_dir(parts[0]):
                return
        elif is_ignored_name(parts[-1]):
            return
        with self._lock:
            (self._dirty_dirs if is_dir else self._dirty).add(path)
        self._wake.set()

    # -- hand-over and moves -----------------------------------------------------------------------------------

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.inbox).as_posix()

    def _hand_over(self, path: Path) -> int:
        """Hand one ready file to the handler and act on the answer; returns 1 if the handler was called."""
        track = self._tracks[path]
        before = (track.size, track.mtime_ns)
        rel = self._relative(path)
        try:
            if not self._restat(path, self._clock()):
                return 0
        except OSError as exc:
            log.warning("%s: cannot stat: %s", rel, exc)
            self._back_off(track)
            return 0
        track = self._tracks[path]
        if (track.size, track.mtime_ns) != before:
            return 0  # changed since it was last seen: settle again
        parts = path.relative_to(self.inbox).parts
        hint = parts[0] if len(parts) == 2 else None
        log.debug("handing over %s (hint %s)", rel, hint)
        try:
            handled = self._handler(path, hint)
            if not isinstance(handled, Handled):
                raise TypeError(f"handler returned {type(handled).__name__}, not Handled")
        except Exception as exc:
            track.failures += 1
            text = one_line(f"{type(exc).__name__}: {exc}")
            if track.failures >= self._max_failures:
                log.warning("%s: handler failed %d times, quarantining", rel, track.failures, exc_info=exc)
                self._quarantine(path, f"{text} ({track.failures} attempts)")
            else:
                log.warning("%s: handler failed (attempt %d): %s", rel, track.failures, text, exc_info=exc)
                self._back_off(track)
            return 1

        if handled.outcome is Outcome.RETRY_LATER:
            self._back_off(track)
            log.info("%s: handler asks to retry later (attempt %d)", rel, track.retries)
        elif self._changed_while_handled(path, before):
            # The scanner paused longer than the settle time: the handler saw part of the file. It settles
            # again and is handed over again, whole.
            log.warning("%s: changed while being handled (%s); left to settle again", rel, handled.outcome.value)
        elif handled.outcome is Outcome.QUARANTINE:
            self._quarantine(path, handled.reason or "no reason given")
        else:
            if handled.outcome is Outcome.DUPLICATE:
                log.info("%s: duplicate%s", rel, f": {one_line(handled.reason)}" if handled.reason else "")
            self._process(path, handled)
        return 1

    def _changed_while_handled(self, path: Path, before: tuple[int, int]) -> bool:
        try:
            st = path.stat(follow_symlinks=False)
        except OSError:
            return False  # gone or unreadable: the move says what is wrong
        if (st.st_size, st.st_mtime_ns) == before:
            return False
        self._observe(path, st, self._clock())
        return True

    def _back_off(self, track: _Track) -> None:
        track.retries += 1
        delay = min(self._retry_max, self._retry_base * 2 ** min(track.retries - 1, 30))
        track.not_before = self._clock() + delay

    def _process(self, path: Path, handled: Handled) -> None:
        rel = self._relative(path)
        dest_dir = self.processed_dir
        subdir = _safe_subdir(handled.dest_subdir)
        if subdir is None:
            log.warning("%s: unusable dest_subdir %r, moving to processed/ itself", rel, handled.dest_subdir)
        else:
            dest_dir = dest_dir.joinpath(*subdir)
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            final = _free_name(dest_dir, path.name)
            _move(path, final)
        except OSError as exc:
            # Still in the inbox: handed over again later, which the handler recognises.
            log.error("%s: cannot move to %s: %s", rel, dest_dir, exc)
            self._back_off(self._tracks[path])
            return
        del self._tracks[path]
        log.info("%s: %s, moved to %s", rel, handled.outcome.value, final)
        if handled.on_moved is not None:
            try:
                handled.on_moved()
            except Exception:
                log.exception("%s: on_moved failed after the move to %s", rel, final)

    def _quarantine(self, path: Path, reason: str) -> None:
        rel = self._relative(path)
        line = one_line(reason) or "no reason given"
        when = datetime.now().astimezone().isoformat()
        # The reason goes first, so whoever lists quarantine/ never sees the file without it. A crash before
        # the move leaves an orphan reason file, which the listing skips and later names step around.
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            final = _free_name(self.quarantine_dir, path.name, REASON_SUFFIX)
            reason_file = final.with_name(final.name + REASON_SUFFIX)
            _write_durably(reason_file, f"{line}\noriginal: {rel}\ntime: {when}\n")
        except OSError as exc:
            log.error("%s: cannot write its quarantine reason: %s", rel, exc)
            self._back_off(self._tracks[path])
            return
        try:
            _move(path, final)
        except OSError as exc:
            log.error("%s: cannot move to quarantine: %s", rel, exc)
            reason_file.unlink(missing_ok=True)
            self._back_off(self._tracks[path])
            return
        del self._tracks[path]
        log.warning("%s: quarantined as %s: %s", rel, final.name, line)

    # -- quarantine listing ------------------------------------------------------------------------------------

    def quarantined(self) -> list[QuarantineEntry]:
        """The files in quarantine/ with their reasons, newest first."""
        try:
            names = set(os.listdir(self.quarantine_dir))
        except FileNotFoundError:
            return []
        entries = []
        for name in names:
            path = self.quarantine_dir / name
            # A reason file: beside its file, or an orphan a crash left. A quarantined file that merely has
            # such a name has a reason file of its own.
            if name.startswith(".") or (name.endswith(REASON_SUFFIX) and name + REASON_SUFFIX not in names):
                continue
            try:
                st = path.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                entries.append(_read_entry(path, st, name + REASON_SUFFIX in names))
        entries.sort(key=lambda e: (e.when, e.path.name), reverse=True)
        return entries


def _read_entry(path: Path, st: os.stat_result, has_reason: bool) -> QuarantineEntry:
    when = datetime.fromtimestamp(st.st_mtime).astimezone()
    if not has_reason:
        return QuarantineEntry(path, "reason not recorded", when)
    try:
        lines = path.with_name(path.name + REASON_SUFFIX).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return QuarantineEntry(path, f"reason unreadable: {exc}", when)
    reason = lines[0].strip() if lines else ""
    original = None
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key == "original":
            original = value.strip()
        elif key == "time":
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(value.strip()).astimezone()
    return QuarantineEntry(path, reason or "no reason given", when, original)


def _safe_subdir(subdir: str | None) -> list[str] | None:
    """The handler's dest_subdir as path parts that stay inside processed/; None if it would not."""
    if not subdir:
        return []
    parts = subdir.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") or ":" in p or "\0" in p for p in parts):
        return None
    return parts


def _free_name(folder: Path, name: str, companion_suffix: str | None = None) -> Path:
    """`name` in `folder`, or `stem-1.ext`, `stem-2.ext`… if taken (also by the companion file, if any)."""
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 0
    while os.path.lexists(folder / candidate) or (
        companion_suffix and os.path.lexists(folder / (candidate + companion_suffix))
    ):
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return folder / candidate


def _move(src: Path, dest: Path) -> None:
    """Move `src` to `dest`; the file is at its source or its destination at any moment, never in neither."""
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_across(src, dest)
    _fsync_dirs((dest.parent, src.parent))


def _copy_across(src: Path, dest: Path) -> None:
    """A move between filesystems: durable copy renamed into place, then the source removed."""
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        shutil.copy2(src, temp)
        with open(temp, "rb+") as copied:
            os.fsync(copied.fileno())
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dirs((dest.parent,))
    os.unlink(src)


def _write_durably(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _fsync_dirs((path.parent,))


def _fsync_dirs(folders: Iterable[Path]) -> None:
    """Make renames in these folders durable (where the OS and filesystem allow fsync on a directory)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            log.debug("cannot open %s to fsync: %s", folder, exc)
            continue
        try:
            os.fsync(fd)
        except OSError as exc:
            log.debug("cannot fsync %s: %s", folder, exc)
        finally:
            os.close(fd)
