"""The registry as witness of this desk's audit chain.

At every sync the desk sends its chain head (the last event's seq and hash); the registry keeps each station's head
history and refuses a head that goes back or changes. Here the desk checks its chain against the last head the
registry witnessed: the chain must still hold that event, with that hash. A chain cut short, wiped or rewritten
(hashes recomputed) is caught as soon as one head was witnessed, whatever the desk's own head row says.

The registry's copy is the authority. The desk keeps the last head the registry acknowledged in its sync state, so
that `audit verify` offline still checks against it; that copy is in the desk's own database and can be edited
together with the chain, so a check against it proves less than one against the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workstation.services.audit import CHAIN, GENESIS
from workstation.services.syncstate import get_state, put_state
from workstation.store.models import AuditEvent, AuditHead, Dossier, Page, User

# Where the desk keeps the last head the registry acknowledged (sync state).
_SEQ, _HASH, _AT, _ERROR = "witness_seq", "witness_hash", "witness_at", "witness_error"


@dataclass(frozen=True)
class Head:
    """An audit chain head: the last event's sequence number and hash (0 and GENESIS: no event)."""

    seq: int
    hash: str
    at: datetime | None = None  # when the registry witnessed it (its clock)


@dataclass(frozen=True)
class WitnessReport:
    ok: bool
    problem: str | None = None
    at_seq: int | None = None
    witnessed: Head | None = None  # what the chain was checked against
    source: str | None = None  # "registry", "local registry" or "local copy"; None: no head was ever witnessed
    note: str | None = None  # e.g. the registry could not be reached, so the local copy was used

    def to_json(self) -> dict[str, Any]:
        w = self.witnessed
        return {
            "ok": self.ok,
            "problem": self.problem,
            "at_seq": self.at_seq,
            "source": self.source,
            "witnessed_seq": w.seq if w else None,
            "witnessed_hash": w.hash if w else None,
            "witnessed_at": w.at.isoformat() if w and w.at else None,
            "note": self.note,
        }


def local_head(session: Session) -> Head:
    """The desk's chain head as its head row records it (the last event where the row is missing)."""
    row = session.get(AuditHead, CHAIN)
    if row is not None:
        return Head(row.seq, row.hash)
    last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one_or_none()
    return Head(last.seq, last.hash) if last is not None else Head(0, GENESIS)


def event_hash_at(session: Session, seq: int) -> str | None:
    """The hash of the chain's event `seq` (None: no such event)."""
    return session.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq)).scalar_one_or_none()


def check_chain(session: Session, witnessed: Head | None, *, source: str | None = None) -> WitnessReport:
    """The local chain against the last head the registry witnessed, and an empty chain against the data held."""
    count, last = session.execute(select(func.count(AuditEvent.seq), func.max(AuditEvent.seq))).one()
    count, last = int(count or 0), int(last or 0)
    if witnessed is not None and witnessed.seq > 0:
        when = f" on {witnessed.at.isoformat(timespec='seconds')}" if witnessed.at else ""
        seen = f"the registry ({source or 'registry'}) witnessed event {witnessed.seq}{when}"
        event = session.get(AuditEvent, witnessed.seq)
        if count < witnessed.seq or event is None:
            return WitnessReport(
                False,
                f"event {witnessed.seq} is gone: the chain holds {count} events (up to event {last}) but {seen}; "
                "events were removed or the chain was replaced",
                witnessed.seq,
                witnessed,
                source,
            )
        if event.hash != witnessed.hash:
            return WitnessReport(
                False,
                f"event {witnessed.seq} has hash {event.hash[:16]}… but {seen} with hash {witnessed.hash[:16]}…; "
                "the chain was rewritten",
                witnessed.seq,
                witnessed,
                source,
            )
    if count == 0:
        held = _data_held(session)
        if held:
            return WitnessReport(
                False, f"the audit chain is empty but the database holds {held}: the chain was wiped", 0, witnessed
            )
    return WitnessReport(True, witnessed=witnessed, source=source)


def _data_held(session: Session) -> str | None:
    """What a desk holds that its chain must have recorded: dossiers, pages, users beyond the first admin."""
    dossiers = session.execute(select(func.count(Dossier.id))).scalar_one()
    pages = session.execute(select(func.count(Page.id))).scalar_one()
    users = session.execute(select(func.count(User.id))).scalar_one()
    parts = [f"{dossiers} dossiers" if dossiers else "", f"{pages} pages" if pages else ""]
    parts.append(f"{users} users" if users > 1 else "")
    held = ", ".join(p for p in parts if p)
    return held or None


def stored_witness(session: Session) -> Head | None:
    """The last head the registry acknowledged, as this desk keeps it (None: never witnessed)."""
    seq, hash_ = get_state(session, _SEQ), get_state(session, _HASH)
    if seq is None or hash_ is None or not seq.isdigit():
        return None
    at = get_state(session, _AT)
    try:
        when = datetime.fromisoformat(at) if at else None
    except ValueError:
        when = None
    return Head(int(seq), hash_, when)


def store_witness(session: Session, head: Head) -> None:
    """Keep the head the registry acknowledged; a stored head further on is kept (answers may come out of order)."""
    known = stored_witness(session)
    if known is not None and known.seq > head.seq:
        return
    put_state(session, _SEQ, str(head.seq))
    put_state(session, _HASH, head.hash)
    put_state(session, _AT, head.at.isoformat() if head.at else "")
    put_state(session, _ERROR, "")


def note_refusal(session: Session, message: str) -> None:
    """The registry refused this desk's head: shown in the sync status until a head is witnessed again."""
    put_state(session, _ERROR, message[:190])


def witness_error(session: Session) -> str | None:
    return get_state(session, _ERROR)


def witness_facts(session: Session) -> dict[str, Any] | None:
    """What `sync status --json` shows: the head the registry last acknowledged and its refusal, if any."""
    head, error = stored_witness(session), witness_error(session)
    if head is None and error is None:
        return None
    return {
        "seq": head.seq if head else None,
        "hash": head.hash if head else None,
        "witnessed_at": head.at.isoformat() if head and head.at else None,
        "refused": error,
    }
