from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from workstation.cli import main
from workstation.services.desk import Desk
from workstation.store.models import AuditEvent


@pytest.fixture
def busy_desk(desk: Desk, clerk) -> Desk:  # type: ignore[no-untyped-def]
    for i in range(3):
        d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name=f"甲{i}")
        desk.dossiers.add_party(clerk, d.number, role="seller", kind="individual", name=f"乙{i}")
    return desk


def _events(desk: Desk) -> list[AuditEvent]:
    with desk.db.read() as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_an_untouched_chain_verifies(busy_desk: Desk) -> None:
    report = busy_desk.verify_audit()
    assert report.ok, report.problem
    assert report.events == len(_events(busy_desk)) >= 8


def test_an_edited_event_is_caught(busy_desk: Desk) -> None:
    with busy_desk.db.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor="someone-else"))
    report = busy_desk.verify_audit()
    assert not report.ok
    assert report.at_seq == 4 and "altered" in (report.problem or "")


def test_a_deleted_event_is_caught(busy_desk: Desk) -> None:
    with busy_desk.db.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == 3


def test_deleting_the_newest_events_is_caught(busy_desk: Desk) -> None:
    last = _events(busy_desk)[-1].seq
    with busy_desk.db.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= last - 1))
    report = busy_desk.verify_audit()
    assert not report.ok and "head" in (report.problem or "")


def test_two_swapped_events_are_caught(busy_desk: Desk) -> None:
    with busy_desk.db.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(seq=-5))
        s.execute(update(AuditEvent).where(AuditEvent.seq == 6).values(seq=5))
        s.execute(update(AuditEvent).where(AuditEvent.seq == -5).values(seq=6))
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == 5


def test_an_edited_payload_with_a_recomputed_own_hash_still_breaks_the_next_link(busy_desk: Desk) -> None:
    from workstation.services.audit import _hash_of

    with busy_desk.db.transaction() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "dossier.create").limit(1)).scalar_one()
        assert "RESALE" in event.payload
        event.payload = event.payload.replace("RESALE", "FORGED")
        event.hash = _hash_of(event)
        forged = event.seq
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == forged + 1


def test_audit_verify_command_exits_1_on_a_break(busy_desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    settings = busy_desk.settings
    args = ["--data-dir", str(settings.data_dir)]
    import os

    os.environ["WS_DB_URL"] = settings.database_url
    try:
        assert main([*args, "audit", "verify"]) == 0
        assert "intact" in capsys.readouterr().out
        with busy_desk.db.transaction() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(action="dossier.nothing"))
        assert main([*args, "audit", "verify"]) == 1
        assert "BROKEN" in capsys.readouterr().err
    finally:
        del os.environ["WS_DB_URL"]
