"""What a desk knows about its sync with the registry: outbox depth, last success, parked ops, conflicts.

The agent (`sync.client`) writes these facts; the terminal UI and `sync status` read them through `SyncService`,
so the UI never needs the network code. A retry re-queues a parked op as a new op in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workstation.domain.permissions import Actor
from workstation.errors import NotFound, UsageError
from workstation.services import audit, outbox
from workstation.store.db import Database
from workstation.store.models import DeskState, Dossier, OutboxOp, SyncCursor

STATE_PREFIX = "sync."
CURSOR = "changes"


@dataclass
class SyncStatus:
    online: bool
    registry: str | None
    outbox_depth: int
    oldest_pending: datetime | None
    last_success: str | None
    last_error: str | None
    cursor: str
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # The last audit chain head the registry witnessed for this desk, as the desk keeps it, and why the registry
    # refused the desk's last head, if it did (see `witness`).
    witness: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "registry": self.registry,
            "outbox_depth": self.outbox_depth,
            "oldest_pending": self.oldest_pending.isoformat() if self.oldest_pending else None,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "cursor": self.cursor,
            "quarantined": self.quarantined,
            "conflicts": self.conflicts,
            "witness": self.witness,
        }


@dataclass(frozen=True)
class SyncOverview:
    """The header's line: cheap enough to read every few seconds."""

    registry: str | None  # None: this desk works alone
    online: bool
    outbox_depth: int
    parked: int  # quarantined ops and conflicts waiting for a person


def put_state(session: Session, key: str, value: str) -> None:
    row = session.get(DeskState, STATE_PREFIX + key)
    if row is None:
        session.add(DeskState(key=STATE_PREFIX + key, value=value))
    else:
        row.value = value


def get_state(session: Session, key: str) -> str | None:
    row = session.get(DeskState, STATE_PREFIX + key)
    return row.value if row is not None and row.value != "" else None


def sync_status(db: Database, registry: str | None) -> SyncStatus:
    with db.read() as session:
        depth, oldest = session.execute(
            select(func.count(OutboxOp.op_id), func.min(OutboxOp.created_at)).where(OutboxOp.state == "pending")
        ).one()
        parked = session.execute(
            select(OutboxOp).where(OutboxOp.state.in_(("quarantined", "conflict"))).order_by(OutboxOp.seq)
        ).scalars()
        quarantined: list[dict[str, Any]] = []
        conflicts: list[dict[str, Any]] = []
        ops = list(parked)
        numbers = _numbers(session, {op.entity_id for op in ops})
        for op in ops:
            payload = op.payload if isinstance(op.payload, dict) else {}
            item: dict[str, Any] = {
                "op_id": op.op_id,
                "seq": op.seq,
                "kind": op.kind,
                "entity_id": op.entity_id,
                "number": numbers.get(op.entity_id) or _text(payload.get("number")),
                "reason": op.last_error,
                "created_at": op.created_at.isoformat(),
            }
            if op.state == "quarantined":
                quarantined.append(item)
                continue
            # Both sides of a conflict: the desk's op (from which version, to what) and the registry's dossier.
            intent = op.intent if isinstance(op.intent, dict) else {}
            item["base_version"] = op.base_version
            item["local"] = {
                "version": op.base_version + 1 if op.base_version is not None else None,
                "stage": _text(intent.get("stage")),
                "status": _text(intent.get("status")),
                "decision": _text(payload.get("decision")),
            }
            item["remote"] = dict(op.remote) if isinstance(op.remote, dict) else None
            conflicts.append(item)
        cursor_row = session.get(SyncCursor, CURSOR)
        from workstation.services.witness import witness_facts

        return SyncStatus(
            online=get_state(session, "online") == "1",
            registry=registry,
            outbox_depth=int(depth),
            oldest_pending=oldest,
            last_success=get_state(session, "last_success"),
            last_error=get_state(session, "last_error"),
            cursor=cursor_row.cursor if cursor_row is not None else "0",
            quarantined=quarantined,
            conflicts=conflicts,
            witness=witness_facts(session),
        )


def _numbers(session: Session, entity_ids: set[str]) -> dict[str, str]:
    """受理号 of the dossiers the ops are about: people read numbers, not ids."""
    if not entity_ids:
        return {}
    rows = session.execute(select(Dossier.id, Dossier.number).where(Dossier.id.in_(sorted(entity_ids))))
    return {dossier_id: number for dossier_id, number in rows}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def retry_quarantined(db: Database, station_id: str, op_id: str) -> str:
    """Queue a parked op again as a new op; returns the new op's id."""
    with db.transaction() as session:
        op = session.get(OutboxOp, op_id)
        if op is None:
            raise NotFound(f"no op {op_id}")
        if op.state != "quarantined":
            raise UsageError(f"op {op_id} is {op.state}, not parked; only parked ops are retried")
        again = outbox.enqueue(
            session,
            station_id=station_id,
            kind=op.kind,
            entity_id=op.entity_id,
            payload=op.payload,
            base_version=op.base_version,
            actor=op.actor,
            intent=op.intent,
        )
        session.flush()
        op.state = "retried"
        op.last_error = f"{op.last_error} (retried as {again.op_id})"
        return again.op_id


class SyncService:
    """The desk's view of sync. `attach` is called by whoever starts the agent (the CLI), with its wake-up."""

    def __init__(self, db: Database, station_id: str) -> None:
        self._db = db
        self._station_id = station_id
        self.registry: str | None = None
        self._wake: Callable[[], None] | None = None

    def attach(self, registry: str | None, wake: Callable[[], None] | None) -> None:
        self.registry, self._wake = registry, wake

    def overview(self) -> SyncOverview:
        with self._db.read() as session:
            depth = session.execute(select(func.count(OutboxOp.op_id)).where(OutboxOp.state == "pending")).scalar_one()
            parked = session.execute(
                select(func.count(OutboxOp.op_id)).where(OutboxOp.state.in_(("quarantined", "conflict")))
            ).scalar_one()
            online = get_state(session, "online") == "1"
        return SyncOverview(self.registry, online and self.registry is not None, int(depth), int(parked))

    def status(self) -> SyncStatus:
        return sync_status(self._db, self.registry)

    def retry(self, actor: Actor, op_id: str) -> str:
        """Re-queue a parked op (any logged-in user: it re-sends the desk's own work) and wake the agent."""
        new_op = retry_quarantined(self._db, self._station_id, op_id)
        self.sync_now()
        return new_op

    def settle(self, actor: Actor, op_id: str, note: str) -> None:
        """Take a conflict off the list once a person has dealt with it; the note says how. Kept, audited.

        The refused change stays on record (state `settled`, its reason and the note); the registry's side is
        what stands. Nothing is sent.
        """
        note = " ".join(note.split())[:300]
        if not note:
            raise UsageError("say how the conflict was settled (the note is kept with it)")
        with self._db.transaction() as session:
            op = session.get(OutboxOp, op_id)
            if op is None:
                raise NotFound(f"no op {op_id}")
            if op.state != "conflict":
                raise UsageError(f"op {op.seq} is {op.state}, not a conflict; only conflicts are settled")
            op.state = "settled"
            op.last_error = f"{op.last_error} · settled by {actor.username}: {note}"[:1000]
            audit.append(
                session,
                station_id=self._station_id,
                actor=actor.username,
                action="sync.settle",
                entity="op",
                entity_id=op.op_id,
                payload={"seq": op.seq, "kind": op.kind, "entity_id": op.entity_id, "note": note},
            )

    def sync_now(self) -> None:
        if self._wake is not None:
            self._wake()


PROBE_STATES = ("online", "refused", "unreachable")


def note_probe(db: Database, state: str, now: datetime) -> datetime:
    """Record what a probe of the registry found (PROBE_STATES) and return since when it has been so: the first
    probe that found it, kept while later ones agree. The stored online flag follows the probe, the freshest fact."""
    if state not in PROBE_STATES:
        raise ValueError(f"probe state {state!r} is not one of {PROBE_STATES}")
    with db.transaction() as session:
        since_text = get_state(session, "probe_since")
        if get_state(session, "probe") == state and since_text:
            since = datetime.fromisoformat(since_text)
        else:
            since = now
            put_state(session, "probe", state)
            put_state(session, "probe_since", now.isoformat())
        put_state(session, "online", "1" if state == "online" else "0")
    return since
