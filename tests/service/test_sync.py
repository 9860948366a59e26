"""Desk ⇄ registry over real HTTP on loopback: push, replay, pull, conflicts, parked ops, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from sync.client import PARK_AFTER_SERVER_ERRORS, ServerError, SyncAgent, Transient
from sync.protocol import SCHEMA_VERSION
from sync.server.registry import Registry
from tests.review_helpers import submitted
from tests.sync_helpers import agent_for, make_desk, provision, reviewer_at, running_registry, station
from workstation.errors import UsageError
from workstation.services.desk import Desk
from workstation.store.models import AppliedOp, AuditEvent, Dossier, OutboxOp, Page


def test_a_submitted_dossier_reaches_the_registry_whole_and_once(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        clerk = desk.users.actor("clerk1")
        d = submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise")
        report = agent.sync_once()
        assert report.applied > 0 and report.blobs_sent == len({p.sha256 for p in d.pages})
        assert agent.status().outbox_depth == 0 and agent.status().online
        again = agent.sync_once()
        assert again.applied == 0 and again.blobs_sent == 0
        with registry.db.read() as s:
            row = s.execute(select(Dossier).where(Dossier.number == d.number)).scalar_one()
            pages = s.execute(select(func.count(Page.id)).where(Page.dossier_id == row.id)).scalar_one()
            ops = s.execute(select(func.count()).select_from(AppliedOp)).scalar_one()
        assert (row.stage, row.status, row.version) == ("REVIEW", "submitted", d.version)
        assert pages == len(d.pages)
        with desk.db.read() as s:
            sent = s.execute(select(func.count()).where(OutboxOp.state == "sent")).scalar_one()
        assert ops == sent
        assert all(registry.blobs.exists(p.sha256) for p in d.pages)
        agent.stop()
        desk.close()


def test_registry_decisions_come_back_through_the_change_feed(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        d = submitted(desk, desk.users.actor("clerk1"))
        agent.sync_once()
        provision(registry, "rev1")
        rev = station(registry, url, "JN-REV")
        assert rev.login("rev1").status_code == 200
        claim = rev.claim().json()
        assert claim["lease"]["number"] == d.number and len(claim["dossier"]["pages"]) == len(d.pages)
        lease = claim["lease"]
        version = claim["dossier"]["version"]
        op = {
            "op_id": "decision-1",
            "kind": "review.decision",
            "entity_id": d.id,
            "base_version": version,
            "actor": "rev1",
            "payload": {"decision": "approve", "lease_id": lease["lease_id"], "fence": lease["fence"]},
        }
        applied = rev.result(op)
        assert (applied["status"], applied["version"]) == ("applied", version + 1)
        agent.sync_once()
        assert desk.dossiers.show(d.number).stage == "REGISTER"
        assert agent.cursor() != "0"
        stale = rev.result({**op, "op_id": "decision-2"})
        assert (stale["status"], stale["code"]) == ("conflict", "stale_fence")
        assert [c["op_id"] for c in registry.conflicts()] == ["decision-2"]
        rev.close()
        agent.stop()
        desk.close()


def test_an_op_the_registry_cannot_take_is_parked_and_the_queue_moves_on(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        clerk = desk.users.actor("clerk1")
        first = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        with desk.db.transaction() as s:  # an op of a kind this registry does not know
            from workstation.services import outbox

            outbox.enqueue(s, station_id="JN-01", kind="mystery.kind", entity_id=first.id, payload={})
        second = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        report = agent.sync_once()
        assert report.quarantined == 1
        status = agent.status()
        assert status.outbox_depth == 0
        assert [(q["kind"], q["reason"].split(":")[0]) for q in status.quarantined] == [
            ("mystery.kind", "unknown_kind")
        ]
        with registry.db.read() as s:
            numbers = set(s.execute(select(Dossier.number)).scalars())
        assert {first.number, second.number} <= numbers
        assert registry.last_seq("JN-01") == 3
        with desk.db.read() as s:
            sent_op = s.execute(select(OutboxOp.op_id).where(OutboxOp.state == "sent")).scalars().first()
        with pytest.raises(UsageError, match="not parked"):
            agent.retry(str(sent_op))
        again = agent.retry(status.quarantined[0]["op_id"])  # e.g. after the registry learnt the kind
        assert agent.status().outbox_depth == 1
        assert agent.sync_once().quarantined == 1  # still unknown here: parked again, nothing lost
        assert [q["op_id"] for q in agent.status().quarantined] == [again]
        assert registry.last_seq("JN-01") == 4
        agent.stop()
        desk.close()


def test_wrong_or_revoked_tokens_and_another_stations_ops_are_refused(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        token = registry.add_station("JN-01", "a")
        registry.add_station("JN-02", "b")
        body = {"schema_version": SCHEMA_VERSION, "station_id": "JN-02", "ops": []}
        assert httpx.post(f"{url}/v1/ops", json=body).json()["code"] == "auth_missing"
        bad = httpx.post(f"{url}/v1/ops", json=body, headers={"Authorization": "Bearer wst_nope"})
        assert (bad.status_code, bad.json()["code"]) == (401, "auth_invalid")
        other = httpx.post(f"{url}/v1/ops", json=body, headers={"Authorization": f"Bearer {token}"})
        assert (other.status_code, other.json()["code"]) == (403, "station_mismatch")
        version = httpx.post(
            f"{url}/v1/ops",
            json={**body, "station_id": "JN-01", "schema_version": 9},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (version.status_code, version.json()["code"]) == (400, "schema_version")
        junk = httpx.post(
            f"{url}/v1/ops",
            content=b"{not json",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert (junk.status_code, junk.json()["code"]) == (422, "invalid")
        registry.revoke_station("JN-01")
        revoked = httpx.post(f"{url}/v1/ops", json=body, headers={"Authorization": f"Bearer {token}"})
        assert (revoked.status_code, revoked.json()["code"]) == (401, "auth_revoked")
        with registry.db.read() as s:
            assert s.execute(select(func.count()).select_from(AppliedOp)).scalar_one() == 0
            assert s.execute(select(func.count()).where(AuditEvent.action.like("sync.%"))).scalar_one() == 0


def withdrawn_here_claimed_there(tmp_path: Path, registry: Registry, url: str) -> tuple[Desk, SyncAgent, str]:
    """Desk JN-01 withdraws a dossier that a reviewer leased at the registry first, from the same version: the
    withdrawal loses.

    Returns the losing desk (synced: its withdrawal is a conflict), its agent, and the dossier's number.
    """
    desk = make_desk(tmp_path / "desk-a", "JN-01")
    agent = agent_for(desk, registry, url)
    clerk = desk.users.actor("clerk1")
    d = submitted(desk, clerk)
    agent.sync_once()
    desk.dossiers.withdraw(clerk, d.number, reason="申请人撤回")
    lease = registry.claim("JN-REV", reviewer_at(registry)).lease
    assert lease is not None and lease.number == d.number
    assert agent.sync_once().conflicts == 1
    return desk, agent, d.number


def test_a_conflict_keeps_the_registrys_side_version_stage_and_status_beside_the_desks_op(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk, agent, number = withdrawn_here_claimed_there(tmp_path, registry, url)
        base = desk.dossiers.show(number).version - 1
        [conflict] = desk.sync.status().conflicts
        assert (conflict["number"], conflict["kind"], conflict["base_version"]) == (number, "dossier.withdraw", base)
        assert conflict["local"]["status"] == "withdrawn" and conflict["local"]["version"] == base + 1
        assert conflict["remote"] == {"number": number, "version": base + 1, "stage": "REVIEW", "status": "in_review"}
        # A lost answer: the op is sent again, the registry replays its first result, the registry's side stays.
        with desk.db.transaction() as s:
            s.execute(update(OutboxOp).where(OutboxOp.state == "conflict").values(state="pending"))
        assert agent.sync_once().conflicts == 1
        assert desk.sync.status().conflicts[0]["remote"]["status"] == "in_review"
        agent.stop()
        desk.close()


def test_an_op_the_registry_fails_on_is_parked_after_five_500s_alone_and_the_queue_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry bug on one op (a 500) must not stop a desk's queue for ever; an outage parks nothing."""
    with running_registry(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url, backoff_base=0.01)
        clerk = desk.users.actor("clerk1")
        first = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        poisoned = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        third = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        real = registry._apply_one

        def fails_on_one(station_id: str, head: Any, skipped: set[int]) -> Any:
            if head.model_extra.get("entity_id") == poisoned.id:
                raise RuntimeError("a registry bug this op trips")
            return real(station_id, head, skipped)

        monkeypatch.setattr(registry, "_apply_one", fails_on_one)
        errors = 0
        while agent.status().outbox_depth:
            try:
                agent.sync_once()
            except ServerError:
                errors += 1
                assert errors < 20, "the queue never moved on"
            except Transient:  # after a 500 the server may close the connection a request was reusing
                continue
        [parked] = agent.status().quarantined
        assert parked["entity_id"] == poisoned.id and parked["reason"].startswith("server_error")
        with registry.db.read() as s:
            numbers = set(s.execute(select(Dossier.number)).scalars())
        assert numbers == {first.number, third.number}
        # 500s: the batch it was in, then the op alone five times (the ops before it went alone and through).
        assert errors == 1 + PARK_AFTER_SERVER_ERRORS
        monkeypatch.setattr(registry, "_apply_one", real)
        agent.retry(parked["op_id"])  # the registry mended: sent again, applied
        agent.sync_once()
        assert agent.status().quarantined == [] and agent.status().outbox_depth == 0
        with registry.db.read() as s:
            assert poisoned.number in set(s.execute(select(Dossier.number)).scalars())
        agent.stop()
        desk.close()


def test_large_ops_go_in_several_batches_and_one_too_large_to_send_is_parked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.client

    with running_registry(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        clerk = desk.users.actor("clerk1")
        for _ in range(3):
            submitted(desk, clerk)
        with desk.db.read() as s:
            ops = s.execute(select(func.count()).select_from(OutboxOp)).scalar_one()
        monkeypatch.setattr(sync.client, "BATCH_BYTES", 3000)  # a few ops per batch
        report = agent.sync_once()
        assert report.applied == ops and report.batches > 3
        assert registry.last_seq("JN-01") == ops
        d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        monkeypatch.setattr(sync.client, "MAX_BATCH_BYTES", 4300)  # now a create is larger than a batch may be
        report = agent.sync_once()
        [parked] = agent.status().quarantined
        assert parked["entity_id"] == d.id and parked["reason"].startswith("too_large")
        assert report.quarantined == 1 and agent.status().outbox_depth == 0
        agent.stop()
        desk.close()
