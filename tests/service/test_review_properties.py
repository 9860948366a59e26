"""Properties of the review pool against the real service on SQLite (R14–R16, leases).

Random pools, random reviewers (online only, offline only, both grants) and random interleavings of claim,
decide, release, heartbeat and lease expiry (expiry rows moved into the past in the database):

(a) no dossier is ever leased to two reviewers at once, by the database and by a model of who holds what;
(b) every claim returns exactly the dossier the pure rule `pick_next` picks from the pool as it was just before
    the claim (a PoolItem per dossier at REVIEW waiting or in review; leased = it has a live lease).

Each example gets its own database file, a copy of one migrated once.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import event as sa_event
from sqlalchemy import select, update

from bench.queue import add_reviewers, seed_pool
from workstation.domain.assignment import PoolItem, pick_next
from workstation.domain.catalogue import load_catalogue
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor, can_review
from workstation.domain.qc import default_qc_policy
from workstation.domain.review import ReturnItem
from workstation.errors import ConflictError, UsageError
from workstation.services.review import ReviewService
from workstation.store import migrate
from workstation.store.db import Database
from workstation.store.models import Assignment, Decision, Dossier
from workstation.store.types import utcnow

STATION = "prop"
QUEUE_SIZE = 3
GRANTS = {"online": (True, False), "offline": (False, True), "both": (True, True)}
CATALOGUE = load_catalogue()
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

pool_rows = st.lists(
    st.tuples(
        st.sampled_from(["enterprise", "individual"]),
        st.booleans(),  # digitised
        st.integers(0, 3),  # minutes after T0: ties are common, so the id decides them
    ),
    min_size=2,
    max_size=12,
)


@dataclass
class Held:
    """The model's view of one lease."""

    lease_id: str
    dossier_id: str
    number: str
    fence: int
    reviewer: int
    state: str  # live | lapsed (expired, the row still active) | ended (decided, released, taken over)


@cache
def _template() -> Path:
    """A migrated, empty database, made once per test session; each example starts from a copy."""
    folder = Path(tempfile.mkdtemp(prefix="ws-review-prop-template-"))
    atexit.register(shutil.rmtree, folder, True)
    db = Database(f"sqlite:///{folder / 'template.db'}")
    migrate.upgrade(db.engine)
    db.dispose()
    return folder / "template.db"


class ReviewPool(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ws-review-prop-"))
        shutil.copyfile(_template(), self.dir / "ws.db")
        self.db = Database(f"sqlite:///{self.dir / 'ws.db'}")
        # Durability is not under test here: without an fsync per commit, examples (and shrinking) run fast.
        sa_event.listen(self.db.engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=OFF"))
        self.service = ReviewService(
            self.db, CATALOGUE, station_id=STATION, qc_policy=default_qc_policy(), queue_size=QUEUE_SIZE
        )
        self.reviewers: list[Actor] = []
        self.leases: list[Held] = []

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- setting up ----------------------------------------------------------------------------------------

    @initialize(
        pool=pool_rows,
        grants=st.lists(st.sampled_from(sorted(GRANTS)), min_size=1, max_size=4),
    )
    def setup(self, pool: list[tuple[str, bool, int]], grants: list[str]) -> None:
        # seed_pool's own mix is overwritten below by the drawn one; its numbers, station and clerk are kept.
        numbers = seed_pool(self.db, len(pool), station_id=STATION, seed=0, catalogue=CATALOGUE)
        with self.db.transaction() as session:
            for number, (kind, digitized, minutes) in zip(numbers, pool, strict=True):
                session.execute(
                    update(Dossier)
                    .where(Dossier.number == number)
                    .values(applicant_kind=kind, digitized=digitized, applied_at=T0 + timedelta(minutes=minutes))
                )
        for i, grant in enumerate(grants):
            online, offline = GRANTS[grant]
            self.reviewers += add_reviewers(
                self.db, 1, station_id=STATION, prefix=f"r{i}-{grant}", online=online, offline=offline
            )

    # -- helpers -------------------------------------------------------------------------------------------

    def snapshot(self) -> list[PoolItem]:
        """The pool as `pick_next` sees it, from the rows; leased = an active assignment not yet expired."""
        now = utcnow()
        with self.db.read() as session:
            dossiers = session.execute(
                select(Dossier).where(Dossier.stage == "REVIEW", Dossier.status.in_(("submitted", "in_review")))
            ).scalars()
            live = set(
                session.execute(
                    select(Assignment.dossier_id).where(Assignment.state == "active", Assignment.expires_at > now)
                ).scalars()
            )
            return [PoolItem(d.id, d.applicant_kind, d.applied_at, d.digitized, d.id in live) for d in dossiers]

    def held_by(self, reviewer: int) -> list[Held]:
        return [h for h in self.leases if h.reviewer == reviewer and h.state == "live"]

    def dossier_row(self, dossier_id: str) -> tuple[object, ...]:
        with self.db.read() as session:
            d = session.get(Dossier, dossier_id)
            assert d is not None
            return (d.stage, d.status, d.version, d.fence, d.lease_expires_at)

    # -- steps ---------------------------------------------------------------------------------------------

    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        who = data.draw(st.integers(0, len(self.reviewers) - 1), label="reviewer")
        actor = self.reviewers[who]
        expected = pick_next(self.snapshot(), actor)
        if len(self.held_by(who)) >= QUEUE_SIZE:
            with pytest.raises(UsageError, match="already holds"):
                self.service.claim_next(actor)
            event("claim: queue full")
            return
        lease = self.service.claim_next(actor)
        assert (lease.dossier_id if lease else None) == (expected.dossier_id if expected else None)
        if lease is None:
            event("claim: nothing eligible")
            return
        event("claim: leased (taking over a lapsed lease)" if lease.fence > 1 else "claim: leased")
        assert can_review(actor, lease.digitized)
        before = [h for h in self.leases if h.dossier_id == lease.dossier_id]
        assert not [h for h in before if h.state == "live"], "claimed a dossier someone holds"
        assert lease.fence == len(before) + 1
        for h in before:
            if h.state == "lapsed":
                h.state = "ended"  # taken over: its row is now 'expired'
        self.leases.append(Held(lease.lease_id, lease.dossier_id, lease.number, lease.fence, who, "live"))

    @rule(data=st.data(), kind=st.sampled_from(["approve", "return", "reject"]), by_other=st.booleans())
    def decide(self, data: st.DataObject, kind: str, by_other: bool) -> None:
        if not self.leases:
            return
        held = data.draw(st.sampled_from(self.leases), label="lease")
        who = data.draw(st.integers(0, len(self.reviewers) - 1), label="sender") if by_other else held.reviewer
        actor = self.reviewers[who]
        extra: dict[str, Any] = {}
        if kind == "return":
            extra["items"] = [ReturnItem(problem="missing", material="M01")]
        elif kind == "reject":
            extra["reason_code"] = "dispute"
        before = self.dossier_row(held.dossier_id)
        with self.db.read() as session:
            digitized = session.execute(select(Dossier.digitized).where(Dossier.id == held.dossier_id)).scalar_one()
        if not can_review(actor, digitized):
            with pytest.raises(PermissionDenied):
                self.service.decide(actor, held.number, kind, lease_id=held.lease_id, fence=held.fence, **extra)
            assert self.dossier_row(held.dossier_id) == before
            event("decide: refused, no grant")
            return
        if held.state == "live" and who == held.reviewer:
            view = self.service.decide(actor, held.number, kind, lease_id=held.lease_id, fence=held.fence, **extra)
            assert view.outcome == "applied"
            held.state = "ended"
            event("decide: applied")
            return
        with pytest.raises(ConflictError) as refused:
            self.service.decide(actor, held.number, kind, lease_id=held.lease_id, fence=held.fence, **extra)
        record = refused.value.record
        with self.db.read() as session:
            stored = session.get(Decision, getattr(record, "id", ""))
            assert stored is not None and stored.outcome == "conflict" and stored.conflict
        assert self.dossier_row(held.dossier_id) == before
        event(f"decide: conflict ({held.state} lease{', other reviewer' if who != held.reviewer else ''})")

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if not self.leases:
            return
        held = data.draw(st.sampled_from(self.leases), label="lease")
        actor = self.reviewers[held.reviewer]
        if held.state == "live":
            self.service.release(actor, held.lease_id)
            held.state = "ended"
        else:
            with pytest.raises(UsageError, match="no longer live"):
                self.service.release(actor, held.lease_id)

    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        who = data.draw(st.integers(0, len(self.reviewers) - 1), label="reviewer")
        beat = self.service.heartbeat(self.reviewers[who])
        assert sorted(v.lease_id for v in beat.renewed) == sorted(h.lease_id for h in self.held_by(who))
        lapsed = [h.lease_id for h in self.leases if h.reviewer == who and h.state == "lapsed"]
        assert sorted(lease_id for lease_id, _ in beat.lost) == sorted(lapsed)

    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        """The lease runs out: its expiry (and the dossier's mirror of it) moved an hour into the past."""
        live = [h for h in self.leases if h.state == "live"]
        if not live:
            return
        held = data.draw(st.sampled_from(live), label="live lease")
        past = utcnow() - timedelta(hours=1)
        with self.db.transaction() as session:
            session.execute(update(Assignment).where(Assignment.lease_id == held.lease_id).values(expires_at=past))
            session.execute(update(Dossier).where(Dossier.id == held.dossier_id).values(lease_expires_at=past))
        held.state = "lapsed"

    # -- what must always hold -----------------------------------------------------------------------------

    @invariant()
    def one_holder_at_most(self) -> None:
        now = utcnow()
        with self.db.read() as session:
            active = session.execute(
                select(Assignment.lease_id, Assignment.dossier_id, Assignment.expires_at).where(
                    Assignment.state == "active"
                )
            ).all()
            mirrors = {
                d.id: (d.status, d.lease_expires_at)
                for d in session.execute(select(Dossier).where(Dossier.lease_expires_at.is_not(None))).scalars()
            }
        dossiers = [dossier_id for _, dossier_id, _ in active]
        assert len(dossiers) == len(set(dossiers)), "two active leases on one dossier"
        live = {lease_id for lease_id, _, expires_at in active if expires_at > now}
        assert live == {h.lease_id for h in self.leases if h.state == "live"}
        model_live = [h.dossier_id for h in self.leases if h.state == "live"]
        assert len(model_live) == len(set(model_live)), "the model has a dossier leased twice"
        for _, dossier_id, expires_at in active:  # the dossier's mirror of its lease agrees with the lease
            assert mirrors.get(dossier_id) == ("in_review", expires_at)
        assert set(mirrors) == set(dossiers)


TestReviewPool = ReviewPool.TestCase
TestReviewPool.settings = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
