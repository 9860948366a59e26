"""The hot folder on a real filesystem with real watchdog observers; no database."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workstation.services import hotfolder
from workstation.services.hotfolder import Handled, HotFolder, Outcome

SETTLE = 0.2


@dataclass
class Call:
    path: Path
    hint: str | None
    content: bytes
    at: float


@dataclass
class Recorder:
    """A handler that records what it was given and answers with `decide` (TAKEN by default)."""

    decide: Callable[[Path, str | None], Handled] = lambda path, hint: Handled(Outcome.TAKEN, dest_subdir=hint)
    calls: list[Call] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, path: Path, hint: str | None) -> Handled:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.calls.append(Call(path, hint, path.read_bytes(), time.monotonic()))
            return self.decide(path, hint)
        finally:
            with self.lock:
                self.running -= 1

    def names(self) -> list[str]:
        return [c.path.name for c in self.calls]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def drop(path: Path, content: bytes = b"scan", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def settled_pass(folder: HotFolder, clock: FakeClock) -> int:
    """What a pass hands over once everything seen so far has settled."""
    folder.scan_once()
    clock.advance(SETTLE)
    return folder.scan_once()


@pytest.fixture
def started() -> Iterator[list[HotFolder]]:
    folders: list[HotFolder] = []
    yield folders
    for folder in folders:
        folder.stop()


# -- settling and finding files ---------------------------------------------------------------------------------


def test_file_written_in_slow_chunks_is_handed_over_once_after_it_stops_changing(
    inbox: Path, started: list[HotFolder]
) -> None:
    recorder = Recorder()
    # Settle well above the 0.1 s between chunks, so a writer thread delayed by a busy machine is not "settled".
    folder = HotFolder(inbox, recorder, settle_seconds=0.5, rescan_seconds=3600)
    folder.start()
    started.append(folder)
    chunks = [bytes([i]) * 1000 for i in range(10)]
    finished: list[float] = []

    def write_slowly() -> None:
        with open(inbox / "slow.jpg", "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                out.flush()
                time.sleep(0.1)
        finished.append(time.monotonic())

    writer = threading.Thread(target=write_slowly)
    writer.start()
    writer.join()
    wait_until(lambda: len(recorder.calls) == 1)
    time.sleep(0.6)

    assert len(recorder.calls) == 1
    assert recorder.calls[0].content == b"".join(chunks)
    assert recorder.calls[0].at >= finished[0]
    assert (folder.processed_dir / "slow.jpg").read_bytes() == b"".join(chunks)


def test_a_file_is_not_handed_over_until_it_has_been_unchanged_for_the_settle_time(
    inbox: Path, clock: FakeClock
) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "a.jpg", b"part")
    assert folder.scan_once() == 0
    clock.advance(SETTLE)
    with open(inbox / "a.jpg", "ab") as out:
        out.write(b" more")
    assert folder.scan_once() == 0  # the change resets the timer
    clock.advance(SETTLE / 2)
    assert folder.scan_once() == 0
    clock.advance(SETTLE / 2)
    assert folder.scan_once() == 1
    assert recorder.calls[0].content == b"part more"


def test_a_file_that_changes_during_a_pass_waits_to_settle_again(inbox: Path, clock: FakeClock) -> None:
    def decide(path: Path, hint: str | None) -> Handled:
        if path.name == "a.jpg":
            with open(inbox / "b.jpg", "ab") as out:  # the scanner is still writing b while a is handled
                out.write(b" more")
        return Handled(Outcome.TAKEN)

    recorder = Recorder(decide)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "a.jpg", mtime=100)
    drop(inbox / "b.jpg", b"part", mtime=200)

    assert settled_pass(folder, clock) == 1
    assert recorder.names() == ["a.jpg"]
    clock.advance(SETTLE)
    assert folder.scan_once() == 1
    assert recorder.calls[1].content == b"part more"


def test_a_file_that_changes_while_handled_is_left_to_settle_and_handed_over_again(
    inbox: Path, clock: FakeClock
) -> None:
    def decide(path: Path, hint: str | None) -> Handled:
        if len(recorder.calls) == 1:
            with open(path, "ab") as out:  # the scanner resumes after a long pause
                out.write(b" rest")
            return Handled(Outcome.QUARANTINE, reason="truncated JPEG")
        return Handled(Outcome.TAKEN)

    recorder = Recorder(decide)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "paused.jpg", b"first")

    assert settled_pass(folder, clock) == 1
    assert (inbox / "paused.jpg").exists()
    assert folder.quarantined() == []
    assert folder.scan_once() == 0
    clock.advance(SETTLE)
    assert folder.scan_once() == 1
    assert recorder.calls[1].content == b"first rest"
    assert (folder.processed_dir / "paused.jpg").read_bytes() == b"first rest"


def test_files_dropped_while_stopped_are_found_by_the_startup_scan(inbox: Path, started: list[HotFolder]) -> None:
    drop(inbox / "before.jpg")
    drop(inbox / "ABC-2026-000001" / "routed.jpg")
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, polling=True, poll_interval=3600, rescan_seconds=3600)
    folder.start()
    started.append(folder)

    wait_until(lambda: len(recorder.calls) == 2)
    assert sorted(recorder.names()) == ["before.jpg", "routed.jpg"]


def test_files_dropped_while_the_desk_was_restarted_are_found(inbox: Path, started: list[HotFolder]) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=3600)
    folder.start()
    started.append(folder)
    drop(inbox / "first.jpg")
    wait_until(lambda: len(recorder.calls) == 1)
    folder.stop()
    drop(inbox / "while-off.jpg")
    folder.start()

    wait_until(lambda: len(recorder.calls) == 2)
    assert recorder.names() == ["first.jpg", "while-off.jpg"]


def test_files_the_watcher_missed_are_found_by_the_periodic_rescan(inbox: Path, started: list[HotFolder]) -> None:
    drop(inbox / "sentinel.jpg")
    recorder = Recorder()
    # A poll interval of an hour: the observer sees nothing, as on a share whose events are lost.
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, polling=True, poll_interval=3600, rescan_seconds=0.3)
    folder.start()
    started.append(folder)
    wait_until(lambda: len(recorder.calls) == 1)  # the start-up scan is over

    drop(inbox / "missed.jpg")
    drop(inbox / "ABC-2026-000002" / "missed-too.jpg")

    wait_until(lambda: len(recorder.calls) == 3)
    assert sorted(recorder.names()[1:]) == ["missed-too.jpg", "missed.jpg"]


def test_polling_observer_sees_new_files_without_a_rescan(inbox: Path, started: list[HotFolder]) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, polling=True, poll_interval=0.1, rescan_seconds=3600)
    folder.start()
    started.append(folder)
    time.sleep(0.3)  # after the start-up scan, so only the polling observer can find the file

    drop(inbox / "ABC-2026-000003" / "polled.jpg", b"polled")

    wait_until(lambda: len(recorder.calls) == 1)
    assert recorder.calls[0].hint == "ABC-2026-000003"
    assert (folder.processed_dir / "ABC-2026-000003" / "polled.jpg").read_bytes() == b"polled"


def test_inotify_observer_sees_new_files_without_a_rescan(inbox: Path, started: list[HotFolder]) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=3600)
    folder.start()
    started.append(folder)
    time.sleep(0.2)

    drop(inbox / "ABC-2026-000004" / "event.jpg")  # a sub-folder created after the start: watched too

    wait_until(lambda: len(recorder.calls) == 1)
    assert recorder.calls[0].hint == "ABC-2026-000004"


def test_the_watch_is_renewed_when_a_vanished_inbox_comes_back(inbox: Path, started: list[HotFolder]) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=3600)
    folder.start()
    started.append(folder)
    time.sleep(0.2)
    shutil.rmtree(inbox)  # a share that went away and came back: its inotify watch is gone
    folder.scan_once()
    inbox.mkdir()
    folder.scan_once()
    time.sleep(0.3)

    drop(inbox / "after.jpg")  # no rescan for an hour: only a renewed watch can see it

    wait_until(lambda: len(recorder.calls) == 1)


# -- what is a candidate -----------------------------------------------------------------------------------------


def test_routing_hint_is_the_first_level_sub_folder(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder(lambda path, hint: Handled(Outcome.RETRY_LATER))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "ABC-2026-000001" / "x.jpg", mtime=100)
    drop(inbox / "x.jpg", mtime=200)
    drop(inbox / "ABC-2026-000001" / "deeper" / "y.jpg", mtime=300)

    assert settled_pass(folder, clock) == 2
    assert [(c.path, c.hint) for c in recorder.calls] == [
        (inbox / "ABC-2026-000001" / "x.jpg", "ABC-2026-000001"),
        (inbox / "x.jpg", None),
    ]


@pytest.mark.parametrize(
    "name", [".hidden.jpg", "scan.jpg.tmp", "scan.TMP", "scan.part", "scan.crdownload", "~$report.docx", "a.swp"]
)
def test_temp_and_hidden_names_are_ignored(inbox: Path, clock: FakeClock, name: str) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / name)
    drop(inbox / "ABC-2026-000001" / name)
    drop(inbox / ".hidden-folder" / "scan.jpg")

    assert settled_pass(folder, clock) == 0
    assert recorder.calls == []


def test_files_in_processed_and_quarantine_are_never_handed_over(
    inbox: Path, clock: FakeClock, started: list[HotFolder]
) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=0.2)
    drop(folder.processed_dir / "done.jpg")
    drop(folder.processed_dir / "ABC-2026-000001" / "done.jpg")
    drop(folder.quarantine_dir / "bad.jpg")
    drop(inbox / "processed" / "stray.jpg")
    drop(inbox / "quarantine" / "stray.jpg")
    folder.start()
    started.append(folder)
    drop(inbox / "new.jpg")

    wait_until(lambda: len(recorder.calls) == 1)
    time.sleep(0.5)  # a couple of rescans more
    assert recorder.names() == ["new.jpg"]


def test_an_inbox_named_like_an_output_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be an inbox"):
        HotFolder(tmp_path / "processed", Recorder())


def test_files_are_handed_over_by_mtime_then_name(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "b.jpg", mtime=200)
    drop(inbox / "a.jpg", mtime=200)
    drop(inbox / "c.jpg", mtime=100)

    assert settled_pass(folder, clock) == 3
    assert recorder.names() == ["c.jpg", "a.jpg", "b.jpg"]


def test_the_handler_never_runs_concurrently_with_itself(inbox: Path, started: list[HotFolder]) -> None:
    def slow(path: Path, hint: str | None) -> Handled:
        time.sleep(0.02)
        return Handled(Outcome.TAKEN)

    recorder = Recorder(slow)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=0.05)
    for i in range(10):
        drop(inbox / f"{i}.jpg")
    folder.start()
    started.append(folder)
    # scan_once from another thread at the same time as the worker's passes
    deadline = time.monotonic() + 5
    while len(recorder.calls) < 10 and time.monotonic() < deadline:
        folder.scan_once()
        time.sleep(0.01)

    assert recorder.most_at_once == 1
    assert sorted(recorder.names()) == [f"{i}.jpg" for i in range(10)]


def test_stop_finishes_the_file_in_hand_and_leaves_the_rest(inbox: Path) -> None:
    folders: list[HotFolder] = []

    def stop_while_handling(path: Path, hint: str | None) -> Handled:
        if path.name == "0.jpg":
            folders[0].stop()  # as if from outside: the stop lands while this file is in hand
        return Handled(Outcome.TAKEN)

    recorder = Recorder(stop_while_handling)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=3600)
    folders.append(folder)
    for i in range(5):
        drop(inbox / f"{i}.jpg", mtime=100 + i)
    folder.start()
    wait_until(lambda: len(recorder.calls) == 1)
    time.sleep(0.3)
    folder.stop()

    assert recorder.names() == ["0.jpg"]
    assert (folder.processed_dir / "0.jpg").exists()
    assert sorted(p.name for p in inbox.iterdir()) == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    folder.start()
    wait_until(lambda: len(recorder.calls) == 5)
    folder.stop()
    assert recorder.names() == [f"{i}.jpg" for i in range(5)]


# -- outcomes ------------------------------------------------------------------------------------------------------


def test_taken_file_moves_into_its_processed_subfolder_then_on_moved_is_called(inbox: Path, clock: FakeClock) -> None:
    seen_on_moved: list[tuple[bool, bool]] = []
    source = inbox / "ABC-2026-000001" / "x.jpg"
    dest_dir = inbox.parent / "processed" / "ABC-2026-000001"

    def on_moved() -> None:
        seen_on_moved.append((source.exists(), (dest_dir / "x-2.jpg").exists()))

    recorder = Recorder(lambda path, hint: Handled(Outcome.TAKEN, dest_subdir=hint, on_moved=on_moved))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(dest_dir / "x.jpg", b"older")
    drop(dest_dir / "x-1.jpg", b"older still")
    drop(source, b"new")

    assert settled_pass(folder, clock) == 1
    assert (dest_dir / "x-2.jpg").read_bytes() == b"new"
    assert (dest_dir / "x.jpg").read_bytes() == b"older"
    assert seen_on_moved == [(False, True)]
    assert source.parent.is_dir()  # the scanner's folder stays
    clock.advance(SETTLE)
    assert folder.scan_once() == 0
    assert len(seen_on_moved) == 1


def test_duplicate_moves_to_processed_too(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder(lambda path, hint: Handled(Outcome.DUPLICATE, reason="same sha256 as page 3"))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "again.jpg", b"again")

    assert settled_pass(folder, clock) == 1
    assert not (inbox / "again.jpg").exists()
    assert (folder.processed_dir / "again.jpg").read_bytes() == b"again"


def test_a_dest_subdir_that_would_leave_processed_is_not_followed(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder(lambda path, hint: Handled(Outcome.TAKEN, dest_subdir="../../escape"))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "x.jpg")

    assert settled_pass(folder, clock) == 1
    assert (folder.processed_dir / "x.jpg").exists()
    assert not (inbox.parent.parent / "escape").exists()


def test_quarantine_moves_the_file_and_writes_its_reason(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder(lambda path, hint: Handled(Outcome.QUARANTINE, reason="不是图像或PDF\nsecond line"))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(folder.quarantine_dir / "bad.pdf", b"earlier")
    drop(inbox / "ABC-2026-000001" / "bad.pdf", b"bad")

    assert settled_pass(folder, clock) == 1
    moved = folder.quarantine_dir / "bad-1.pdf"
    assert moved.read_bytes() == b"bad"
    lines = (folder.quarantine_dir / "bad-1.pdf.reason.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "不是图像或PDF second line"
    assert lines[1] == "original: ABC-2026-000001/bad.pdf"
    assert lines[2].startswith("time: ")
    assert not (inbox / "ABC-2026-000001" / "bad.pdf").exists()


def test_quarantined_lists_entries_with_reasons_newest_first(inbox: Path, clock: FakeClock) -> None:
    reasons = {"one.jpg": "unreadable image", "two.jpg": "too many pages"}
    recorder = Recorder(lambda path, hint: Handled(Outcome.QUARANTINE, reason=reasons[path.name]))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    assert folder.quarantined() == []
    drop(inbox / "one.jpg", mtime=100)
    drop(inbox / "two.jpg", mtime=200)
    drop(folder.quarantine_dir / "orphan.jpg")  # no reason file: still listed

    assert settled_pass(folder, clock) == 2
    entries = folder.quarantined()

    by_name = {e.path.name: e for e in entries}
    assert set(by_name) == {"one.jpg", "two.jpg", "orphan.jpg"}
    assert by_name["one.jpg"].reason == "unreadable image"
    assert by_name["one.jpg"].original == "one.jpg"
    assert by_name["two.jpg"].reason == "too many pages"
    assert by_name["orphan.jpg"].reason == "reason not recorded"
    assert [e.path.name for e in entries if e.original] == ["two.jpg", "one.jpg"]
    assert entries == sorted(entries, key=lambda e: e.when, reverse=True)


def test_an_orphan_reason_file_is_not_listed_and_later_names_step_around_it(inbox: Path, clock: FakeClock) -> None:
    recorder = Recorder(lambda path, hint: Handled(Outcome.QUARANTINE, reason="bad"))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(folder.quarantine_dir / "ghost.jpg.reason.txt", b"old reason\n")  # a crash before the move
    drop(inbox / "ghost.jpg")
    drop(inbox / "notes.reason.txt")  # an input file that happens to have such a name

    assert settled_pass(folder, clock) == 2
    listed = {e.path.name: e.reason for e in folder.quarantined()}
    assert listed == {"ghost-1.jpg": "bad", "notes.reason.txt": "bad"}


def test_retry_later_leaves_the_file_and_tries_again_after_a_backoff(inbox: Path, clock: FakeClock) -> None:
    answers = [Outcome.RETRY_LATER, Outcome.RETRY_LATER, Outcome.TAKEN]
    recorder = Recorder(lambda path, hint: Handled(answers.pop(0)))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock, retry_base_seconds=1.0)
    drop(inbox / "later.jpg")

    assert settled_pass(folder, clock) == 1
    assert (inbox / "later.jpg").exists()
    assert folder.scan_once() == 0  # backing off
    clock.advance(1.0)
    assert folder.scan_once() == 1
    clock.advance(1.0)
    assert folder.scan_once() == 0  # the second backoff is longer
    clock.advance(1.0)
    assert folder.scan_once() == 1
    assert not (inbox / "later.jpg").exists()
    assert (folder.processed_dir / "later.jpg").exists()


def test_a_handler_that_keeps_raising_ends_in_quarantine_while_other_files_flow(inbox: Path, clock: FakeClock) -> None:
    def decide(path: Path, hint: str | None) -> Handled:
        if path.name == "poison.jpg":
            raise ValueError("cannot identify image file\nat offset 0")
        return Handled(Outcome.TAKEN)

    recorder = Recorder(decide)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock, retry_base_seconds=1.0, max_failures=5)
    drop(inbox / "poison.jpg", mtime=100)
    drop(inbox / "good-1.jpg", mtime=200)

    assert settled_pass(folder, clock) == 2
    drop(inbox / "good-2.jpg")
    assert settled_pass(folder, clock) == 1  # the poison file is backing off; good-2 does not wait for it
    assert recorder.names() == ["poison.jpg", "good-1.jpg", "good-2.jpg"]
    for _ in range(20):
        clock.advance(60)
        folder.scan_once()

    assert recorder.names().count("poison.jpg") == 5
    entry = folder.quarantined()[0]
    assert entry.path == folder.quarantine_dir / "poison.jpg"
    assert entry.reason == "ValueError: cannot identify image file at offset 0 (5 attempts)"
    assert sorted(p.name for p in folder.processed_dir.iterdir()) == ["good-1.jpg", "good-2.jpg"]


def test_a_failing_file_does_not_delay_the_others_in_the_worker(inbox: Path, started: list[HotFolder]) -> None:
    def decide(path: Path, hint: str | None) -> Handled:
        if path.name == "poison.jpg":
            raise OSError("database is locked")
        return Handled(Outcome.TAKEN)

    recorder = Recorder(decide)
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, rescan_seconds=3600, retry_base_seconds=0.1)
    folder.start()
    started.append(folder)
    drop(inbox / "poison.jpg")
    wait_until(lambda: len(recorder.calls) >= 1)
    drop(inbox / "good.jpg")

    wait_until(lambda: len(folder.quarantined()) == 1)
    assert (folder.processed_dir / "good.jpg").exists()
    assert recorder.names().count("poison.jpg") == 5
    assert recorder.names().index("good.jpg") < len(recorder.calls) - 1
    assert "database is locked" in folder.quarantined()[0].reason


def test_an_exception_in_on_moved_leaves_the_file_moved(inbox: Path, clock: FakeClock) -> None:
    def on_moved() -> None:
        raise RuntimeError("db gone")

    recorder = Recorder(lambda path, hint: Handled(Outcome.TAKEN, on_moved=on_moved))
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "x.jpg")

    assert settled_pass(folder, clock) == 1
    assert (folder.processed_dir / "x.jpg").exists()


def test_a_move_across_filesystems_copies_then_removes_the_source(
    inbox: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(src).parent.parent != Path(dst).parent.parent:  # inbox/x → processed/x: another "device"
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(hotfolder.os, "replace", replace)
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock)
    drop(inbox / "x.jpg", b"content")

    assert settled_pass(folder, clock) == 1
    assert not (inbox / "x.jpg").exists()
    assert (folder.processed_dir / "x.jpg").read_bytes() == b"content"
    assert [p.name for p in folder.processed_dir.iterdir()] == ["x.jpg"]  # no temp copy left


def test_a_file_that_cannot_be_moved_stays_in_the_inbox_and_is_handed_over_again(
    inbox: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    failures = [OSError(errno.EACCES, "Permission denied")]

    def replace(src: str | Path, dst: str | Path) -> None:
        if failures:
            raise failures.pop()
        real_replace(src, dst)

    monkeypatch.setattr(hotfolder.os, "replace", replace)
    recorder = Recorder()
    folder = HotFolder(inbox, recorder, settle_seconds=SETTLE, clock=clock, retry_base_seconds=1.0)
    drop(inbox / "x.jpg")

    assert settled_pass(folder, clock) == 1
    assert (inbox / "x.jpg").exists()
    clock.advance(1.0)
    assert folder.scan_once() == 1
    assert (folder.processed_dir / "x.jpg").exists()
    assert len(recorder.calls) == 2
