"""Taking files into dossiers: one transaction per file, duplicates recognised, bad files refused with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from workstation.services.desk import Desk
from workstation.services.intake import IntakeRefused
from workstation.store.models import AuditEvent, IntakeFile, OcrJob, OutboxOp, Page

SCANS = Path(__file__).resolve().parents[2] / "samples" / "scans"


@pytest.fixture
def number(desk: Desk, clerk) -> str:  # type: ignore[no-untyped-def]
    return desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number


def _copy(name: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(SCANS / name, dest / name))


def _count(desk: Desk, model) -> int:  # type: ignore[no-untyped-def]
    with desk.db.read() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_file_becomes_its_pages_with_ocr_jobs_audit_and_outbox_in_one_go(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    events_before, ops_before = _count(desk, AuditEvent), _count(desk, OutboxOp)
    path = _copy("case-01-M11-contract.pdf", tmp_path)
    result = desk.intake.ingest(clerk, path, number=number, source=path.name)
    assert result.outcome == "attached" and len(result.page_ids) == 2
    with desk.db.read() as s:
        pages = list(s.execute(select(Page).where(Page.file_id == result.file_id).order_by(Page.position)).scalars())
        assert [(p.position, p.file_page, p.ocr_status) for p in pages] == [(1, 1, "queued"), (2, 2, "queued")]
        assert s.execute(select(func.count()).select_from(OcrJob)).scalar_one() == 2
    assert desk.blobs.verify(pages[0].sha256)
    assert _count(desk, AuditEvent) == events_before + 1
    assert _count(desk, OutboxOp) == ops_before + 1


def test_the_same_content_twice_is_a_duplicate_not_a_second_attachment(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first = _copy("case-01-M05-licence-buyer.jpg", tmp_path / "a")
    again = _copy("case-01-M05-licence-buyer.jpg", tmp_path / "b")
    desk.intake.ingest(clerk, first, number=number, source="a/licence.jpg")
    desk.intake.mark_moved(desk.intake.ingest(clerk, first, number=number, source="a/licence.jpg").file_id)
    result = desk.intake.ingest(clerk, again, number=number, source="b/licence.jpg")
    assert result.outcome == "duplicate" and "duplicate" in result.message
    assert _count(desk, Page) == 1 and _count(desk, IntakeFile) == 1


def test_a_file_left_in_the_inbox_by_a_crash_after_commit_is_only_moved(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    path = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    first = desk.intake.ingest(clerk, path, number=number, source=path.name)
    again = desk.intake.ingest(clerk, path, number=number, source=path.name)  # the restart sees it again
    assert again.outcome == "already_attached" and again.file_id == first.file_id
    desk.intake.mark_moved(first.file_id)
    assert desk.intake.ingest(clerk, path, number=number, source=path.name).outcome == "duplicate"
    assert _count(desk, Page) == 1


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    good = (SCANS / "case-01-M05-licence-buyer.jpg").read_bytes()
    files = {
        "empty": tmp_path / "empty.jpg",
        "truncated": tmp_path / "truncated.jpg",
        "renamed": tmp_path / "notes.png",
        "encrypted": tmp_path / "locked.pdf",
        "huge": tmp_path / "huge.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["renamed"].write_text("收件清单：营业执照、身份证复印件", "utf-8")
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret")
    with files["encrypted"].open("wb") as fh:
        writer.write(fh)
    Image.new("1", (20_000, 20_000), 1).save(files["huge"], optimize=True)
    return files


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("empty", "empty"),
        ("truncated", "truncated"),
        ("renamed", "not an image"),
        ("encrypted", "PDF"),
        ("huge", "limit"),
    ],
)
def test_bad_files_are_refused_with_one_line_and_leave_nothing(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,
    kind: str,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(IntakeRefused) as err:
        desk.intake.ingest(clerk, path, number=number, source=path.name)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert _count(desk, Page) == 0 and list(desk.blobs) == []


def test_without_a_dossier_a_file_is_refused_naming_what_to_do(desk: Desk, clerk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    with pytest.raises(IntakeRefused, match="active dossier"):
        desk.intake.ingest(clerk, path, number=None, source=path.name)
    with pytest.raises(IntakeRefused, match="no dossier local-2026-999999"):
        desk.intake.ingest(clerk, path, number="local-2026-999999", source=path.name)


def test_the_active_dossier_receives_files_without_a_sub_folder(desk: Desk, clerk, number: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    desk.intake.set_active(clerk, number)
    assert desk.intake.active_number() == number
    path = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    assert desk.intake.ingest(clerk, path, number=None, source=path.name).dossier_number == number


def test_a_submitted_dossier_takes_no_more_pages(desk: Desk, clerk, number: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    detail = desk.dossiers.show(number)
    desk.dossiers.add_party(clerk, number, role="seller", kind="individual", name="赵建国")
    for slot in desk.dossiers.show(number).slots:
        if slot.required:
            desk.dossiers.waive(clerk, number, material=slot.material, party_key=slot.party_key, reason="测试")
    desk.dossiers.submit(clerk, number)
    path = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    with pytest.raises(IntakeRefused, match="submitted"):
        desk.intake.ingest(clerk, path, number=detail.number, source=path.name)


def test_reconcile_removes_orphan_blobs_and_temp_files_and_requeues_cut_off_jobs(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    path = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    kept = desk.intake.ingest(clerk, path, number=number, source=path.name)
    orphan = desk.blobs.put_bytes(b"a blob whose transaction never committed")
    (desk.blobs.root / "tmp" / "put-half-written").write_bytes(b"partial")
    with desk.db.transaction() as s:
        for job in s.execute(select(OcrJob)).scalars():
            job.state = "reading"
    report = desk.intake.reconcile()
    assert (report.orphan_blobs, report.temp_files, report.jobs_requeued) == (1, 1, 1)
    assert not desk.blobs.exists(orphan)
    with desk.db.read() as s:
        page = s.execute(select(Page).where(Page.file_id == kept.file_id)).scalar_one()
    assert desk.blobs.verify(page.sha256)
    assert desk.verify_audit().ok


def test_reconcile_leaves_a_blob_that_another_process_is_about_to_refer_to(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with desk.blobs.writing():  # as an ingest elsewhere holds it between its blob and its commit
        in_flight = desk.blobs.put_bytes(b"a scan whose transaction is about to commit")
        upload = desk.blobs.open_upload()
        upload.write(b"a scan still being copied")
        report = desk.intake.reconcile()
        assert (report.orphan_blobs, report.temp_files) == (0, 0)
        assert desk.blobs.verify(in_flight)
        assert upload.commit()
    report = desk.intake.reconcile()  # that ingest died before its commit: now they are orphans
    assert report.orphan_blobs == 2 and not desk.blobs.exists(in_flight)


def test_reconcile_requeues_only_the_jobs_of_readers_that_are_gone(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first = _copy("case-01-M05-licence-buyer.jpg", tmp_path)
    second = _copy("case-01-M11-contract.pdf", tmp_path)
    desk.intake.ingest(clerk, first, number=number, source=first.name)
    desk.intake.ingest(clerk, second, number=number, source=second.name)
    with desk.db.transaction() as s:
        jobs = list(s.execute(select(OcrJob).order_by(OcrJob.created_at)).scalars())
        for job in jobs:
            job.state = "reading"
        ids = [job.id for job in jobs]
    live = desk.blobs.locks.try_job(ids[0])  # a live process reading the first page
    assert live is not None
    assert desk.blobs.locks.try_job(ids[0]) is None
    try:
        assert desk.intake.reconcile().jobs_requeued == 2
        with desk.db.read() as s:
            states = {job_id: state for job_id, state in s.execute(select(OcrJob.id, OcrJob.state))}
        assert states == {ids[0]: "reading", ids[1]: "queued", ids[2]: "queued"}
    finally:
        live.release()  # that process ended
    assert desk.intake.reconcile().jobs_requeued == 1
    with desk.db.read() as s:
        assert set(s.execute(select(OcrJob.state)).scalars()) == {"queued"}
        assert set(s.execute(select(Page.ocr_status)).scalars()) == {"queued"}
