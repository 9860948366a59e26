"""Review at city scale (R13–R16): the pool, leases with fencing, the desk's local queue, decisions, 登簿.

The pool is every dossier at REVIEW that no live lease holds. `claim_next` takes the first eligible one in
R15/R16 order atomically: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent reviewers never
wait on each other's rows; on SQLite the write transaction (BEGIN IMMEDIATE) serialises claims.

Each lease has an expiry, renewed by heartbeat, and a fence: the dossier's lease counter, one more on every
new lease. A decision carries its lease's fence and is applied only while that lease is the dossier's live
one; otherwise it is recorded as a conflict (a Decision row with outcome "conflict", audited) and refused.

Where the pool lives decides the class: `ReviewService` draws from this database's own pool (a desk working
alone, and the registry itself); `RegistryPoolReview` is a desk's view of the registry's pool (leases come with
their pages over the network, decisions go back as fenced ops).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, exists, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from workstation.domain.catalogue import Catalogue
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor, Permission, can_review, require, require_review
from workstation.domain.qc import QcPolicy, must_inspect
from workstation.domain.review import (
    DecisionKind,
    ReturnItem,
    ReviewRules,
    default_review_rules,
    lease_problem,
    validate_reject,
    validate_return,
)
from workstation.domain.stages import Action, DossierState, Stage, Status, apply
from workstation.errors import ConflictError, NotFound, Offline, UsageError
from workstation.services import audit
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.manifest import take_dossier
from workstation.services.mirror import mirror_clock
from workstation.services.register import RegisterBook
from workstation.services.supplement import check_items, open_errors, snapshot_of
from workstation.store.db import Database
from workstation.store.ids import new_id
from workstation.store.models import (
    Assignment,
    ClockPause,
    Decision,
    Dossier,
    Field,
    Finding,
    PersonSession,
    QcCheck,
    RegisterEntry,
    User,
)
from workstation.store.types import utcnow

log = logging.getLogger(__name__)

_POOL_STATUSES = (Status.SUBMITTED.value, Status.IN_REVIEW.value)
REGISTRY_USER = "registry"  # the local author of dossiers that came from the registry with a lease


@dataclass(frozen=True)
class LeaseView:
    lease_id: str
    fence: int
    dossier_id: str
    number: str
    business: str
    applicant_kind: str
    digitized: bool
    applied_at: datetime
    claimed_at: datetime
    expires_at: datetime

    def seconds_left(self, now: datetime | None = None) -> float:
        return max(0.0, (self.expires_at - (now or utcnow())).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "fence": self.fence,
            "dossier_id": self.dossier_id,
            "number": self.number,
            "business": self.business,
            "applicant_kind": self.applicant_kind,
            "digitized": self.digitized,
            "applied_at": self.applied_at.isoformat(),
            "claimed_at": self.claimed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "seconds_left": round(self.seconds_left(), 1),
        }


@dataclass(frozen=True)
class DecisionView:
    id: str
    op_id: str | None
    dossier_id: str
    number: str
    kind: str
    outcome: str  # applied | conflict
    conflict: str | None
    reason_code: str | None
    items: tuple[dict[str, Any], ...]
    note: str
    fence: int | None
    lease_id: str | None
    reviewer: str
    stage_after: str | None
    status_after: str | None
    decided_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op_id": self.op_id,
            "dossier_id": self.dossier_id,
            "number": self.number,
            "kind": self.kind,
            "outcome": self.outcome,
            "conflict": self.conflict,
            "reason_code": self.reason_code,
            "items": list(self.items),
            "note": self.note,
            "fence": self.fence,
            "lease_id": self.lease_id,
            "reviewer": self.reviewer,
            "stage_after": self.stage_after,
            "status_after": self.status_after,
            "decided_at": self.decided_at.isoformat(),
        }


@dataclass(frozen=True)
class Heartbeat:
    renewed: tuple[LeaseView, ...]
    lost: tuple[tuple[str, str], ...] = field(default=())  # (lease id, why)
    offline: str | None = None  # the registry could not be asked: leases stand as they were


@dataclass(frozen=True)
class RegistryLease:
    """A lease the registry granted: its id and fence are the registry's, its expiry the registry's clock."""

    lease_id: str
    fence: int
    dossier_id: str
    number: str
    expires_at: datetime


@dataclass(frozen=True)
class RegistryClaim:
    lease: RegistryLease
    manifest: dict[str, Any]  # every page's blob is in the desk's blob store already
    clock: dict[str, Any] | None = None  # the registry's clock facts (R19) as of the claim


class LeaseSource(Protocol):
    """The registry's pool as a review desk reaches it (`sync/review.py`, over HTTP).

    Every method raises `Offline` when the registry cannot be asked now.
    """

    def claim(self, actor: Actor, held: Sequence[str]) -> RegistryClaim | None:
        """Lease the next dossier for `actor` (or hand back one of theirs the desk does not hold)."""

    def renew(self, actor: Actor, lease_ids: Sequence[str]) -> tuple[list[RegistryLease], list[tuple[str, str]]]:
        """(renewed, lost with why)."""

    def release(self, actor: Actor, lease_id: str) -> None: ...

    def pool_counts(self) -> dict[str, int]: ...


class ReviewService:
    """Review with the pool in this database: a desk working alone (its own registry), and the registry itself.

    What is decided here is decided for good: nothing of it is sent anywhere (`recorder` keeps the audit trail and,
    at the registry, the change feed).
    """

    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        *,
        station_id: str,
        qc_policy: QcPolicy,
        lease_seconds: float = 30 * 60,
        queue_size: int = 3,
        rules: ReviewRules | None = None,
        recorder: Recorder | None = None,
        same_reviewer_seconds: float = 4 * 3600,
        presence_by_login: bool = False,
    ):
        if lease_seconds <= 0:
            raise UsageError("the review lease must last more than 0 seconds")
        if queue_size < 1:
            raise UsageError("a review desk holds at least one dossier (review_queue_size >= 1)")
        self._db = db
        self._catalogue = catalogue
        self._station = station_id
        self._qc = qc_policy
        self.lease = timedelta(seconds=lease_seconds)
        self.queue_size = queue_size
        self.rules = rules or default_review_rules()
        self._recorder = recorder or desk_recorder(station_id)
        # After 补正: how long the returning reviewer is offered the dossier first; "present" means logged in at
        # the registry (`presence_by_login`) or, on a desk alone, an active user.
        self.same_reviewer = timedelta(seconds=max(same_reviewer_seconds, 0))
        self._presence_by_login = presence_by_login
        self._built_searches: dict[tuple[tuple[bool, ...], bool], list[Select[Any]]] = {}
        self.book = RegisterBook(db, allocates=self._allocates)

    _allocates = True  # 登簿 writes the register and allocates certificate numbers in this database

    # -- the pool and leases ---------------------------------------------------------------------------

    def claim_next(self, actor: Actor, *, station_id: str | None = None) -> LeaseView | None:
        """Lease the first dossier the actor may review (R14–R16), or None when the pool has none for them.

        `station_id`: the desk the lease is granted to (the registry leases to the desk the person works at).
        """
        with self._db.transaction() as session:
            claimed = self.claim_in(session, actor, station_id=station_id or self._station)
            return claimed[0] if claimed else None

    def claim_in(
        self,
        session: Session,
        actor: Actor,
        *,
        station_id: str,
        live: Sequence[tuple[Assignment, Dossier]] | None = None,
    ) -> tuple[LeaseView, Dossier] | None:
        """`claim_next` in the caller's transaction, with the dossier leased (as the session holds it); `live`: the
        actor's live leases, when the caller has read them in this transaction already."""
        return self._claim(session, actor, _review_classes(actor), station_id, live)

    def fill_queue(self, actor: Actor, size: int | None = None) -> list[LeaseView]:
        """Claim until the actor holds `size` (default K) live leases; returns the whole local queue."""
        classes = _review_classes(actor)
        want = self.queue_size if size is None else size
        while True:
            with self._db.transaction() as session:
                held = self.live_leases(session, actor.user_id, utcnow())
                if len(held) >= want or self._claim(session, actor, classes, self._station) is None:
                    break
        return self.queue(actor)

    def queue(self, actor: Actor) -> list[LeaseView]:
        """The actor's live leases, oldest claim first."""
        with self._db.read() as session:
            return [lease_view(a, d) for a, d in self.live_leases(session, actor.user_id, utcnow())]

    def lease_of(self, actor: Actor, number: str) -> LeaseView | None:
        """The actor's live lease on this dossier, if they hold one (the desk's local queue)."""
        with self._db.read() as session:
            for assignment, dossier in self.live_leases(session, actor.user_id, utcnow()):
                if dossier.number == number:
                    return lease_view(assignment, dossier)
        return None

    def heartbeat(self, actor: Actor, lease_ids: Sequence[str] | None = None) -> Heartbeat:
        """Renew the actor's live leases (all, or those named); leases that can no longer be renewed are `lost`."""
        now = utcnow()
        renewed: list[LeaseView] = []
        lost: list[tuple[str, str]] = []
        with self._db.transaction() as session:
            query = select(Assignment).where(Assignment.reviewer_id == actor.user_id)
            if lease_ids is None:
                query = query.where(Assignment.state == "active")
            else:
                query = query.where(Assignment.lease_id.in_(list(lease_ids)))
            found = {a.lease_id: a for a in session.execute(query).scalars()}
            for lease_id in lease_ids if lease_ids is not None else list(found):
                assignment = found.get(lease_id)
                if assignment is None:
                    lost.append((lease_id, "no such lease for this reviewer"))
                    continue
                dossier = self._lock_dossier(session, assignment.dossier_id)
                problem = lease_problem(
                    fence=assignment.fence,
                    lease_id=assignment.lease_id,
                    current_fence=dossier.fence,
                    active_lease_id=assignment.lease_id if assignment.state == "active" else None,
                    expires_at=assignment.expires_at,
                    now=now,
                )
                if problem:
                    lost.append((lease_id, problem))
                    continue
                assignment.expires_at = dossier.lease_expires_at = now + self.lease
                assignment.renewed_at = now
                renewed.append(lease_view(assignment, dossier))
        return Heartbeat(tuple(renewed), tuple(lost))

    def release(self, actor: Actor, lease_id: str, *, station_id: str | None = None) -> None:
        """Give a live lease back to the pool (the dossier keeps its place in the R15 order).

        `station_id`: the desk that asks (the registry releases for the desk the person works at)."""
        now = utcnow()
        with self._db.transaction() as session:
            assignment = session.execute(
                select(Assignment).where(Assignment.lease_id == lease_id, Assignment.reviewer_id == actor.user_id)
            ).scalar_one_or_none()
            if assignment is None:
                raise NotFound(f"no lease {lease_id} of {actor.username}")
            dossier = self._lock_dossier(session, assignment.dossier_id)
            if assignment.state != "active" or assignment.expires_at <= now:
                raise UsageError(f"lease of {dossier.number} is no longer live; nothing to release")
            assignment.state, assignment.ended_at = "released", now
            new_state = apply(_state(dossier), Action.RELEASE, _plan(dossier))
            dossier.status, dossier.lease_expires_at = new_state.status.value, None
            self._recorder.change(
                session,
                actor.username,
                dossier,
                "review.release",
                {"lease_id": lease_id, "fence": assignment.fence},
                station_id=station_id,
            )

    def show_state(self, number: str) -> tuple[str, str]:
        """(stage, status) of a dossier."""
        with self._db.read() as session:
            dossier = self._load(session, number)
            return dossier.stage, dossier.status

    def pool_counts(self) -> dict[str, int]:
        """Dossiers waiting in the pool now, by class: online (digitised) and offline (paper)."""
        now = utcnow()
        with self._db.read() as session:
            rows = session.execute(select(Dossier.digitized).where(*_pool_filter(now))).scalars().all()
        return {"online": sum(1 for d in rows if d), "offline": sum(1 for d in rows if not d)}

    # -- decisions -------------------------------------------------------------------------------------

    def suggest_return(self, number: str) -> list[ReturnItem]:
        """The pre-filled 补正 list: every missing required material, invalid field and error finding, at once."""
        with self._db.read() as session:
            dossier = self._load(session, number)
            items: list[ReturnItem] = []
            for slot in dossier.slots:
                if slot.required and not slot.satisfied and not slot.waived:
                    items.append(ReturnItem(problem="missing", material=slot.material, party_key=slot.party_key))
            for f in session.execute(
                select(Field).where(Field.dossier_id == dossier.id, Field.valid.is_(False)).order_by(Field.key)
            ).scalars():
                items.append(ReturnItem(problem="invalid", field=f.key, note=f.value[:80]))
            for finding in session.execute(
                select(Finding)
                .where(Finding.dossier_id == dossier.id, Finding.severity == "error", Finding.resolved.is_(False))
                .order_by(Finding.rule)
            ).scalars():
                items.append(ReturnItem(problem="inconsistent", field=finding.rule, note=finding.message[:200]))
            return items

    def decide(
        self,
        actor: Actor,
        number: str,
        kind: DecisionKind | str,
        *,
        lease_id: str | None,
        fence: int | None,
        items: Iterable[ReturnItem] = (),
        reason_code: str | None = None,
        note: str = "",
        op_id: str | None = None,
        client_at: datetime | None = None,
    ) -> DecisionView:
        """Apply a decision under its lease, or record it as a conflict and raise ConflictError.

        `op_id` makes the call idempotent: a replay returns the first result (or raises its conflict again).
        """
        try:
            decision_kind = DecisionKind(kind)
        except ValueError:
            raise UsageError(f"unknown decision '{kind}'; decisions: {', '.join(DecisionKind)}") from None
        checked_items, reason_code = self.check_decision(decision_kind, list(items), reason_code)
        note = note.strip()[:2000]
        try:
            with self._db.transaction() as session:
                dossier = self._load(session, number, lock=True)
                view = self.decide_in(
                    session,
                    actor,
                    dossier,
                    decision_kind,
                    lease_id=lease_id,
                    fence=fence,
                    items=checked_items,
                    reason_code=reason_code,
                    note=note,
                    op_id=op_id,
                    client_at=client_at,
                )
        except IntegrityError:
            # The same op_id raced itself: the other delivery won; return what it recorded.
            if op_id is None:
                raise
            with self._db.read() as session:
                existing = session.execute(select(Decision).where(Decision.op_id == op_id)).scalar_one()
                view = self._decision_view(session, existing)
        if view.outcome == "conflict":
            raise ConflictError(f"decision on {view.number} refused as a conflict: {view.conflict}", view)
        return view

    def check_decision(
        self, kind: DecisionKind, items: Sequence[ReturnItem], reason_code: str | None
    ) -> tuple[tuple[ReturnItem, ...], str | None]:
        """What a decision must say (一次性告知, a legal reason), checked before anything is stored."""
        checked: tuple[ReturnItem, ...] = ()
        if kind is DecisionKind.RETURN:
            checked = validate_return(items, self.rules)
        elif items:
            raise UsageError("only a 补正 return lists items")
        if kind is DecisionKind.REJECT:
            return checked, validate_reject(reason_code, self.rules)
        if reason_code:
            raise UsageError("only 不予登记 takes a reason code")
        return checked, None

    def decide_in(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        kind: DecisionKind,
        *,
        lease_id: str | None,
        fence: int | None,
        items: tuple[ReturnItem, ...],
        reason_code: str | None,
        note: str,
        op_id: str | None = None,
        client_at: datetime | None = None,
        station_id: str | None = None,
        lease: Assignment | None = None,
    ) -> DecisionView:
        """A checked decision (`check_decision`) on the locked `dossier`, in the caller's transaction.

        `station_id`: the desk the decision came from (the registry applies decisions sent from desks). `lease`:
        the assignment `lease_id` names, when the caller has read it already (a live one is the dossier's active
        lease: one at a time).
        """
        if op_id is not None:
            existing = session.execute(_DECISION_OF_OP, {"op": op_id}).scalar_one_or_none()
            if existing is not None:
                return self._decision_view(session, existing)
        require_review(actor, dossier.digitized)
        if kind is DecisionKind.RETURN:
            check_items(session, dossier, items)  # before the lease is used: the reviewer corrects the list
        now = utcnow()
        if (
            lease is not None
            and lease.lease_id == lease_id
            and lease.dossier_id == dossier.id
            and lease.state == "active"
        ):
            active: Assignment | None = lease
        else:
            active = session.execute(
                select(Assignment).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
            ).scalar_one_or_none()
        problem = lease_problem(
            fence=fence,
            lease_id=lease_id,
            current_fence=dossier.fence,
            active_lease_id=active.lease_id if active else None,
            expires_at=active.expires_at if active else None,
            now=now,
        )
        if problem is None and active is not None and active.reviewer_id != actor.user_id:
            problem = "the lease belongs to another reviewer"
        if problem is None and (dossier.stage, dossier.status) != (Stage.REVIEW.value, Status.IN_REVIEW.value):
            problem = f"the dossier is {dossier.status} at {dossier.stage}, not in review"
        # What is read of the content comes before any row changes (a read flushes what is pending): the recorder
        # then writes the decision, the lease and the dossier's new state and version at once.
        baseline = snapshot_of(session, dossier).to_json() if not problem and kind is DecisionKind.RETURN else None
        overridden = open_errors(session, dossier.id) if not problem and kind is DecisionKind.APPROVE else None
        before = _state(dossier)
        decision = Decision(
            id=new_id(),  # known now: the audit payload below names it
            op_id=op_id,
            dossier_id=dossier.id,
            assignment_id=active.id if active and active.lease_id == lease_id else None,
            lease_id=lease_id,
            fence=fence,
            reviewer_id=actor.user_id,
            station_id=station_id or self._station,
            kind=kind.value,
            outcome="conflict" if problem else "applied",
            conflict=problem,
            reason_code=reason_code,
            items=[item.to_json() for item in items],
            note=note,
            stage_before=before.stage.value,
            status_before=before.status.value,
            decided_at=now,
            client_at=client_at,
        )
        session.add(decision)
        payload: dict[str, Any] = {
            "decision_id": decision.id,
            "kind": kind.value,
            "lease_id": lease_id,
            "fence": fence,
            "op_id": op_id,
        }
        if problem:
            session.flush()
            # The conflict is part of the record; the dossier itself does not change (no new version).
            self._recorder.note(
                session,
                actor.username,
                dossier,
                "review.conflict",
                {**payload, "conflict": problem},
                station_id=station_id,
            )
            return self._decision_view(session, decision, number=dossier.number, reviewer=actor.username)
        assert active is not None
        if kind is DecisionKind.RETURN:
            decision.baseline = baseline  # what each item is checked against
        action = {DecisionKind.APPROVE: Action.APPROVE, DecisionKind.RETURN: Action.RETURN}.get(kind, Action.REJECT)
        after = apply(before, action, _plan(dossier))
        dossier.stage, dossier.status, dossier.lease_expires_at = after.stage.value, after.status.value, None
        active.state, active.ended_at = "decided", now
        decision.stage_after, decision.status_after = after.stage.value, after.status.value
        decision.seconds = (now - active.claimed_at).total_seconds()
        if kind is DecisionKind.RETURN:
            session.add(
                ClockPause(dossier_id=dossier.id, reason="supplement", started_at=now, started_by=actor.username)
            )
        payload.update(
            {
                "from": {"stage": before.stage.value, "status": before.status.value},
                "to": {"stage": after.stage.value, "status": after.status.value},
                "items": decision.items,
                "reason_code": reason_code,
                "note": note,
                "decided_at": now.isoformat(),
            }
        )
        if overridden:
            payload["overridden_findings"] = overridden  # approved past open errors: who, and which
        wire = self._decision_wire(kind, lease_id, fence, decision, reason_code, note)
        sent = self._recorder.change(
            session,
            actor.username,
            dossier,
            f"review.{kind.value}",
            payload,
            wire=wire,
            op_kind="review.decision" if wire is not None else None,
            station_id=station_id,
        )
        if decision.op_id is None:
            decision.op_id = sent  # the op that carries it to the registry: its idempotency key there
        return self._decision_view(session, decision, number=dossier.number, reviewer=actor.username)

    def _decision_wire(
        self,
        kind: DecisionKind,
        lease_id: str | None,
        fence: int | None,
        decision: Decision,
        reason_code: str | None,
        note: str,
    ) -> dict[str, Any] | None:
        """What the registry is told of a decision: nothing, where the pool is this database's own."""
        return None

    def conflicts(self, *, limit: int = 200) -> list[DecisionView]:
        """Refused decisions, newest first: shown to the reviewer and the supervisor, never dropped."""
        with self._db.read() as session:
            rows = session.execute(
                select(Decision).where(Decision.outcome == "conflict").order_by(Decision.decided_at.desc()).limit(limit)
            ).scalars()
            return [self._decision_view(session, d) for d in rows]

    def decisions(self, number: str) -> list[DecisionView]:
        with self._db.read() as session:
            dossier = self._load(session, number)
            rows = session.execute(
                select(Decision).where(Decision.dossier_id == dossier.id).order_by(Decision.decided_at)
            ).scalars()
            return [self._decision_view(session, d) for d in rows]

    # -- after review: 登簿 and 发证 -------------------------------------------------------------------------

    def awaiting_register(self, limit: int = 200) -> list[tuple[str, str, datetime]]:
        """Approved dossiers here that wait for 登簿: (受理号, business, approved at), oldest first."""
        with self._db.read() as session:
            rows = session.execute(
                select(Dossier.number, Dossier.business_code, Dossier.updated_at)
                .where(
                    Dossier.stage.in_((Stage.REGISTER.value, Stage.REGISTER_ISSUE.value)),
                    Dossier.status == Status.SUBMITTED.value,
                )
                .order_by(Dossier.updated_at, Dossier.number)
                .limit(limit)
            ).all()
        return [(number, business, at) for number, business, at in rows]

    def register(self, actor: Actor, number: str) -> dict[str, Any]:
        """登簿: records the registrar (登簿人) and time; QC is opened if due (R3), without holding anything up."""
        require(actor, Permission.REGISTER)
        with self._db.transaction() as session:
            return self.register_in(session, actor, self._load(session, number, lock=True))

    def register_in(
        self, session: Session, actor: Actor, dossier: Dossier, *, station_id: str | None = None
    ) -> dict[str, Any]:
        """登簿 of the locked `dossier`, in the caller's transaction (who may register is the caller's check)."""
        before = _state(dossier)
        after = apply(before, Action.REGISTER, _plan(dossier))
        now = utcnow()
        dossier.stage, dossier.status = after.stage.value, after.status.value
        dossier.registered_at, dossier.registered_by = now, actor.user_id
        entries = self._book(session, dossier, actor.username, now)
        inspect, basis = self._qc_due(dossier)
        payload: dict[str, Any] = {
            "from": {"stage": before.stage.value, "status": before.status.value},
            "to": {"stage": after.stage.value, "status": after.status.value},
            "registrar": actor.username,
            "registered_at": now.isoformat(),
            "qc": basis,
            "entries": [entry.id for entry in entries],
            "certificates": [entry.cert_number for entry in entries if entry.cert_number],
        }
        self._recorder.change(
            session, actor.username, dossier, "dossier.register", payload, wire=self._sent({}), station_id=station_id
        )
        if inspect:
            check = QcCheck(dossier_id=dossier.id, basis=basis, created_at=now)
            session.add(check)
            session.flush()
            self._recorder.note(
                session,
                actor.username,
                dossier,
                "qc.open",
                {"qc_check_id": check.id, "basis": basis},
                station_id=station_id,
            )
        return {
            "number": dossier.number,
            "stage": dossier.stage,
            "status": dossier.status,
            "qc": basis,
            "certificates": payload["certificates"],
        }

    def _book(self, session: Session, dossier: Dossier, registrar: str, now: datetime) -> list[RegisterEntry]:
        """The register entries 登簿 writes here (the registry's; a desk alone is its own registry)."""
        return self.book.book_in(session, dossier, registrar, now)

    def _qc_due(self, dossier: Dossier) -> tuple[bool, str | None]:
        """Whether 登簿 opens a QC inspection here, and on what basis (R3)."""
        return must_inspect(self._catalogue.business(dossier.business_code), dossier.id, self._qc)

    def _sent(self, wire: dict[str, Any]) -> dict[str, Any] | None:
        """`wire` where the registry is told of this desk's 登簿 and 发证; None where this database decides alone."""
        return None

    def issue(self, actor: Actor, number: str) -> dict[str, Any]:
        """缴费发证: the certificate or proof handed over; the dossier is done."""
        require(actor, Permission.ISSUE)
        with self._db.transaction() as session:
            return self.issue_in(session, actor, self._load(session, number, lock=True))

    def issue_in(
        self, session: Session, actor: Actor, dossier: Dossier, *, station_id: str | None = None
    ) -> dict[str, Any]:
        before = _state(dossier)
        after = apply(before, Action.ISSUE, _plan(dossier))
        self._check_settled(session, dossier)
        dossier.stage, dossier.status = after.stage.value, after.status.value
        self._recorder.change(
            session,
            actor.username,
            dossier,
            "dossier.issue",
            {
                "from": {"stage": before.stage.value, "status": before.status.value},
                "to": {"stage": after.stage.value, "status": after.status.value},
            },
            wire=self._sent({}),
            station_id=station_id,
        )
        return {"number": dossier.number, "stage": dossier.stage, "status": dossier.status}

    def _check_settled(self, session: Session, dossier: Dossier) -> None:
        """发证 needs the fees paid (R6) and the way the certificate reaches the applicant chosen (R10–R11)."""
        from workstation.services.settle import SettleService

        SettleService(self._db, self._catalogue).check_issuable(session, dossier)

    # -- internals -------------------------------------------------------------------------------------

    def _claim(
        self,
        session: Session,
        actor: Actor,
        classes: tuple[bool, ...],
        station_id: str,
        live: Sequence[tuple[Assignment, Dossier]] | None = None,
    ) -> tuple[LeaseView, Dossier] | None:
        now = utcnow()
        if live is None:
            live = self.live_leases(session, actor.user_id, now)
        if len(live) >= self.queue_size:
            raise UsageError(
                f"{actor.username} already holds {self.queue_size} dossiers (the desk's queue size); "
                "decide or release one first"
            )
        # In the order R14–R16 and 补正 give: first a dossier this reviewer returned for 补正 and that came back
        # (a small partial index holds the returned ones), then the pool class by class in the rules' order, each
        # search walking the pool index in its own order, less the dossiers another present reviewer is offered
        # first. On PostgreSQL the row is locked as it is found, skipping rows other claims hold (never waiting).
        dossier: Dossier | None = None
        params = {"now": now, "me": actor.user_id}
        for query in self._searches(classes, session.get_bind().dialect.name == "postgresql"):
            dossier = session.execute(query, params).scalar_one_or_none()
            if dossier is not None:
                break
        if dossier is None:
            return None
        stale = None
        if dossier.lease_expires_at is not None:  # its lease ran out: it goes back to the pool, recorded
            stale = session.execute(
                update(Assignment)
                .where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
                .values(state="expired", ended_at=now)
                .returning(Assignment.lease_id, Assignment.fence)
                .execution_options(synchronize_session=False)
            ).first()
        self.book.refresh_findings(session, dossier)  # the register as it stands when review starts
        if stale is None:
            dossier.status = apply(_state(dossier), Action.CLAIM, _plan(dossier)).status.value
        dossier.fence += 1
        dossier.lease_expires_at = now + self.lease
        assignment = Assignment(
            lease_id=new_id(),
            dossier_id=dossier.id,
            reviewer_id=actor.user_id,
            station_id=station_id,
            fence=dossier.fence,
            claimed_at=now,
            expires_at=dossier.lease_expires_at,
        )
        session.add(assignment)  # written with the dossier's new version, in the recorder's one flush
        payload: dict[str, Any] = {
            "lease_id": assignment.lease_id,
            "fence": assignment.fence,
            "reviewer": actor.username,
            "expires_at": assignment.expires_at.isoformat(),
        }
        if stale is not None:
            payload["expired_lease"] = {"lease_id": stale[0], "fence": stale[1]}
        self._recorder.change(session, actor.username, dossier, "review.claim", payload, station_id=station_id)
        return lease_view(assignment, dossier), dossier

    def _searches(self, classes: tuple[bool, ...], postgres: bool) -> list[Select[Any]]:
        """A claim's searches, built once (a claim then only binds `now` and `me`, the reviewer's id)."""
        key = (classes, postgres)
        built = self._built_searches.get(key)
        if built is None:
            now: Any = bindparam("now")
            me: Any = bindparam("me")
            searches = [
                select(Dossier)
                .where(
                    *_pool_filter(now),
                    Dossier.preferred_reviewer_id == me,
                    Dossier.preferred_until > now,
                    *([Dossier.digitized.is_(classes[0])] if len(classes) == 1 else []),
                )
                .order_by(case((Dossier.digitized.is_(classes[0]), 0), else_=1), *_POOL_ORDER)
            ]
            searches += [
                select(Dossier)
                .where(*_pool_filter(now), Dossier.digitized.is_(digitized), ~self._reserved(me, now))
                .order_by(*_POOL_ORDER)
                for digitized in classes
            ]
            built = [
                q.limit(1).with_for_update(skip_locked=True, of=Dossier) if postgres else q.limit(1) for q in searches
            ]
            self._built_searches[key] = built
        return built

    def _reserved(self, me: Any, now: Any) -> ColumnElement[bool]:
        """Dossiers offered first to another reviewer who returned them, while that reviewer is present and may
        still review them (the grant for its class, R14); `me`: the claiming reviewer's id."""
        other = _OTHER_REVIEWER
        present = (
            exists()
            .where(
                other.id == Dossier.preferred_reviewer_id,
                other.active.is_(True),
                or_(
                    and_(Dossier.digitized.is_(True), other.can_review_online.is_(True)),
                    and_(Dossier.digitized.is_(False), other.can_review_offline.is_(True)),
                ),
            )
            .correlate(Dossier)
        )
        if self._presence_by_login:
            present = present.where(
                exists().where(
                    PersonSession.user_id == other.id,
                    PersonSession.expires_at > now,
                    PersonSession.revoked_at.is_(None),
                )
            )
        return and_(
            Dossier.preferred_reviewer_id.is_not(None),
            Dossier.preferred_reviewer_id != me,
            Dossier.preferred_until > now,
            present,
        )

    @staticmethod
    def live_leases(session: Session, user_id: str, now: datetime) -> list[tuple[Assignment, Dossier]]:
        """The person's live leases (any desk), oldest claim first."""
        rows = session.execute(_LIVE_LEASES, {"user": user_id, "now": now}).all()
        return [(a, d) for a, d in rows]

    def _lock_dossier(self, session: Session, dossier_id: str) -> Dossier:
        dossier = session.execute(select(Dossier).where(Dossier.id == dossier_id).with_for_update()).scalar_one()
        return dossier

    def _load(self, session: Session, number: str, *, lock: bool = False) -> Dossier:
        query = select(Dossier).where(Dossier.number == number)
        query = query.with_for_update() if lock else query.options(selectinload(Dossier.slots))
        dossier = session.execute(query).scalar_one_or_none()
        if dossier is None:
            raise NotFound(f"no dossier {number[:80]}")
        return dossier

    def _decision_view(
        self, session: Session, decision: Decision, *, number: str | None = None, reviewer: str | None = None
    ) -> DecisionView:
        """The decision as shown; `number` and `reviewer` (the reviewer's username) when the caller holds them."""
        from workstation.store.models import User

        if number is None:
            number = session.execute(select(Dossier.number).where(Dossier.id == decision.dossier_id)).scalar_one()
        if reviewer is None:
            reviewer = session.execute(select(User.username).where(User.id == decision.reviewer_id)).scalar_one()
        return DecisionView(
            id=decision.id,
            op_id=decision.op_id,
            dossier_id=decision.dossier_id,
            number=number,
            kind=decision.kind,
            outcome=decision.outcome,
            conflict=decision.conflict,
            reason_code=decision.reason_code,
            items=tuple(decision.items or ()),
            note=decision.note,
            fence=decision.fence,
            lease_id=decision.lease_id,
            reviewer=reviewer,
            stage_after=decision.stage_after,
            status_after=decision.status_after,
            decided_at=decision.decided_at,
        )


class RegistryPoolReview(ReviewService):
    """A desk's review of the registry's pool: leases come from there, decisions go back as fenced ops.

    A claim brings the dossier whole (pages included) into the desk's database, so the reviewer goes on deciding
    the dossiers in the local queue through a network drop; each decision is applied here under the lease and
    sent as one `review.decision` op, which the registry applies or records as a conflict by its fence. 登簿 and
    发证 are sent as requests; QC is the registry's to open.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._source: LeaseSource | None = None

    def attach_registry(self, source: LeaseSource) -> None:
        self._source = source

    def _registry(self) -> LeaseSource:
        if self._source is None:
            raise Offline("the registry connection is still starting; the dossiers in your queue can be decided")
        return self._source

    def claim_next(self, actor: Actor, *, station_id: str | None = None) -> LeaseView | None:
        _review_classes(actor)
        now = utcnow()
        with self._db.read() as session:
            live = [a.lease_id for a, _d in self.live_leases(session, actor.user_id, now)]
            # Leases decided here whose decision has not reached the registry yet are still live there: named too,
            # or the registry would hand one back as a lease whose answer was lost.
            decided = session.execute(
                select(Assignment.lease_id).where(
                    Assignment.reviewer_id == actor.user_id,
                    Assignment.state == "decided",
                    Assignment.expires_at > now,
                )
            ).scalars()
            held = [*live, *decided]
        if len(live) >= self.queue_size:
            raise UsageError(
                f"{actor.username} already holds {self.queue_size} dossiers (the desk's queue size); "
                "decide or release one first"
            )
        claim = self._registry().claim(actor, held)
        if claim is None:
            return None
        try:
            with self._db.transaction() as session:
                return self._take_lease(session, actor, claim)
        except ValueError as exc:
            raise UsageError(f"the registry's dossier {claim.lease.number} cannot be kept here: {exc}") from None

    def fill_queue(self, actor: Actor, size: int | None = None) -> list[LeaseView]:
        want = self.queue_size if size is None else size
        while len(self.queue(actor)) < want and self.claim_next(actor) is not None:
            pass
        return self.queue(actor)

    def heartbeat(self, actor: Actor, lease_ids: Sequence[str] | None = None) -> Heartbeat:
        with self._db.read() as session:
            query = select(Assignment.lease_id).where(
                Assignment.reviewer_id == actor.user_id, Assignment.state == "active"
            )
            if lease_ids is not None:
                query = query.where(Assignment.lease_id.in_(list(lease_ids)))
            active = list(session.execute(query).scalars())
        live = set(active)
        unknown = [(x, "no such lease for this reviewer") for x in lease_ids or () if x not in live]
        if not active:
            return Heartbeat((), tuple(unknown))
        try:
            renewed, lost = self._registry().renew(actor, active)
        except Offline as exc:
            return Heartbeat((), tuple(unknown), offline=str(exc))
        now = utcnow()
        views: list[LeaseView] = []
        with self._db.transaction() as session:
            rows = {
                a.lease_id: a
                for a in session.execute(select(Assignment).where(Assignment.lease_id.in_(active))).scalars()
            }
            for lease in renewed:
                assignment = rows.get(lease.lease_id)
                if assignment is None or assignment.state != "active":
                    continue
                dossier = self._lock_dossier(session, assignment.dossier_id)
                assignment.expires_at = dossier.lease_expires_at = lease.expires_at
                assignment.renewed_at = now
                views.append(lease_view(assignment, dossier))
            for lease_id, _why in lost:
                assignment = rows.get(lease_id)
                if assignment is not None and assignment.state == "active":
                    assignment.state, assignment.ended_at = "ended", now
                    self._lock_dossier(session, assignment.dossier_id).lease_expires_at = None
        return Heartbeat(tuple(views), (*unknown, *lost))

    def release(self, actor: Actor, lease_id: str, *, station_id: str | None = None) -> None:
        with self._db.read() as session:
            held = session.execute(
                select(Assignment.state).where(Assignment.lease_id == lease_id, Assignment.reviewer_id == actor.user_id)
            ).scalar_one_or_none()
        if held != "active":
            raise NotFound(f"no lease {lease_id} of {actor.username}")
        self._registry().release(actor, lease_id)  # the registry first: offline, the lease stays held here
        with self._db.transaction() as session:
            assignment = session.execute(
                select(Assignment).where(Assignment.lease_id == lease_id, Assignment.reviewer_id == actor.user_id)
            ).scalar_one()
            dossier = self._lock_dossier(session, assignment.dossier_id)
            # Given back at the registry: the desk's copy is no longer in review here (the registry's state stands).
            assignment.state, assignment.ended_at, dossier.lease_expires_at = "released", utcnow(), None
            audit.append(
                session,
                station_id=self._station,
                actor=actor.username,
                action="review.release",
                entity="dossier",
                entity_id=dossier.id,
                payload={"number": dossier.number, "lease_id": lease_id, "fence": assignment.fence},
            )

    def pool_counts(self) -> dict[str, int]:
        """The registry's pool; raises Offline when it cannot be asked."""
        return self._registry().pool_counts()

    def _decision_wire(
        self,
        kind: DecisionKind,
        lease_id: str | None,
        fence: int | None,
        decision: Decision,
        reason_code: str | None,
        note: str,
    ) -> dict[str, Any] | None:
        return {
            "decision": kind.value,
            "lease_id": lease_id,
            "fence": fence,
            "items": decision.items,
            "reason_code": reason_code,
            "note": note,
        }

    def _qc_due(self, dossier: Dossier) -> tuple[bool, str | None]:
        return False, None  # the registry opens QC at 登簿 (R3); this desk does not

    _allocates = False

    def _book(self, session: Session, dossier: Dossier, registrar: str, now: datetime) -> list[RegisterEntry]:
        return []  # the registry writes the register and numbers the certificates; its change feed brings them

    def _check_settled(self, session: Session, dossier: Dossier) -> None:
        pass  # the registry holds the payment and the delivery and decides 发证 on them

    def _sent(self, wire: dict[str, Any]) -> dict[str, Any] | None:
        return wire

    def _take_lease(self, session: Session, actor: Actor, claim: RegistryClaim) -> LeaseView:
        lease, now = claim.lease, utcnow()
        dossier = take_dossier(session, claim.manifest, created_by=lambda: _registry_user(session))
        if dossier.id != lease.dossier_id:
            raise ValueError(f"the lease is for dossier {lease.dossier_id}, the manifest for {dossier.id}")
        for old in session.execute(
            select(Assignment).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
        ).scalars():  # a lease this desk held before is over: the registry granted a new one
            old.state, old.ended_at = "ended", now
        session.flush()
        assignment = session.execute(
            select(Assignment).where(Assignment.lease_id == lease.lease_id)
        ).scalar_one_or_none()
        if assignment is None:
            assignment = Assignment(lease_id=lease.lease_id, dossier_id=dossier.id, claimed_at=now)
            session.add(assignment)
        assignment.reviewer_id, assignment.station_id, assignment.state = actor.user_id, self._station, "active"
        assignment.fence, assignment.expires_at, assignment.ended_at = lease.fence, lease.expires_at, None
        dossier.fence, dossier.lease_expires_at = lease.fence, lease.expires_at
        if claim.clock is not None:
            mirror_clock(dossier, claim.clock, now.isoformat())
        session.flush()
        audit.append(
            session,
            station_id=self._station,
            actor=actor.username,
            action="review.lease",
            entity="dossier",
            entity_id=dossier.id,
            payload={
                "number": dossier.number,
                "lease_id": lease.lease_id,
                "fence": lease.fence,
                "expires_at": lease.expires_at.isoformat(),
                "pages": len(claim.manifest.get("blobs") or []),
            },
        )
        return lease_view(assignment, dossier)


class LeaseKeeper:
    """Renews a reviewer's leases in the background while the desk runs (a third of the lease each time).

    A failed renewal (the database or, later, the registry unreachable) is retried at the next tick; leases
    that can no longer be renewed are reported once through `on_lost(lease_id, why)`.
    """

    def __init__(
        self,
        review: ReviewService,
        actor: Actor,
        *,
        interval: float | None = None,
        on_lost: Callable[[str, str], None] | None = None,
    ):
        self._review = review
        self._actor = actor
        self.interval = interval if interval is not None else max(review.lease.total_seconds() / 3, 0.05)
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0
        self.failures = 0
        self.last_error: str | None = None

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                beat = self._review.heartbeat(self._actor)
            except Exception as exc:  # keep trying: the next tick may find the database back
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("lease renewal failed: %s", self.last_error)
                continue
            self.renewals += 1
            for lease_id, why in beat.lost:
                if self._on_lost is not None:
                    self._on_lost(lease_id, why)


def _registry_user(session: Session) -> str:
    """The local author of dossiers that reached this desk from the registry (it cannot log in)."""
    user = session.execute(select(User).where(User.username == REGISTRY_USER)).scalar_one_or_none()
    if user is None:
        user = User(username=REGISTRY_USER, display_name="登记中心 registry", password_hash="!", roles="")
        session.add(user)
        session.flush()
    return user.id


def _review_classes(actor: Actor) -> tuple[bool, ...]:
    """R14/R16: the classes (digitised?) the actor may take, in the order they are offered."""
    classes = tuple(d for d in (True, False) if can_review(actor, d))
    if not classes:
        raise PermissionDenied(
            f"user '{actor.username}' may not review: needs review_decide and online (网上审核) or offline "
            "(线下审核) review permission (R14)"
        )
    return classes


# The reviewer a dossier is offered to first, in the claim's search (one alias: a new one per claim would make
# SQLAlchemy build the statement's cache key afresh each time).
_OTHER_REVIEWER = aliased(User, name="other_reviewer")

# R15: enterprises before individuals, then by time applied (the pool index's order after its class).
_POOL_ORDER = (Dossier.applicant_kind, Dossier.applied_at, Dossier.id)


# The pool index's own predicate, written as constants: a prepared statement's generic plan can then use the
# index (with parameters it could not prove them), and no IN list is rendered afresh at each execution.
_POOL_OPEN = (
    Dossier.stage == literal_column(f"'{Stage.REVIEW.value}'"),
    Dossier.status.in_([literal_column(f"'{s}'") for s in _POOL_STATUSES]),
)


_DECISION_OF_OP = select(Decision).where(Decision.op_id == bindparam("op"))
_LIVE_LEASES = (
    select(Assignment, Dossier)
    .join(Dossier, Dossier.id == Assignment.dossier_id)
    .where(
        Assignment.reviewer_id == bindparam("user"),
        Assignment.state == "active",
        Assignment.expires_at > bindparam("now"),
    )
    .order_by(Assignment.claimed_at, Assignment.id)
)


def _pool_filter(now: Any) -> tuple[Any, ...]:
    return (*_POOL_OPEN, or_(Dossier.lease_expires_at.is_(None), Dossier.lease_expires_at <= now))


def _state(dossier: Dossier) -> DossierState:
    return DossierState(stage=Stage(dossier.stage), status=Status(dossier.status))


def _plan(dossier: Dossier) -> tuple[Stage, ...]:
    return tuple(Stage(s) for s in dossier.stage_plan.split())


def lease_view(assignment: Assignment, dossier: Dossier) -> LeaseView:
    return LeaseView(
        lease_id=assignment.lease_id,
        fence=assignment.fence,
        dossier_id=dossier.id,
        number=dossier.number,
        business=dossier.business_code,
        applicant_kind=dossier.applicant_kind,
        digitized=dossier.digitized,
        applied_at=dossier.applied_at,
        claimed_at=assignment.claimed_at,
        expires_at=assignment.expires_at,
    )
