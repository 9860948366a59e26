"""The audit trail: an append-only hash chain written in the same transaction as the change it records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workstation.store.db import _insert_ignore
from workstation.store.models import AuditEvent, AuditHead
from workstation.store.types import utcnow

CHAIN = "main"
GENESIS = "0" * 64


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    station_id: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    payload: str,
) -> str:
    body = canonical(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "station": station_id,
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "payload": payload,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
        prev_hash=event.prev_hash,
        seq=event.seq,
        at=event.at,
        station_id=event.station_id,
        actor=event.actor,
        action=event.action,
        entity=event.entity,
        entity_id=event.entity_id,
        payload=event.payload,
    )


def append(
    session: Session,
    *,
    station_id: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    payload: dict[str, Any],
) -> AuditEvent:
    """Append one event after the locked chain head; commits or rolls back with the caller's change."""
    # The head row is created once, race-free (two first appends on a fresh PostgreSQL would both insert it),
    # then locked: the chain's appends are serialised by this row until commit.
    session.execute(_insert_ignore(session, AuditHead, chain=CHAIN, seq=0, hash=GENESIS))
    head = session.execute(select(AuditHead).where(AuditHead.chain == CHAIN).with_for_update()).scalar_one()
    # Microseconds are the finest both SQLite and PostgreSQL keep, so the hash survives a round trip.
    at = utcnow()
    event = AuditEvent(
        seq=head.seq + 1,
        at=at,
        station_id=station_id,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        payload=canonical(payload),
        prev_hash=head.hash,
    )
    event.hash = _hash_of(event)
    session.add(event)
    head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    problem: str | None = None
    at_seq: int | None = None


def verify(session: Session) -> ChainReport:
    """Recompute the chain; the first edit, deletion, insertion or reordering is reported."""
    events: Iterable[AuditEvent] = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    prev, expected_seq, count = GENESIS, 1, 0
    for event in events:
        count += 1
        if event.seq != expected_seq:
            return ChainReport(False, count, f"event {expected_seq} is missing (next is {event.seq})", expected_seq)
        if event.prev_hash != prev:
            return ChainReport(False, count, f"event {event.seq} does not follow event {event.seq - 1}", event.seq)
        if _hash_of(event) != event.hash:
            return ChainReport(False, count, f"event {event.seq} was altered after it was written", event.seq)
        prev, expected_seq = event.hash, expected_seq + 1
    head = session.get(AuditHead, CHAIN)
    last = expected_seq - 1
    if head is None:
        if count:
            return ChainReport(False, count, "the chain head record is missing", last)
        return ChainReport(True, 0)
    if head.seq != last or head.hash != prev:
        return ChainReport(False, count, f"the chain ends at event {last} but its head records event {head.seq}", last)
    return ChainReport(True, count)
