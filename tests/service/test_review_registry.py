"""A review desk working the registry's pool: leases arrive with their pages, are decided through a network drop,
and the decisions reach the registry once, fenced — against a real registry (uvicorn on loopback) behind a
fault-injecting proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from sync.client import SyncAgent, sync_status
from sync.people import RegistryPeople
from sync.review import RegistryLeases
from sync.server.registry import Registry
from tests.faultproxy import FaultProxy
from tests.review_helpers import submitted
from tests.sync_helpers import PERSON_PASSWORD, agent_for, log_in, make_desk, provision, running_registry, station
from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.errors import AuthError, ConflictError, Offline, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.services.views import DossierDetail
from workstation.store.models import Assignment, Decision, Dossier, OutboxOp, Page
from workstation.store.types import utcnow

PASSWORD = "admin-pass-1"


@dataclass
class World:
    registry: Registry
    url: str
    proxy: FaultProxy
    intake: Desk
    intake_agent: SyncAgent
    review: Desk
    review_agent: SyncAgent
    source: RegistryLeases
    reviewer: Actor
    dossiers: list[DossierDetail]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with running_registry(tmp_path / "registry") as (registry, url):
        port = urlsplit(url).port
        assert port is not None
        with FaultProxy("127.0.0.1", port, seed=3) as proxy:
            intake = make_desk(tmp_path / "intake", "JN-01")
            intake_agent = agent_for(intake, registry, url)
            clerk = intake.users.actor("clerk1")
            dossiers = [submitted(intake, clerk) for _ in range(4)]
            intake_agent.sync_once()

            token = registry.add_station("JN-REV", "审核")
            provision(registry, "rev1")
            review = open_desk(
                load_settings(
                    data_dir=tmp_path / "review",
                    admin_password=PASSWORD,
                    station_id="JN-REV",
                    registry_url=proxy.url,
                    registry_token=token,
                    review_queue_size=4,
                )
            )
            people = RegistryPeople(url=proxy.url, token=token, timeout=5)
            source = RegistryLeases(review.blobs, people, url=proxy.url, token=token, timeout=5)
            review.users.attach_directory(people)
            review.review.attach_registry(source)
            review_agent = SyncAgent(
                review.db, review.blobs, station_id="JN-REV", url=proxy.url, token=token, timeout=5
            )
            try:
                yield World(
                    registry,
                    url,
                    proxy,
                    intake,
                    intake_agent,
                    review,
                    review_agent,
                    source,
                    log_in(review, "rev1"),
                    dossiers,
                )
            finally:
                source.close()
                people.close()
                review_agent.stop()
                intake_agent.stop()
                review.close()
                intake.close()


def registry_leases(w: World) -> dict[str, tuple[str, int, str]]:
    """Live leases at the registry: lease id → (dossier number, fence, reviewer)."""
    from workstation.store.models import User

    with w.registry.db.read() as s:
        rows = s.execute(
            select(Assignment.lease_id, Dossier.number, Assignment.fence, User.username)
            .join(Dossier, Dossier.id == Assignment.dossier_id)
            .join(User, User.id == Assignment.reviewer_id)
            .where(Assignment.state == "active", Assignment.expires_at > utcnow())
        ).all()
    return {lease_id: (number, fence, who) for lease_id, number, fence, who in rows}


def registry_dossier(w: World, number: str) -> Dossier:
    with w.registry.db.read() as s:
        return s.execute(select(Dossier).where(Dossier.number == number)).scalar_one()


def test_leases_come_with_every_page_and_are_decided_offline_then_reach_the_registry_once(world: World) -> None:
    w = world
    queue = w.review.review.fill_queue(w.reviewer, 3)

    # K dossiers leased at the registry, in R15 order, the same lease ids and fences on both sides.
    assert len(queue) == 3
    held = registry_leases(w)
    assert {x.lease_id: (x.number, x.fence, "rev1") for x in queue} == held
    assert [x.number for x in queue] == [d.number for d in w.dossiers[:3]]

    # Each dossier is whole on the review desk: parties, slots, fields, and every page's bytes, verified.
    for lease in queue:
        mine = w.review.dossiers.show(lease.number)
        theirs = w.intake.dossiers.show(lease.number)
        assert [(p.role, p.name) for p in mine.parties] == [(p.role, p.name) for p in theirs.parties]
        assert [(s.material, s.satisfied) for s in mine.slots] == [(s.material, s.satisfied) for s in theirs.slots]
        with w.review.db.read() as s:
            shas = list(s.execute(select(Page.sha256).where(Page.dossier_id == lease.dossier_id)).scalars())
        assert shas and all(w.review.blobs.read(sha) == w.intake.blobs.read(sha) for sha in shas)
        assert w.review.review.show_state(lease.number) == ("REVIEW", "in_review")
    assert w.source.pages_fetched == sum(len(w.intake.dossiers.show(x.number).pages) for x in queue)

    # The network drops: the pool cannot be reached, the local queue is decided all the same.
    w.proxy.partitioned = True
    with pytest.raises(Offline, match="registry unreachable"):
        w.review.review.claim_next(w.reviewer)
    with pytest.raises(Offline):
        w.review.review.pool_counts()
    beat = w.review.review.heartbeat(w.reviewer)
    assert beat.offline and beat.lost == () and beat.renewed == ()
    assert len(w.review.review.queue(w.reviewer)) == 3  # leases stand as they were

    approve, ret, reject = queue
    w.review.review.decide(w.reviewer, approve.number, "approve", lease_id=approve.lease_id, fence=approve.fence)
    items = [ReturnItem(problem="missing", material="M01", note="申请书缺签字")]
    w.review.review.decide(w.reviewer, ret.number, "return", lease_id=ret.lease_id, fence=ret.fence, items=items)
    reason = next(iter(w.review.review.rules.reject_reasons))
    w.review.review.decide(
        w.reviewer, reject.number, "reject", lease_id=reject.lease_id, fence=reject.fence, reason_code=reason
    )
    with w.review.db.read() as s:
        ops = list(s.execute(select(OutboxOp).where(OutboxOp.state == "pending").order_by(OutboxOp.seq)).scalars())
    assert [(op.kind, op.entity_id, op.payload["fence"], op.actor) for op in ops] == [
        ("review.decision", x.dossier_id, x.fence, "rev1") for x in queue
    ]
    assert w.review.review.queue(w.reviewer) == []

    # Back online, the first push's answers are lost on the way back: the desk sends again, nothing twice.
    w.proxy.partitioned = False
    w.proxy.drop_response = 1.0
    with pytest.raises(Exception, match="unreachable"):
        w.review_agent.sync_once()
    w.proxy.drop_response = 0.0
    w.review_agent.sync_once()

    states = {x.number: (registry_dossier(w, x.number).stage, registry_dossier(w, x.number).status) for x in queue}
    assert states[approve.number][0] != "REVIEW"
    assert states[ret.number][1] == "returned"
    assert states[reject.number][1] == "rejected"
    with w.registry.db.read() as s:
        decisions = s.execute(select(Decision.op_id, Decision.fence, Decision.outcome, Decision.kind)).all()
    assert sorted((fence, outcome, kind) for _op, fence, outcome, kind in decisions) == sorted(
        [(approve.fence, "applied", "approve"), (ret.fence, "applied", "return"), (reject.fence, "applied", "reject")]
    )
    with w.review.db.read() as s:
        local_ops = {d.op_id for d in s.execute(select(Decision)).scalars()}
        sent = s.execute(select(func.count()).where(OutboxOp.state == "sent")).scalar_one()
    assert {op for op, *_ in decisions} == local_ops and sent == 3
    assert registry_leases(w) == {}
    status = sync_status(w.review.db, w.proxy.url)
    assert (status.outbox_depth, status.conflicts) == (0, [])
    # The 补正 list reached the registry whole.
    returned = w.registry.review.decisions(ret.number)[-1]
    assert [i["material"] for i in returned.items] == ["M01"]


def test_a_lease_taken_over_while_the_desk_was_offline_makes_its_decision_a_recorded_conflict(world: World) -> None:
    w = world
    lease = w.review.review.claim_next(w.reviewer)
    assert lease is not None
    w.proxy.partitioned = True
    # At the registry the lease runs out and another desk's reviewer takes the dossier.
    past = utcnow() - timedelta(minutes=1)
    with w.registry.db.transaction() as s:
        s.execute(update(Assignment).where(Assignment.lease_id == lease.lease_id).values(expires_at=past))
        s.execute(update(Dossier).where(Dossier.id == lease.dossier_id).values(lease_expires_at=past))
    provision(w.registry, "rev2")
    other = station(w.registry, w.url, "JN-REV2")
    assert other.login("rev2").status_code == 200
    taken = other.claim().json()["lease"]
    assert (taken["number"], taken["fence"]) == (lease.number, lease.fence + 1)

    # Offline, the desk still holds its lease and decides; the decision is sent when the network returns.
    w.review.review.decide(w.reviewer, lease.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    w.proxy.partitioned = False
    w.review_agent.sync_once()

    # Refused by its fence and recorded on both sides; the registry's dossier is as the other reviewer holds it.
    [conflict] = sync_status(w.review.db, w.proxy.url).conflicts
    assert conflict["reason"].startswith("stale_fence")
    assert [c["code"] for c in w.registry.conflicts()] == ["stale_fence"]
    held = registry_dossier(w, lease.number)
    assert (held.stage, held.status, held.fence) == ("REVIEW", "in_review", lease.fence + 1)
    # The desk's copy no longer says approved: it is as the registry holds it.
    assert w.review.review.show_state(lease.number) == ("REVIEW", "in_review")
    other.close()


def test_a_lease_lost_at_the_registry_leaves_the_local_queue_at_the_next_heartbeat(world: World) -> None:
    w = world
    first, second = w.review.review.fill_queue(w.reviewer, 2)
    with w.registry.db.transaction() as s:  # withdrawn, or taken over: the registry ends the lease
        s.execute(update(Assignment).where(Assignment.lease_id == first.lease_id).values(state="ended"))
    beat = w.review.review.heartbeat(w.reviewer)
    assert [x.lease_id for x in beat.renewed] == [second.lease_id]
    assert [lease_id for lease_id, _why in beat.lost] == [first.lease_id]
    assert [x.lease_id for x in w.review.review.queue(w.reviewer)] == [second.lease_id]
    with pytest.raises(ConflictError):  # deciding it now is refused here already, and recorded
        w.review.review.decide(w.reviewer, first.number, "approve", lease_id=first.lease_id, fence=first.fence)


def test_a_claim_whose_answer_was_lost_is_handed_back_by_the_next_claim_not_stranded(world: World) -> None:
    w = world
    w.proxy.drop_response = 1.0
    with pytest.raises(Offline):
        w.review.review.claim_next(w.reviewer)
    assert len(registry_leases(w)) == 1  # the registry leased it; the desk never heard
    w.proxy.drop_response = 0.0
    lease = w.review.review.claim_next(w.reviewer)
    assert lease is not None
    assert set(registry_leases(w)) == {lease.lease_id}  # the same lease, not a second one
    again = w.review.review.claim_next(w.reviewer)
    assert again is not None and again.number != lease.number and len(registry_leases(w)) == 2


def test_a_dossier_whose_page_cannot_be_fetched_is_given_back_and_nothing_of_it_kept(world: World) -> None:
    w = world
    d = w.dossiers[0]
    with w.registry.db.read() as s:
        sha = s.execute(select(Page.sha256).where(Page.dossier_id == d.id).limit(1)).scalar_one()
    w.registry.blobs.path_for(sha).write_bytes(b"not the page that was scanned")  # damaged at the registry
    with pytest.raises(UsageError, match=f"{d.number} could not be fetched whole.*given back"):
        w.review.review.claim_next(w.reviewer)
    assert registry_leases(w) == {}
    assert not w.review.blobs.exists(sha)
    with w.review.db.read() as s:
        assert s.get(Dossier, d.id) is None
    assert w.review.review.queue(w.reviewer) == []


def test_release_gives_the_lease_back_at_the_registry_and_the_pool_counts_it_again(world: World) -> None:
    w = world
    before = w.review.review.pool_counts()
    lease = w.review.review.claim_next(w.reviewer)
    assert lease is not None
    assert sum(w.review.review.pool_counts().values()) == sum(before.values()) - 1
    w.review.review.release(w.reviewer, lease.lease_id)
    assert registry_leases(w) == {} and w.review.review.queue(w.reviewer) == []
    assert w.review.review.pool_counts() == before
    w.proxy.partitioned = True
    again = w.review.review.queue(w.reviewer)
    assert again == []


def test_a_person_logs_in_at_the_registry_and_offline_on_the_verifier_kept_from_then(world: World) -> None:
    w = world
    lease = w.review.review.claim_next(w.reviewer)
    assert lease is not None
    w.proxy.partitioned = True
    # The registry cannot be reached: rev1, who logged in here before, logs in again and decides what they hold.
    again = w.review.users.authenticate("rev1", PERSON_PASSWORD)
    assert again.username == "rev1" and again.can_review_online
    with pytest.raises(AuthError, match="wrong user name or password"):
        w.review.users.authenticate("rev1", "not-the-password")
    provision(w.registry, "rev9")
    with pytest.raises(AuthError, match="never logged in at this desk"):
        w.review.users.authenticate("rev9", PERSON_PASSWORD)
    w.review.review.decide(again, lease.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    w.proxy.partitioned = False
    w.review_agent.sync_once()
    assert registry_dossier(w, lease.number).stage == "REGISTER"
    # Online again, the registry decides: a wrong password is refused there, a disabled person cannot log in.
    with pytest.raises(AuthError, match="wrong user name or password"):
        w.review.users.authenticate("rev1", "not-the-password")
    w.registry.people.disable("registry-admin", "rev1")
    with pytest.raises(AuthError, match="disabled"):
        w.review.users.authenticate("rev1", PERSON_PASSWORD)
    # And the desk cannot make a reviewer of its own.
    with pytest.raises(UsageError, match="provisioned at the registry"):
        w.review.users.add(w.review.users.actor("admin"), username="rev8", password="x" * 8, roles=["reviewer"])
