"""The audit chain: keyed links, who and where, row digests, and each kind of tampering caught and named."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, insert, select, text, update

from workstation.cli import main
from workstation.services import audit
from workstation.services.desk import Desk, open_desk
from workstation.store.models import AuditEvent, AuditHead, Dossier, Finding, Page, Party, User


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@pytest.fixture
def busy_desk(desk: Desk, clerk) -> Desk:  # type: ignore[no-untyped-def]
    for i in range(3):
        d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name=f"甲{i}")
        desk.dossiers.add_party(clerk, d.number, role="seller", kind="individual", name=f"乙{i}")
    return desk


def _events(desk: Desk) -> list[AuditEvent]:
    with desk.db.read() as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def _sql(desk: Desk, *statements: Any) -> None:
    """Statements run on a connection of their own, beside the services: an edit made directly in the database."""
    with desk.db.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def _key(desk: Desk) -> bytes:
    data = json.loads(audit.key_path(desk.settings.data_dir).read_text())
    return bytes.fromhex(data["key"])


def _rechain(desk: Desk, start: int, hasher: Any) -> None:
    """Recompute every link from `start` on with `hasher(event)` and point the head at the last: what someone
    rewriting the chain does."""
    with desk.db.engine.begin() as conn:
        rows = conn.execute(select(_table(AuditEvent)).order_by(AuditEvent.seq)).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            event = AuditEvent(**dict(row))
            if event.seq >= start:
                event.prev_hash = prev
                event.hash = hasher(event)
                conn.execute(
                    update(_table(AuditEvent))
                    .where(AuditEvent.seq == event.seq)
                    .values(prev_hash=event.prev_hash, hash=event.hash, alg=event.alg)
                )
            prev = event.hash
        conn.execute(update(_table(AuditHead)).values(seq=rows[-1]["seq"], hash=prev))


def add_page(desk: Desk, clerk: Any, folder: Path) -> str:
    """A scanned page taken in for a new dossier (intake: the page, its audit event, its OCR job)."""
    from PIL import Image

    number = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").number
    path = folder / "scan.png"
    Image.new("RGB", (64, 48), "white").save(path)
    desk.intake.ingest(clerk, path, number=number, source=path.name)
    with desk.db.read() as s:
        return str(s.execute(select(Page.id).order_by(Page.created_at.desc())).scalars().first())


def _first_dossier(desk: Desk) -> Dossier:
    with desk.db.read() as s:
        return s.execute(select(Dossier).order_by(Dossier.number)).scalars().first()  # type: ignore[return-value]


# -- an honest chain ----------------------------------------------------------------------------------------------


def test_an_untouched_chain_verifies_plainly_and_deeply(busy_desk: Desk) -> None:
    report = busy_desk.verify_audit()
    assert report.ok, report.problem
    assert report.events == len(_events(busy_desk)) >= 8
    deep = busy_desk.verify_audit(deep=True)
    assert deep.ok, deep.problems


def test_events_are_keyed_and_carry_row_digests(busy_desk: Desk) -> None:
    events = _events(busy_desk)
    assert {e.alg for e in events} == {audit.ALG_KEYED}
    party_events = [e for e in events if e.action == "dossier.party_add"] or events
    rows = json.loads(party_events[-1].rows or "{}")
    assert "parties" in rows and "dossiers" in rows
    with busy_desk.db.read() as s:
        names = set(s.execute(select(Party.name)).scalars())
    assert {"乙0", "乙1", "乙2"} <= names


def test_the_key_file_lives_outside_the_database_readable_by_this_user_only(busy_desk: Desk) -> None:
    path = audit.key_path(busy_desk.settings.data_dir)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(_key(busy_desk)) == 32
    with busy_desk.db.read() as s:
        dumped = " ".join(str(e.__dict__) for e in s.execute(select(AuditEvent)).scalars())
    assert _key(busy_desk).hex() not in dumped


def test_reopening_the_desk_keeps_its_key(busy_desk: Desk) -> None:
    key = _key(busy_desk)
    busy_desk.close()
    again = open_desk(busy_desk.settings)
    try:
        assert _key(again) == key
        assert again.verify_audit(deep=True).ok
    finally:
        again.close()


def _race_for_key(path: str) -> str:
    audit._create_key_file(Path(path), 0, audit.GENESIS)
    return str(json.loads(Path(path).read_text())["key"])


def test_racing_processes_share_the_winners_key(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "keys" / "audit.key"
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
        keys = list(pool.map(_race_for_key, [str(path)] * 8))
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]
    barrier = threading.Barrier(4)
    other = tmp_path / "other" / "keys" / "audit.key"
    seen: list[str] = []

    def create() -> None:
        barrier.wait()
        seen.append(_race_for_key(str(other)))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(seen) == 4


def test_each_event_records_the_os_user_and_the_interface(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="甲")
    assert _events(desk)[-1].interface == "unknown"
    assert _events(desk)[-1].os_user == audit.process_os_user()
    with audit.origin("cli"):
        desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="乙")
    assert (_events(desk)[-1].interface, _events(desk)[-1].os_user) == ("cli", audit.process_os_user())
    with audit.origin("tui", os_user="window3"):
        desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="丙")
    assert (_events(desk)[-1].interface, _events(desk)[-1].os_user) == ("tui", "window3")
    before = audit._PROCESS_ORIGIN
    try:
        audit.set_origin("intake")
        done = threading.Thread(
            target=lambda: desk.dossiers.new(
                clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="丁"
            )
        )
        done.start()
        done.join()
        assert _events(desk)[-1].interface == "intake"
    finally:
        audit._PROCESS_ORIGIN = before
    assert desk.verify_audit(deep=True).ok
    with desk.db.transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == _events(desk)[-1].seq).values(os_user="mallory"))
    report = desk.verify_audit()
    assert not report.ok and report.at_seq == _events(desk)[-1].seq


# -- the chain tampered with --------------------------------------------------------------------------------------


def test_an_edited_event_is_caught(busy_desk: Desk) -> None:
    _sql(busy_desk, update(_table(AuditEvent)).where(AuditEvent.seq == 4).values(actor="someone-else"))
    report = busy_desk.verify_audit()
    assert not report.ok
    assert report.at_seq == 4 and "altered" in (report.problem or "")


def test_a_deleted_event_is_caught(busy_desk: Desk) -> None:
    _sql(busy_desk, delete(_table(AuditEvent)).where(AuditEvent.seq == 3))
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == 3


def test_deleting_the_newest_events_is_caught(busy_desk: Desk) -> None:
    last = _events(busy_desk)[-1].seq
    _sql(busy_desk, delete(_table(AuditEvent)).where(AuditEvent.seq >= last - 1))
    report = busy_desk.verify_audit()
    assert not report.ok and "head" in (report.problem or "")


def test_truncating_the_newest_events_and_fixing_the_head_is_caught_deeply(busy_desk: Desk) -> None:
    events = _events(busy_desk)
    keep = events[-3]
    _sql(
        busy_desk,
        delete(_table(AuditEvent)).where(AuditEvent.seq > keep.seq),
        update(_table(AuditHead)).values(seq=keep.seq, hash=keep.hash),
    )
    assert busy_desk.verify_audit().ok  # the links left hold together: the registry's witness sees the rest
    report = busy_desk.verify_audit(deep=True)
    assert not report.ok and report.row is not None
    assert "outside the audit trail" in (report.problem or "")


def test_deleting_every_event_and_the_head_is_caught(busy_desk: Desk) -> None:
    _sql(busy_desk, delete(_table(AuditEvent)), delete(_table(AuditHead)))
    report = busy_desk.verify_audit()
    assert not report.ok and "empty" in (report.problem or "") and "dossiers" in (report.problem or "")


def test_two_swapped_events_are_caught(busy_desk: Desk) -> None:
    table = _table(AuditEvent)
    _sql(
        busy_desk,
        update(table).where(table.c.seq == 5).values(seq=-5),
        update(table).where(table.c.seq == 6).values(seq=5),
        update(table).where(table.c.seq == -5).values(seq=6),
    )
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == 5


def test_an_edited_payload_with_its_own_hash_recomputed_without_the_key_is_caught(busy_desk: Desk) -> None:
    with busy_desk.db.transaction() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "dossier.create").limit(1)).scalar_one()
        assert "RESALE" in event.payload
        event.payload = event.payload.replace("RESALE", "FORGED")
        event.hash = audit._hash_of(event)
        forged = event.seq
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == forged and "altered" in (report.problem or "")


def test_a_chain_rewritten_with_the_unkeyed_formula_is_caught(busy_desk: Desk) -> None:
    victim = 4
    _sql(busy_desk, update(_table(AuditEvent)).where(AuditEvent.seq == victim).values(actor="mallory"))

    def plain(event: AuditEvent) -> str:
        event.alg = audit.ALG_PLAIN
        event.os_user = event.interface = event.rows = None
        return audit._hash_of(event)

    with busy_desk.db.engine.begin() as conn:
        conn.execute(
            update(_table(AuditEvent))
            .where(AuditEvent.seq >= victim)
            .values(alg=audit.ALG_PLAIN, os_user=None, interface=None, rows=None)
        )
    _rechain(busy_desk, victim, plain)
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == victim and "not keyed" in (report.problem or "")


def test_a_whole_chain_rewritten_with_the_unkeyed_formula_is_caught(busy_desk: Desk) -> None:
    with busy_desk.db.engine.begin() as conn:
        conn.execute(update(_table(AuditEvent)).values(alg=audit.ALG_PLAIN, os_user=None, interface=None, rows=None))
    _rechain(busy_desk, 1, lambda e: audit._hash_of(e))
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == 1 and "not keyed" in (report.problem or "")


def test_a_chain_recomputed_with_another_key_is_caught(busy_desk: Desk) -> None:
    victim = 3
    _sql(busy_desk, update(_table(AuditEvent)).where(AuditEvent.seq == victim).values(action="dossier.nothing"))
    wrong = os.urandom(32)
    _rechain(busy_desk, victim, lambda e: audit.keyed_hash(wrong, e))
    report = busy_desk.verify_audit()
    assert not report.ok and report.at_seq == victim and "altered" in (report.problem or "")


def test_a_missing_key_is_a_break_and_is_not_made_again(busy_desk: Desk) -> None:
    settings = busy_desk.settings
    busy_desk.close()
    path = audit.key_path(settings.data_dir)
    path.unlink()
    again = open_desk(settings)
    try:
        report = again.verify_audit()
        assert not report.ok and "key missing" in (report.problem or "")
        assert not path.exists()
        clerk = again.users.actor("clerk1")
        with pytest.raises(audit.AuditKeyError, match="key missing"):
            again.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="甲")
    finally:
        again.close()


# -- rows changed beside the trail (deep) -------------------------------------------------------------------------


def test_a_dossier_status_edited_in_sql_is_caught_and_named(busy_desk: Desk) -> None:
    d = _first_dossier(busy_desk)
    _sql(busy_desk, update(_table(Dossier)).where(Dossier.id == d.id).values(status="registered"))
    assert busy_desk.verify_audit().ok
    report = busy_desk.verify_audit(deep=True)
    assert not report.ok and report.row == f"dossiers/{d.id}"
    assert f"dossier {d.number}" in (report.problem or "") and "status changed" in (report.problem or "")
    assert report.at_seq is not None


def test_a_party_name_edited_in_sql_is_caught_and_named(busy_desk: Desk) -> None:
    with busy_desk.db.read() as s:
        party = s.execute(select(Party).where(Party.name == "乙1")).scalar_one()
    _sql(busy_desk, text("UPDATE parties SET name = :n WHERE id = :i").bindparams(n="冒名", i=party.id))
    report = busy_desk.verify_audit(deep=True)
    assert not report.ok and report.row == f"parties/{party.id}"
    assert "name changed" in (report.problem or "")


def test_a_page_sha256_edited_in_sql_is_caught_and_named(desk: Desk, clerk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page_id = add_page(desk, clerk, tmp_path)
    assert desk.verify_audit(deep=True).ok
    _sql(desk, update(_table(Page)).where(Page.id == page_id).values(sha256="f" * 64))
    report = desk.verify_audit(deep=True)
    assert not report.ok and report.row == f"pages/{page_id}" and "sha256 changed" in (report.problem or "")


def test_user_roles_edited_in_sql_are_caught_and_named(busy_desk: Desk) -> None:
    _sql(busy_desk, update(_table(User)).where(User.username == "clerk1").values(roles="admin clerk"))
    report = busy_desk.verify_audit(deep=True)
    assert not report.ok and "user clerk1" in (report.problem or "") and "roles changed" in (report.problem or "")


def test_a_row_inserted_or_deleted_in_sql_is_caught(busy_desk: Desk) -> None:
    d = _first_dossier(busy_desk)
    with busy_desk.db.read() as s:
        party = s.execute(select(Party).where(Party.dossier_id == d.id)).scalars().first()
        assert party is not None
    _sql(busy_desk, delete(_table(Party)).where(Party.id == party.id))
    report = busy_desk.verify_audit(deep=True)
    assert not report.ok and report.row == f"parties/{party.id}" and "deleted outside" in (report.problem or "")
    _sql(
        busy_desk,
        insert(_table(Party)).values(
            id="forged-party", dossier_id=d.id, key="p9", position=9, role="seller", kind="individual", name="X"
        ),
    )
    report = busy_desk.verify_audit(deep=True)
    assert any("forged-party" in p and "not covered" in p for p in report.problems)


def test_a_deletion_inside_an_evented_transaction_leaves_a_tombstone(busy_desk: Desk) -> None:
    d = _first_dossier(busy_desk)
    with busy_desk.db.transaction() as s:
        s.add(Finding(dossier_id=d.id, rule="r", severity="info", message="m"))
        audit.append(s, station_id="local", actor="t", action="x.add", entity="dossier", entity_id=d.id, payload={})
    with busy_desk.db.transaction() as s:
        s.execute(delete(Finding).where(Finding.dossier_id == d.id))
        audit.append(s, station_id="local", actor="t", action="x.drop", entity="dossier", entity_id=d.id, payload={})
    last = _events(busy_desk)[-1]
    assert audit.TOMBSTONE in json.loads(last.rows or "{}")["findings"]["r"].values()
    assert busy_desk.verify_audit(deep=True).ok
    with busy_desk.db.transaction() as s:  # the dossier and, through the database's cascade, all it holds
        s.delete(s.get(Dossier, d.id))
        audit.append(s, station_id="local", actor="t", action="x.gone", entity="dossier", entity_id=d.id, payload={})
    rows = json.loads(_events(busy_desk)[-1].rows or "{}")
    assert set(rows) >= {"dossiers", "parties"}
    assert busy_desk.verify_audit(deep=True).ok


def test_a_change_without_an_event_gets_one_of_its_own(busy_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _first_dossier(busy_desk)
    with busy_desk.db.transaction() as s:
        s.get(Dossier, d.id).hall_mode = "professional"  # type: ignore[union-attr]
    assert _events(busy_desk)[-1].action == audit.AUTO_ACTION
    assert busy_desk.verify_audit(deep=True).ok
    monkeypatch.setenv("WS_AUDIT_STRICT", "1")
    with pytest.raises(audit.AuditGap), busy_desk.db.transaction() as s:
        s.get(Dossier, d.id).hall_mode = "standard"  # type: ignore[union-attr]


def test_a_bulk_update_through_the_session_is_covered(busy_desk: Desk) -> None:
    with busy_desk.db.transaction() as s:
        s.execute(update(Party).where(Party.name == "乙0").values(name="乙零"))
        audit.append(s, station_id="local", actor="t", action="x.bulk", entity="party", entity_id="-", payload={})
    assert "parties" in json.loads(_events(busy_desk)[-1].rows or "{}")
    assert busy_desk.verify_audit(deep=True).ok


# -- the command --------------------------------------------------------------------------------------------------


def test_audit_verify_command_exits_1_on_a_break(
    busy_desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = busy_desk.settings
    args = ["--data-dir", str(settings.data_dir)]
    monkeypatch.setenv("WS_DB_URL", settings.database_url)
    assert main([*args, "audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    assert main([*args, "audit", "verify", "--deep"]) == 0
    capsys.readouterr()
    d = _first_dossier(busy_desk)
    _sql(busy_desk, update(_table(Dossier)).where(Dossier.id == d.id).values(status="registered"))
    assert main([*args, "audit", "verify"]) == 0
    capsys.readouterr()
    assert main([*args, "audit", "verify", "--deep"]) == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err and d.number in err and "status" in err and len(err.strip().splitlines()) == 1
    _sql(busy_desk, update(_table(AuditEvent)).where(AuditEvent.seq == 2).values(action="dossier.nothing"))
    assert main([*args, "audit", "verify"]) == 1
    assert "event 2" in capsys.readouterr().err
