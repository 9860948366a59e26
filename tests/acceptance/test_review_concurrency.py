"""Acceptance: many reviewers claiming from one pool at once, on SQLite and PostgreSQL (R13–R16, leases, fences).

50 reviewer threads share the pool until it is empty. Every dossier must be decided exactly once, no dossier held
by two reviewers at once (checked from the threads' own timings and from the assignments table), no applied
decision lost, and decisions sent under a lease that is no longer live refused, recorded and without effect.

The pool is 1,000 dossiers in `make test` (each of the 50 threads claims and decides about twenty, its re-sends
included, so every property below is exercised under the same contention) and the full 5,000 under the `soak`
marker, which CI runs once (PostgreSQL 75–135 s, SQLite about 65 s on a 2-core machine). SQLite's writers queue one
at a time on the process's writer lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.queue import add_reviewers, seed_pool
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.errors import ConflictError
from workstation.services.desk import Desk, qc_policy_of
from workstation.services.review import DecisionView, LeaseView, ReviewService
from workstation.store.db import Database
from workstation.store.models import Assignment, AuditEvent, Decision, Dossier

THREADS = 50
RESEND_EVERY = 10  # a re-sending thread re-sends every tenth decision it made, with a stale or ended lease
RESENDING_THREADS = range(0, THREADS, 5)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Hold:
    """One lease as its reviewer saw it; perf_counter times, so the threads' intervals compare."""

    dossier_id: str
    number: str
    lease_id: str
    fence: int
    reviewer: str
    claim_start: float
    claim_end: float  # the lease existed from some time in [claim_start, claim_end] …
    decide_start: float
    decide_end: float  # … until some time in [decide_start, decide_end] (or its expiry)
    decision: DecisionView | None
    conflict: DecisionView | None = None


@dataclass(frozen=True)
class Resend:
    number: str
    dossier_id: str
    fence_sent: int
    lease_id: str
    stale: bool  # fence one less than the lease's; else the lease's own fence, after the lease ended
    before: tuple[Any, ...]
    after: tuple[Any, ...]
    record: object


@dataclass
class Worker:
    holds: list[Hold] = field(default_factory=list)
    resends: list[Resend] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _state(db: Database, dossier_id: str) -> tuple[Any, ...]:
    with db.read() as session:
        row = session.execute(
            select(
                Dossier.stage,
                Dossier.status,
                Dossier.version,
                Dossier.fence,
                Dossier.lease_expires_at,
                Dossier.updated_at,
            ).where(Dossier.id == dossier_id)
        ).one()
        return tuple(row)


def _decision(rnd: random.Random) -> tuple[str, dict[str, Any]]:
    draw = rnd.random()
    if draw < 0.07:
        return "return", {"items": [ReturnItem(problem="missing", material="M01")]}
    if draw < 0.10:
        return "reject", {"reason_code": "dispute"}
    return "approve", {}


def _run_threads(workers: list[Worker], body: Callable[[int, Worker, threading.Barrier], None]) -> float:
    start = threading.Barrier(len(workers) + 1)

    def guarded(i: int, worker: Worker) -> None:
        try:
            body(i, worker, start)
        except BaseException as exc:  # reported by the test, never lost in a thread
            worker.errors.append(f"thread {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=guarded, args=(i, w), daemon=True) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    start.wait(timeout=60)
    t0 = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
        assert not thread.is_alive(), "a reviewer thread did not finish in 10 minutes"
    return time.perf_counter() - t0


def _assert_no_overlap(holds: list[Hold]) -> None:
    """Per dossier: leases in fence order, each surely over before the next surely began; fences increase."""
    by_dossier: dict[str, list[Hold]] = defaultdict(list)
    for hold in holds:
        by_dossier[hold.dossier_id].append(hold)
    for dossier_id, leases in by_dossier.items():
        leases.sort(key=lambda h: h.claim_end)
        fences = [h.fence for h in leases]
        assert fences == sorted(set(fences)), f"{dossier_id}: fences {fences} do not strictly increase"
        for a, b in pairwise(leases):
            # a surely held [a.claim_end, a.decide_start]; b surely held [b.claim_end, b.decide_start].
            assert not (b.claim_end < a.decide_start and a.claim_end < b.decide_start), (
                f"{dossier_id}: held by {a.reviewer} (fence {a.fence}) and {b.reviewer} (fence {b.fence}) at once"
            )


def _assert_db_leases_disjoint(db: Database) -> None:
    """From the assignments table: never two active per dossier; lease lives disjoint and in fence order."""
    with db.read() as session:
        doubled = session.execute(
            select(Assignment.dossier_id)
            .where(Assignment.state == "active")
            .group_by(Assignment.dossier_id)
            .having(func.count() > 1)
        ).all()
        assert doubled == []
        rows = session.execute(
            select(
                Assignment.dossier_id,
                Assignment.fence,
                Assignment.claimed_at,
                Assignment.expires_at,
                Assignment.ended_at,
            ).order_by(Assignment.dossier_id, Assignment.claimed_at)
        ).all()
    last: dict[str, tuple[int, datetime]] = {}
    for dossier_id, fence, claimed_at, expires_at, ended_at in rows:
        live_until = min(expires_at, ended_at) if ended_at is not None else expires_at
        if dossier_id in last:
            prev_fence, prev_until = last[dossier_id]
            assert fence > prev_fence, f"{dossier_id}: fence {fence} after {prev_fence}"
            assert claimed_at >= prev_until, f"{dossier_id}: lease {fence} began before lease {prev_fence} ended"
        last[dossier_id] = (fence, live_until)


def _watch_active_leases(url: str, done: threading.Event, samples: list[str]) -> None:
    """While the reviewers work: never two active leases on a dossier, never two held by one reviewer at once.

    Its own engine: the desk's pool (50 connections on PostgreSQL) is all in use by the 50 reviewers.
    """
    db = Database(url)
    try:
        while not done.wait(0.2):
            with db.read() as session:
                rows = session.execute(
                    select(Assignment.dossier_id, Assignment.reviewer_id).where(Assignment.state == "active")
                ).all()
            dossiers = [d for d, _ in rows]
            reviewers = [r for _, r in rows]
            if len(set(dossiers)) != len(dossiers):
                samples.append(f"a dossier with two active leases among {len(rows)}")
            elif len(set(reviewers)) != len(reviewers):
                samples.append(f"a reviewer holding two leases at once among {len(rows)}")
            else:
                samples.append("ok")
    except Exception as exc:
        samples.append(f"the watcher failed: {type(exc).__name__}: {exc}")
    finally:
        db.dispose()


def _applied_by_dossier(db: Database) -> dict[str, list[str]]:
    with db.read() as session:
        rows = session.execute(select(Decision.dossier_id, Decision.id).where(Decision.outcome == "applied")).all()
    out: dict[str, list[str]] = defaultdict(list)
    for dossier_id, decision_id in rows:
        out[dossier_id].append(decision_id)
    return out


@pytest.mark.parametrize("total", [1000, pytest.param(5000, marks=pytest.mark.soak)])
def test_fifty_reviewers_drain_the_pool_each_dossier_decided_once(desk: Desk, total: int) -> None:
    db, service = desk.db, desk.review
    t_seed = time.perf_counter()
    numbers = seed_pool(db, total, station_id=desk.settings.station_id, seed=20261125, catalogue=desk.catalogue)
    seed_seconds = time.perf_counter() - t_seed
    actors = add_reviewers(db, THREADS, station_id=desk.settings.station_id)
    with db.read() as session:
        ids = {number: id_ for number, id_ in session.execute(select(Dossier.number, Dossier.id))}
    seeded = {ids[n] for n in numbers}
    assert len(seeded) == total
    workers = [Worker() for _ in actors]

    def review(i: int, worker: Worker, start: threading.Barrier) -> None:
        actor, rnd = actors[i], random.Random(i)
        start.wait()
        while True:
            t0 = time.perf_counter()
            lease = service.claim_next(actor)
            t1 = time.perf_counter()
            if lease is None:
                return
            kind, extra = _decision(rnd)
            t2 = time.perf_counter()
            view = service.decide(actor, lease.number, kind, lease_id=lease.lease_id, fence=lease.fence, **extra)
            t3 = time.perf_counter()
            worker.holds.append(
                Hold(lease.dossier_id, lease.number, lease.lease_id, lease.fence, actor.username, t0, t1, t2, t3, view)
            )
            if i in RESENDING_THREADS and len(worker.holds) % RESEND_EVERY == 0:
                _resend(db, service, actor, lease, worker, stale=len(worker.holds) % (2 * RESEND_EVERY) == 0)

    samples: list[str] = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch_active_leases, args=(db.url, done, samples), daemon=True)
    watcher.start()
    try:
        wall = _run_threads(workers, review)
    finally:
        done.set()
        watcher.join(timeout=30)
    errors = [e for w in workers for e in w.errors]
    assert errors == []
    assert samples and all(s == "ok" for s in samples), [s for s in samples if s != "ok"][:5]
    holds = [h for w in workers for h in w.holds]
    resends = [r for w in workers for r in w.resends]
    print(
        f"\n{db.dialect}: {THREADS} reviewers drained {total} dossiers in {wall:.1f} s "
        f"({len(holds) / wall:.0f} claims/s; seeded in {seed_seconds:.2f} s); {len(resends)} stale re-sends refused"
    )

    # Every dossier claimed and decided exactly once, by the threads' record.
    assert len(holds) == total
    assert sorted(h.dossier_id for h in holds) == sorted(seeded)
    assert all(h.decision is not None and h.decision.outcome == "applied" for h in holds)
    assert all(h.fence == 1 for h in holds)  # nobody's lease ran out, so nothing was leased twice
    _assert_no_overlap(holds)

    # … and by the database: exactly one applied decision per dossier, and each thread's are all there.
    applied = _applied_by_dossier(db)
    assert set(applied) == seeded
    assert all(len(v) == 1 for v in applied.values())
    assert sum(len(v) for v in applied.values()) == total
    assert {h.decision.id for h in holds if h.decision} == {d for v in applied.values() for d in v}
    _assert_db_leases_disjoint(db)
    with db.read() as session:
        assert session.execute(select(func.count()).where(Assignment.state == "active")).scalar_one() == 0
        left = session.execute(
            select(func.count()).where(Dossier.stage == "REVIEW", Dossier.status.in_(("submitted", "in_review")))
        ).scalar_one()
        assert left == 0
        finals = {
            i: f"{stage}/{status}"
            for i, stage, status in session.execute(select(Dossier.id, Dossier.stage, Dossier.status))
        }
        claims = session.execute(select(func.count()).where(AuditEvent.action == "review.claim")).scalar_one()
        conflicts_logged = session.execute(
            select(func.count()).where(AuditEvent.action == "review.conflict")
        ).scalar_one()
    expected_final = {"approve": "REGISTER/submitted", "return": "REVIEW/returned", "reject": "REVIEW/rejected"}
    for hold in holds:
        assert hold.decision is not None
        assert finals[hold.dossier_id] == expected_final[hold.decision.kind]
    assert claims == total

    # Stale re-sends: refused with ConflictError, recorded as a conflict decision, the dossier untouched.
    assert len(resends) >= len(RESENDING_THREADS)
    _assert_resends_refused(db, resends)
    assert conflicts_logged == len(resends)

    report = desk.verify_audit()
    assert report.ok, report.problem


def _resend(
    db: Database, service: ReviewService, actor: Actor, lease: LeaseView, worker: Worker, *, stale: bool
) -> None:
    """Send the decision again under the lease just used up: with its own (ended) fence, or one less."""
    fence = lease.fence - 1 if stale else lease.fence
    before = _state(db, lease.dossier_id)
    try:
        service.decide(actor, lease.number, "approve", lease_id=lease.lease_id, fence=fence)
    except ConflictError as exc:
        record: object = exc.record
    else:
        record = None  # applied: the test fails on it below
    worker.resends.append(
        Resend(
            lease.number, lease.dossier_id, fence, lease.lease_id, stale, before, _state(db, lease.dossier_id), record
        )
    )


def _assert_resends_refused(db: Database, resends: list[Resend]) -> None:
    with db.read() as session:
        rows = {d.id: d for d in session.execute(select(Decision).where(Decision.outcome == "conflict")).scalars()}
    assert len(rows) == len(resends)
    for resend in resends:
        assert isinstance(resend.record, DecisionView), f"{resend.number}: a stale decision was not refused"
        assert resend.record.outcome == "conflict" and resend.record.conflict
        assert ("is stale" if resend.stale else "has ended") in resend.record.conflict
        stored = rows[resend.record.id]
        assert (stored.dossier_id, stored.fence, stored.lease_id) == (
            resend.dossier_id,
            resend.fence_sent,
            resend.lease_id,
        )
        assert stored.stage_after is None and stored.status_after is None
        assert resend.after == resend.before, f"{resend.number}: a refused decision changed the dossier"


# -- short leases: decisions after the lease ran out ---------------------------------------------------------


def test_decisions_after_a_short_lease_ran_out_are_refused_and_recorded(desk: Desk) -> None:
    db = desk.db
    station = desk.settings.station_id
    policy = qc_policy_of(desk.settings)
    short = ReviewService(db, desk.catalogue, station_id=station, qc_policy=policy, lease_seconds=0.05)
    long = desk.review
    total = 400 if db.dialect == "postgresql" else 200
    seed_pool(db, total, station_id=station, seed=7, catalogue=desk.catalogue)
    actors = add_reviewers(db, 20, station_id=station, prefix="short-rev")

    # One by one first: expired (nobody else took it), then stale (someone else took it since).
    a, b = actors[0], actors[1]
    first = short.claim_next(a)
    assert first is not None
    time.sleep(0.12)
    before = _state(db, first.dossier_id)
    with pytest.raises(ConflictError, match="expired") as expired:
        long.decide(a, first.number, "approve", lease_id=first.lease_id, fence=first.fence)
    assert _state(db, first.dossier_id) == before
    again = long.claim_next(b)
    assert again is not None
    assert (again.dossier_id, again.fence) == (first.dossier_id, first.fence + 1)  # first in the pool again
    before = _state(db, first.dossier_id)
    with pytest.raises(ConflictError, match="stale") as stale:
        long.decide(a, first.number, "approve", lease_id=first.lease_id, fence=first.fence)
    assert _state(db, first.dossier_id) == before
    assert long.decide(b, again.number, "approve", lease_id=again.lease_id, fence=again.fence).outcome == "applied"
    with db.read() as session:
        refused = {
            d.id: d for d in session.execute(select(Decision).where(Decision.dossier_id == first.dossier_id)).scalars()
        }
    for exc in (expired, stale):
        record = exc.value.record
        assert isinstance(record, DecisionView)
        assert refused[record.id].outcome == "conflict" and refused[record.id].fence == first.fence

    # Then 20 threads at once; a fifth of the claims go stale on purpose (short lease, then too slow).
    workers = [Worker() for _ in actors]

    def review(i: int, worker: Worker, start: threading.Barrier) -> None:
        actor, rnd = actors[i], random.Random(100 + i)
        start.wait()
        while True:
            goes_stale = rnd.random() < 0.2
            t0 = time.perf_counter()
            lease = (short if goes_stale else long).claim_next(actor)
            t1 = time.perf_counter()
            if lease is None:
                return
            if goes_stale:
                time.sleep(0.12)  # more than the 0.05 s lease
            t2 = time.perf_counter()
            try:
                view = long.decide(actor, lease.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
                conflict = None
            except ConflictError as exc:
                assert isinstance(exc.record, DecisionView)
                view, conflict = None, exc.record
            t3 = time.perf_counter()
            hold = Hold(
                lease.dossier_id,
                lease.number,
                lease.lease_id,
                lease.fence,
                actor.username,
                t0,
                t1,
                t2,
                t3,
                view,
                conflict,
            )
            worker.holds.append(hold)
            if goes_stale and view is not None:
                worker.errors.append(f"{lease.number}: decided after its 0.05 s lease ran out")
            if not goes_stale and view is None:
                worker.errors.append(f"{lease.number}: refused under a live 30-minute lease: {conflict}")

    wall = _run_threads(workers, review)
    assert [e for w in workers for e in w.errors] == []
    holds = [h for w in workers for h in w.holds]
    went_stale = [h for h in holds if h.conflict is not None]
    print(f"\n{db.dialect}: short leases: {len(holds)} claims, {len(went_stale)} refused as stale, {wall:.1f} s")
    assert went_stale, "no claim went stale: the test did not test anything"
    # A stale lease's holder stops holding at its expiry, which may come before its decide_start: only the
    # leases that were decided (applied) bound an interval for sure; the fences must still increase.
    _assert_no_overlap([h for h in holds if h.decision is not None])
    by_dossier: dict[str, list[int]] = defaultdict(list)
    for hold in holds:
        by_dossier[hold.dossier_id].append(hold.fence)
    assert all(sorted(f) == sorted(set(f)) for f in by_dossier.values())

    applied = _applied_by_dossier(db)
    assert len(applied) == total and all(len(v) == 1 for v in applied.values())
    _assert_db_leases_disjoint(db)
    with db.read() as session:
        conflicts = {d.id: d for d in session.execute(select(Decision).where(Decision.outcome == "conflict")).scalars()}
        leases_per = {
            i: n
            for i, n in session.execute(select(Assignment.dossier_id, func.count()).group_by(Assignment.dossier_id))
        }
        versions = {i: v for i, v in session.execute(select(Dossier.id, Dossier.version))}
    assert len(conflicts) == len(went_stale) + 2
    for hold in went_stale:
        assert hold.conflict is not None
        stored = conflicts[hold.conflict.id]
        assert (stored.lease_id, stored.fence, stored.outcome) == (hold.lease_id, hold.fence, "conflict")
        assert stored.conflict and ("expired" in stored.conflict or "stale" in stored.conflict)
    # A refused decision leaves no trace on the dossier: its version counts the claims and the one decision only.
    for dossier_id, version in versions.items():
        assert version == 1 + leases_per[dossier_id] + len(applied[dossier_id]), dossier_id
    report = desk.verify_audit()
    assert report.ok, report.problem
