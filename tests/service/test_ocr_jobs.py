"""The persistent OCR queue, with recorded readings (this is about the queue, not about OCR)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest
from sqlalchemy import select

from ocr.engines.replay import ReplayEngine
from ocr.pipeline import Result
from tests.replay_pages import make_page, record_pages
from workstation.services.desk import Desk
from workstation.services.events import PageEvent
from workstation.services.ocr_jobs import OcrRunner, inline_submitter
from workstation.store.models import AuditEvent, Field, OcrJob, Page


@pytest.fixture
def number(desk: Desk, clerk) -> str:  # type: ignore[no-untyped-def]
    return desk.dossiers.new(
        clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name="济南泉城商贸有限公司"
    ).number


def _runner(desk: Desk, recordings: Path) -> OcrRunner:
    submit, close = inline_submitter(ReplayEngine.load(recordings))
    return OcrRunner(desk.db, desk.blobs, station_id="local", events=desk.events, submit=submit, close=close)


def _read_all(desk: Desk, recordings: Path) -> int:
    """Reads every queued page with a fresh runner, stops it, and says how many pages it read."""
    runner = _runner(desk, recordings)
    try:
        return runner.run_until_idle(timeout=60)
    finally:
        runner.stop()


def test_a_read_page_is_classified_its_fields_stored_and_its_slot_filled(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    page = make_page(tmp_path / "licence.png", seed=1)
    recordings = record_pages([page], tmp_path / "rec.json")
    events: list[PageEvent] = []
    desk.events.subscribe(events.append)
    desk.intake.ingest(clerk, page, number=number, source=page.name)
    assert _read_all(desk, recordings) == 1
    detail = desk.dossiers.show(number)
    assert [(p.ocr_status, p.material) for p in detail.pages] == [("done", "M05")]
    assert next(s for s in detail.slots if s.material == "M05").satisfied
    fields = {f.key: f for f in detail.fields}
    assert fields["uscc"].value == "91350100M000100Y43" and fields["uscc"].valid
    assert fields["org_name"].value == "济南泉城商贸有限公司"
    assert [e.state for e in events] == ["queued", "reading", "done"]
    assert desk.verify_audit().ok


def test_a_page_that_cannot_be_read_is_retried_then_failed_with_its_reason(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    known = make_page(tmp_path / "known.png", seed=1)
    unknown = make_page(tmp_path / "unknown.png", seed=2)
    recordings = record_pages([known], tmp_path / "rec.json")
    desk.intake.ingest(clerk, unknown, number=number, source=unknown.name)
    _read_all(desk, recordings)
    with desk.db.read() as s:
        job = s.execute(select(OcrJob)).scalar_one()
        page = s.execute(select(Page)).scalar_one()
    assert (job.state, job.attempts, page.ocr_status) == ("failed", 3, "failed")
    assert "no recorded reading" in (job.error or "")


def test_jobs_cut_off_by_a_crash_are_read_after_reconcile(desk: Desk, clerk, number: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = make_page(tmp_path / "licence.png", seed=1)
    recordings = record_pages([page], tmp_path / "rec.json")
    desk.intake.ingest(clerk, page, number=number, source=page.name)
    with desk.db.transaction() as s:
        s.execute(select(OcrJob)).scalar_one().state = "reading"  # the process died while reading
    desk.intake.reconcile()
    assert _read_all(desk, recordings) == 1
    with desk.db.read() as s:
        assert s.execute(select(OcrJob.state)).scalar_one() == "done"


def test_the_clerk_moves_confirms_and_deletes_and_every_step_is_audited(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first, second = make_page(tmp_path / "a.png", seed=1), make_page(tmp_path / "b.png", seed=2)
    recordings = record_pages([first, second], tmp_path / "rec.json")
    desk.intake.ingest(clerk, first, number=number, source=first.name)
    desk.intake.ingest(clerk, second, number=number, source=second.name)
    _read_all(desk, recordings)
    a, b = desk.dossiers.show(number).pages
    detail = desk.dossiers.move_page(clerk, number, b.id, material="M06", party_key="p1")
    assert next(s for s in detail.slots if s.material == "M06").satisfied
    detail = desk.dossiers.reorder_page(clerk, number, b.id, position=1)
    assert [p.id for p in detail.pages] == [b.id, a.id]
    detail = desk.dossiers.confirm_field(clerk, number, a.id, "org_name", value="济南泉城商贸有限公司 ")
    with desk.db.read() as s:
        field = s.execute(select(Field).where(Field.page_id == a.id, Field.key == "org_name")).scalar_one()
    assert field.confirmed_by == clerk.user_id and field.value == "济南泉城商贸有限公司"
    detail = desk.dossiers.confirm_field(clerk, number, a.id, "uscc", value="91350100M000100Y44")
    assert next(f for f in detail.fields if f.key == "uscc" and f.page_id == a.id).valid is False
    detail = desk.dossiers.delete_page(clerk, number, b.id, reason="重复扫描")
    assert [p.id for p in detail.pages] == [a.id]
    assert not next(s for s in detail.slots if s.material == "M06").satisfied
    detail = desk.dossiers.rotate_page(clerk, number, a.id, degrees=90)
    assert detail.pages[0].rotation == 90
    assert desk.verify_audit().ok


def test_a_runner_reads_jobs_cut_off_by_a_process_that_died_without_any_reconcile(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    page = make_page(tmp_path / "licence.png", seed=1)
    recordings = record_pages([page], tmp_path / "rec.json")
    desk.intake.ingest(clerk, page, number=number, source=page.name)
    with desk.db.transaction() as s:
        s.execute(select(OcrJob)).scalar_one().state = "reading"  # `intake add` was killed while reading
    assert _read_all(desk, recordings) == 1
    with desk.db.read() as s:
        assert s.execute(select(OcrJob.state)).scalar_one() == "done"


class _Held:
    """A submitter whose readings finish only when the test says so (a slow reader in another process)."""

    def __init__(self) -> None:
        self.futures: list[Future[Result]] = []
        self.closed = False

    def submit(self, path: str, file_page: int, name: str) -> Future[Result]:
        future: Future[Result] = Future()
        self.futures.append(future)
        return future

    def close(self) -> None:
        self.closed = True


def test_a_job_another_runner_is_reading_is_neither_taken_nor_put_back(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first, second = make_page(tmp_path / "a.png", seed=1), make_page(tmp_path / "b.png", seed=2)
    recordings = record_pages([first, second], tmp_path / "rec.json")
    desk.intake.ingest(clerk, first, number=number, source=first.name)
    held = _Held()
    slow = OcrRunner(
        desk.db, desk.blobs, station_id="local", events=desk.events, submit=held.submit, close=held.close, capacity=1
    )
    slow._fill()  # claims the first page and keeps reading it
    assert len(held.futures) == 1
    desk.intake.ingest(clerk, second, number=number, source=second.name)
    other = _runner(desk, recordings)
    try:
        assert other.run_until_idle(timeout=60) == 1  # the second page only; it does not wait for the first
        assert desk.intake.reconcile().jobs_requeued == 0
    finally:
        other.stop()
    with desk.db.read() as s:
        states = sorted(s.execute(select(Page.source_name, Page.ocr_status)).all())
    assert states == [("a.png", "reading"), ("b.png", "done")]
    slow.stop()  # stopped before its reading came back: the job goes back to the queue
    assert held.closed
    with desk.db.read() as s:
        assert sorted(s.execute(select(Page.source_name, Page.ocr_status)).all()) == [
            ("a.png", "queued"),
            ("b.png", "done"),
        ]
    assert _read_all(desk, recordings) == 1
    with desk.db.read() as s:
        readings = list(s.execute(select(AuditEvent.entity_id).where(AuditEvent.action == "page.ocr")))
    assert len(readings) == 2
    assert list((desk.blobs.locks.root / "jobs").iterdir()) == []


def test_a_page_that_could_not_be_handed_to_a_reader_goes_back_to_the_queue_at_once(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    page = make_page(tmp_path / "a.png", seed=1)
    desk.intake.ingest(clerk, page, number=number, source=page.name)

    def refuse(path: str, file_page: int, name: str) -> Future[Result]:
        raise RuntimeError("the OCR pool is closed")

    runner = OcrRunner(desk.db, desk.blobs, station_id="local", events=desk.events, submit=refuse, close=lambda: None)
    with pytest.raises(RuntimeError):
        runner._fill()
    with desk.db.read() as s:
        assert s.execute(select(OcrJob.state)).scalar_one() == "queued"
    assert list((desk.blobs.locks.root / "jobs").iterdir()) == []


def test_a_value_a_person_confirmed_vouches_for_the_same_value_on_other_pages_and_doubts_a_different_one(
    desk: Desk,
    clerk,
    number: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    pages = [make_page(tmp_path / f"{name}.png", seed=i) for i, name in enumerate(("cert", "contract", "form"))]
    for page in pages:
        desk.intake.ingest(clerk, page, number=number, source=page.name)
    cert, contract, form = (p.id for p in desk.dossiers.show(number).pages)
    dossier_id = desk.dossiers.show(number).id
    with desk.db.transaction() as s:  # what OCR read on each page
        for page_id, value in ((cert, "98.50"), (contract, "89.50"), (form, "98.50")):
            s.add(Field(dossier_id=dossier_id, page_id=page_id, key="area_m2", value=value, confidence=0.8, valid=True))

    def shown() -> dict[str, tuple[str, float, bool]]:
        fields = desk.dossiers.show(number).fields
        return {f.page_id or "": (f.value, f.confidence, f.confirmed) for f in fields if f.key == "area_m2"}

    before = shown()
    assert before[contract][1] < 0.9 and before[cert][1] >= 0.9  # two pages agree against one
    desk.dossiers.confirm_field(clerk, number, contract, "area_m2", value="89.50")  # the clerk checked the paper
    after = shown()
    assert (after[contract][0], after[contract][2]) == ("89.50", True)  # a person's value shows as theirs
    assert after[cert][1] < 0.9 and after[form][1] < 0.9  # the readings it contradicts become doubtful
    desk.dossiers.confirm_field(clerk, number, form, "area_m2", value="89.50")
    with desk.db.transaction() as s:  # the certificate read again, now agreeing
        s.execute(select(Field).where(Field.page_id == cert)).scalar_one().value = "89.50"
    assert shown()[cert][1] >= 0.9  # agreeing with what two people confirmed
