"""The transactional outbox: every change the registry must learn of is queued with the change itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workstation.store.db import next_counter
from workstation.store.models import OutboxOp


def enqueue(
    session: Session,
    *,
    station_id: str,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    base_version: int | None = None,
    actor: str | None = None,
    intent: dict[str, Any] | None = None,
) -> OutboxOp:
    """Queue one op with the station's next sequence number (gap-free: it rolls back with the change)."""
    op = OutboxOp(
        station_id=station_id,
        seq=next_counter(session, f"outbox:{station_id}"),
        kind=kind,
        entity_id=entity_id,
        base_version=base_version,
        payload=payload,
        actor=actor,
        intent=intent,
    )
    session.add(op)
    return op
