"""The registry witnesses each desk's audit chain head at every sync (real HTTP on loopback); `audit verify` checks
the desk's chain against the last head witnessed, so a chain cut short, wiped or rewritten is caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select

from sync.client import SyncAgent
from sync.server.open import open_registry
from sync.server.registry import Registry
from sync.witness import verify_witnessed
from tests.review_helpers import submitted
from tests.sync_helpers import make_desk, running_registry, station
from workstation.cli import main
from workstation.config import Settings
from workstation.services import audit
from workstation.services.desk import Desk
from workstation.services.syncstate import sync_status
from workstation.services.witness import Head, check_chain, local_head, stored_witness
from workstation.store.models import AuditEvent, AuditHead, WitnessedHead


@dataclass
class Site:
    registry: Registry
    url: str
    desk: Desk
    agent: SyncAgent
    token: str

    @property
    def settings(self) -> Settings:
        """The desk's settings with the registry configured."""
        return self.desk.settings.model_copy(update={"registry_url": self.url, "registry_token": SecretStr(self.token)})


@contextmanager
def site(tmp_path: Path, registry_db: str | None = None) -> Iterator[Site]:
    """A registry, and a desk at JN-01 with some work done and synced: one head witnessed."""
    with running_registry(tmp_path / "registry", registry_db) as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        token = registry.add_station("JN-01", "JN-01")
        agent = SyncAgent(desk.db, desk.blobs, station_id="JN-01", url=url, token=token)
        submitted(desk, desk.users.actor("clerk1"))
        agent.sync_once()
        try:
            yield Site(registry, url, desk, agent, token)
        finally:
            agent.stop()
            desk.close()


def events(desk: Desk) -> list[tuple[int, str]]:
    with desk.db.read() as s:
        return [(e.seq, e.hash) for e in s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]


def truncate(desk: Desk, keep: int) -> None:
    """Delete every event after `keep` and set the head row to the new last event, as a careful intruder would."""
    with desk.db.transaction() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
        last = s.get(AuditEvent, keep)
        head = s.get(AuditHead, audit.CHAIN)
        assert last is not None and head is not None
        head.seq, head.hash = last.seq, last.hash


def wipe(desk: Desk) -> None:
    with desk.db.transaction() as s:
        s.execute(delete(AuditEvent))
        s.execute(delete(AuditHead))


def rewrite(desk: Desk, from_seq: int, *, extra: int = 0) -> None:
    """Replace the events from `from_seq` on with forged ones, every hash computed again through the chain's own
    append (the chain stays whole by itself); `extra` events more are appended after them."""
    with desk.db.transaction() as s:
        old = list(s.execute(select(AuditEvent).where(AuditEvent.seq >= from_seq).order_by(AuditEvent.seq)).scalars())
        kept = [(e.station_id, e.actor, e.action, e.entity, e.entity_id, json.loads(e.payload)) for e in old]
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= from_seq))
        before = s.get(AuditEvent, from_seq - 1)
        head = s.get(AuditHead, audit.CHAIN)
        assert before is not None and head is not None
        head.seq, head.hash = before.seq, before.hash
        s.flush()
        for i, (station_id, actor, action, entity, entity_id, payload) in enumerate(kept):
            forged: dict[str, Any] = {**payload, "forged": True} if i == 0 else payload
            audit.append(
                s,
                station_id=station_id,
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                payload=forged,
            )
        for _ in range(extra):
            audit.append(
                s, station_id="JN-01", actor="clerk1", action="note", entity="desk", entity_id="JN-01", payload={}
            )


def witnessed(registry: Registry) -> Head:
    seen = registry.witnessed_head("JN-01")
    return Head(seen.seq, seen.hash)


def history(registry: Registry) -> list[tuple[int, str]]:
    with registry.db.read() as s:
        rows = s.execute(
            select(WitnessedHead).where(WitnessedHead.station_id == "JN-01").order_by(WitnessedHead.at)
        ).scalars()
        return [(r.seq, r.status) for r in rows]


def test_every_sync_sends_the_head_and_the_registry_keeps_its_history(tmp_path: Path, registry_db: str | None) -> None:
    with site(tmp_path, registry_db) as city:
        first = witnessed(city.registry)
        assert first.seq == events(city.desk)[-1][0]
        with city.desk.db.read() as s:
            head, copy = local_head(s), stored_witness(s)
        assert first == Head(head.seq, head.hash) and copy is not None and copy.seq == first.seq
        city.agent.sync_once()  # the same head again: seen again, not a new entry
        assert history(city.registry) == [(first.seq, "witnessed")]
        submitted(city.desk, city.desk.users.actor("clerk1"))
        city.agent.sync_once()
        second = witnessed(city.registry)
        assert second.seq > first.seq
        assert history(city.registry) == [(first.seq, "witnessed"), (second.seq, "witnessed")]
        assert city.agent.witnessed() == Head(second.seq, second.hash, city.agent.witnessed().at)  # type: ignore[union-attr]
        facts = sync_status(city.desk.db, city.url).to_json()["witness"]
        assert facts["seq"] == second.seq and facts["refused"] is None
        report = verify_witnessed(city.settings, city.desk.db)
        assert report.ok and report.source == "registry" and report.witnessed is not None
        assert report.witnessed.seq == second.seq


def test_truncated_events_with_the_head_fixed_are_caught(tmp_path: Path, registry_db: str | None) -> None:
    with site(tmp_path, registry_db) as city:
        seen = witnessed(city.registry)
        truncate(city.desk, seen.seq - 3)
        report = verify_witnessed(city.settings, city.desk.db)
        assert not report.ok and report.at_seq == seen.seq and report.source == "registry"
        assert f"event {seen.seq}" in (report.problem or "")
        # The next sync sends the shortened head: refused, recorded at the registry, shown at the desk.
        city.agent.sync_once()
        assert witnessed(city.registry) == seen
        assert history(city.registry)[-1] == (seen.seq - 3, "refused")
        city.agent.sync_once()  # refused again at every sync, kept once
        assert history(city.registry).count((seen.seq - 3, "refused")) == 1
        with city.registry.db.read() as s:
            refusals = s.execute(select(AuditEvent).where(AuditEvent.action == "witness.refused")).scalars().all()
        assert [json.loads(e.payload)["witnessed_seq"] for e in refusals] == [seen.seq]
        facts = sync_status(city.desk.db, city.url).to_json()["witness"]
        assert f"event {seen.seq}" in facts["refused"]


def test_a_wiped_chain_is_caught_offline_from_the_desks_copy_and_by_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with site(tmp_path) as city:
        seen = witnessed(city.registry)
        wipe(city.desk)
        offline = city.settings.model_copy(update={"registry_url": "http://127.0.0.1:9"})  # nothing listens there
        report = verify_witnessed(offline, city.desk.db, timeout=2)
        assert not report.ok and report.at_seq == seen.seq and report.source == "local copy"
        assert report.note and "could not be reached" in report.note
        assert f"event {seen.seq}" in (report.problem or "")
        for key in [k for k in __import__("os").environ if k.startswith("WS_") and not k.startswith("WS_TEST_")]:
            if key != "WS_PASSWORD_COST":
                monkeypatch.delenv(key)
        monkeypatch.setenv("WS_DB_URL", city.desk.settings.database_url)
        monkeypatch.setenv("WS_STATION_ID", "JN-01")
        args = ["--data-dir", str(city.desk.settings.data_dir), "audit", "verify", "--json"]
        monkeypatch.setenv("WS_REGISTRY_URL", city.url)
        monkeypatch.setenv("WS_REGISTRY_TOKEN", city.token)
        assert main(args) == 1
        out = json.loads(capsys.readouterr().out)
        assert out["ok"] is False and out["witness"]["source"] == "registry"
        assert out["witness"]["at_seq"] == seen.seq and f"event {seen.seq}" in out["problem"]


def test_an_empty_chain_in_a_database_holding_data_is_a_break_even_unwitnessed(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "desk", "JN-01")
    try:
        with desk.db.read() as s:
            assert check_chain(s, None).ok
        submitted(desk, desk.users.actor("clerk1"))
        wipe(desk)
        with desk.db.read() as s:
            report = check_chain(s, None)
        assert not report.ok and "empty" in (report.problem or "") and "dossiers" in (report.problem or "")
        assert not verify_witnessed(desk.settings, desk.db).ok
    finally:
        desk.close()


def test_a_rewritten_chain_with_hashes_computed_again_is_caught(tmp_path: Path, registry_db: str | None) -> None:
    with site(tmp_path, registry_db) as city:
        seen = witnessed(city.registry)
        rewrite(city.desk, seen.seq - 2)
        assert events(city.desk)[-1][0] == seen.seq
        report = verify_witnessed(city.settings, city.desk.db)
        assert not report.ok and report.at_seq == seen.seq and "rewritten" in (report.problem or "")
        city.agent.sync_once()  # the same seq with another hash: refused
        assert history(city.registry)[-1] == (seen.seq, "refused")


def test_a_rewrite_hidden_under_newer_events_is_refused_at_the_next_sync_and_caught(tmp_path: Path) -> None:
    with site(tmp_path) as city:
        seen = witnessed(city.registry)
        rewrite(city.desk, seen.seq - 1, extra=3)
        assert events(city.desk)[-1][0] == seen.seq + 3
        # The head is further on, but the desk's event at the witnessed seq is not the one witnessed: refused.
        city.agent.sync_once()
        assert witnessed(city.registry) == seen
        assert history(city.registry)[-1] == (seen.seq + 3, "refused")
        with city.desk.db.read() as s:
            report = check_chain(s, seen, source="registry")
        assert not report.ok and report.at_seq == seen.seq and f"event {seen.seq}" in (report.problem or "")
        report = verify_witnessed(city.settings, city.desk.db)
        assert not report.ok and report.at_seq == seen.seq and "rewritten" in (report.problem or "")


def test_a_hostile_station_sending_a_head_that_goes_back_or_changes_gets_409_never_a_500(
    tmp_path: Path, registry_db: str | None
) -> None:
    with running_registry(tmp_path / "registry", registry_db) as (registry, url):
        raw = station(registry, url, "JN-66")
        other = station(registry, url, "JN-67")
        try:
            assert raw.http.get("/v1/audit/head").json()["seq"] == 0
            assert raw.http.post("/v1/audit/head", json={"seq": 5, "hash": "a" * 64}).status_code == 200
            assert raw.http.post("/v1/audit/head", json={"seq": 5, "hash": "a" * 64}).status_code == 200
            back = raw.http.post("/v1/audit/head", json={"seq": 3, "hash": "c" * 64})
            assert back.status_code == 409 and back.json()["code"] == "chain_rewound"
            assert "event 3" in back.json()["message"] and back.json()["detail"]["witnessed_seq"] == 5
            changed = raw.http.post("/v1/audit/head", json={"seq": 5, "hash": "b" * 64})
            assert changed.status_code == 409 and changed.json()["code"] == "chain_rewound"
            for bad in ({"seq": -1, "hash": "a" * 64}, {"seq": 6, "hash": "XYZ"}, {"seq": 2**40, "hash": "a" * 64}):
                assert raw.http.post("/v1/audit/head", json=bad).status_code == 422
            assert raw.http.post("/v1/audit/head", json={"seq": "6", "hash": "a" * 64}).status_code == 422
            assert raw.http.post("/v1/audit/head", content=b"{").status_code == 422
            forged = {"seq": 7, "hash": "d" * 64, "prior": {"seq": 5, "hash": "f" * 64}}
            assert raw.http.post("/v1/audit/head", json=forged).status_code == 409
            gone = {"seq": 7, "hash": "d" * 64, "prior": {"seq": 5, "hash": None}}
            assert raw.http.post("/v1/audit/head", json=gone).status_code == 409
            assert raw.http.post("/v1/audit/head", json={**gone, "prior": {"seq": 0, "hash": None}}).status_code == 422
            proven = {"seq": 6, "hash": "d" * 64, "prior": {"seq": 5, "hash": "a" * 64}}
            assert raw.http.post("/v1/audit/head", json=proven).status_code == 200
            assert raw.http.get("/v1/audit/head").json()["seq"] == 6
            # Another station's history is its own.
            assert other.http.get("/v1/audit/head").json()["seq"] == 0
            assert other.http.post("/v1/audit/head", json={"seq": 1, "hash": "e" * 64}).status_code == 200
            statuses = [(h["seq"], h["status"]) for h in registry.head_history("JN-66")]
            assert sorted(statuses) == [
                (3, "refused"),
                (5, "refused"),
                (5, "witnessed"),
                (6, "witnessed"),
                (7, "refused"),  # the same head refused twice: one entry, seen again
            ]
            unauthenticated = raw.http.get("/v1/audit/head", headers={"Authorization": "Bearer nope"})
            assert unauthenticated.status_code == 401
        finally:
            raw.close()
            other.close()


def test_a_desk_working_alone_is_witnessed_through_its_local_registry(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "desk", "JN-01")
    try:
        submitted(desk, desk.users.actor("clerk1"))
        open_registry(desk.settings).db.dispose()  # the embedded default: the local registry under the data dir
        first = verify_witnessed(desk.settings, desk.db)
        assert first.ok
        registry = open_registry(desk.settings)
        try:
            seen = registry.witnessed_head("JN-01")
        finally:
            registry.db.dispose()
        assert seen.seq == events(desk)[-1][0]
        assert verify_witnessed(desk.settings, desk.db).source == "local registry"
        truncate(desk, seen.seq - 2)
        report = verify_witnessed(desk.settings, desk.db)
        assert not report.ok and report.at_seq == seen.seq and report.source == "local registry"
        assert f"event {seen.seq}" in (report.problem or "")
    finally:
        desk.close()
