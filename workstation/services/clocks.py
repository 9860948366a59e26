"""Time limits (R19): the working-day clock of each dossier, its 公告/实地查看 pauses, overdue and due-today lists.

The arithmetic is the domain's (`workstation.domain.clock`); this service feeds it from the store:
- the acceptance date is `Dossier.accepted_at` (受理, set on the first submission) as a date in OFFICE_TZ;
- the limit is the catalogue's `time_limit_days` of the dossier's business;
- the pauses are the dossier's `ClockPause` rows as domain `Pause`s, their start and end dates in OFFICE_TZ.
  A 补正 pause ("supplement") is opened by a review return and closed by the resubmission; this service opens
  and closes only 公告 ("announcement") and 实地查看 ("site_visit") pauses, one open pause per reason.

"Today" is the office's date (OFFICE_TZ) unless passed in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.orm import Session

from workstation.domain import clock as domain_clock
from workstation.domain.catalogue import Catalogue
from workstation.domain.clock import Calendar, ClockStatus, Pause, default_calendar
from workstation.domain.errors import DomainError, PermissionDenied
from workstation.domain.permissions import Actor, Permission, UserRole, has_permission
from workstation.domain.stages import Status
from workstation.errors import NotFound, UsageError
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.views import OFFICE_TZ
from workstation.store.db import Database
from workstation.store.models import ClockPause, Decision, Dossier
from workstation.store.types import utcnow

# The clock stops for good once a dossier reaches one of these.
FINISHED_STATUSES: tuple[str, ...] = (
    Status.REGISTERED.value,
    Status.ISSUED.value,
    Status.REJECTED.value,
    Status.WITHDRAWN.value,
    Status.REFUSED.value,
)
MANUAL_REASONS: tuple[str, ...] = ("announcement", "site_visit")  # 公告, 实地查看: paused and resumed by hand
REASON_LABELS = {"supplement": "补正", "announcement": "公告", "site_visit": "实地查看"}
_NOTE_MAX = 2000

_Pick = Callable[[Iterable[domain_clock.Item[str]], date, Calendar], list[tuple[str, ClockStatus]]]


def office_date(at: datetime) -> date:
    """The office's calendar date (OFFICE_TZ) of an aware timestamp."""
    return at.astimezone(OFFICE_TZ).date()


def office_today() -> date:
    return office_date(utcnow())


@dataclass(frozen=True)
class PauseView:
    """One pause as recorded: who opened and closed it, when, and why."""

    id: str
    number: str
    reason: str  # supplement | announcement | site_visit
    started_at: datetime
    ended_at: datetime | None  # None: still open
    started_by: str
    ended_by: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "reason": self.reason,
            "reason_label": REASON_LABELS.get(self.reason, self.reason),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "started_by": self.started_by,
            "ended_by": self.ended_by,
            "note": self.note,
        }


@dataclass(frozen=True)
class ClockView:
    """The clock of one dossier, read on `as_of`.

    `state` is one of: "not accepted yet" (a draft: every reading is None), "stopped" (the dossier is finished;
    the reading is frozen on the day it finished, see `ClockService.clock`), "overdue", "due today", "paused",
    "running".
    """

    number: str
    business: str
    status: str  # the dossier's status
    limit_days: int  # working days (catalogue)
    accepted_at: datetime | None  # 受理
    accepted: date | None  # 受理 date in OFFICE_TZ
    as_of: date | None  # the day the reading is for: today, or the day the clock stopped
    stopped_at: datetime | None  # when the dossier finished (登簿, 不予登记 or 撤回), for a stopped clock
    state: str
    used: int | None
    remaining: int | None
    due: date | None  # None: not accepted yet, or an open pause stops the clock
    overdue: bool
    due_today: bool
    paused: bool
    pauses: tuple[Pause, ...]  # domain pauses, dates in OFFICE_TZ, oldest first
    source: str = "desk"  # "desk": this database keeps the clock; "registry": mirrored from the registry's
    synced_at: datetime | None = None  # for a mirrored clock: the registry's time of the last word of it

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "source": self.source,
            "synced_at": self.synced_at.isoformat() if self.synced_at else None,
            "business": self.business,
            "status": self.status,
            "limit_days": self.limit_days,
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None,
            "accepted": _iso(self.accepted),
            "as_of": _iso(self.as_of),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "state": self.state,
            "used": self.used,
            "remaining": self.remaining,
            "due": _iso(self.due),
            "overdue": self.overdue,
            "due_today": self.due_today,
            "paused": self.paused,
            "pauses": [{"reason": p.reason, "start": p.start.isoformat(), "end": _iso(p.end)} for p in self.pauses],
        }


@dataclass(frozen=True)
class ClockEntry:
    """One line of the overdue or due-today list."""

    number: str
    business: str
    accepted: date  # 受理 date in OFFICE_TZ
    limit_days: int
    due: date | None
    used: int
    remaining: int
    paused: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "business": self.business,
            "accepted": self.accepted.isoformat(),
            "limit_days": self.limit_days,
            "due": _iso(self.due),
            "used": self.used,
            "remaining": self.remaining,
            "paused": self.paused,
        }


class ClockService:
    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        *,
        station_id: str,
        calendar: Calendar | None = None,
        recorder: Recorder | None = None,
        mirrored: bool = False,
    ):
        self._db = db
        # A desk with a registry shows the registry's clock (R19) as mirrored from the feed, never its own guess.
        self.mirrored = mirrored
        self._catalogue = catalogue
        self._station = station_id
        self.calendar = calendar if calendar is not None else default_calendar()
        self._recorder = recorder or desk_recorder(station_id)

    # -- pausing by hand: 公告 and 实地查看 ---------------------------------------------------------------------

    def pause(self, actor: Actor, number: str, reason: str, note: str = "") -> PauseView:
        """Stop the clock of an accepted, unfinished dossier for a 公告 or 实地查看 (one open pause per reason)."""
        _require_clock_permission(actor)
        with self._db.transaction() as session:
            return self.pause_in(session, actor.username, load_dossier(session, number, lock=True), reason, note)

    def pause_in(
        self,
        session: Session,
        who: str,
        dossier: Dossier,
        reason: str,
        note: str = "",
        *,
        station_id: str | None = None,
    ) -> PauseView:
        """`pause` of the locked `dossier` in the caller's transaction (who may is the caller's check)."""
        reason = _manual_reason(reason)
        note = (note or "").strip()[:_NOTE_MAX]
        if dossier.accepted_at is None:
            raise UsageError(f"{dossier.number} is not accepted yet (受理): its clock has not started")
        if dossier.status in FINISHED_STATUSES:
            raise UsageError(f"{dossier.number} is {dossier.status}: its clock has stopped")
        existing = _open_pause(session, dossier.id, reason)
        if existing is not None:
            raise UsageError(
                f"{dossier.number} already has an open {reason} ({REASON_LABELS[reason]}) pause since "
                f"{office_date(existing.started_at).isoformat()}; resume it first"
            )
        now = utcnow()
        pause = ClockPause(dossier_id=dossier.id, reason=reason, started_at=now, started_by=who, note=note)
        session.add(pause)
        session.flush()
        payload = {"pause_id": pause.id, "reason": reason, "note": note, "started_at": now.isoformat()}
        self._note(session, who, dossier, "clock.pause", payload, station_id)
        return _pause_view(pause, dossier.number)

    def resume(self, actor: Actor, number: str, reason: str) -> PauseView:
        """Restart the clock: close the dossier's open pause for `reason` (公告 over, site visit done)."""
        _require_clock_permission(actor)
        with self._db.transaction() as session:
            return self.resume_in(session, actor.username, load_dossier(session, number, lock=True), reason)

    def resume_in(
        self, session: Session, who: str, dossier: Dossier, reason: str, *, station_id: str | None = None
    ) -> PauseView:
        """`resume` of the locked `dossier` in the caller's transaction (who may is the caller's check)."""
        reason = _manual_reason(reason)
        pause = _open_pause(session, dossier.id, reason)
        if pause is None:
            raise UsageError(f"{dossier.number} has no open {reason} ({REASON_LABELS[reason]}) pause to resume")
        now = max(utcnow(), pause.started_at)
        pause.ended_at, pause.ended_by = now, who
        session.flush()
        payload = {
            "pause_id": pause.id,
            "reason": reason,
            "started_at": pause.started_at.isoformat(),
            "ended_at": now.isoformat(),
        }
        self._note(session, who, dossier, "clock.resume", payload, station_id)
        return _pause_view(pause, dossier.number)

    # -- reading ---------------------------------------------------------------------------------------

    def clock(self, number: str, today: date | None = None) -> ClockView:
        """The dossier's clock on `today` (default: the office's today).

        A draft has no clock yet: state "not accepted yet", readings None. Once a dossier is finished the clock
        no longer counts: the reading is taken on the day it stopped (in OFFICE_TZ), whatever `today` is —
        registered or issued: `registered_at` (登簿 ends the time limit; 发证 does not count); rejected: the
        applied 不予登记 decision's `decided_at`; withdrawn: `updated_at`, the time of the withdrawal (a
        withdrawn dossier never changes again). `overdue` then says whether it finished late.
        """
        with self._db.read() as session:
            dossier = load_dossier(session, number)
            limit = self._limit(dossier.business_code, dossier.number)
            facts = self._facts(session, dossier)
        accepted_at, stopped_at, pauses, synced_at = facts if facts is not None else (None, None, (), None)
        base: dict[str, Any] = {
            "number": dossier.number,
            "business": dossier.business_code,
            "status": dossier.status,
            "limit_days": limit,
            "accepted_at": accepted_at,
            "pauses": pauses,
            "source": "registry" if self.mirrored else "desk",
            "synced_at": synced_at,
        }
        if accepted_at is None:
            # A mirrored clock the registry has not told of yet is not guessed from this desk's own times.
            unsynced = facts is None and dossier.status != Status.DRAFT.value
            return ClockView(
                **base,
                accepted=None,
                as_of=None,
                stopped_at=None,
                state="not synced" if unsynced else "not accepted yet",
                used=None,
                remaining=None,
                due=None,
                overdue=False,
                due_today=False,
                paused=False,
            )
        accepted = office_date(accepted_at)
        as_of = office_date(stopped_at) if stopped_at is not None else (today or office_today())
        st = domain_clock.status(accepted, limit, pauses, as_of, self.calendar)
        return ClockView(
            **base,
            accepted=accepted,
            as_of=as_of,
            stopped_at=stopped_at,
            state="stopped" if stopped_at is not None else _state(st),
            used=st.used,
            remaining=st.remaining,
            due=st.due,
            overdue=st.overdue,
            due_today=st.due_today,
            paused=st.paused,
        )

    def _facts(
        self, session: Session, dossier: Dossier
    ) -> tuple[datetime | None, datetime | None, tuple[Pause, ...], datetime | None] | None:
        """(accepted_at, stopped_at, pauses, synced_at) from this database, or from the registry's mirrored
        clock on a desk with a registry (None when it has not arrived yet)."""
        if self.mirrored:
            return _mirrored_facts(dossier.clock_mirror)
        rows = session.execute(
            select(ClockPause.reason, ClockPause.started_at, ClockPause.ended_at)
            .where(ClockPause.dossier_id == dossier.id)
            .order_by(ClockPause.started_at, ClockPause.id)
        ).all()
        pauses = tuple(_domain_pause(reason, start, end) for reason, start, end in rows)
        stopped_at = _stopped_at(session, dossier) if dossier.status in FINISHED_STATUSES else None
        return dossier.accepted_at, stopped_at, pauses, None

    def overdue(self, today: date | None = None) -> list[ClockEntry]:
        """Accepted, unfinished dossiers past their due date on `today`, earliest due first."""
        return self._select(domain_clock.overdue, today)

    def due_today(self, today: date | None = None) -> list[ClockEntry]:
        """Accepted, unfinished dossiers whose due date is `today`, oldest acceptance first."""
        return self._select(domain_clock.due_today, today)

    # -- internals -------------------------------------------------------------------------------------

    def _select(self, pick: _Pick, today: date | None) -> list[ClockEntry]:
        """Two queries whatever the number of dossiers: the open dossiers, then all their pauses."""
        day = today or office_today()
        if self.mirrored:
            return self._select_mirrored(pick, day)
        with self._db.read() as session:
            dossiers = session.execute(
                select(Dossier.id, Dossier.number, Dossier.business_code, Dossier.accepted_at)
                .where(*_running())
                .order_by(Dossier.accepted_at, Dossier.number)
            ).all()
            pause_rows = session.execute(
                select(ClockPause.dossier_id, ClockPause.reason, ClockPause.started_at, ClockPause.ended_at)
                .join(Dossier, Dossier.id == ClockPause.dossier_id)
                .where(*_running())
                .order_by(ClockPause.started_at, ClockPause.id)
            ).all()
        pauses: dict[str, list[Pause]] = defaultdict(list)
        for dossier_id, reason, start, end in pause_rows:
            pauses[dossier_id].append(_domain_pause(reason, start, end))
        info: dict[str, tuple[str, str, date, int]] = {}
        items: list[tuple[str, date, int, list[Pause]]] = []
        for dossier_id, number, business, accepted_at in dossiers:
            assert accepted_at is not None  # the query's filter
            accepted = office_date(accepted_at)
            limit = self._limit(business, number)
            info[dossier_id] = (number, business, accepted, limit)
            items.append((dossier_id, accepted, limit, pauses.get(dossier_id, [])))
        chosen = pick(items, day, self.calendar)
        return [_entry(info[dossier_id], st) for dossier_id, st in chosen]

    def _select_mirrored(self, pick: _Pick, day: date) -> list[ClockEntry]:
        with self._db.read() as session:
            rows = session.execute(
                select(Dossier.id, Dossier.number, Dossier.business_code, Dossier.clock_mirror)
                .where(Dossier.clock_mirror.is_not(None), Dossier.status.not_in(FINISHED_STATUSES))
                .order_by(Dossier.accepted_at, Dossier.number)
            ).all()
        info: dict[str, tuple[str, str, date, int]] = {}
        items: list[tuple[str, date, int, list[Pause]]] = []
        for dossier_id, number, business, mirror in rows:
            facts = _mirrored_facts(mirror)
            if facts is None or facts[0] is None or facts[1] is not None:
                continue  # not accepted, or stopped, as the registry last said
            accepted, limit = office_date(facts[0]), self._limit(business, number)
            info[dossier_id] = (number, business, accepted, limit)
            items.append((dossier_id, accepted, limit, list(facts[2])))
        return [_entry(info[dossier_id], st) for dossier_id, st in pick(items, day, self.calendar)]

    def _limit(self, business_code: str, number: str) -> int:
        try:
            return self._catalogue.business(business_code).time_limit_days
        except DomainError:
            raise UsageError(
                f"{number}: business '{business_code}' is not in the catalogue, so its time limit is unknown"
            ) from None

    def _note(
        self, session: Session, who: str, dossier: Dossier, action: str, payload: dict[str, Any], station: str | None
    ) -> None:
        """A pause is a fact about the dossier, not a version of it: audited and told to the registry as a note."""
        wire = {"reason": payload["reason"], "note": payload.get("note", "")}
        self._recorder.note(session, who, dossier, action, payload, wire=wire, station_id=station)


def _require_clock_permission(actor: Actor) -> None:
    if not (has_permission(actor, Permission.REVIEW_DECIDE) or has_permission(actor, Permission.DOSSIER_EDIT)):
        roles = ", ".join(role.value for role in UserRole if role in actor.roles) or "no role"
        raise PermissionDenied(
            f"user '{actor.username}' ({roles}) may not pause or resume a time-limit clock "
            f"(needs {Permission.REVIEW_DECIDE.value} or {Permission.DOSSIER_EDIT.value})"
        )


def _manual_reason(reason: str) -> str:
    if reason == "supplement":
        raise UsageError(
            "a supplement (补正) pause is opened by a review return and closed by the resubmission, not by hand"
        )
    if reason not in MANUAL_REASONS:
        raise UsageError(f"unknown pause reason '{str(reason)[:40]}'; reasons: {', '.join(MANUAL_REASONS)}")
    return reason


def _running() -> tuple[ColumnElement[bool], ...]:
    """Accepted and not finished: the dossiers whose clock still counts."""
    return (Dossier.accepted_at.is_not(None), Dossier.status.not_in(FINISHED_STATUSES))


def load_dossier(session: Session, number: str, *, lock: bool = False) -> Dossier:
    """The dossier with this 受理号 (locked for update when asked), or NotFound."""
    query = select(Dossier).where(Dossier.number == number)
    if lock:
        query = query.with_for_update()
    dossier = session.execute(query).scalar_one_or_none()
    if dossier is None:
        raise NotFound(f"no dossier {number[:80]}")
    return dossier


def end_supplement_pause(session: Session, dossier_id: str, when: datetime, by: str) -> None:
    """The 补正 pause ends with the resubmission (R19): close the dossier's open supplement pauses."""
    for pause in session.execute(
        select(ClockPause).where(
            ClockPause.dossier_id == dossier_id, ClockPause.reason == "supplement", ClockPause.ended_at.is_(None)
        )
    ).scalars():
        pause.ended_at, pause.ended_by = when, by


def _open_pause(session: Session, dossier_id: str, reason: str) -> ClockPause | None:
    return session.execute(
        select(ClockPause)
        .where(ClockPause.dossier_id == dossier_id, ClockPause.reason == reason, ClockPause.ended_at.is_(None))
        .order_by(ClockPause.started_at)
        .limit(1)
    ).scalar_one_or_none()


_PAUSES = (
    select(ClockPause.reason, ClockPause.started_at, ClockPause.ended_at)
    .where(ClockPause.dossier_id == bindparam("dossier"))
    .order_by(ClockPause.started_at, ClockPause.id)
)


def clock_facts(session: Session, dossier: Dossier) -> dict[str, Any]:
    """The clock's facts as the registry holds them (R19), for desks to mirror: acceptance, every pause, the stop.

    A whole snapshot each time, so mirroring it twice or out of a cut-off sync changes nothing."""
    pauses = session.execute(_PAUSES, {"dossier": dossier.id}).all()
    stopped = _stopped_at(session, dossier) if dossier.status in FINISHED_STATUSES else None
    return {
        "accepted_at": _iso_time(dossier.accepted_at),
        "stopped_at": _iso_time(stopped),
        "status": dossier.status,
        "pauses": [
            {"reason": reason, "started_at": _iso_time(start), "ended_at": _iso_time(end)}
            for reason, start, end in pauses
        ],
    }


def _mirrored_facts(
    mirror: dict[str, Any] | None,
) -> tuple[datetime | None, datetime | None, tuple[Pause, ...], datetime | None] | None:
    if not isinstance(mirror, dict):
        return None
    pauses = []
    for p in mirror.get("pauses") or []:
        start = _parse_time(p.get("started_at"))
        if start is not None and p.get("reason") in REASON_LABELS:
            pauses.append(_domain_pause(str(p["reason"]), start, _parse_time(p.get("ended_at"))))
    return (
        _parse_time(mirror.get("accepted_at")),
        _parse_time(mirror.get("stopped_at")),
        tuple(sorted(pauses, key=lambda x: x.start)),
        _parse_time(mirror.get("at")),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _iso_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _stopped_at(session: Session, dossier: Dossier) -> datetime:
    if dossier.status in (Status.REGISTERED.value, Status.ISSUED.value) and dossier.registered_at is not None:
        return dossier.registered_at
    if dossier.status == Status.REJECTED.value:
        decided = session.execute(
            select(Decision.decided_at)
            .where(Decision.dossier_id == dossier.id, Decision.kind == "reject", Decision.outcome == "applied")
            .order_by(Decision.decided_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if decided is not None:
            return decided
    return dossier.updated_at


def _domain_pause(reason: str, start: datetime, end: datetime | None) -> Pause:
    return Pause(start=office_date(start), end=office_date(end) if end is not None else None, reason=reason)


def _state(st: ClockStatus) -> str:
    if st.overdue:
        return "overdue"
    if st.due_today:
        return "due today"
    if st.paused:
        return "paused"
    return "running"


def _entry(info: tuple[str, str, date, int], st: ClockStatus) -> ClockEntry:
    number, business, accepted, limit = info
    return ClockEntry(
        number=number,
        business=business,
        accepted=accepted,
        limit_days=limit,
        due=st.due,
        used=st.used,
        remaining=st.remaining,
        paused=st.paused,
    )


def _pause_view(pause: ClockPause, number: str) -> PauseView:
    return PauseView(
        id=pause.id,
        number=number,
        reason=pause.reason,
        started_at=pause.started_at,
        ended_at=pause.ended_at,
        started_by=pause.started_by,
        ended_by=pause.ended_by,
        note=pause.note,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
