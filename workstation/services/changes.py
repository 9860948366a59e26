"""One way to record a change to a dossier: its version, its audit event and word of it, in ONE transaction.

Every service and the registry record through a `Recorder`. The caller changes the rows; the recorder then
- raises the dossier's version by exactly one (a *change*) or leaves it as it is (a *note*: a fact about the
  dossier that is not a new state of it, such as a clock pause or an evaluation);
- appends one audit event (station, person, action, and `payload`, which says what happened);
- hands the change to its sink: on a desk, an outbox op for the registry carrying `wire` (the op's typed payload,
  never a stage, status or version: the registry decides those) or nothing for what stays on the desk; at the
  registry, the change feed the desks pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from workstation.services import audit, outbox
from workstation.store.models import Dossier
from workstation.store.types import utcnow


@dataclass(frozen=True)
class Change:
    action: str  # the audit action, and the op's kind when it is sent
    dossier: Dossier  # as it is after the change
    station_id: str  # where it was done
    actor: str  # who did it
    base_version: int | None  # the version it was made on; None for a note
    wire: Mapping[str, Any] | None  # what the registry is told; None: nothing (it stays here)
    op_kind: str  # the kind of op `wire` is sent as (usually the action)
    payload: Mapping[str, Any] = field(default_factory=dict)  # what the audit says happened


class Sink(Protocol):
    def __call__(self, session: Session, change: Change) -> str | None:
        """Record word of the change; the id of the op queued for the registry, if one was."""


class Recorder:
    def __init__(self, station_id: str, sink: Sink | None = None):
        self.station_id = station_id
        self._sink = sink

    def change(
        self,
        session: Session,
        actor: str,
        dossier: Dossier,
        action: str,
        payload: Mapping[str, Any],
        *,
        wire: Mapping[str, Any] | None = None,
        station_id: str | None = None,
        op_kind: str | None = None,
    ) -> str | None:
        """A new version of the dossier (exactly one more); returns the id of the op sent for it, if one was."""
        base = dossier.version
        dossier.version = base + 1
        dossier.updated_at = utcnow()
        return self._write(session, actor, dossier, action, payload, wire, station_id, base, op_kind)

    def note(
        self,
        session: Session,
        actor: str,
        dossier: Dossier,
        action: str,
        payload: Mapping[str, Any],
        *,
        wire: Mapping[str, Any] | None = None,
        station_id: str | None = None,
        op_kind: str | None = None,
    ) -> str | None:
        """A fact about the dossier that leaves its version as it is; returns the id of the op sent, if one was."""
        return self._write(session, actor, dossier, action, payload, wire, station_id, None, op_kind)

    def _write(
        self,
        session: Session,
        actor: str,
        dossier: Dossier,
        action: str,
        payload: Mapping[str, Any],
        wire: Mapping[str, Any] | None,
        station_id: str | None,
        base: int | None,
        op_kind: str | None,
    ) -> str | None:
        station = station_id or self.station_id
        session.flush()
        audit.append(
            session,
            station_id=station,
            actor=actor,
            action=action,
            entity="dossier",
            entity_id=dossier.id,
            payload={"number": dossier.number, "version": dossier.version, **payload},
        )
        if self._sink is None:
            return None
        return self._sink(session, Change(action, dossier, station, actor, base, wire, op_kind or action, payload))


class OutboxSink:
    """A desk's sink: the changes the registry must hear of become ops in the outbox, in the same transaction."""

    def __init__(self, station_id: str):
        self.station_id = station_id

    def __call__(self, session: Session, change: Change) -> str | None:
        if change.wire is None:
            return None
        op = outbox.enqueue(
            session,
            station_id=self.station_id,
            kind=change.op_kind,
            entity_id=change.dossier.id,
            payload=dict(change.wire),
            base_version=change.base_version,
            actor=change.actor,
            intent={"stage": change.dossier.stage, "status": change.dossier.status},
        )
        session.flush()
        return op.op_id


def desk_recorder(station_id: str) -> Recorder:
    return Recorder(station_id, OutboxSink(station_id))
