"""The hot folder with the intake service behind it: what a scanner drops is attached once, in order, or quarantined.

OCR here replays recorded readings: these tests are about files, transactions and crashes, not about reading.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from ocr.engines.base import Line
from ocr.engines.replay import image_key, save
from ocr.loading import load_pages
from ocr.preprocess import prepare
from tests.replay_pages import LICENCE, make_page
from workstation.config import load_settings
from workstation.services.desk import Desk, open_desk
from workstation.services.intake_service import start_intake
from workstation.store.models import IntakeFile, OcrJob, Page

pytestmark = pytest.mark.slow


def _record(paths: list[Path], recordings: Path) -> None:
    """A reading for every page of every file (multi-page files included)."""
    lines = [Line(t, (100, 100 + 60 * i, 1100, 150 + 60 * i), 0.98) for i, t in enumerate(LICENCE)]
    data = {}
    for path in paths:
        for page in load_pages(path):
            data[image_key(prepare(page.image)[0])] = lines
    save(data, recordings)


def _multi_pdf(path: Path, seeds: list[int], tmp: Path) -> Path:
    frames = [Image.open(make_page(tmp / f"pdf-{s}.png", seed=s)).convert("L") for s in seeds]
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=150)
    return path


def _multi_tiff(path: Path, seeds: list[int], tmp: Path) -> Path:
    frames = [Image.open(make_page(tmp / f"tif-{s}.png", seed=s)).convert("L") for s in seeds]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(150, 150))
    return path


def _bad_files(folder: Path, good_jpeg: bytes) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": good_jpeg[: len(good_jpeg) // 3],
        "notes.png": "受理清单：营业执照、身份证".encode(),
    }
    paths = {}
    for name, data in bad.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret")
    paths["locked.pdf"] = folder / "locked.pdf"
    with paths["locked.pdf"].open("wb") as fh:
        writer.write(fh)
    paths["huge.png"] = folder / "huge.png"
    Image.new("1", (20_000, 20_000), 1).save(paths["huge.png"], optimize=True)
    return paths


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    recordings = tmp_path / "readings.json"
    recordings.write_text("{}")
    settings = load_settings(
        data_dir=tmp_path / "desk",
        admin_password="admin-pass-1",
        intake_settle_seconds=0.3,
        intake_rescan_seconds=0.5,
        ocr_engine=f"replay:{recordings}",
    )
    opened = open_desk(settings)
    opened.users.add(opened.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
    yield opened
    opened.close()


def _wait(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_thirty_files_dropped_while_watching_are_attached_once_in_order_or_quarantined(
    desk: Desk, tmp_path: Path
) -> None:
    clerk = desk.users.actor("clerk1")
    number = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    staging = tmp_path / "staging"
    staging.mkdir()
    singles = [make_page(staging / f"page-{i:02d}.png", seed=100 + i) for i in range(19)]
    pdf = _multi_pdf(staging / "contract.pdf", [201, 202, 203], staging)
    tiff = _multi_tiff(staging / "tax.tif", [301, 302], staging)
    slow = make_page(staging / "slow.png", seed=400)
    jpeg = staging / "photo.jpg"
    Image.open(singles[0]).convert("L").save(jpeg, quality=80)
    good = [*singles, pdf, tiff, slow]
    _record([*good, jpeg], Path(desk.settings.ocr_engine.removeprefix("replay:")))
    bad = _bad_files(staging / "bad", jpeg.read_bytes())
    duplicates = [singles[3], singles[7], pdf]

    inbox = tmp_path / "inbox" / number  # routed by the sub-folder's name
    inbox.mkdir(parents=True)
    running = start_intake(desk, clerk, inbox=tmp_path / "inbox")
    try:
        drops: list[str] = []

        def drop(src: Path, name: str) -> None:
            tmp = tmp_path / f".{name}.part"
            shutil.copy(src, tmp)
            os.replace(tmp, inbox / name)
            drops.append(name)
            time.sleep(0.05)

        for path in [*singles[:10], pdf, *singles[10:], tiff]:
            drop(path, path.name)
        for path in duplicates:
            drop(path, f"again-{path.name}")
        for name, path in bad.items():
            drop(path, name)

        def slow_write() -> None:
            data = slow.read_bytes()
            with (inbox / "slow.png").open("wb") as out:
                for i in range(0, len(data), len(data) // 8 + 1):
                    out.write(data[i : i + len(data) // 8 + 1])
                    out.flush()
                    time.sleep(0.15)

        writer = threading.Thread(target=slow_write)
        writer.start()
        writer.join()
        assert len(drops) + 1 == 30  # 22 distinct good files (25 pages), 3 duplicates, 5 bad files

        good_pages = 19 + 3 + 2 + 1

        def settled() -> bool:
            with desk.db.read() as s:
                done = s.execute(select(func.count()).select_from(OcrJob).where(OcrJob.state == "done")).scalar_one()
            return done == good_pages and not any(inbox.iterdir())

        _wait(settled, timeout=120)
    finally:
        running.stop()

    detail = desk.dossiers.show(number)
    assert len(detail.pages) == good_pages
    with desk.db.read() as s:
        files = list(s.execute(select(IntakeFile).order_by(IntakeFile.created_at)).scalars())
        pages = list(s.execute(select(Page).order_by(Page.position)).scalars())
    assert len(files) == len(good) and all(f.moved_at for f in files)
    # Each file's pages are consecutive and in the file's own order.
    by_file: dict[str, list[int]] = {}
    for page in pages:
        by_file.setdefault(str(page.file_id), []).append(page.file_page)
    assert all(order == list(range(1, len(order) + 1)) for order in by_file.values())
    assert sorted(len(v) for v in by_file.values()) == [1] * 20 + [2, 3]
    quarantine = {e.path.name: e.reason for e in running.folder.quarantined()}
    assert set(quarantine) == set(bad)
    assert "empty" in quarantine["empty.jpg"] and "truncated" in quarantine["truncated.jpg"]
    assert "not an image" in quarantine["notes.png"] and "PDF" in quarantine["locked.pdf"]
    assert "limit" in quarantine["huge.png"]
    processed = {p.name for p in (tmp_path / "processed").rglob("*") if p.is_file()}
    assert {f"again-{p.name}" for p in duplicates} <= processed
    assert desk.verify_audit().ok


def _inventory(data_dir: Path) -> tuple[list[tuple[str, int]], set[str], set[str]]:
    desk = open_desk(load_settings(data_dir=data_dir))
    try:
        with desk.db.read() as s:
            files = sorted((f.sha256, f.page_count) for f in s.execute(select(IntakeFile)).scalars())
            referenced = set(s.execute(select(Page.sha256)).scalars())
        assert desk.verify_audit().ok
        return files, referenced, set(desk.blobs)
    finally:
        desk.close()


# Five seeds (fifteen kills at seeded moments) in `make test`; all twenty under the `soak` marker, which CI runs once.
@pytest.mark.parametrize("seed", [*range(5), *(pytest.param(seed, marks=pytest.mark.soak) for seed in range(5, 20))])
def test_killing_intake_at_random_points_loses_and_duplicates_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    staging = tmp_path / "staging"
    staging.mkdir()
    good = [make_page(staging / f"s{seed}-{i:02d}.png", seed=1000 * seed + i) for i in range(18)]
    good.append(_multi_pdf(staging / f"s{seed}-contract.pdf", [1000 * seed + 50, 1000 * seed + 51], staging))
    recordings = tmp_path / "readings.json"
    _record(good, recordings)
    broken = staging / "broken.png"
    broken.write_text("not an image")
    data_dir = tmp_path / "desk"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_") or k == "WS_PASSWORD_COST"}
    env.update(
        WS_DATA_DIR=str(data_dir),
        WS_ADMIN_PASSWORD="admin-pass-1",
        WS_OCR_ENGINE=f"replay:{recordings}",
        WS_INTAKE_SETTLE_SECONDS="0.2",
        WS_INTAKE_RESCAN_SECONDS="0.3",
        WS_USER="clerk1",
        WS_PASSWORD="clerk-pass-1",
    )
    desk = open_desk(load_settings(data_dir=data_dir, admin_password="admin-pass-1"))
    desk.users.add(desk.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
    number = desk.dossiers.new(
        desk.users.actor("clerk1"), business="RESALE_TRANSFER", applicant_kind="individual"
    ).number
    desk.close()
    inbox = tmp_path / "inbox"
    (inbox / number).mkdir(parents=True)
    command = [sys.executable, "-m", "workstation", "intake", "watch", str(inbox)]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    files = [*good, broken]
    rng.shuffle(files)
    proc = start()
    dropped = 0
    for _kill in range(3):
        # Drop a few files, then kill -9 at a random moment: during settling, hashing, the transaction, the move, OCR.
        for path in files[dropped : dropped + rng.randint(4, 9)]:
            shutil.copy(path, inbox / number / path.name)
            dropped += 1
            time.sleep(rng.uniform(0.0, 0.15))
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start()
    for path in files[dropped:]:
        shutil.copy(path, inbox / number / path.name)
    try:

        def finished() -> bool:
            if any((inbox / number).iterdir()):
                return False
            check = open_desk(load_settings(data_dir=data_dir))
            try:
                with check.db.read() as s:
                    open_jobs = s.execute(
                        select(func.count()).select_from(OcrJob).where(OcrJob.state.in_(("queued", "reading")))
                    ).scalar_one()
                return open_jobs == 0
            finally:
                check.close()

        _wait(finished, timeout=180)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    files_in_db, referenced, blobs = _inventory(data_dir)
    expected = sorted((_sha(p), 2 if p.suffix == ".pdf" else 1) for p in good)
    assert files_in_db == expected  # every good file once, no other
    assert blobs == referenced == {sha for sha, _ in expected}  # no orphan blob, none missing
    quarantined = list((tmp_path / "quarantine").glob("broken.png*"))
    assert sorted(p.name for p in quarantined) == ["broken.png", "broken.png.reason.txt"]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
