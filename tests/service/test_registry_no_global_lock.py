"""The registry without one row every writer locks: an audit chain per station, linked at commit, and a change feed
numbered by transaction, whose readers never pass a change that commits later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sync.server.open import open_registry
from sync.server.registry import Registry, _append_change
from workstation.config import load_settings
from workstation.services import audit
from workstation.store.models import AuditEvent, AuditHead


@pytest.fixture
def registry(tmp_path: Path, registry_db: str | None) -> Iterator[Registry]:
    opened = open_registry(load_settings(data_dir=tmp_path, admin_password="admin-pass-1"), registry_db)
    try:
        for name in ("JN-01", "JN-02"):
            opened.add_station(name, name)
        yield opened
    finally:
        opened.db.dispose()


def _postgres(registry: Registry) -> bool:
    return registry.db.engine.dialect.name == "postgresql"


def _note(session: Session, station: str, what: str) -> None:
    audit.append(
        session, station_id=station, actor="rev1", action="test.note", entity="dossier", entity_id=what, payload={}
    )


def test_each_station_writes_its_own_chain_and_every_chain_verifies(registry: Registry) -> None:
    for i in range(3):
        for station in ("JN-01", "JN-02"):
            with registry.db.transaction() as s:
                _note(s, station, f"d{i}")
    with registry.db.transaction() as s:  # one transaction, two chains
        _note(s, "JN-01", "both")
        _note(s, "JN-02", "both")
    with registry.db.read() as s:
        links = {
            chain: sorted(s.execute(select(AuditEvent.link).where(AuditEvent.chain == chain)).scalars())
            for chain in ("JN-01", "JN-02")
        }
        heads = {h.chain: h.seq for h in s.execute(select(AuditHead)).scalars()}
        report = audit.verify(s, deep=True)
    assert links == {"JN-01": [1, 2, 3, 4], "JN-02": [1, 2, 3, 4]}
    assert heads["JN-01"] == heads["JN-02"] == 4
    assert report.ok, report.problem
    assert report.chains == 3  # the registry's own acts (the stations added), JN-01's, JN-02's


def test_a_station_chain_cut_short_or_emptied_is_caught(registry: Registry) -> None:
    for i in range(3):
        with registry.db.transaction() as s:
            _note(s, "JN-01", f"d{i}")
    with registry.db.engine.begin() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.chain == "JN-01", AuditEvent.link == 3))
    with registry.db.read() as s:
        report = audit.verify(s)
    assert not report.ok and "chain JN-01 ends at event 2 but its head records event 3" in (report.problem or "")
    with registry.db.engine.begin() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.chain == "JN-01"))
    with registry.db.read() as s:
        report = audit.verify(s)
    assert not report.ok and "chain JN-01 has no events but its head records event 3" in (report.problem or "")


def test_an_event_moved_to_another_chain_is_caught(registry: Registry) -> None:
    for station in ("JN-01", "JN-02"):
        with registry.db.transaction() as s:
            _note(s, station, "d")
    with registry.db.engine.begin() as conn:
        conn.execute(
            AuditEvent.__table__.update()  # type: ignore[attr-defined]
            .where(AuditEvent.chain == "JN-02")
            .values(chain="JN-01", link=2)
        )
        conn.execute(AuditHead.__table__.update().where(AuditHead.chain == "JN-01").values(seq=2))  # type: ignore[attr-defined]
    with registry.db.read() as s:
        report = audit.verify(s)
    assert not report.ok and "event 2 of chain JN-01" in (report.problem or "")


def test_stations_never_wait_for_each_others_chain(registry: Registry) -> None:
    if not _postgres(registry):
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    holder = Session(registry.db.engine)
    try:
        holder.begin()
        _note(holder, "JN-01", "held")
        audit._link(holder)  # JN-01's head is locked until this transaction ends
        with registry.db.transaction() as other:  # another station: links and commits at once
            other.execute(text("SET LOCAL lock_timeout = '5s'"))
            _note(other, "JN-02", "free")
        with pytest.raises(OperationalError), registry.db.transaction() as same:  # the same station: waits
            same.execute(text("SET LOCAL lock_timeout = '50ms'"))
            _note(same, "JN-01", "waits")
        holder.commit()
    finally:
        holder.close()
    with registry.db.read() as s:
        actions = s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.note"))
        assert actions.scalar_one() == 2
        assert audit.verify(s).ok


def test_a_feed_reader_never_passes_a_change_that_commits_later(registry: Registry) -> None:
    if not _postgres(registry):
        pytest.skip("positions by transaction: PostgreSQL (SQLite's writers take turns, its feed is gap-free)")
    early = Session(registry.db.engine)
    try:
        early.begin()
        _append_change(early, "test.change", "early", "registry", {}, ["JN-01"])
        with registry.db.transaction() as late:  # begun after `early`, committed before it
            _append_change(late, "test.change", "late", "registry", {}, ["JN-01"])
            _append_change(late, "test.change", "late-2", "registry", {}, ["JN-01"])
        first = registry.changes("JN-01", 0)
        assert [c.entity_id for c in first.changes] == []  # "late" waits for "early", which may still commit
        early.commit()
    finally:
        early.close()
    second = registry.changes("JN-01", int(first.cursor))
    assert [c.entity_id for c in second.changes] == ["early", "late", "late-2"]
    seqs = [c.seq for c in second.changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert registry.changes("JN-01", int(second.cursor)).changes == []
