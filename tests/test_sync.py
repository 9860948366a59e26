"""Desk ⇄ registry over real HTTP on loopback: push, replay, pull, conflicts, parked ops, bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from sync.client import SyncAgent
from sync.server.registry import Registry
from tests.review_helpers import submitted
from tests.sync_helpers import agent_for, make_desk, running_registry
from workstation.errors import UsageError
from workstation.services import outbox
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
        reviewer = {"username": "rev1", "roles": ["reviewer"], "can_review_online": True, "can_review_offline": True}
        token = registry.add_station("JN-REV", "审核")
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        claim = http.post("/v1/review/claim", json={"reviewer": reviewer}).json()
        assert claim["lease"]["number"] == d.number and len(claim["dossier"]["pages"]) == len(d.pages)
        op = {
            "op_id": "decision-1",
            "seq": 1,
            "kind": "review.decision",
            "entity_id": d.id,
            "payload": {
                "number": d.number,
                "decision": "approve",
                "lease_id": claim["lease"]["lease_id"],
                "fence": claim["lease"]["fence"],
                "reviewer": reviewer,
            },
        }
        answer = http.post("/v1/ops", json={"schema_version": 1, "station_id": "JN-REV", "ops": [op]})
        assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "applied"
        agent.sync_once()
        assert desk.dossiers.show(d.number).stage == "REGISTER"
        assert agent.cursor() != "0"
        stale = {**op, "op_id": "decision-2", "seq": 2}
        refused = http.post("/v1/ops", json={"schema_version": 1, "station_id": "JN-REV", "ops": [stale]}).json()
        assert refused["results"][0]["status"] == "conflict" and refused["results"][0]["code"] == "stale_fence"
        assert [c["op_id"] for c in registry.conflicts()] == ["decision-2"]
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
        body = {"schema_version": 1, "station_id": "JN-02", "ops": []}
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


def withdrawn_here_resubmitted_there(tmp_path: Path, registry: Registry, url: str) -> tuple[Desk, SyncAgent, str]:
    """Desk JN-01 withdraws a dossier that desk JN-02 resubmitted first from the same version: JN-01 loses.

    Returns the losing desk (synced: its withdrawal is a conflict), its agent, and the dossier's number.
    """
    desk = make_desk(tmp_path / "desk-a", "JN-01")
    agent = agent_for(desk, registry, url)
    clerk = desk.users.actor("clerk1")
    d = submitted(desk, clerk)
    agent.sync_once()
    desk.dossiers.withdraw(clerk, d.number, reason="申请人撤回")
    other = make_desk(tmp_path / "desk-b", "JN-02")
    other_agent = agent_for(other, registry, url)
    with other.db.transaction() as s:
        outbox.enqueue(
            s,
            station_id="JN-02",
            kind="dossier.resubmit",
            entity_id=d.id,
            base_version=d.version,
            payload={"number": d.number, "version": d.version + 1, "stage": "REVIEW", "status": "in_review"},
        )
    assert other_agent.sync_once().applied == 1
    other_agent.stop()
    other.close()
    assert agent.sync_once().conflicts == 1
    return desk, agent, d.number


def test_a_conflict_keeps_the_registrys_side_version_stage_and_status_beside_the_desks_op(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk, agent, number = withdrawn_here_resubmitted_there(tmp_path, registry, url)
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
