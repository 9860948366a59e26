"""A desk with a registry mirrors what the registry decided about its dossiers, from the change feed.

The registry decides from 受理 on (stage, status, version), keeps the clock (R19) and records decisions; the desk
copies them here, in the transaction that moves its feed cursor, and shows them with their age. Each entry
carries whole facts (a complete clock, a complete decision), so mirroring one twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workstation.services import audit
from workstation.services.supplement import snapshot_of
from workstation.services.users import REGISTRY_ORIGIN
from workstation.store.models import Decision, Dossier, User
from workstation.store.types import parse_instant

_DECISION_KINDS = ("approve", "return", "reject")


def mirror_state(session: Session, dossier: Dossier, payload: Mapping[str, Any], at: str | None) -> bool:
    """One `dossier.state` (or `dossier.clock`) entry of the feed; True when anything here changed."""
    changed = False
    clock = payload.get("clock")
    if isinstance(clock, Mapping):
        changed |= mirror_clock(dossier, clock, at)
    decision = payload.get("decision")
    if isinstance(decision, Mapping):
        changed |= mirror_decision(session, dossier, decision, payload)
    version = payload.get("version")
    stage, status = payload.get("stage"), payload.get("status")
    if isinstance(version, int) and isinstance(stage, str) and isinstance(status, str) and version > dossier.version:
        dossier.stage, dossier.status, dossier.version = stage, status, version
        changed = True
    registered = payload.get("registered")
    if isinstance(registered, Mapping):
        when = parse_instant(registered.get("at"))
        if when is not None and dossier.registered_at != when:
            dossier.registered_at = when
            by = registered.get("by")
            if isinstance(by, str) and by:
                dossier.registered_by = _person(session, by).id
            changed = True
    entries = payload.get("entries")
    if isinstance(entries, list) and entries:
        from workstation.services.register import RegisterBook

        changed |= RegisterBook.mirror(session, [e for e in entries if isinstance(e, Mapping)]) > 0
    if changed:
        audit.append_here(
            session,
            actor="registry",
            action="dossier.mirror",
            entity="dossier",
            entity_id=dossier.id,
            payload={"number": dossier.number, "version": dossier.version, "stage": dossier.stage, "at": at},
        )
    return changed


def mirror_clock(dossier: Dossier, clock: Mapping[str, Any], at: str | None) -> bool:
    """Keep the registry's clock facts as they are; the desk reads its clock from them."""
    pauses = [
        {
            "reason": str(p.get("reason")),
            "started_at": p.get("started_at"),
            "ended_at": p.get("ended_at"),
        }
        for p in clock.get("pauses") or []
        if isinstance(p, Mapping) and isinstance(p.get("started_at"), str)
    ]
    mirror = {
        "accepted_at": clock.get("accepted_at") if isinstance(clock.get("accepted_at"), str) else None,
        "stopped_at": clock.get("stopped_at") if isinstance(clock.get("stopped_at"), str) else None,
        "status": clock.get("status") if isinstance(clock.get("status"), str) else None,
        "pauses": pauses,
        "at": at,
    }
    if dossier.clock_mirror == mirror:
        return False
    dossier.clock_mirror = mirror
    accepted = parse_instant(mirror["accepted_at"])
    if accepted is not None:
        dossier.accepted_at = accepted  # 受理 as the registry recorded it
    return True


def mirror_decision(session: Session, dossier: Dossier, decision: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """A reviewer's applied decision, as the registry recorded it: the window sees a 补正 list, the reviewer's
    opinion and the time; the list is kept with what the dossier held, to check the resubmission against."""
    decision_id, op_id, kind = decision.get("id"), decision.get("op_id"), decision.get("kind")
    if not isinstance(decision_id, str) or kind not in _DECISION_KINDS:
        return False
    known = (
        or_(Decision.id == decision_id, Decision.op_id == op_id)
        if isinstance(op_id, str)
        else (Decision.id == decision_id)
    )
    if session.execute(select(Decision.id).where(known).limit(1)).first() is not None:
        return False  # this desk made it (the reviewer's own) or has it already
    reviewer = decision.get("reviewer")
    items = [dict(i) for i in decision.get("items") or [] if isinstance(i, Mapping)]
    session.add(
        Decision(
            id=decision_id,
            op_id=op_id if isinstance(op_id, str) else None,
            dossier_id=dossier.id,
            reviewer_id=_person(session, reviewer if isinstance(reviewer, str) and reviewer else "registry").id,
            station_id="registry",
            kind=kind,
            outcome="applied",
            reason_code=decision.get("reason_code") if isinstance(decision.get("reason_code"), str) else None,
            items=items,
            note=str(decision.get("note") or "")[:2000],
            stage_before=dossier.stage,
            status_before=dossier.status,
            stage_after=state.get("stage") if isinstance(state.get("stage"), str) else None,
            status_after=state.get("status") if isinstance(state.get("status"), str) else None,
            decided_at=parse_instant(decision.get("decided_at"))
            or parse_instant(state.get("at"))
            or dossier.updated_at,
            # What the window holds now is what it sent: a dossier under review is not edited at the window.
            baseline=snapshot_of(session, dossier).to_json() if kind == "return" else None,
        )
    )
    session.flush()
    return True


def _person(session: Session, username: str) -> User:
    """This desk's record of a registry person (a reviewer, a registrar) named in what it mirrors."""
    name = username[:100]
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        user = User(username=name, display_name=name, password_hash="!", roles="", origin=REGISTRY_ORIGIN)
        session.add(user)
        session.flush()
    return user
