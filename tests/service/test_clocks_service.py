"""Time limits on the store (R19): clocks fed by real flows, 公告/实地查看 pauses, overdue and due-today lists."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update

from tests.review_helpers import submitted
from workstation.domain.clock import Calendar, Pause
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.errors import NotFound, UsageError
from workstation.services.changes import Recorder
from workstation.services.clocks import ClockService, office_date
from workstation.services.desk import Desk
from workstation.store.ids import new_id
from workstation.store.models import AuditEvent, ClockPause, Decision, Dossier, OutboxOp

WEEKDAYS = Calendar()  # Monday–Friday, no holidays: the arithmetic below is checked by hand


def d(text: str) -> date:
    return date.fromisoformat(text)


def office(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A time on `day` in the office's zone (UTC+8)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+08:00")


@pytest.fixture
def rev(desk: Desk) -> Actor:
    admin = desk.users.actor("admin")
    desk.users.add(
        admin,
        username="revall",
        password="rev-pass-all",
        roles=["reviewer"],
        can_review_online=True,
        can_review_offline=True,
    )
    return desk.users.actor("revall")


@pytest.fixture
def clocks(desk: Desk) -> ClockService:
    return ClockService(desk.db, desk.catalogue, station_id=desk.settings.station_id, calendar=WEEKDAYS)


def set_accepted(desk: Desk, number: str, when: datetime) -> None:
    with desk.db.transaction() as session:
        session.execute(update(Dossier).where(Dossier.number == number).values(accepted_at=when))


def set_pause(
    desk: Desk, number: str, reason: str, *, started: datetime, ended: datetime | str | None = "keep"
) -> None:
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        values: dict[str, Any] = {"started_at": started}
        if ended != "keep":
            values["ended_at"] = ended
        session.execute(
            update(ClockPause).where(ClockPause.dossier_id == dossier_id, ClockPause.reason == reason).values(**values)
        )


def return_for_supplement(desk: Desk, rev: Actor, number: str) -> None:
    lease = desk.review.claim_next(rev)
    assert lease is not None and lease.number == number
    desk.review.decide(
        rev,
        number,
        "return",
        lease_id=lease.lease_id,
        fence=lease.fence,
        items=[ReturnItem(problem="missing", material="M01")],
    )


def approve_and_register(desk: Desk, rev: Actor, number: str) -> None:
    lease = desk.review.claim_next(rev)
    assert lease is not None and lease.number == number
    desk.review.decide(rev, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    desk.review.register(rev, number)


def dossier_events(desk: Desk, number: str) -> list[tuple[str, str, dict[str, Any]]]:
    with desk.db.read() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.entity_id == dossier_id).order_by(AuditEvent.seq)
        ).scalars()
        return [(e.action, e.actor, json.loads(e.payload)) for e in rows]


def dossier_ops(desk: Desk, number: str) -> list[tuple[str, int | None]]:
    with desk.db.read() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        rows = session.execute(select(OutboxOp).where(OutboxOp.entity_id == dossier_id).order_by(OutboxOp.seq))
        return [(op.kind, op.base_version) for op in rows.scalars()]


# --- the real flow ------------------------------------------------------------------------------------------------


def test_return_pauses_the_clock_and_resubmission_restarts_it(desk: Desk, clerk: Actor, rev: Actor) -> None:
    clocks = ClockService(desk.db, desk.catalogue, station_id=desk.settings.station_id, calendar=WEEKDAYS)
    number = submitted(desk, clerk).number
    with desk.db.read() as session:
        accepted_at = session.execute(select(Dossier.accepted_at).where(Dossier.number == number)).scalar_one()
    assert accepted_at is not None
    today = office_date(accepted_at)
    due = WEEKDAYS.add_working_days(today, 5)  # RESALE_TRANSFER: 5 working days, acceptance day not counted

    view = clocks.clock(number, today=today)
    assert (view.state, view.accepted, view.limit_days, view.used, view.remaining, view.due) == (
        "running",
        today,
        5,
        0,
        5,
        due,
    )
    assert view.pauses == () and not view.paused

    return_for_supplement(desk, rev, number)
    view = clocks.clock(number, today=today)
    assert view.pauses == (Pause(start=today, end=None, reason="supplement"),)
    assert (view.state, view.paused, view.due, view.overdue) == ("paused", True, None, False)
    # Far past the due date: an open pause still has no due date, so it is not overdue.
    later = clocks.clock(number, today=due + timedelta(days=30))
    assert (later.due, later.overdue, later.paused) == (None, False, True)
    assert number not in [e.number for e in clocks.overdue(today=due + timedelta(days=30))]
    # 补正 pauses belong to review and resubmission, not to the hand.
    with pytest.raises(UsageError, match="resubmission"):
        clocks.resume(clerk, number, "supplement")
    with pytest.raises(UsageError, match="resubmission"):
        clocks.pause(rev, number, "supplement")

    desk.dossiers.answer(clerk, number, 1, "申请书已补交 the form was handed in")
    desk.dossiers.submit(clerk, number)  # resubmission closes the 补正 pause
    view = clocks.clock(number, today=today)
    assert view.pauses == (Pause(start=today, end=today, reason="supplement"),)
    # A pause opened and closed on the same day costs no working day.
    assert (view.state, view.paused, view.due) == ("running", False, due)
    with desk.db.read() as session:
        pause = session.execute(select(ClockPause)).scalar_one()
    assert (pause.started_by, pause.ended_by) == ("revall", "clerk1")

    approve_and_register(desk, rev, number)
    with desk.db.read() as session:
        registered_at = session.execute(select(Dossier.registered_at).where(Dossier.number == number)).scalar_one()
    assert registered_at is not None
    stopped = clocks.clock(number, today=due + timedelta(days=60))
    assert (stopped.state, stopped.stopped_at, stopped.as_of) == ("stopped", registered_at, office_date(registered_at))
    assert (stopped.status, stopped.due, stopped.overdue) == ("registered", due, False)
    assert stopped.to_json()["state"] == "stopped" and stopped.to_json()["due"] == due.isoformat()
    # Finished dossiers are in neither list, however late the day.
    assert clocks.overdue(today=due + timedelta(days=60)) == []
    assert clocks.due_today(today=due) == []
    with pytest.raises(UsageError, match="registered: its clock has stopped"):
        clocks.pause(rev, number, "announcement")


def test_working_days_with_a_backdated_supplement_pause(
    desk: Desk, clerk: Actor, rev: Actor, clocks: ClockService
) -> None:
    number = submitted(desk, clerk).number
    return_for_supplement(desk, rev, number)
    desk.dossiers.answer(clerk, number, 1, "申请书已补交 the form was handed in")
    desk.dossiers.submit(clerk, number)
    # Accepted Monday 2026-03-02; 补正 issued Wednesday 03-04, resubmitted Monday 03-09.
    set_accepted(desk, number, office("2026-03-02"))
    set_pause(desk, number, "supplement", started=office("2026-03-04", 11), ended=office("2026-03-09", 15))
    # Counted: Tue 03-03, Wed 03-04 | paused 03-05, 03-06, 03-09 | Tue 03-10, Wed 03-11, Thu 03-12.
    view = clocks.clock(number, today=d("2026-03-06"))
    assert (view.used, view.remaining, view.paused, view.due, view.state) == (2, 3, True, d("2026-03-12"), "paused")
    view = clocks.clock(number, today=d("2026-03-12"))
    assert (view.used, view.remaining, view.due_today, view.state) == (5, 0, True, "due today")
    view = clocks.clock(number, today=d("2026-03-16"))  # Fri 03-13 and Mon 03-16 are past the limit
    assert (view.used, view.remaining, view.overdue, view.state) == (7, 0, True, "overdue")
    assert [e.number for e in clocks.due_today(today=d("2026-03-12"))] == [number]
    assert [e.number for e in clocks.overdue(today=d("2026-03-13"))] == [number]


def test_dates_are_taken_in_the_office_time_zone(desk: Desk, clerk: Actor, clocks: ClockService) -> None:
    number = submitted(desk, clerk).number
    # 17:30 UTC on Monday is 01:30 on Tuesday in the office: accepted Tuesday 03-03, due Tuesday 03-10.
    set_accepted(desk, number, datetime(2026, 3, 2, 17, 30, tzinfo=UTC))
    view = clocks.clock(number, today=d("2026-03-03"))
    assert (view.accepted, view.used, view.due) == (d("2026-03-03"), 0, d("2026-03-10"))


def test_default_calendar_skips_the_national_day_week(desk: Desk, clerk: Actor) -> None:
    clocks = ClockService(desk.db, desk.catalogue, station_id=desk.settings.station_id)  # packaged holidays
    number = submitted(desk, clerk).number
    # Friday 2025-09-26: Sunday 09-28 (调休), 09-29, 09-30, then 10-01..10-08 off, 10-09, 10-10.
    set_accepted(desk, number, office("2025-09-26"))
    view = clocks.clock(number, today=d("2025-10-08"))
    assert (view.used, view.remaining, view.due) == (3, 2, d("2025-10-10"))
    assert [e.number for e in clocks.due_today(today=d("2025-10-10"))] == [number]


# --- lists ------------------------------------------------------------------------------------------------------------


def test_overdue_and_due_today_lists(desk: Desk, clerk: Actor, rev: Actor, clocks: ClockService) -> None:
    # A finished dossier first (the pool is then empty for the claims below): long past due, in no list.
    done = submitted(desk, clerk).number
    approve_and_register(desk, rev, done)
    set_accepted(desk, done, office("2026-02-02"))

    late_a = submitted(desk, clerk).number  # accepted Mon 03-02: due Mon 03-09
    late_b = submitted(desk, clerk).number  # accepted Fri 02-27: due Fri 03-06
    today_c = submitted(desk, clerk).number  # accepted Wed 03-04: due Wed 03-11
    paused_d = submitted(desk, clerk).number  # accepted Mon 03-02, 公告 from Tue 03-03, still open
    resumed_e = submitted(desk, clerk).number  # accepted Mon 03-02, 公告 03-03..03-05: due Wed 03-11
    running_f = submitted(desk, clerk).number  # accepted Tue 03-10: due Tue 03-17
    draft = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").number
    for number, day in [
        (late_a, "2026-03-02"),
        (late_b, "2026-02-27"),
        (today_c, "2026-03-04"),
        (paused_d, "2026-03-02"),
        (resumed_e, "2026-03-02"),
        (running_f, "2026-03-10"),
    ]:
        set_accepted(desk, number, office(day))
    clocks.pause(rev, paused_d, "announcement", note="公告期 15 个工作日")
    set_pause(desk, paused_d, "announcement", started=office("2026-03-03"))
    clocks.pause(clerk, resumed_e, "site_visit")
    clocks.resume(clerk, resumed_e, "site_visit")
    set_pause(desk, resumed_e, "site_visit", started=office("2026-03-03"), ended=office("2026-03-05", 16))

    today = d("2026-03-11")
    overdue = clocks.overdue(today=today)
    assert [e.number for e in overdue] == [late_b, late_a]  # earliest due first
    first = overdue[0]
    assert (first.business, first.accepted, first.limit_days, first.due) == (
        "RESALE_TRANSFER",
        d("2026-02-27"),
        5,
        d("2026-03-06"),
    )
    assert (first.used, first.remaining, first.paused) == (8, 0, False)
    assert overdue[1].to_json() == {
        "number": late_a,
        "business": "RESALE_TRANSFER",
        "accepted": "2026-03-02",
        "limit_days": 5,
        "due": "2026-03-09",
        "used": 7,
        "remaining": 0,
        "paused": False,
    }
    due = clocks.due_today(today=today)
    assert sorted(e.number for e in due) == sorted([today_c, resumed_e])
    assert {(e.due, e.used, e.remaining, e.paused) for e in due} == {(today, 5, 0, False)}

    # The paused dossier has no due date, and is in neither list.
    view = clocks.clock(paused_d, today=today)
    assert (view.due, view.paused, view.used, view.state) == (None, True, 1, "paused")
    assert view.pauses == (Pause(start=d("2026-03-03"), end=None, reason="announcement"),)
    assert clocks.clock(draft).state == "not accepted yet"
    assert running_f not in [e.number for e in overdue + due]

    assert [e.number for e in clocks.due_today(today=d("2026-03-09"))] == [late_a]
    assert [e.number for e in clocks.overdue(today=d("2026-03-09"))] == [late_b]


def test_lists_take_two_queries_at_five_thousand_open_dossiers(desk: Desk, clerk: Actor, clocks: ClockService) -> None:
    base: dict[str, Any] = {
        "station_id": desk.settings.station_id,
        "business_code": "RESALE_TRANSFER",
        "registration_type": "TRANSFER",
        "channel": "window",
        "applicant_kind": "individual",
        "digitized": False,
        "hall_mode": "standard",
        "stage_plan": "ACCEPT REVIEW REGISTER ISSUE",
        "conditions": [],
        "stage": "REVIEW",
        "status": "submitted",
        "applied_at": office("2026-01-05"),
        "created_by": clerk.user_id,
        "created_at": office("2026-01-05"),
        "updated_at": office("2026-01-05"),
        "version": 2,
        "fence": 0,
    }
    plan = [("2026-02-02", 2000, False), ("2026-03-04", 1000, False), ("2026-03-10", 1000, False)]
    plan.append(("2026-02-02", 1000, True))  # paused by an open 公告 from 02-03: no due date
    dossiers: list[dict[str, Any]] = []
    pauses: list[dict[str, Any]] = []
    for day, how_many, paused in plan:
        for _ in range(how_many):
            dossier_id = new_id()
            dossiers.append({**base, "id": dossier_id, "number": f"S-{len(dossiers):06d}", "accepted_at": office(day)})
            if paused:
                pauses.append(
                    {
                        "id": new_id(),
                        "dossier_id": dossier_id,
                        "reason": "announcement",
                        "started_at": office("2026-02-03"),
                        "started_by": "clerk1",
                        "note": "",
                    }
                )
    with desk.db.transaction() as session:
        session.execute(insert(Dossier), dossiers)
        session.execute(insert(ClockPause), pauses)

    selects: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(desk.db.engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        overdue = clocks.overdue(today=d("2026-03-11"))
        due = clocks.due_today(today=d("2026-03-11"))
        elapsed = time.perf_counter() - started
    finally:
        event.remove(desk.db.engine, "before_cursor_execute", count)
    assert len(selects) == 4  # two per list: the open dossiers, then their pauses
    assert (len(overdue), len(due)) == (2000, 1000)
    assert {e.due for e in overdue} == {d("2026-02-09")} and {e.due for e in due} == {d("2026-03-11")}
    print(f"\ntwo lists over 5,000 open dossiers in {elapsed:.2f} s")  # a figure, not a limit


# --- pausing by hand ----------------------------------------------------------------------------------------------


def test_announcement_pause_and_resume_are_audited_without_a_version_bump(
    desk: Desk, clerk: Actor, rev: Actor, clocks: ClockService
) -> None:
    number = submitted(desk, clerk).number
    version = desk.dossiers.show(number).version
    opened = clocks.pause(rev, number, "announcement", note="  公告 15 个工作日 ")
    assert (opened.reason, opened.ended_at, opened.started_by, opened.note) == (
        "announcement",
        None,
        "revall",
        "公告 15 个工作日",
    )
    with pytest.raises(UsageError, match="already has an open announcement"):
        clocks.pause(clerk, number, "announcement")
    site = clocks.pause(clerk, number, "site_visit")  # another reason may run at the same time
    assert clocks.clock(number).paused and clocks.clock(number).due is None

    closed = clocks.resume(rev, number, "announcement")
    assert closed.id == opened.id and closed.ended_by == "revall" and closed.ended_at is not None
    assert closed.ended_at >= closed.started_at
    with pytest.raises(UsageError, match="no open announcement"):
        clocks.resume(rev, number, "announcement")
    assert clocks.clock(number).due is None  # the site visit still stops it
    clocks.resume(clerk, number, "site_visit")
    view = clocks.clock(number)
    assert view.due is not None and not view.paused
    assert sorted(p.reason for p in view.pauses) == ["announcement", "site_visit"]
    # A new announcement after the first is closed is fine.
    clocks.pause(rev, number, "announcement")

    assert desk.dossiers.show(number).version == version
    events = [(a, actor, p) for a, actor, p in dossier_events(desk, number) if a.startswith("clock.")]
    assert [(a, actor, p["reason"]) for a, actor, p in events] == [
        ("clock.pause", "revall", "announcement"),
        ("clock.pause", "clerk1", "site_visit"),
        ("clock.resume", "revall", "announcement"),
        ("clock.resume", "clerk1", "site_visit"),
        ("clock.pause", "revall", "announcement"),
    ]
    assert events[0][2]["pause_id"] == opened.id and events[1][2]["pause_id"] == site.id
    assert events[0][2]["note"] == "公告 15 个工作日" and events[0][2]["version"] == version
    ops = [op for op in dossier_ops(desk, number) if op[0].startswith("clock.")]
    assert ops == [
        ("clock.pause", None),
        ("clock.pause", None),
        ("clock.resume", None),
        ("clock.resume", None),
        ("clock.pause", None),
    ]
    assert desk.verify_audit().ok


def test_a_recorder_without_a_sink_only_audits_a_pause(desk: Desk, clerk: Actor) -> None:
    clocks = ClockService(
        desk.db, desk.catalogue, station_id=desk.settings.station_id, recorder=Recorder(desk.settings.station_id)
    )
    number = submitted(desk, clerk).number
    clocks.pause(clerk, number, "site_visit")
    assert [a for a, _, _ in dossier_events(desk, number)][-1] == "clock.pause"
    assert [k for k, _ in dossier_ops(desk, number) if k.startswith("clock.")] == []


def test_pauses_are_refused_where_they_make_no_sense(desk: Desk, clerk: Actor, clocks: ClockService) -> None:
    draft = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").number
    with pytest.raises(UsageError, match="not accepted yet"):
        clocks.pause(clerk, draft, "announcement")
    view = clocks.clock(draft)
    assert (view.state, view.accepted, view.used, view.remaining, view.due, view.paused) == (
        "not accepted yet",
        None,
        None,
        None,
        None,
        False,
    )
    assert view.to_json()["accepted"] is None
    with pytest.raises(UsageError, match="unknown pause reason 'holiday'"):
        clocks.pause(clerk, draft, "holiday")
    with pytest.raises(NotFound, match="no dossier NOPE"):
        clocks.pause(clerk, "NOPE", "announcement")
    with pytest.raises(NotFound):
        clocks.clock("NOPE")

    number = submitted(desk, clerk).number
    desk.dossiers.withdraw(clerk, number, reason="applicants withdrew")
    with pytest.raises(UsageError, match="withdrawn: its clock has stopped"):
        clocks.pause(clerk, number, "site_visit")
    with desk.db.read() as session:
        updated_at = session.execute(select(Dossier.updated_at).where(Dossier.number == number)).scalar_one()
    view = clocks.clock(number, today=d("2099-01-01"))
    assert (view.state, view.stopped_at, view.as_of) == ("stopped", updated_at, office_date(updated_at))


def test_pause_needs_review_or_edit_permission(desk: Desk, clerk: Actor, clocks: ClockService) -> None:
    number = submitted(desk, clerk).number
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="qc1", password="qc-pass-001", roles=["qc"])
    for actor in (admin, desk.users.actor("qc1")):
        with pytest.raises(PermissionDenied, match="may not pause or resume a time-limit clock"):
            clocks.pause(actor, number, "announcement")
        with pytest.raises(PermissionDenied):
            clocks.resume(actor, number, "announcement")
    assert not [a for a, _, _ in dossier_events(desk, number) if a.startswith("clock.")]
    assert clocks.pause(clerk, number, "announcement").started_by == "clerk1"  # clerks edit dossiers


def test_rejected_dossier_clock_stops_at_the_decision(
    desk: Desk, clerk: Actor, rev: Actor, clocks: ClockService
) -> None:
    number = submitted(desk, clerk).number
    lease = desk.review.claim_next(rev)
    assert lease is not None
    desk.review.decide(rev, number, "reject", lease_id=lease.lease_id, fence=lease.fence, reason_code="dispute")
    with desk.db.read() as session:
        decided_at = session.execute(select(Decision.decided_at)).scalar_one()
    view = clocks.clock(number, today=d("2099-01-01"))
    assert (view.state, view.status, view.stopped_at, view.as_of) == (
        "stopped",
        "rejected",
        decided_at,
        office_date(decided_at),
    )
    assert (view.used, view.overdue) == (0, False)
