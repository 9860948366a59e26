"""An honest city: three desks and one registry, the reviewers provisioned at the registry, a faulty network.

Two windows (one a field office that works offline for a while) capture and submit; a review desk's reviewer works
the registry's pool and decides through a network drop; a second reviewer works from a window desk. Responses are
lost, requests duplicated. At the end: every op a desk holds as acknowledged is at the registry exactly once,
nothing is parked, the two conflicts the run provokes are recorded on both sides, the owners' desks show what the
registry decided, and no desk learned of another's dossiers.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from sync.client import SyncAgent, Transient
from tests.faultproxy import FaultProxy
from tests.review_helpers import submitted
from tests.sync_helpers import desk_with_registry, log_in, provision, running_registry
from workstation.domain.review import ReturnItem
from workstation.errors import ConflictError
from workstation.services.desk import Desk
from workstation.store.models import (
    AppliedOp,
    Assignment,
    AuditEvent,
    ClockPause,
    Decision,
    Dossier,
    OutboxOp,
    SyncConflict,
)
from workstation.store.types import utcnow

pytestmark = pytest.mark.slow


def drain(agent: SyncAgent, proxy: FaultProxy, *, deadline: float = 90.0) -> None:
    """Sync until the desk has nothing left to send, through lost and doubled responses; then once cleanly (to
    pull what the others did meanwhile)."""
    proxy.drop_response, proxy.duplicate = 0.3, 0.3
    stop = time.monotonic() + deadline
    try:
        while True:
            try:
                agent.sync_once()
            except Transient:
                assert time.monotonic() < stop, "the desk never drained"
                continue
            if agent.status().outbox_depth == 0:
                break
    finally:
        proxy.reset_faults()
    agent.sync_once()


def test_three_desks_and_a_registry_through_a_faulty_network_deliver_exactly_once(
    tmp_path: Path, registry_db: str | None
) -> None:
    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry", registry_db))
        port = urlsplit(url).port or 0
        proxies = {name: stack.enter_context(FaultProxy("127.0.0.1", port, seed=i)) for i, name in enumerate("ABR")}
        tokens = {name: registry.add_station(station, station) for name, station in zip("ABR", STATIONS, strict=True)}
        desks: dict[str, Desk] = {}
        agents: dict[str, SyncAgent] = {}
        for name, station in zip("ABR", STATIONS, strict=True):
            desk = desk_with_registry(tmp_path / name, station, proxies[name].url, tokens[name], review_queue_size=3)
            desks[name] = desk
            agents[name] = SyncAgent(
                desk.db, desk.blobs, station_id=station, url=proxies[name].url, token=tokens[name], timeout=5, seed=1
            )
            stack.callback(desk.close)
            stack.callback(agents[name].stop)
        provision(registry, "rev1")
        provision(registry, "rev2", ("reviewer", "registrar"))
        a, b, r = desks["A"], desks["B"], desks["R"]

        # The field office A works offline; window B syncs through lost and doubled responses.
        proxies["A"].partitioned = True
        clerk_a, clerk_b = a.users.actor("clerk1"), b.users.actor("clerk1")
        mine_a = [submitted(a, clerk_a, channel="field") for _ in range(4)]
        drafts_a = [a.dossiers.new(clerk_a, business="MORT_CANCEL", applicant_kind="enterprise") for _ in range(2)]
        a.dossiers.withdraw(clerk_a, drafts_a[1].number, reason="申请人撤回")
        mine_b = [submitted(b, clerk_b) for _ in range(4)]
        drain(agents["B"], proxies["B"])
        with pytest.raises(Transient):
            agents["A"].sync_once()
        proxies["A"].partitioned = False
        drain(agents["A"], proxies["A"])

        # rev1 logs in at the review desk and fills the queue; then the network drops and rev1 decides offline.
        rev1 = log_in(r, "rev1")
        queue = r.review.fill_queue(rev1, 3)
        assert len(queue) == 3
        proxies["R"].partitioned = True
        first, second, third = queue
        r.review.decide(rev1, first.number, "approve", lease_id=first.lease_id, fence=first.fence)
        items = [ReturnItem(problem="missing", material="M01", note="申请书缺签字")]
        r.review.decide(rev1, second.number, "return", lease_id=second.lease_id, fence=second.fence, items=items)
        # Meanwhile the third lease runs out at the registry and rev2, logged in at window B, takes the dossier.
        with registry.db.transaction() as s:
            past = utcnow() - timedelta(minutes=1)
            s.execute(update(Assignment).where(Assignment.lease_id == third.lease_id).values(expires_at=past))
            s.execute(update(Dossier).where(Dossier.id == third.dossier_id).values(lease_expires_at=past))
        rev2 = log_in(b, "rev2")
        taken = b.review.claim_next(rev2)
        assert taken is not None and taken.number == third.number and taken.fence == third.fence + 1
        r.review.decide(rev1, third.number, "approve", lease_id=third.lease_id, fence=third.fence)  # offline: stands
        b.review.decide(rev2, taken.number, "reject", lease_id=taken.lease_id, fence=taken.fence, reason_code=REASON)
        # And a window withdraws a dossier the registry has leased since its last pull: made on an old version.
        rev2_lease = b.review.claim_next(rev2)
        assert rev2_lease is not None
        withdrawn = next(d for d in [*mine_a, *mine_b] if d.number == rev2_lease.number)
        owner = a if withdrawn in mine_a else b
        owner.dossiers.withdraw(owner.users.actor("clerk1"), withdrawn.number, reason="申请人撤回")

        # The network heals; every desk drains.
        proxies["R"].partitioned = False
        for name in "BRAB":
            drain(agents[name], proxies[name])

        # Exactly once: every op a desk holds as answered is at the registry once, audited once; nothing parked.
        with registry.db.read() as s:
            held = {(o.station_id, o.op_id): o.status for o in s.execute(select(AppliedOp)).scalars()}
            audited = s.execute(
                select(func.count()).where(AuditEvent.action.in_(("sync.applied", "sync.conflict", "sync.refused")))
            ).scalar_one()
            conflicts = list(s.execute(select(SyncConflict).order_by(SyncConflict.at)).scalars())
            decisions = {(d.kind, d.outcome, d.station_id) for d in s.execute(select(Decision)).scalars()}
            pauses = s.execute(
                select(func.count()).where(ClockPause.reason == "supplement", ClockPause.ended_at.is_(None))
            ).scalar_one()
            states = {d.id: (d.stage, d.status, d.version) for d in s.execute(select(Dossier)).scalars()}
        assert audited == len(held)
        for name, desk in desks.items():
            with desk.db.read() as s:
                ops = list(s.execute(select(OutboxOp)).scalars())
            station = STATIONS["ABR".index(name)]
            assert {o.state for o in ops} <= {"sent", "conflict"}, name  # nothing pending, nothing parked
            assert all((station, o.op_id) in held for o in ops), name
            assert sum(1 for k in held if k[0] == station) == len(ops), name
        assert sorted((c.station_id, c.kind, c.code) for c in conflicts) == sorted(
            [
                ("JN-REV", "review.decision", "stale_fence"),
                (owner.settings.station_id, "dossier.withdraw", "stale_version"),
            ]
        )
        assert {k: v for k, v in held.items() if v != "applied"} == {
            (c.station_id, c.op_id): "conflict" for c in conflicts
        }
        assert decisions == {
            ("approve", "applied", "JN-REV"),
            ("return", "applied", "JN-REV"),
            ("approve", "conflict", "JN-REV"),
            ("reject", "applied", "JN-SZ-01"),
        }
        assert pauses == 1  # the 补正 return stops the clock until the window resubmits

        # Both sides show each conflict; the desks' copies are the registry's; owners mirror what was decided.
        assert [c["kind"] for c in r.sync.status().conflicts] == ["review.decision"]
        assert [c["kind"] for c in owner.sync.status().conflicts] == ["dossier.withdraw"]
        with pytest.raises(ConflictError):  # rev1's copy no longer holds the dossier rev2 decided
            r.review.decide(rev1, third.number, "approve", lease_id=third.lease_id, fence=third.fence)
        for desk, dossiers in ((a, mine_a), (b, mine_b)):
            for d in dossiers:
                shown = desk.dossiers.show(d.number)
                assert (shown.stage, shown.status, shown.version) == states[d.id], d.number
        assert states[first.dossier_id][:2] == ("REGISTER", "submitted")
        assert states[second.dossier_id][1] == "returned"
        assert states[third.dossier_id][1] == "rejected"
        assert states[withdrawn.id][1] == "in_review"
        assert states[drafts_a[1].id][1] == "withdrawn" and states[drafts_a[0].id][1] == "draft"

        # No desk learned of another's dossiers; the review desks hold only what their people leased.
        with a.db.read() as s:
            a_ids = set(s.execute(select(Dossier.id)).scalars())
        with b.db.read() as s:
            b_ids = set(s.execute(select(Dossier.id)).scalars())
        with r.db.read() as s:
            r_ids = set(s.execute(select(Dossier.id)).scalars())
        assert a_ids == {d.id for d in [*mine_a, *drafts_a]}
        assert b_ids == {d.id for d in mine_b} | {taken.dossier_id, rev2_lease.dossier_id}
        assert r_ids == {x.dossier_id for x in queue}


STATIONS = ("JN-LX-01", "JN-SZ-01", "JN-REV")
REASON = "dispute"
