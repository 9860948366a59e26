"""The persistent OCR queue, with recorded readings (this is about the queue, not about OCR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ocr.engines.replay import ReplayEngine
from tests.replay_pages import make_page, record_pages
from workstation.services.desk import Desk
from workstation.services.events import PageEvent
from workstation.services.ocr_jobs import OcrRunner, inline_submitter
from workstation.store.models import Field, OcrJob, Page


@pytest.fixture
def number(desk: Desk, clerk) -> str:  # type: ignore[no-untyped-def]
    return desk.dossiers.new(
        clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name="济南泉城商贸有限公司"
    ).number


def _runner(desk: Desk, recordings: Path) -> OcrRunner:
    submit, close = inline_submitter(ReplayEngine.load(recordings))
    return OcrRunner(desk.db, desk.blobs, station_id="local", events=desk.events, submit=submit, close=close)


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
    runner = _runner(desk, recordings)
    try:
        assert runner.run_until_idle(timeout=60) == 1
    finally:
        runner.stop()
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
    runner = _runner(desk, recordings)
    try:
        runner.run_until_idle(timeout=60)
    finally:
        runner.stop()
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
    runner = _runner(desk, recordings)
    try:
        assert runner.run_until_idle(timeout=60) == 1
    finally:
        runner.stop()
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
    runner = _runner(desk, recordings)
    try:
        runner.run_until_idle(timeout=60)
    finally:
        runner.stop()
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
