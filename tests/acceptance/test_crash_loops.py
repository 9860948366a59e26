"""kill -9 at seeded moments, then restart: intake and the OCR queue lose and duplicate nothing, read each page once.

`workstation intake add` and `workstation intake watch` run as real processes of the command on one data directory,
OCR replaying recorded readings (`WS_OCR_ENGINE=replay:…`): these tests are about processes, locks and crashes.
Three seeds of each loop run in a plain `pytest`; all twenty under the `soak` marker.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select as sql_select

from ocr.engines.base import Line
from ocr.engines.replay import image_key, save
from ocr.loading import load_pages
from ocr.preprocess import prepare
from tests.replay_pages import LICENCE, make_page
from workstation.config import load_settings
from workstation.services.desk import Desk, open_desk
from workstation.store.models import AuditEvent, Dossier, IntakeFile, OcrJob, Page

pytestmark = pytest.mark.slow

SEEDS = [*range(3), *(pytest.param(seed, marks=pytest.mark.soak) for seed in range(3, 20))]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("workstation")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "workstation"]


def _record(paths: list[Path], recordings: Path) -> None:
    lines = [Line(t, (100, 100 + 60 * i, 1100, 150 + 60 * i), 0.98) for i, t in enumerate(LICENCE)]
    data = {}
    for path in paths:
        for page in load_pages(path):
            data[image_key(prepare(page.image)[0])] = lines
    save(data, recordings)


def _pdf(path: Path, seeds: list[int], tmp: Path) -> Path:
    frames = [Image.open(make_page(tmp / f"pdf-{s}.png", seed=s)).convert("L") for s in seeds]
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=150)
    return path


def _pages_of(path: Path) -> int:
    return 2 if path.suffix == ".pdf" else 1


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Site:
    """One data directory with a clerk, dossiers and scans whose readings are recorded."""

    root: Path
    data_dir: Path
    db_url: str
    env: dict[str, str]
    numbers: list[str]

    def open(self) -> Desk:
        return open_desk(load_settings(data_dir=self.data_dir, db_url=self.db_url))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_command(), *args], env=self.env, capture_output=True, text=True, check=False)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*_command(), *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0
        )


def _site(root: Path, db_url: str, dossiers: int) -> Site:
    data_dir = root / "desk"
    if db_url.startswith("sqlite"):  # the desk's own database in its data directory, as a desk has it
        data_dir.mkdir()
        shutil.move(db_url.removeprefix("sqlite:///"), data_dir / "workstation.db")
        db_url = f"sqlite:///{data_dir / 'workstation.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_") or k == "WS_PASSWORD_COST"}
    env.update(
        WS_DATA_DIR=str(data_dir),
        WS_DB_URL=db_url,
        WS_ADMIN_PASSWORD="admin-pass-1",
        WS_OCR_ENGINE=f"replay:{root / 'readings.json'}",
        WS_INTAKE_SETTLE_SECONDS="0.2",
        WS_INTAKE_RESCAN_SECONDS="0.3",
        WS_USER="clerk1",
        WS_PASSWORD="clerk-pass-1",
    )
    desk = open_desk(load_settings(data_dir=data_dir, db_url=db_url, admin_password="admin-pass-1"))
    try:
        desk.users.add(desk.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
        clerk = desk.users.actor("clerk1")
        numbers = [
            desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").number
            for _ in range(dossiers)
        ]
    finally:
        desk.close()
    return Site(root, data_dir, db_url, env, numbers)


def _scans(folder: Path, seed: int, count: int, *, pdf: bool = True) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = [make_page(folder / f"s{seed}-{i:02d}.png", seed=100_000 + 1000 * seed + i) for i in range(count)]
    if pdf:
        files.append(
            _pdf(folder / f"s{seed}-deed.pdf", [100_000 + 1000 * seed + 500, 100_000 + 1000 * seed + 501], folder)
        )
    return files


def _kill_after_lines(proc: subprocess.Popen[bytes], lines: int, extra: float) -> None:
    """SIGKILL `proc` once it has printed `lines` lines (one per file taken) and `extra` seconds more, or at once
    if it ends first."""
    assert proc.stdout is not None
    seen = 0
    buffered = b""
    while seen < lines and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buffered += chunk
            seen = buffered.count(b"\n")
    time.sleep(extra)
    _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    code = proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    assert code in (0, -signal.SIGKILL), f"{proc.args!r} failed on its own ({code})"


def _settle(site: Site, files: dict[str, list[Path]]) -> None:
    """Run `intake add` to its end for every dossier's files (nothing is killed any more)."""
    for number, paths in files.items():
        done = site.run("intake", "add", "--dossier", number, *map(str, paths))
        assert done.returncode == 0, done.stderr[-2000:]


def _audit_verify(site: Site) -> None:
    help_text = site.run("audit", "verify", "--help").stdout
    deep = ["--deep"] if "--deep" in help_text else []
    verified = site.run("audit", "verify", *deep)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]


def _check(site: Site, files: dict[str, list[Path]]) -> None:
    """Every file once in its dossier, every page read exactly once, no blob lost, no orphan left, audit intact."""
    desk = site.open()
    try:
        report = desk.intake.reconcile()  # alone on the data directory now: the sweep runs
        assert report.jobs_requeued == 0, "a job was still `reading` after every process had finished"
        with desk.db.read() as s:
            stored = sorted(
                (str(number), f.sha256, f.page_count)
                for f, number in s.execute(
                    sql_select(IntakeFile, Dossier.number).join(Dossier, Dossier.id == IntakeFile.dossier_id)
                )
            )
            pages = list(s.execute(sql_select(Page)).scalars())
            jobs = Counter(s.execute(sql_select(OcrJob.state)).scalars())
            errors = [e for e in s.execute(sql_select(OcrJob.error)).scalars() if e]
            readings = Counter(
                json.loads(payload)["page_id"]
                for payload in s.execute(
                    sql_select(AuditEvent.payload).where(AuditEvent.action == "page.ocr")
                ).scalars()
            )
            pages_per_file = {
                file_id: count
                for file_id, count in s.execute(sql_select(Page.file_id, func.count()).group_by(Page.file_id))
            }
        expected = sorted((number, _sha(p), _pages_of(p)) for number, paths in files.items() for p in paths)
        assert stored == expected  # each file once in its dossier, no other
        total = sum(n for _, _, n in expected)
        assert len(pages) == total and sorted(pages_per_file.values()) == sorted(n for _, _, n in expected)
        assert len({(p.dossier_id, p.file_id, p.file_page) for p in pages}) == total  # no duplicate page
        assert jobs == Counter({"done": total}), errors
        assert {p.ocr_status for p in pages} == {"done"}
        assert readings == Counter({p.id: 1 for p in pages})  # every page read (and filed) exactly once
        referenced = {p.sha256 for p in pages}
        assert all(desk.blobs.verify(sha) for sha in referenced)  # no blob lost or damaged
        assert set(desk.blobs) == referenced  # and no orphan left once the sweep could run
        assert list((desk.blobs.root / "tmp").iterdir()) == []
        assert list((desk.blobs.locks.root / "jobs").iterdir()) == []
        assert desk.verify_audit().ok
    finally:
        desk.close()
    _audit_verify(site)


def _state(site: Site) -> dict[str, int]:
    """Where a kill landed: files attached, jobs by state, blobs and temp files on disk."""
    desk = site.open()
    try:
        with desk.db.read() as s:
            files = s.execute(sql_select(func.count()).select_from(IntakeFile)).scalar_one()
            jobs = Counter(s.execute(sql_select(OcrJob.state)).scalars())
        temp = sum(1 for _ in (desk.blobs.root / "tmp").iterdir())
        return {"files": files, **jobs, "blobs": sum(1 for _ in desk.blobs), "temp": temp}
    finally:
        desk.close()


# -- one process: `intake add` killed anywhere, then run again -------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_intake_add_killed_at_seeded_points_then_rerun_reads_every_page_once(
    tmp_path: Path, db_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    site = _site(tmp_path, db_url, dossiers=1)
    number = site.numbers[0]
    files = _scans(tmp_path / "scans", seed, 7)
    _record(files, tmp_path / "readings.json")
    rng.shuffle(files)
    # Each run is given the files of the runs before and a few more: every run has files to take, and every run
    # is killed, while starting, hashing, writing a blob, in a transaction, between files, or reading pages.
    for count in sorted(rng.sample(range(2, len(files) + 1), 3)):
        proc = site.start("intake", "add", "--dossier", number, *map(str, files[:count]))
        _kill_after_lines(proc, rng.randint(0, count), rng.uniform(0.0, 0.3))
        print(f"killed at: {_state(site)}")
    _settle(site, {number: files})
    _check(site, {number: files})


# -- two processes on one data directory --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_two_processes_on_one_data_directory_killed_at_seeded_points_lose_nothing(
    tmp_path: Path, db_url: str, seed: int
) -> None:
    """`intake add` ingests into one dossier while `intake watch` starts (reconciling: the blob sweep and the cut-off
    jobs) and takes what lands in its inbox for another; both are killed and started again at seeded moments.
    The second process's start-up must never delete a blob the first is about to refer to, nor put back in the
    queue a job the first is reading."""
    rng = random.Random(1000 + seed)
    site = _site(tmp_path, db_url, dossiers=2)
    added, watched = site.numbers
    add_files = _scans(tmp_path / "add", seed, 9)
    watch_files = _scans(tmp_path / "watch", 50 + seed, 4, pdf=False)
    shared = add_files[0]  # the same scan into both dossiers: one blob, two files
    watch_files.append(Path(shutil.copy(shared, tmp_path / "watch" / f"copy-{shared.name}")))
    _record([*add_files, *watch_files], tmp_path / "readings.json")
    inbox = tmp_path / "inbox"
    (inbox / watched).mkdir(parents=True)
    rng.shuffle(add_files)
    dropped = 0
    for count in sorted(rng.sample(range(3, len(add_files) + 1), 3)):
        for path in watch_files[dropped : dropped + rng.randint(1, 2)]:
            shutil.copy(path, inbox / watched / path.name)
            dropped += 1
        # The watcher starts (reconciling) a little before or while the adder starts and ingests; the adder is
        # killed after a seeded number of files, the watcher a seeded moment later.
        watcher = site.start("intake", "watch", str(inbox))
        time.sleep(rng.uniform(0.0, 1.2))
        adder = site.start("intake", "add", "--dossier", added, *map(str, add_files[:count]))
        _kill_after_lines(adder, rng.randint(0, count), rng.uniform(0.0, 0.3))
        time.sleep(rng.uniform(0.0, 1.0))
        _kill(watcher)
        print(f"killed at: {_state(site)}")
    for path in watch_files[dropped:]:
        shutil.copy(path, inbox / watched / path.name)
    _settle(site, {added: add_files})
    watcher = site.start("intake", "watch", str(inbox))
    try:
        _wait_until_drained(site, inbox / watched, watcher)
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait()
        assert watcher.stdout is not None
        watcher.stdout.close()
    _check(site, {added: add_files, watched: watch_files})


# A process of the desk caught in the middle of its work: it is reading one page (its reading never comes back) and
# has written the blob of another file whose transaction waits for a line on stdin.
_MID_WORK = """
import sys
from concurrent.futures import Future
from pathlib import Path
from workstation.config import load_settings
from workstation.services.desk import open_desk
from workstation.services.intake import IntakeService
from workstation.services.ocr_jobs import OcrRunner

data_dir, db_url, number, reading, in_flight = sys.argv[1:6]
desk = open_desk(load_settings(data_dir=data_dir, db_url=db_url))
clerk = desk.users.actor("clerk1")
desk.intake.ingest(clerk, Path(reading), number=number, source=Path(reading).name)
runner = OcrRunner(desk.db, desk.blobs, station_id=desk.settings.station_id, events=desk.events,
                   submit=lambda *_: Future(), close=lambda: None, capacity=1)
runner._fill()
print("reading", flush=True)
attach = IntakeService._attach

def paused(self, *args, **kwargs):
    print("in flight", flush=True)
    sys.stdin.readline()
    return attach(self, *args, **kwargs)

IntakeService._attach = paused
desk.intake.ingest(clerk, Path(in_flight), number=number, source=Path(in_flight).name)
print("committed", flush=True)
sys.stdin.readline()
"""


def test_a_second_process_starting_up_leaves_the_work_of_a_live_one_alone(tmp_path: Path, db_url: str) -> None:
    """Deterministic: while one process is reading a page and has a blob written but not yet referenced, another
    starts `intake watch` (reconcile: blob sweep and cut-off jobs) and runs `intake add` to its end. Neither the
    blob nor the page being read is touched; once the first process is killed, its page is read after all."""
    site = _site(tmp_path, db_url, dossiers=1)
    (number,) = site.numbers
    reading, in_flight, other = _scans(tmp_path / "scans", 0, 3, pdf=False)
    _record([reading, in_flight, other], tmp_path / "readings.json")
    mid = subprocess.Popen(
        [sys.executable, "-c", _MID_WORK, str(site.data_dir), site.db_url, number, str(reading), str(in_flight)],
        env=site.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert mid.stdin is not None and mid.stdout is not None
    try:
        assert mid.stdout.readline().strip() == "reading"
        assert mid.stdout.readline().strip() == "in flight"
        assert desk_state(site) == {"files": 1, "reading": 1, "blobs": 2}

        inbox = tmp_path / "inbox"
        inbox.mkdir()
        watcher = site.start("intake", "watch", str(inbox))
        assert watcher.stdout is not None
        assert b"watching" in watcher.stdout.readline()  # printed once start-up (and its reconcile) is done
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait() == 0
        watcher.stdout.close()
        assert desk_state(site) == {"files": 1, "reading": 1, "blobs": 2}  # nothing swept, nothing put back

        done = site.run("intake", "add", "--dossier", number, str(other))
        assert done.returncode == 0, done.stderr[-2000:]
        assert desk_state(site) == {"files": 2, "reading": 1, "done": 1, "blobs": 3}

        mid.stdin.write("\n")
        mid.stdin.flush()
        assert mid.stdout.readline().strip() == "committed"
        assert desk_state(site) == {"files": 3, "reading": 1, "done": 1, "queued": 1, "blobs": 3}
    finally:
        mid.kill()
        mid.wait()
    _settle(site, {number: [reading, in_flight, other]})  # the reader is dead: its page is read now
    _check(site, {number: [reading, in_flight, other]})


def desk_state(site: Site) -> dict[str, int]:
    state = _state(site)
    state.pop("temp")
    return state


def _wait_until_drained(site: Site, inbox: Path, watcher: subprocess.Popen[bytes]) -> None:
    """Until the inbox is empty and no job is open; fails if the watcher ends, or after a generous number of looks
    in a row that see no change at all."""
    last: tuple[int, int] | None = None
    still = 0
    while True:
        assert watcher.poll() is None, f"intake watch ended ({watcher.returncode})"
        left = sum(1 for _ in inbox.iterdir())
        desk = site.open()
        try:
            with desk.db.read() as s:
                open_jobs = s.execute(
                    sql_select(func.count()).select_from(OcrJob).where(OcrJob.state.in_(("queued", "reading")))
                ).scalar_one()
        finally:
            desk.close()
        if left == 0 and open_jobs == 0:
            return
        still = still + 1 if (left, open_jobs) == last else 0
        last = (left, open_jobs)
        assert still < 1500, f"no progress: {left} files in the inbox, {open_jobs} jobs open"
        time.sleep(0.2)


# -- OCR workers die with their parent -------------------------------------------------------------------------------

_POOL_OWNER = """
import json, multiprocessing.forkserver as fs, multiprocessing.resource_tracker as rt, sys, time
from ocr.pool import OcrPool
pool = OcrPool(sys.argv[1], workers=2)
workers = sorted({s["pid"] for s in pool.worker_stats()})
print(json.dumps({"workers": workers, "forkserver": fs._forkserver._forkserver_pid,
                  "tracker": rt._resource_tracker._pid}), flush=True)
time.sleep(3600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def pool_owner(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    engine = "tesseract"
    from ocr.engines import unavailable_reason

    if unavailable_reason(engine):
        pytest.skip(unavailable_reason(engine) or "")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", _POOL_OWNER, engine], env=env, stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ocr_workers_forkserver_and_tracker_end_when_their_parent_is_killed(
    pool_owner: subprocess.Popen[str],
) -> None:
    assert pool_owner.stdout is not None
    line = pool_owner.stdout.readline()
    assert line, "the pool's owner did not start its workers"
    started = json.loads(line)
    children = [*started["workers"], started["forkserver"], started["tracker"]]
    children = [pid for pid in children if pid]
    assert len(started["workers"]) >= 1 and all(_alive(pid) for pid in children)
    pool_owner.send_signal(signal.SIGKILL)
    pool_owner.wait()
    for _ in range(600):  # generous: the point is that they end, not how fast
        left = [pid for pid in children if _alive(pid)]
        if not left:
            return
        time.sleep(0.1)
    pytest.fail(f"processes outlived their killed parent: {left} (of workers, forkserver, tracker: {children})")
