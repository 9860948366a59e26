"""Quality inspection after 登簿 (R3–R4): record an inspection, and open a correction case on a major error.

QC never blocks: nothing here changes a dossier's stage or status, and the dossier's version is not bumped
(an inspection is a record about the dossier, not a change of it). Every change writes its rows, one audit
event per action and, with the outbox, one op per action, in ONE transaction: a major result and its
correction case commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, aliased

from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor, Permission, has_permission, require
from workstation.domain.qc import QcResult, needs_correction
from workstation.errors import NotFound, UsageError
from workstation.services.changes import Recorder
from workstation.store.db import Database
from workstation.store.models import Correction, Dossier, QcCheck, User
from workstation.store.types import utcnow

CHECK_STATES = ("pending", "done")
CORRECTION_STATES = ("open", "resolved")
_DEFECT_MAX = 200  # characters per defect
_DEFECTS_MAX = 50  # defects per inspection
_TEXT_MAX = 2000  # notes and resolutions


@dataclass(frozen=True)
class QcCheckView:
    id: str
    dossier_id: str
    number: str
    business: str
    basis: str  # full | sampled
    state: str  # pending | done
    result: str | None  # pass | minor | major
    defects: tuple[str, ...]
    notes: str
    created_at: datetime
    registered_at: datetime | None
    registrar: str | None  # 登簿人 (username)
    inspector: str | None
    inspected_at: datetime | None
    correction_id: str | None  # the correction a major result opened

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dossier_id": self.dossier_id,
            "number": self.number,
            "business": self.business,
            "basis": self.basis,
            "state": self.state,
            "result": self.result,
            "defects": list(self.defects),
            "notes": self.notes,
            "created_at": self.created_at.isoformat(),
            "registered_at": _iso(self.registered_at),
            "registrar": self.registrar,
            "inspector": self.inspector,
            "inspected_at": _iso(self.inspected_at),
            "correction_id": self.correction_id,
        }


@dataclass(frozen=True)
class CorrectionView:
    id: str
    dossier_id: str
    number: str
    business: str
    qc_check_id: str | None
    state: str  # open | resolved
    description: str
    assigned_to: str  # username
    opened_by: str  # username
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dossier_id": self.dossier_id,
            "number": self.number,
            "business": self.business,
            "qc_check_id": self.qc_check_id,
            "state": self.state,
            "description": self.description,
            "assigned_to": self.assigned_to,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "resolved_by": self.resolved_by,
            "resolved_at": _iso(self.resolved_at),
            "resolution": self.resolution,
        }


class QcService:
    def __init__(self, db: Database, *, station_id: str, recorder: Recorder | None = None):
        self._db = db
        self._station = station_id
        self._recorder = recorder or Recorder(station_id)

    # -- reading ---------------------------------------------------------------------------------------

    def pending(self, limit: int = 200) -> list[QcCheckView]:
        """Checks waiting for an inspector, oldest first."""
        return self.checks(state="pending", limit=limit)

    def checks(
        self, state: str | None = None, *, limit: int = 200, offset: int = 0, pending_first: bool = False
    ) -> list[QcCheckView]:
        """Checks (all, or those in `state`: pending | done), oldest first; `pending_first` puts the work on top.

        `offset` pages through a long list (an office inspects thousands a year) without loading it whole.
        """
        if state is not None and state not in CHECK_STATES:
            raise UsageError(f"unknown QC check state '{state}'; states: {', '.join(CHECK_STATES)}")
        _check_limit(limit)
        if offset < 0:
            raise UsageError(f"offset must not be negative, got {offset}")
        with self._db.read() as session:
            return _load_checks(
                session,
                *([QcCheck.state == state] if state is not None else []),
                limit=limit,
                offset=offset,
                pending_first=pending_first,
            )

    def count(self) -> dict[str, int]:
        """How many checks are in each state (pending, done)."""
        with self._db.read() as session:
            rows = session.execute(select(QcCheck.state, func.count(QcCheck.id)).group_by(QcCheck.state)).all()
        counts = dict.fromkeys(CHECK_STATES, 0)
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    def check(self, check_id: str) -> QcCheckView:
        with self._db.read() as session:
            return self._check_view(session, check_id)

    def corrections(
        self, state: str | None = None, assigned_to_username: str | None = None, *, limit: int = 500
    ) -> list[CorrectionView]:
        """Correction cases (all, or open | resolved; optionally of one assignee), oldest first."""
        if state is not None and state not in CORRECTION_STATES:
            raise UsageError(f"unknown correction state '{state}'; states: {', '.join(CORRECTION_STATES)}")
        _check_limit(limit)
        with self._db.read() as session:
            criteria: list[ColumnElement[bool]] = []
            if state is not None:
                criteria.append(Correction.state == state)
            if assigned_to_username is not None:
                criteria.append(Correction.assigned_to == _user_by_name(session, assigned_to_username).id)
            return _load_corrections(session, *criteria, limit=limit)

    def correction(self, correction_id: str) -> CorrectionView:
        with self._db.read() as session:
            return self._correction_view(session, correction_id)

    # -- changing --------------------------------------------------------------------------------------

    def record(
        self,
        actor: Actor,
        check_id: str,
        result: QcResult | str,
        *,
        defects: Iterable[str] = (),
        notes: str = "",
        assign_to: str | None = None,
    ) -> QcCheckView:
        """Record an inspection; a major result opens a correction case at once, in the same transaction (R4).

        The correction goes to the user named by `assign_to` (an active user), or else to the registrar.
        """
        require(actor, Permission.QC_INSPECT)
        try:
            verdict = QcResult(result)
        except ValueError:
            raise UsageError(
                f"unknown QC result '{_shown(str(result), 40)}'; results: {', '.join(r.value for r in QcResult)}"
            ) from None
        found = _clean_defects(defects)
        note = _clean_text(notes, "notes")
        if verdict is not QcResult.PASS and not (found or note):
            raise UsageError(f"a {verdict.value} result needs at least one defect or a note saying what is wrong")
        if verdict is QcResult.PASS and found:
            raise UsageError("a pass lists no defects; record 'minor' for a defect that does not affect ownership")
        correct = needs_correction(verdict)
        if assign_to is not None and not correct:
            raise UsageError("only a major result opens a correction case to assign")
        with self._db.transaction() as session:
            check = self._lock_check(session, check_id)
            dossier = session.execute(select(Dossier).where(Dossier.id == check.dossier_id)).scalar_one()
            if check.state == "done":
                raise UsageError(
                    f"QC check {check.id} of {dossier.number} is already done ({check.result}); it is recorded once"
                )
            if dossier.registered_by == actor.user_id:
                raise PermissionDenied(
                    f"user '{actor.username}' registered {dossier.number} and may not inspect it (R3)"
                )
            assignee = self._assignee(session, dossier, assign_to) if correct else None
            now = utcnow()
            check.result, check.defects, check.notes = verdict.value, list(found), note
            check.inspector_id, check.inspected_at, check.state = actor.user_id, now, "done"
            session.flush()
            self._record(
                session,
                actor,
                dossier,
                "qc.record",
                {
                    "qc_check_id": check.id,
                    "basis": check.basis,
                    "result": verdict.value,
                    "defects": list(found),
                    "notes": note,
                    "inspector": actor.username,
                    "inspected_at": now.isoformat(),
                },
            )
            if assignee is not None:
                correction = Correction(
                    dossier_id=dossier.id,
                    qc_check_id=check.id,
                    description="; ".join([*found, *([note] if note else [])]),
                    assigned_to=assignee.id,
                    opened_by=actor.user_id,
                    opened_at=now,
                )
                session.add(correction)
                session.flush()
                self._record(
                    session,
                    actor,
                    dossier,
                    "correction.open",
                    {
                        "correction_id": correction.id,
                        "qc_check_id": check.id,
                        "description": correction.description,
                        "assigned_to": assignee.username,
                        "opened_at": now.isoformat(),
                    },
                )
            return self._check_view(session, check.id)

    def resolve_correction(self, actor: Actor, correction_id: str, resolution: str) -> CorrectionView:
        """Close a correction case with what was done; only its assignee or a QC inspector may."""
        text = _clean_text(resolution, "resolution")
        if not text:
            raise UsageError("a resolution is required: say what was corrected")
        with self._db.transaction() as session:
            correction = session.execute(
                select(Correction).where(Correction.id == correction_id).with_for_update()
            ).scalar_one_or_none()
            if correction is None:
                raise NotFound(f"no correction {_shown(correction_id, 80)}")
            dossier = session.execute(select(Dossier).where(Dossier.id == correction.dossier_id)).scalar_one()
            if correction.assigned_to != actor.user_id and not has_permission(actor, Permission.QC_INSPECT):
                assignee = session.execute(select(User.username).where(User.id == correction.assigned_to)).scalar_one()
                raise PermissionDenied(
                    f"user '{actor.username}' may not resolve correction {correction.id} of {dossier.number}: "
                    f"only its assignee '{assignee}' or a QC inspector may"
                )
            if correction.state != "open":
                raise UsageError(f"correction {correction.id} of {dossier.number} is already resolved")
            now = utcnow()
            correction.state, correction.resolution = "resolved", text
            correction.resolved_by, correction.resolved_at = actor.user_id, now
            session.flush()
            self._record(
                session,
                actor,
                dossier,
                "correction.resolve",
                {
                    "correction_id": correction.id,
                    "qc_check_id": correction.qc_check_id,
                    "resolution": text,
                    "resolved_by": actor.username,
                    "resolved_at": now.isoformat(),
                },
            )
            return self._correction_view(session, correction.id)

    # -- internals -------------------------------------------------------------------------------------

    @staticmethod
    def _lock_check(session: Session, check_id: str) -> QcCheck:
        check = session.execute(select(QcCheck).where(QcCheck.id == check_id).with_for_update()).scalar_one_or_none()
        if check is None:
            raise NotFound(f"no QC check {_shown(check_id, 80)}")
        return check

    @staticmethod
    def _assignee(session: Session, dossier: Dossier, username: str | None) -> User:
        if username is not None:
            user = _user_by_name(session, username)
            if not user.active:
                raise UsageError(f"user '{username}' is disabled; assign the correction to an active user")
            return user
        if dossier.registered_by is None:
            raise UsageError(f"{dossier.number} has no registrar on record; name the correction's assignee")
        registrar = session.get(User, dossier.registered_by)
        if registrar is None:
            raise UsageError(f"the registrar of {dossier.number} is not a user of this desk; name the assignee")
        if not registrar.active:
            raise UsageError(
                f"the registrar of {dossier.number}, '{registrar.username}', is disabled; name the assignee"
            )
        return registrar

    @staticmethod
    def _check_view(session: Session, check_id: str) -> QcCheckView:
        found = _load_checks(session, QcCheck.id == check_id)
        if not found:
            raise NotFound(f"no QC check {_shown(check_id, 80)}")
        return found[0]

    @staticmethod
    def _correction_view(session: Session, correction_id: str) -> CorrectionView:
        found = _load_corrections(session, Correction.id == correction_id)
        if not found:
            raise NotFound(f"no correction {_shown(correction_id, 80)}")
        return found[0]

    def _record(self, session: Session, actor: Actor, dossier: Dossier, action: str, payload: dict[str, Any]) -> None:
        """One QC fact about the dossier: audited, no new version (QC is no stage), never sent (R3 is the
        registry's: it opens its own inspections at 登簿)."""
        self._recorder.note(session, actor.username, dossier, action, payload)


_Registrar = aliased(User, name="registrar")
_Inspector = aliased(User, name="inspector")
_Assignee = aliased(User, name="assignee")
_Opener = aliased(User, name="opener")
_Resolver = aliased(User, name="resolver")


def _load_checks(
    session: Session,
    *criteria: ColumnElement[bool],
    limit: int | None = None,
    offset: int = 0,
    pending_first: bool = False,
) -> list[QcCheckView]:
    """Checks matching `criteria` with their dossier, registrar, inspector and correction, oldest first."""
    order = [case((QcCheck.state == "pending", 0), else_=1)] if pending_first else []
    query = (
        select(QcCheck, Dossier, _Registrar.username, _Inspector.username, Correction.id)
        .join(Dossier, Dossier.id == QcCheck.dossier_id)
        .outerjoin(_Registrar, _Registrar.id == Dossier.registered_by)
        .outerjoin(_Inspector, _Inspector.id == QcCheck.inspector_id)
        .outerjoin(Correction, Correction.qc_check_id == QcCheck.id)
        .where(*criteria)
        .order_by(*order, QcCheck.created_at, QcCheck.id)
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [_check_view(row) for row in session.execute(query).all()]


def _check_view(row: Any) -> QcCheckView:
    check: QcCheck
    dossier: Dossier
    check, dossier, registrar, inspector, correction_id = row
    return QcCheckView(
        id=check.id,
        dossier_id=dossier.id,
        number=dossier.number,
        business=dossier.business_code,
        basis=check.basis,
        state=check.state,
        result=check.result,
        defects=tuple(str(d) for d in check.defects or ()),
        notes=check.notes or "",
        created_at=check.created_at,
        registered_at=dossier.registered_at,
        registrar=registrar,
        inspector=inspector,
        inspected_at=check.inspected_at,
        correction_id=correction_id,
    )


def _load_corrections(
    session: Session, *criteria: ColumnElement[bool], limit: int | None = None
) -> list[CorrectionView]:
    """Correction cases matching `criteria` with their dossier and people, oldest first."""
    query = (
        select(Correction, Dossier, _Assignee.username, _Opener.username, _Resolver.username)
        .join(Dossier, Dossier.id == Correction.dossier_id)
        .join(_Assignee, _Assignee.id == Correction.assigned_to)
        .join(_Opener, _Opener.id == Correction.opened_by)
        .outerjoin(_Resolver, _Resolver.id == Correction.resolved_by)
        .where(*criteria)
        .order_by(Correction.opened_at, Correction.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_correction_view(row) for row in session.execute(query).all()]


def _correction_view(row: Any) -> CorrectionView:
    correction: Correction
    dossier: Dossier
    correction, dossier, assignee, opener, resolver = row
    return CorrectionView(
        id=correction.id,
        dossier_id=dossier.id,
        number=dossier.number,
        business=dossier.business_code,
        qc_check_id=correction.qc_check_id,
        state=correction.state,
        description=correction.description,
        assigned_to=assignee,
        opened_by=opener,
        opened_at=correction.opened_at,
        resolved_by=resolver,
        resolved_at=correction.resolved_at,
        resolution=correction.resolution or "",
    )


def _user_by_name(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user '{_shown(username, 64)}' on this desk")
    return user


def _clean_defects(defects: Iterable[str]) -> tuple[str, ...]:
    if isinstance(defects, str):
        raise UsageError("defects are a list of short descriptions, not one string")
    cleaned: list[str] = []
    for defect in defects:
        if not isinstance(defect, str):
            raise UsageError("each defect is a short text")
        text = " ".join(defect.split())
        if not text:
            continue
        if len(text) > _DEFECT_MAX:
            raise UsageError(f"a defect is at most {_DEFECT_MAX} characters; put the detail in the notes")
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > _DEFECTS_MAX:
        raise UsageError(f"at most {_DEFECTS_MAX} defects per inspection, got {len(cleaned)}")
    return tuple(cleaned)


def _clean_text(text: str, what: str) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > _TEXT_MAX:
        raise UsageError(f"{what}: at most {_TEXT_MAX} characters, got {len(cleaned)}")
    return cleaned


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")


def _shown(text: str, limit: int) -> str:
    """User input quoted in an error: one line, at most `limit` characters."""
    return " ".join(text.split())[:limit]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
