"""Acceptance tests of "offline sync: nothing lost, nothing twice", against a real registry (uvicorn on loopback).

3. A change a desk made on a version the registry has moved past is a recorded conflict, shown on both sides.
4. Damaged page uploads are refused and never stored; a desk's corrupt page file parks only its own op; a manifest
   naming a page the registry does not hold is refused whole.
6. A decision under an expired or reassigned lease is refused by its fence, recorded and shown.
8. Bad input gets a 4xx with its documented code, never a 500, and leaves nothing behind; then schemathesis
   fuzzes every route of the OpenAPI schema with a valid station token.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select, update

from sync.client import SyncAgent, Transient, sync_status
from sync.protocol import PERSON_HEADER, SCHEMA_VERSION, ErrorCode, op_kinds
from sync.server.app import create_app
from sync.server.open import open_registry
from sync.server.registry import Registry
from sync.server.serve import BackgroundServer
from tests.faultproxy import FaultProxy
from tests.review_helpers import IDN, USCC, submitted
from tests.sync_helpers import PERSON_PASSWORD, agent_for, make_desk, provision
from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.services import outbox
from workstation.services.desk import Desk
from workstation.services.manifest import _PAGE_KEYS as PAGE_KEYS  # the keys of a page in a manifest
from workstation.services.views import DossierDetail
from workstation.store.blobs import BlobStore
from workstation.store.models import (
    AppliedOp,
    Assignment,
    AuditEvent,
    ChangeRecord,
    Decision,
    Dossier,
    OutboxOp,
    Page,
    StationSeq,
    SyncConflict,
)
from workstation.store.types import utcnow

ADMIN_PASSWORD = "admin-pass-1"
ABSENT_SHA = hashlib.sha256(b"a page no desk ever uploaded").hexdigest()


# -- helpers ------------------------------------------------------------------------------------------------


@contextmanager
def serve(root: Path, *, max_blob_bytes: int | None = None) -> Iterator[tuple[Registry, str]]:
    """A registry (SQLite under `root`) served by uvicorn on 127.0.0.1:<free port>, configured before it starts."""
    registry = open_registry(load_settings(data_dir=root, admin_password=ADMIN_PASSWORD))
    if max_blob_bytes is not None:
        registry.max_blob_bytes = max_blob_bytes
    server = BackgroundServer(registry).start()
    try:
        yield registry, server.url
    finally:
        server.stop()
        registry.db.dispose()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn logs as errors meanwhile: an exception escaping the app is one, even when no client saw its 500.

    Attach it after the server started (uvicorn configures its loggers, dropping their handlers, as it starts)."""
    handler = _Errors()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def store_of(registry: Registry) -> BlobStore:
    assert isinstance(registry.blobs, BlobStore)
    return registry.blobs


def client(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=20)


def person(http: httpx.Client, registry: Registry, username: str) -> dict[str, str]:
    """A reviewer provisioned at the registry, logged in from the station `http` speaks for: their token header."""
    provision(registry, username)
    answer = http.post("/v1/auth/login", json={"username": username, "password": PERSON_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {PERSON_HEADER: answer.json()["token"]}


def claim(http: httpx.Client, who: dict[str, str]) -> Any:
    answer = http.post("/v1/review/claim", json={}, headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()["lease"]


def batch(station: str, *ops: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "station_id": station, "ops": list(ops), **extra}


def wire(op: OutboxOp) -> dict[str, Any]:
    """An outbox op as a desk puts it on the wire."""
    return {
        "op_id": op.op_id,
        "seq": op.seq,
        "kind": op.kind,
        "entity_id": op.entity_id,
        "base_version": op.base_version,
        "payload": op.payload,
        "created_at": op.created_at.isoformat(),
        "actor": op.actor,
    }


def outbox_ops(desk: Desk) -> list[OutboxOp]:
    with desk.db.read() as s:
        return list(s.execute(select(OutboxOp).order_by(OutboxOp.seq)).scalars())


def stored(registry: Registry) -> dict[str, int]:
    """What the registry holds from the desks: ops, their audit events and conflicts, changes, page blobs."""
    with registry.db.read() as s:
        counts = {
            "applied_ops": s.execute(select(func.count()).select_from(AppliedOp)).scalar_one(),
            "sync_events": s.execute(select(func.count()).where(AuditEvent.action.like("sync.%"))).scalar_one(),
            "conflicts": s.execute(select(func.count()).select_from(SyncConflict)).scalar_one(),
            "changes": s.execute(select(func.count()).select_from(ChangeRecord)).scalar_one(),
            "station_seq": s.execute(select(func.coalesce(func.sum(StationSeq.last_seq), 0))).scalar_one(),
        }
    counts["blobs"] = len(list(store_of(registry)))
    return counts


def leftover_uploads(registry: Registry) -> list[Path]:
    return list((store_of(registry).root / "tmp").iterdir())


def uploads_settled(registry: Registry, patience: float = 10.0) -> list[Path]:
    """The partial files left once the registry has finished with a cut request.

    The desk sees the connection drop before the registry's request task sees the body end, so the
    partial file may still be there for a moment; what counts is that it goes.
    """
    deadline = time.monotonic() + patience
    while (left := leftover_uploads(registry)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def registry_dossier(registry: Registry, dossier_id: str) -> Dossier:
    with registry.db.read() as s:
        row = s.get(Dossier, dossier_id)
        assert row is not None
        return row


def decision_op(
    op_id: str, seq: int, dossier: DossierDetail, lease: dict[str, Any], reviewer: str, version: int
) -> dict:
    return {
        "op_id": op_id,
        "seq": seq,
        "kind": "review.decision",
        "entity_id": dossier.id,
        "base_version": version,
        "actor": reviewer,
        "payload": {"decision": "approve", "lease_id": lease["lease_id"], "fence": lease["fence"]},
        "created_at": utcnow().isoformat(),
    }


def submitted_with_a_large_page(desk: Desk, clerk: Actor, size: int) -> tuple[DossierDetail, str]:
    """An individual's resale transfer at REVIEW whose first required page is `size` bytes; returns its sha256."""
    d = desk.dossiers.new(
        clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="王小明", applicant_id=IDN
    )
    biz = desk.catalogue.business("RESALE_TRANSFER")
    for role in biz.roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            kind, name, ident = (
                ("individual", "赵建国", IDN) if "individual" in role.kinds else ("enterprise", "某行", USCC)
            )
            d = desk.dossiers.add_party(clerk, d.number, role=role.name, kind=kind, name=name, id_value=ident)
    big = b""
    for i, slot in enumerate(s for s in d.slots if s.required):
        data = f"page {d.number} {slot.material} {slot.party_key}".encode()
        if i == 0:
            big = (data * (size // len(data) + 1))[:size]
            data = big
        desk.dossiers.attach_page(
            clerk,
            d.number,
            data=data,
            source_name=f"{slot.material}.png",
            media_type="image/png",
            material=slot.material,
            party_key=slot.party_key,
        )
    return desk.dossiers.submit(clerk, d.number), hashlib.sha256(big).hexdigest()


# -- 3. a change made on a version the registry has moved past ----------------------------------------------------


@pytest.mark.parametrize("order", ["claimed first", "withdrawn first", "together"])
def test_a_withdrawal_made_on_a_version_the_registry_moved_past_is_a_recorded_conflict_on_both_sides(
    tmp_path: Path, order: str
) -> None:
    """The window withdraws a submitted dossier while, at the registry, a reviewer leases it (a new version there).
    Exactly one of the two stands; a withdrawal that lost is a conflict kept whole on both sides, never applied."""
    with serve(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        d = submitted(desk, desk.users.actor("clerk1"))
        agent.sync_once()
        base = d.version
        assert registry_dossier(registry, d.id).version == base
        reviewer = client(url, registry.add_station("JN-REV", "审核"))
        who = person(reviewer, registry, "rev-x")

        desk.dossiers.withdraw(desk.users.actor("clerk1"), d.number, reason="申请人撤回")
        [op_a] = [op for op in outbox_ops(desk) if op.state == "pending"]
        assert (op_a.kind, op_a.base_version, op_a.payload) == ("dossier.withdraw", base, {"reason": "申请人撤回"})

        leases: list[Any] = []
        if order == "together":
            gate = threading.Barrier(2)
            errors: list[BaseException] = []

            def run(step: Any) -> None:
                try:
                    gate.wait(timeout=10)
                    step()
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [
                threading.Thread(target=run, args=(agent.sync_once,)),
                threading.Thread(target=run, args=(lambda: leases.append(claim(reviewer, who)),)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert not errors
        elif order == "claimed first":
            leases.append(claim(reviewer, who))
            agent.sync_once()
        else:
            agent.sync_once()
            leases.append(claim(reviewer, who))

        with registry.db.read() as s:
            result = s.get(AppliedOp, op_a.op_id)
            assert result is not None
            conflict_rows = list(s.execute(select(SyncConflict)).scalars())
            conflict_events = s.execute(
                select(func.count()).where(AuditEvent.action == "sync.conflict", AuditEvent.entity_id == op_a.op_id)
            ).scalar_one()
        withdrawn = result.status == "applied"
        leased = leases[0] is not None
        assert withdrawn != leased  # exactly one stands
        if order != "together":
            assert withdrawn == (order == "withdrawn first")  # first come, first served
        dossier = registry_dossier(registry, d.id)
        assert dossier.version == base + 1  # one change applied, one version up
        if withdrawn:
            assert (dossier.status, conflict_rows, conflict_events) == ("withdrawn", [], 0)
            assert sync_status(desk.db, url).conflicts == []
        else:
            assert (dossier.status, result.status, result.code) == ("in_review", "conflict", "stale_version")
            # The refused withdrawal is kept whole, with both versions, and audited once.
            [c] = conflict_rows
            assert (c.op_id, c.station_id, c.code) == (op_a.op_id, "JN-01", "stale_version")
            assert (c.base_version, c.current_version, c.payload) == (base, base + 1, op_a.payload)
            assert [x["op_id"] for x in registry.conflicts()] == [op_a.op_id] and conflict_events == 1
            # The desk shows its op beside the registry's dossier; its copy is the registry's again.
            shown = sync_status(desk.db, url)
            assert shown.outbox_depth == 0
            [mine] = shown.conflicts
            assert (mine["op_id"], mine["reason"].split(":")[0]) == (op_a.op_id, "stale_version")
            assert mine["local"]["status"] == "withdrawn" and mine["remote"]["status"] == "in_review"
            assert desk.dossiers.show(d.number).status == "in_review"

        # The answer lost on the way back: the desk sends its op again and the registry answers from its record.
        before = stored(registry)
        with desk.db.transaction() as s:
            s.execute(update(OutboxOp).where(OutboxOp.op_id == op_a.op_id).values(state="pending"))
        agent.sync_once()
        assert stored(registry) == before
        assert registry_dossier(registry, d.id).version == base + 1
        assert len(sync_status(desk.db, url).conflicts) == (0 if withdrawn else 1)
        agent.stop()
        reviewer.close()
        desk.close()


# -- 4. damaged uploads, corrupt local pages, manifests naming absent pages -----------------------------------


def test_an_upload_whose_bytes_do_not_match_its_name_is_refused_and_not_stored(tmp_path: Path) -> None:
    with serve(tmp_path / "registry") as (registry, url):
        http = client(url, registry.add_station("JN-01", "a"))
        good = b"a scanned page" * 100
        sha = hashlib.sha256(good).hexdigest()
        damaged = good[:-1] + b"?"
        refused = http.put(f"/v1/blobs/{sha}", content=damaged)
        assert (refused.status_code, refused.json()["code"]) == (400, "blob_mismatch")
        assert not store_of(registry).path_for(sha).exists()
        assert leftover_uploads(registry) == []
        short = http.put(f"/v1/blobs/{sha}", content=good[:10])
        assert (short.status_code, short.json()["code"]) == (400, "blob_mismatch")
        assert not store_of(registry).path_for(sha).exists()

        ok = http.put(f"/v1/blobs/{sha}", content=good)
        assert (ok.status_code, ok.json()) == (201, {"sha256": sha, "size": len(good), "created": True})
        again = http.put(f"/v1/blobs/{sha}", content=good)
        assert (again.status_code, again.json()["created"]) == (201, False)
        # Damaged bytes under a name the registry already holds are refused too; the stored page is untouched.
        late = http.put(f"/v1/blobs/{sha}", content=damaged)
        assert (late.status_code, late.json()["code"]) == (400, "blob_mismatch")
        assert store_of(registry).read(sha) == good
        assert leftover_uploads(registry) == []
        assert stored(registry)["blobs"] == 1


def test_a_truncated_upload_is_not_stored_and_the_desk_sends_it_again_once_the_network_heals(tmp_path: Path) -> None:
    with serve(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        d, big_sha = submitted_with_a_large_page(desk, desk.users.actor("clerk1"), 200_000)
        token = registry.add_station("JN-01", "a")
        with server_errors() as errors, FaultProxy("127.0.0.1", int(url.rsplit(":", 1)[1]), seed=3) as proxy:
            agent = SyncAgent(desk.db, desk.blobs, station_id="JN-01", url=proxy.url, token=token, timeout=15)
            proxy.cut_request_after = 50_000  # the large page arrives cut short; small requests pass
            with pytest.raises(Transient):
                agent.sync_once()
            assert proxy.stats["cut_requests"] >= 1
            assert uploads_settled(registry) == []
            assert [r.getMessage() for r in errors] == []  # the registry saw the body end early and let it go
            assert not store_of(registry).exists(big_sha)
            assert stored(registry)["applied_ops"] == 0  # no op goes before all its pages are there
            assert agent.status().outbox_depth == len(outbox_ops(desk)) and not agent.status().online

            with pytest.raises(Transient):  # still cut: tried again, still not stored
                agent.sync_once()
            assert not store_of(registry).exists(big_sha)

            proxy.reset_faults()
            report = agent.sync_once()
            assert report.quarantined == 0 and report.conflicts == 0
            assert store_of(registry).verify(big_sha)
            assert all(store_of(registry).verify(p.sha256) for p in d.pages)
            assert agent.status().outbox_depth == 0 and agent.status().online
            with registry.db.read() as s:
                pages = s.execute(select(func.count()).where(Page.dossier_id == d.id)).scalar_one()
            assert pages == len(d.pages)
            assert (registry_dossier(registry, d.id).stage, registry_dossier(registry, d.id).status) == (
                "REVIEW",
                "submitted",
            )
            agent.stop()
        desk.close()


def test_a_corrupt_local_page_file_parks_the_op_that_needs_it_and_the_queue_moves_on(tmp_path: Path) -> None:
    with serve(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        clerk = desk.users.actor("clerk1")
        d1 = submitted(desk, clerk)
        d2 = submitted(desk, clerk)
        bad_sha = d1.pages[0].sha256
        path = desk.blobs.path_for(bad_sha)
        original = path.read_bytes()
        path.write_bytes(b"bit rot" + original[7:])
        total = len(outbox_ops(desk))

        report = agent.sync_once()
        assert report.quarantined == 1
        status = agent.status()
        assert status.outbox_depth == 0
        [parked] = status.quarantined
        assert parked["kind"] == "dossier.submit" and parked["entity_id"] == d1.id
        assert parked["reason"].startswith("local page file unusable") and bad_sha in parked["reason"]
        assert not store_of(registry).exists(bad_sha)
        # The rest of the queue went through: d2 whole and in review, d1 known but not submitted.
        assert registry.last_seq("JN-01") == total
        assert registry_dossier(registry, d2.id).status == "submitted"
        assert all(store_of(registry).verify(p.sha256) for p in d2.pages)
        assert registry_dossier(registry, d1.id).status == "draft"
        with registry.db.read() as s:
            skipped = s.execute(select(AppliedOp.seq).where(AppliedOp.status == "skipped")).scalars().all()
            d1_pages = s.execute(select(func.count()).where(Page.dossier_id == d1.id)).scalar_one()
        assert skipped == [parked["seq"]] and d1_pages == 0

        # Repaired (e.g. re-scanned from the paper), the parked op is sent again and nothing is lost.
        path.write_bytes(original)
        agent.retry(parked["op_id"])
        again = agent.sync_once()
        assert (again.applied, again.quarantined) == (1, 0)
        assert registry_dossier(registry, d1.id).status == "submitted"
        assert store_of(registry).verify(bad_sha)
        agent.stop()
        desk.close()


@pytest.mark.parametrize("where", ["in the blob list", "only on a page"])
def test_a_submission_naming_a_page_the_registry_lacks_is_held_back_and_nothing_of_the_op_is_stored(
    tmp_path: Path, where: str
) -> None:
    with serve(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        d = submitted(desk, desk.users.actor("clerk1"))
        http = client(url, registry.add_station("JN-01", "a"))
        for page in d.pages:  # every real page is uploaded
            assert http.put(f"/v1/blobs/{page.sha256}", content=desk.blobs.read(page.sha256)).status_code == 201
        *before, submit = [wire(op) for op in outbox_ops(desk)]
        assert submit["kind"] == "dossier.submit"
        taken = http.post("/v1/ops", json=batch("JN-01", *before))
        assert taken.status_code == 200
        pristine = stored(registry)

        content = dict(submit["payload"]["content"])
        if where == "in the blob list":
            content["blobs"] = sorted([*content["blobs"], ABSENT_SHA])
        else:  # a page names a blob the list leaves out: the content does not hold together
            content["pages"] = [{**content["pages"][0], "sha256": ABSENT_SHA}, *content["pages"][1:]]
            content["blobs"] = sorted([*content["blobs"], ABSENT_SHA])
        bad = {**submit, "payload": {**submit["payload"], "content": content}}
        refused = http.post("/v1/ops", json=batch("JN-01", bad))
        assert refused.status_code == 409
        body = refused.json()
        assert (body["code"], body["seq"], body["op_id"], body["results"]) == (
            "blob_missing",
            submit["seq"],
            submit["op_id"],
            [],
        )
        assert body["detail"]["missing"] == [ABSENT_SHA]
        assert stored(registry) == pristine  # no AppliedOp, audit event, conflict, change or blob for it
        with registry.db.read() as s:
            assert s.get(AppliedOp, submit["op_id"]) is None
            assert s.execute(select(func.count()).where(Page.dossier_id == d.id)).scalar_one() == 0
        assert registry.last_seq("JN-01") == submit["seq"] - 1
        assert registry_dossier(registry, d.id).status == "draft"
        reviewer = client(url, registry.add_station("JN-REV", "审核"))
        who = person(reviewer, registry, "rev-x")
        assert claim(reviewer, who) is None

        # The desk's own op, with every page uploaded, is taken as it is: the refusal left no trace.
        ok = http.post("/v1/ops", json=batch("JN-01", submit))
        assert ok.status_code == 200 and ok.json()["results"][0]["status"] == "applied"
        assert claim(reviewer, who)["number"] == d.number
        desk.close()


# -- 6. decisions under a lease that is no longer live -------------------------------------------------------


def test_a_decision_under_an_expired_or_reassigned_lease_is_refused_by_its_fence_recorded_and_shown(
    tmp_path: Path,
) -> None:
    with serve(tmp_path / "registry") as (registry, url):
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        d = submitted(desk, desk.users.actor("clerk1"))
        agent.sync_once()
        x = client(url, registry.add_station("JN-REV1", "审核一"))
        y = client(url, registry.add_station("JN-REV2", "审核二"))
        x_who, y_who = person(x, registry, "rev-x"), person(y, registry, "rev-y")
        x_lease = claim(x, x_who)
        assert x_lease["number"] == d.number
        past = utcnow() - timedelta(minutes=1)
        with registry.db.transaction() as s:  # X's lease runs out (no heartbeat)
            s.execute(update(Assignment).where(Assignment.lease_id == x_lease["lease_id"]).values(expires_at=past))
            s.execute(update(Dossier).where(Dossier.id == d.id).values(lease_expires_at=past))
        held = registry_dossier(registry, d.id)

        # Expired, not yet taken by anyone: refused.
        late = x.post("/v1/ops", json=batch("JN-REV1", decision_op("x-late", 1, d, x_lease, "rev-x", held.version)))
        assert late.status_code == 200
        [result] = late.json()["results"]
        assert (result["status"], result["code"]) == ("conflict", "stale_fence") and "expired" in result["message"]
        late_seen = registry_dossier(registry, d.id)
        assert (late_seen.stage, late_seen.status, late_seen.version, late_seen.fence) == (
            held.stage,
            held.status,
            held.version,
            held.fence,
        )

        # Reassigned: Y claims it with the next fence; X's decision under the old fence is refused.
        y_lease = claim(y, y_who)
        assert (y_lease["number"], y_lease["fence"]) == (d.number, x_lease["fence"] + 1)
        reassigned = registry_dossier(registry, d.id)
        stale = decision_op("x-stale", 2, d, x_lease, "rev-x", held.version)
        refused = x.post("/v1/ops", json=batch("JN-REV1", stale))
        [result] = refused.json()["results"]
        assert (result["status"], result["code"]) == ("conflict", "stale_fence") and "stale" in result["message"]

        # Recorded: the sync conflicts, the refused decisions, and the dossier as X's decisions found it.
        assert {c["op_id"]: c["code"] for c in registry.conflicts()} == {
            "x-late": "stale_fence",
            "x-stale": "stale_fence",
        }
        with registry.db.read() as s:
            decisions = {
                r.op_id: (r.outcome, r.fence, r.kind)
                for r in s.execute(select(Decision).where(Decision.dossier_id == d.id)).scalars()
            }
            y_state = s.execute(select(Assignment.state).where(Assignment.lease_id == y_lease["lease_id"])).scalar_one()
            x_state = s.execute(select(Assignment.state).where(Assignment.lease_id == x_lease["lease_id"])).scalar_one()
        assert decisions == {
            "x-late": ("conflict", x_lease["fence"], "approve"),
            "x-stale": ("conflict", x_lease["fence"], "approve"),
        }
        assert (y_state, x_state) == ("active", "expired")
        now = registry_dossier(registry, d.id)
        assert (now.stage, now.status, now.version, now.fence) == (
            reassigned.stage,
            reassigned.status,
            reassigned.version,
            reassigned.fence,
        )
        assert (held.stage, held.status, held.version) == ("REVIEW", "in_review", reassigned.version - 1)

        # Shown: to the station that sent it, and in the change feed the desks pull.
        assert {c["op_id"] for c in x.get("/v1/conflicts").json()} == {"x-late", "x-stale"}
        assert y.get("/v1/conflicts").json() == []
        feed = x.get("/v1/changes", params={"after": 0}).json()["changes"]
        assert sorted(c["payload"]["op_id"] for c in feed if c["kind"] == "sync.conflict") == ["x-late", "x-stale"]

        # Sent again (its answer was lost): the first result, nothing recorded twice.
        replay = x.post("/v1/ops", json=batch("JN-REV1", stale)).json()["results"][0]
        assert (replay["status"], replay["code"], replay["replayed"]) == ("conflict", "stale_fence", True)
        assert len(registry.conflicts()) == 2

        # Y's decision, under the live lease, applies; the desk learns of it.
        applied = y.post(
            "/v1/ops", json=batch("JN-REV2", decision_op("y-ok", 1, d, y_lease, "rev-y", reassigned.version))
        )
        assert applied.json()["results"][0]["status"] == "applied"
        after = registry_dossier(registry, d.id)
        assert after.stage != "REVIEW" and after.version > reassigned.version
        with registry.db.read() as s:
            outcome = s.execute(select(Decision.outcome).where(Decision.op_id == "y-ok")).scalar_one()
        assert outcome == "applied"
        agent.sync_once()
        assert desk.dossiers.show(d.number).stage == after.stage
        agent.stop()
        desk.close()


# -- 8. bad input -------------------------------------------------------------------------------------------


def raw_put_chunked(url: str, path: str, token: str, data: bytes) -> tuple[int, dict[str, Any]]:
    """PUT with `Transfer-Encoding: chunked` and no Content-Length (httpx always sends the length)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.request(
            "PUT",
            path,
            body=iter([data[: len(data) // 2], data[len(data) // 2 :]]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_bad_input_gets_its_documented_code_never_a_500_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with serve(tmp_path / "registry", max_blob_bytes=1000) as (registry, url), server_errors() as errors:
        token = registry.add_station("JN-01", "a")
        registry.add_station("JN-02", "b")
        revoked = registry.add_station("JN-03", "c")
        registry.revoke_station("JN-03")
        good, wrong, gone, nobody = client(url, token), client(url, "wst_nope"), client(url, revoked), client(url, None)
        op = {"op_id": "op-1", "seq": 1, "kind": "dossier.create", "entity_id": "e-1", "payload": {}}
        page = b"p" * 400
        page_sha = hashlib.sha256(page).hexdigest()
        big = b"b" * 1001
        big_sha = hashlib.sha256(big).hexdigest()
        cases: list[tuple[str, httpx.Response, int, str]] = [
            ("no token", nobody.post("/v1/ops", json=batch("JN-01", op)), 401, "auth_missing"),
            ("wrong token", wrong.post("/v1/ops", json=batch("JN-01", op)), 401, "auth_invalid"),
            ("revoked token", gone.post("/v1/ops", json=batch("JN-03", op)), 401, "auth_revoked"),
            ("revoked token, blob", gone.put(f"/v1/blobs/{page_sha}", content=page), 401, "auth_revoked"),
            ("revoked token, claim", gone.post("/v1/review/claim", json={}), 401, "auth_revoked"),
            ("another station's ops", good.post("/v1/ops", json=batch("JN-02", op)), 403, "station_mismatch"),
            (
                "schema version",
                good.post("/v1/ops", json={**batch("JN-01", op), "schema_version": 1}),
                400,
                "schema_version",
            ),
            (
                "invalid JSON",
                good.post(
                    "/v1/ops", content=b'{"schema_version": 2, "ops": [', headers={"Content-Type": "application/json"}
                ),
                422,
                "invalid",
            ),
            ("not an object", good.post("/v1/ops", json=[op]), 422, "invalid"),
            ("unknown field", good.post("/v1/ops", json={**batch("JN-01", op), "extra": 1}), 422, "invalid"),
            (
                "op without its number",
                good.post("/v1/ops", json=batch("JN-01", {k: v for k, v in op.items() if k != "seq"})),
                422,
                "invalid",
            ),
            (
                "too many ops",
                good.post("/v1/ops", json=batch("JN-01", *[{**op, "seq": i} for i in range(1, 502)])),
                422,
                "invalid",
            ),
            ("sequence gap", good.post("/v1/ops", json=batch("JN-01", {**op, "seq": 5})), 409, "seq_gap"),
            (
                "body larger than the route takes",
                good.post("/v1/blobs/missing", json={"sha256": ["0" * 64] * 20_000}),
                413,
                "too_large",
            ),
            ("oversized blob", good.put(f"/v1/blobs/{big_sha}", content=big), 413, "blob_too_large"),
            (
                "blob bytes not its name",
                good.put(f"/v1/blobs/{page_sha}", content=page[:-1] + b"q"),
                400,
                "blob_mismatch",
            ),
            ("blob name not a digest", good.put("/v1/blobs/NOT-A-DIGEST", content=page), 422, "invalid"),
            ("upper-case digest", good.put(f"/v1/blobs/{page_sha.upper()}", content=page), 422, "invalid"),
            ("missing check of junk", good.post("/v1/blobs/missing", json={"sha256": ["x" * 64]}), 422, "invalid"),
            ("unknown route", good.get("/v1/nothing-here"), 404, "not_found"),
            ("method not served", good.delete("/v1/ops"), 405, "invalid"),
            ("method not served at a blob", good.post(f"/v1/blobs/{page_sha}", content=page), 405, "invalid"),
            ("no such blob", good.get(f"/v1/blobs/{page_sha}"), 404, "not_found"),
            ("change cursor not a number", good.get("/v1/changes", params={"after": "-1"}), 422, "invalid"),
            ("claim by nobody", good.post("/v1/review/claim", json={}), 401, "person_missing"),
            (
                "claim by an invented person",
                good.post("/v1/review/claim", json={}, headers={PERSON_HEADER: "wsp_made-up"}),
                401,
                "person_invalid",
            ),
            (
                "login of an invented person",
                good.post("/v1/auth/login", json={"username": "nobody", "password": "x" * 8}),
                401,
                "person_invalid",
            ),
        ]
        status, body = raw_put_chunked(url, f"/v1/blobs/{page_sha}", token, page)
        chunked = httpx.Response(status, json=body)
        cases.append(("PUT without Content-Length", chunked, 411, "length_required"))
        got = [(name, r.status_code, r.json().get("code")) for name, r, _, _ in cases]
        assert got == [(name, s, c) for name, _, s, c in cases]
        assert all(isinstance(r.json().get("message"), str) for _, r, _, _ in cases)
        by_name = {name: r.json() for name, r, _, _ in cases}
        # A gap names the next sequence number wanted.
        assert (by_name["sequence gap"]["seq"], by_name["sequence gap"]["expected"]) == (5, 1)
        allowed = {name: r.headers.get("allow") for name, r, _, _ in cases if r.status_code == 405}
        assert allowed == {"method not served": "POST", "method not served at a blob": "GET, PUT"}

        # A cursor far past the end is no error: the feed is empty there.
        far = good.get("/v1/changes", params={"after": "9" * 20})
        assert (far.status_code, far.json()["changes"], far.json()["more"]) == (200, [], False)

        assert stored(registry) == {
            "applied_ops": 0,
            "sync_events": 0,
            "conflicts": 0,
            "changes": 0,
            "station_seq": 0,
            "blobs": 0,
        }
        assert leftover_uploads(registry) == []

        # Ops the registry can read but not apply are answered one by one, recorded, audited; the queue moves on.
        per_op = [
            ("unknown op kind", {**op, "kind": "mystery.kind"}, "unknown_kind"),
            ("desk clock without offset", {**op, "created_at": "2026-01-01T08:00:00"}, "bad_op"),
            ("create without its fields", op, "bad_op"),
            ("create with malformed parties", {**op, "payload": {"parties": [1]}}, "bad_op"),
            ("op without payload", {k: v for k, v in op.items() if k != "payload"}, "bad_op"),
            (
                "decision on no dossier",
                {
                    **op,
                    "kind": "review.decision",
                    "base_version": 1,
                    "actor": "rev-x",
                    "payload": {"decision": "approve", "lease_id": "l-1", "fence": 1},
                },
                "not_found",
            ),
        ]
        ops = [{**x, "op_id": f"op-{i}", "seq": i} for i, (_, x, _) in enumerate(per_op, start=1)]
        answer = good.post("/v1/ops", json=batch("JN-01", *ops))
        assert answer.status_code == 200
        results = answer.json()["results"]
        assert [(r["seq"], r["status"], r["code"]) for r in results] == [
            (i, "refused", code) for i, (_, _, code) in enumerate(per_op, start=1)
        ]
        assert all(r["message"] for r in results)
        assert stored(registry) == {
            "applied_ops": len(per_op),
            "sync_events": len(per_op),
            "conflicts": 0,
            "changes": len(per_op),  # each told to the sender alone
            "station_seq": len(per_op),
            "blobs": 0,
        }
        with registry.db.read() as s:
            assert s.execute(select(func.count()).select_from(Dossier)).scalar_one() == 0
        assert [r.getMessage() for r in errors] == []


def test_ops_the_registry_cannot_apply_are_parked_at_the_desk_and_the_queue_moves_on(tmp_path: Path) -> None:
    """Ops that once made the registry answer 500 (so the desk retried them for ever) are refused per op."""
    with serve(tmp_path / "registry") as (registry, url), server_errors() as errors:
        desk = make_desk(tmp_path / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        clerk = desk.users.actor("clerk1")
        first = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        create = outbox_ops(desk)[-1]
        empty: dict[str, list[Any]] = {
            "blobs": [],
            "parties": [],
            "slots": [],
            "pages": [],
            "fields": [],
            "findings": [],
        }
        null_page = dict.fromkeys(PAGE_KEYS)
        with desk.db.transaction() as s:
            # The same number under another id; a decision under a lease nobody granted; content with a page the
            # registry cannot store, one whose page names no digest; a 受理 time without its UTC offset.
            outbox.enqueue(
                s, station_id="JN-01", kind="dossier.create", entity_id="dup-" + first.id[4:], payload=create.payload
            )
            outbox.enqueue(
                s,
                station_id="JN-01",
                kind="review.decision",
                entity_id=first.id,
                base_version=1,
                actor="rev-x",
                payload={"decision": "approve", "lease_id": "no-such-lease", "fence": 1},
            )
            page = {
                **null_page,
                **{"id": "page-1", "position": 1, "file_page": 1, "source_name": "a.png", "media_type": "image/png"},
                **{"size": 1, "rotation": 0, "ocr_status": "none", "slot_by_clerk": False, "deleted": False},
            }
            for content in ({**empty, "pages": [null_page]}, {**empty, "pages": [{**page, "sha256": "x"}]}):
                outbox.enqueue(
                    s,
                    station_id="JN-01",
                    kind="dossier.submit",
                    entity_id=first.id,
                    base_version=1,
                    payload={"content": content},
                )
            outbox.enqueue(
                s,
                station_id="JN-01",
                kind="dossier.submit",
                entity_id=first.id,
                base_version=1,
                payload={"content": empty, "accepted_at": "2026-01-01T08:00:00"},
            )
        second = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")
        report = agent.sync_once()
        assert report.quarantined == 5
        status = agent.status()
        assert status.outbox_depth == 0
        reasons = [q["reason"] for q in status.quarantined]
        assert [r.split(":")[0] for r in reasons] == ["duplicate", "not_allowed", "bad_op", "bad_op", "bad_op"]
        for reason, why in zip(
            reasons, ["is taken already", "was not granted", "pages.0", "sha256", "timezone"], strict=True
        ):
            assert why in reason
        assert {registry_dossier(registry, first.id).number, registry_dossier(registry, second.id).number} == {
            first.number,
            second.number,
        }
        assert registry.last_seq("JN-01") == len(outbox_ops(desk))
        with registry.db.read() as s:
            assert s.execute(select(func.count()).select_from(Dossier)).scalar_one() == 2
            assert s.execute(select(func.count()).where(AppliedOp.status == "refused")).scalar_one() == 5
            applied = s.execute(select(func.count()).where(AppliedOp.status == "applied")).scalar_one()
            events = s.execute(select(func.count()).where(AuditEvent.action.like("sync.%"))).scalar_one()
        assert (applied, events) == (2, 7)  # one audited op per dossier created, and each refusal audited
        assert registry_dossier(registry, first.id).status == "draft"
        # Sent again, a refused op gets its first answer: nothing recorded twice.
        before = stored(registry)
        with desk.db.transaction() as s:
            s.execute(update(OutboxOp).where(OutboxOp.state == "quarantined").values(state="pending"))
        agent.sync_once()
        assert stored(registry) == before
        assert [r.getMessage() for r in errors] == []
        agent.stop()
        desk.close()


# -- 8b. schemathesis over the OpenAPI schema ---------------------------------------------------------------

# The schema the registry serves, built from its app (the routes and models, not a registry's state): pytest 9 has no
# `Node._nodeid`, which schemathesis' fixture-loaded schemas (`schemathesis.pytest.from_fixture`) need, so the schema
# is loaded at import and checked against the live server's /openapi.json in the fixture.
OPENAPI = create_app(cast(Registry, None)).openapi()
api = schemathesis.openapi.from_dict(OPENAPI)


KINDS = sorted(op_kinds())


@dataclass
class Fuzzed:
    url: str
    token: str
    person: str  # a reviewer's personal token, for the routes that act for a person
    registry: Registry
    dossier_id: str  # a dossier in the review pool, for steered ops to land on
    number: str


@pytest.fixture(scope="module")
def live_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A registry on loopback serving OPENAPI, holding one submitted dossier, and a valid station token."""
    root = tmp_path_factory.mktemp("fuzz")
    with serve(root / "registry", max_blob_bytes=4096) as (registry, url):
        assert httpx.get(f"{url}/openapi.json").json() == OPENAPI
        desk = make_desk(root / "desk", "JN-01")
        agent = agent_for(desk, registry, url)
        d = submitted(desk, desk.users.actor("clerk1"))
        agent.sync_once()
        agent.stop()
        desk.close()
        token = registry.add_station("JN-FUZZ", "fuzz")
        who = person(client(url, token), registry, "fuzz-rev")
        yield Fuzzed(url, token, who[PERSON_HEADER], registry, d.id, d.number)


def steer(case: Any, fuzzed: Fuzzed) -> None:
    """Past auth, and for a batch of ops past the batch checks, so the fuzzed ops reach the code that applies them."""
    skip = ("authorization", "content-length", PERSON_HEADER.lower())
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in skip}
    headers["Authorization"] = f"Bearer {fuzzed.token}"  # Content-Length is the transport's to set
    if case.path.startswith(("/v1/review/", "/v1/auth/logout")) and len(str(case.body)) % 3:
        headers[PERSON_HEADER] = fuzzed.person  # mostly as the person; sometimes without, to be refused
    case.headers = headers
    if case.path != "/v1/ops" or not isinstance(case.body, dict):
        return
    case.body.update(schema_version=SCHEMA_VERSION, station_id="JN-FUZZ")
    seq = fuzzed.registry.last_seq("JN-FUZZ")
    ops = case.body.get("ops")
    for op in ops if isinstance(ops, list) else []:
        if not isinstance(op, dict):
            continue
        seq += 1
        op["seq"] = seq
        kind, entity = op.get("kind"), op.get("entity_id")
        if isinstance(kind, str) and kind not in KINDS:
            op["kind"] = KINDS[len(kind) % len(KINDS)]
        if isinstance(entity, str) and len(entity) % 2 == 0:
            op["entity_id"] = fuzzed.dossier_id


# Every check of schemathesis but four, which do not fit this API: a PUT's bytes must hash to the blob's name
# (schema-valid bytes are refused), and a schema-valid op may still be refused by the authority (not the owner, no
# lease); steer() makes some schema-violating batches valid again; and a PUT of /v1/blobs/missing is a PUT of a
# blob with a malformed name (422), not an undeclared method (405).
NOT_CHECKED = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.negative_data_rejection,
    schemathesis.checks.unsupported_method,
    schemathesis.checks.allow_header_conformance,  # the same overlap: Allow at /v1/blobs/missing has GET and PUT
]


@api.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_route_answers_fuzzed_input_without_a_server_error(case: Any, live_registry: Fuzzed) -> None:
    steer(case, live_registry)
    response = case.call_and_validate(base_url=live_registry.url, timeout=20, excluded_checks=NOT_CHECKED)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.json()["code"] in {e.value for e in ErrorCode}
