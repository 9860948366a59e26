"""Chains from before keys still verify and are keyed from where they stand; the registry keys its own chain."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, update

from sync.server.open import open_registry
from tests.sync_helpers import provision
from workstation.config import load_settings
from workstation.services import audit
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.models import AuditEvent, AuditHead, Dossier, Station, User

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _legacy_database(folder: Path, events: int = 4) -> Database:
    """What an earlier version left: rows, and a chain of unkeyed links with no row digests."""
    db = Database(f"sqlite:///{folder / 'workstation.db'}")
    migrate.upgrade(db.engine)
    with db.engine.begin() as conn:
        conn.execute(insert(_table(Station)).values(id="s1", name="s1", kind="hall", created_at=T0))
        conn.execute(
            insert(_table(User)).values(
                id="u1", username="admin", password_hash="h", roles="admin", created_at=T0, display_name=""
            )
        )
        conn.execute(
            insert(_table(Dossier)).values(
                id="d1",
                number="S1-0001",
                station_id="s1",
                business_code="RESALE_TRANSFER",
                registration_type="transfer",
                channel="window",
                applicant_kind="individual",
                digitized=True,
                hall_mode="standard",
                stage_plan="INTAKE REVIEW",
                conditions=[],
                stage="INTAKE",
                status="draft",
                applied_at=T0,
                created_by="u1",
                created_at=T0,
                updated_at=T0,
                version=1,
            )
        )
        prev = audit.GENESIS
        for seq in range(1, events + 1):
            values: dict[str, Any] = {
                "seq": seq,
                "at": T0 + timedelta(seconds=seq),
                "station_id": "s1",
                "actor": "admin",
                "action": "dossier.create",
                "entity": "dossier",
                "entity_id": "d1",
                "payload": audit.canonical({"n": seq}),
                "prev_hash": prev,
            }
            prev = audit.event_hash(prev_hash=prev, **{k: v for k, v in values.items() if k != "prev_hash"})
            conn.execute(insert(_table(AuditEvent)).values(**values, hash=prev))
        conn.execute(insert(_table(AuditHead)).values(chain=audit.CHAIN, seq=events, hash=prev))
    return db


def _verify(db: Database, deep: bool = True) -> audit.ChainReport:
    with db.read() as s:
        return audit.verify(s, deep=deep)


def test_an_unkeyed_chain_is_keyed_where_it_stands_and_its_rows_vouched_for(tmp_path: Path) -> None:
    db = _legacy_database(tmp_path)
    try:
        ring = audit.attach(db, tmp_path)
        assert ring.key is not None and ring.since_seq == 4
        with db.read() as s:
            events = list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())
        assert [e.alg for e in events] == [audit.ALG_PLAIN] * 4 + [audit.ALG_KEYED]
        assert events[-1].action == audit.BASELINE_ACTION
        assert set(json.loads(events[-1].rows or "{}")) == {"dossiers", "users"}
        assert _verify(db).ok, _verify(db).problems
        again = audit.attach(db, tmp_path)  # a second start: the same key, no second baseline
        assert again.key == ring.key and _verify(db).events == 5
        with db.transaction() as s:
            s.get(Dossier, "d1").status = "submitted"  # type: ignore[union-attr]
            audit.append(s, station_id="s1", actor="admin", action="x", entity="dossier", entity_id="d1", payload={})
        assert _verify(db).ok
    finally:
        db.dispose()


def test_the_unkeyed_part_cannot_be_rewritten_once_keyed(tmp_path: Path) -> None:
    db = _legacy_database(tmp_path)
    try:
        audit.attach(db, tmp_path)
        with db.engine.begin() as conn:
            row = conn.execute(select(_table(AuditEvent)).where(AuditEvent.seq == 2)).mappings().one()
            forged = AuditEvent(**{**dict(row), "actor": "mallory"})
            conn.execute(
                update(_table(AuditEvent))
                .where(AuditEvent.seq == 2)
                .values(actor="mallory", hash=audit._hash_of(forged))
            )
        report = _verify(db, deep=False)
        assert not report.ok and report.at_seq == 3
    finally:
        db.dispose()


def test_an_unkeyed_link_after_a_keyed_one_is_a_break(tmp_path: Path) -> None:
    db = _legacy_database(tmp_path)
    try:
        audit.attach(db, tmp_path)
        with db.engine.begin() as conn:
            head = conn.execute(select(_table(AuditHead))).mappings().one()
            values = {
                "seq": head["seq"] + 1,
                "at": T0 + timedelta(days=1),
                "station_id": "s1",
                "actor": "admin",
                "action": "x",
                "entity": "dossier",
                "entity_id": "d1",
                "payload": "{}",
            }
            digest = audit.event_hash(prev_hash=head["hash"], **values)
            conn.execute(insert(_table(AuditEvent)).values(**values, prev_hash=head["hash"], hash=digest))
            conn.execute(update(_table(AuditHead)).values(seq=values["seq"], hash=digest))
        report = _verify(db, deep=False)
        assert not report.ok and report.at_seq == 6 and "not keyed" in (report.problem or "")
    finally:
        db.dispose()


def test_a_keyed_chain_whose_key_is_gone_is_not_keyed_again(tmp_path: Path) -> None:
    db = _legacy_database(tmp_path)
    try:
        audit.attach(db, tmp_path)
        audit.key_path(tmp_path).unlink()
        ring = audit.attach(db, tmp_path)
        assert ring.key is None and not audit.key_path(tmp_path).exists()
        report = _verify(db, deep=False)
        assert not report.ok and "key missing" in (report.problem or "")
    finally:
        db.dispose()


def test_the_registry_keys_and_verifies_its_own_chain(tmp_path: Path, registry_db: str | None) -> None:
    registry = open_registry(load_settings(data_dir=tmp_path, admin_password="admin-pass-1"), registry_db)
    try:
        path = audit.key_path(tmp_path / "registry")
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
        registry.add_station("JN-01", "JN-01")
        provision(registry, "rev1")
        with registry.db.read() as s:
            events = list(s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())
            assert audit.verify(s, deep=True).ok
        assert events and {e.interface for e in events} == {"registry"}
        assert {e.alg for e in events} == {audit.ALG_CHAINED}  # a chain per station
        assert {e.chain for e in events} == {"registry"}
        with registry.db.engine.begin() as conn:
            conn.execute(update(_table(User)).where(User.username == "rev1").values(roles="registrar reviewer"))
        with registry.db.read() as s:
            assert audit.verify(s).ok
            report = audit.verify(s, deep=True)
        assert not report.ok and "user rev1" in (report.problem or "") and "roles" in (report.problem or "")
    finally:
        registry.db.dispose()
