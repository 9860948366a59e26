"""Quarterly records per person and per unit (R17) from a real flow with hand-counted working days.

The flow runs through the services at fixed office times (time-machine), so every timestamp on every row is the
one written here. The calendar (workstation/domain/data/holidays.toml) has 2026-10-01..07 as 国庆节 holidays and
Saturday 2026-10-10 as an adjusted working day; working days are counted in (start date, end date].

    D6  accepted Tue 09-01, rev_a approves Mon 09-14 (9 days), reg1 registers 09-15 (1): due 09-08, late (Q3)
    D1  accepted Wed 09-30 23:30 (Q3), rev_a approves Fri 10-09 (2: the holidays are not counted),
        reg1 registers Mon 10-12 (2: the adjusted Saturday is), due 10-13; QC pass; evaluated 09-30 23:50 (1)
    D2  applied Tue 09-29, accepted Thu 10-01 00:10 (Q4; 受理 1 day), rev_a returns it Thu 10-08 (1), resubmitted
        Wed 10-14, rev_b approves Fri 10-16 (2: the 补正 is not counted), reg1 registers Mon 10-19 (1), due 10-20;
        QC minor; evaluated 10-20 (5)
    D3  accepted Mon 11-02, rev_b approves Fri 11-06 (4), reg1 registers Mon 11-16 (6), due 11-09: late;
        QC major → a correction for reg1, resolved 11-25; evaluated 11-17 (2)
    D4  applied Thu 11-05, accepted Mon 11-09 (2) by the registry's record clerk1@JN-SZ-01, rev_a rejects it
        Tue 11-10 (1) after a refused decision; evaluated 11-11 (4)
    D5  accepted Tue 12-01 by clerk1@JN-SZ-01, not reviewed: due 12-08, overdue from 12-09 on

Units: the desk's station and clerk1, rev_a, reg1 are JN-LX; station JN-SZ-01 (so its clerk record), rev_b and
qc1 are JN-SZ.
"""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.review_helpers import submitted
from workstation.cli import main
from workstation.domain.errors import DomainError
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.domain.stats import percentile, spread
from workstation.errors import ConflictError, NotFound, UsageError
from workstation.services.desk import Desk
from workstation.services.people import PeopleService
from workstation.services.records_quarter import QUARTER_COLUMNS, Quarter, QuarterRecord
from workstation.services.views import OFFICE_TZ
from workstation.store.models import AuditEvent, Dossier, QcCheck, Station, User

DEC_10 = date(2026, 12, 10)  # D5 is overdue (due 12-08)
DEC_03 = date(2026, 12, 3)  # D5 is not yet
STATION_CLERK = "clerk1@JN-SZ-01"


def office(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=OFFICE_TZ)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> time_machine.travel:
    return time_machine.travel(office(month, day, hour, minute), tick=False)


# --- median and p90 (pure) ------------------------------------------------------------------------------------------

durations = st.one_of(
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
)


@given(durations, st.randoms(use_true_random=False))
def test_p90_is_at_least_the_median_both_within_the_values_whatever_their_order(
    values: list[float], rnd: random.Random
) -> None:
    summary = spread(values)
    assert summary is not None and summary.count == len(values)
    assert min(values) <= summary.median <= summary.p90 <= max(values)
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert spread(shuffled) == summary


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40))
def test_the_median_is_the_statistics_median(values: list[int]) -> None:
    summary = spread(values)
    assert summary is not None and summary.median == statistics.median(values)


def test_p90_interpolates_between_the_closest_ranks() -> None:
    assert percentile([1, 2, 6], 90) == pytest.approx(5.2)  # rank 1.8: 2 + 0.8 × (6 − 2)
    assert percentile([0, 1], 90) == pytest.approx(0.9)
    assert percentile([7], 90) == 7
    assert spread([]) is None
    with pytest.raises(DomainError, match="no values"):
        percentile([], 50)
    with pytest.raises(DomainError, match="between 0 and 100"):
        percentile([1], 101)


# --- quarters -------------------------------------------------------------------------------------------------------


def test_a_quarter_is_three_months_of_office_time() -> None:
    q4 = Quarter.parse("2026Q4")
    assert (q4.label, q4.first_day, q4.last_day) == ("2026Q4", date(2026, 10, 1), date(2026, 12, 31))
    assert (q4.since, q4.until) == (office(10, 1, 0), office(1, 1, 0, year=2027))
    assert Quarter.parse("2026q1").since == office(1, 1, 0)
    for bad in ("2026Q5", "2026Q0", "2026-Q4", "26Q4", "2026", "Q4 2026", ""):
        with pytest.raises(UsageError, match=r"is not a quarter: write YYYYQn, e\.g\. 2026Q4"):
            Quarter.parse(bad)


# --- the flow -------------------------------------------------------------------------------------------------------


@dataclass
class City:
    desk: Desk
    number: dict[str, str]  # D1… → 受理号
    actor: dict[str, Actor]


def decide(desk: Desk, who: Actor, number: str, kind: str, **extra: object) -> None:
    lease = desk.review.claim_next(who)
    assert lease is not None and lease.number == number
    desk.review.decide(who, number, kind, lease_id=lease.lease_id, fence=lease.fence, **extra)  # type: ignore[arg-type]


def inspect(desk: Desk, qc: Actor, number: str, result: str, notes: str = "") -> None:
    """QC inspection of a registered dossier (opened here when the 3% sample did not draw it)."""
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        check = session.execute(select(QcCheck).where(QcCheck.dossier_id == dossier_id)).scalar_one_or_none()
        if check is None:
            check = QcCheck(dossier_id=dossier_id, basis="sampled")
            session.add(check)
            session.flush()
        check_id = check.id
    desk.qc.record(qc, check_id, result, notes=notes)


@pytest.fixture
def city(desk: Desk, clerk: Actor) -> City:
    station = desk.settings.station_id
    people = PeopleService(desk.db, station_id=station)
    for name, roles, unit, display in (
        ("rev_a", ["reviewer"], "JN-LX", "审核员 甲"),
        ("rev_b", ["reviewer"], "JN-SZ", "审核员 乙"),
        ("reg1", ["registrar"], "JN-LX", "登簿人 丁"),
        ("qc1", ["qc"], "JN-SZ", "质检员 丙"),
    ):
        people.add(
            "registry-admin", name, "person-pass-1", roles, online=True, offline=True, unit=unit, display_name=display
        )
    with desk.db.transaction() as session:
        session.add(Station(id="JN-SZ-01", name="市中区大厅", kind="hall"))
        # The registry's record of that station's clerk, as it makes one for a dossier a desk sends.
        session.add(User(username=STATION_CLERK, display_name=STATION_CLERK, password_hash="!", origin="station"))
    desk.records.set_station_unit("registry-admin", station, "JN-LX")
    desk.records.set_station_unit("registry-admin", "JN-SZ-01", "JN-SZ")
    a = {name: desk.users.actor(name) for name in ("rev_a", "rev_b", "reg1", "qc1")}
    n: dict[str, str] = {}

    with at(9, 1):
        n["D6"] = submitted(desk, clerk).number
    with at(9, 14, 10):
        decide(desk, a["rev_a"], n["D6"], "approve")
    with at(9, 15, 10):
        desk.review.register(a["reg1"], n["D6"])
    with at(9, 30, 23, 30):
        n["D1"] = submitted(desk, clerk).number
    with at(9, 30, 23, 50):
        desk.records.evaluate(n["D1"], 1)
    with at(10, 1, 0, 10):
        n["D2"] = submitted(desk, clerk, applied_at=office(9, 29, 10)).number
    with at(10, 8, 10):
        decide(desk, a["rev_a"], n["D2"], "return", items=[ReturnItem(problem="missing", material="M01")])
    with at(10, 9, 11):
        decide(desk, a["rev_a"], n["D1"], "approve")
    with at(10, 12, 15):
        desk.review.register(a["reg1"], n["D1"])
    with at(10, 14):
        desk.dossiers.answer(clerk, n["D2"], 1, "补交了身份证明")
        desk.dossiers.submit(clerk, n["D2"])
    with at(10, 16, 16):
        decide(desk, a["rev_b"], n["D2"], "approve")
    with at(10, 19, 10):
        desk.review.register(a["reg1"], n["D2"])
    with at(10, 20, 10):
        inspect(desk, a["qc1"], n["D1"], "pass")
        desk.records.evaluate(n["D2"], 5)
    with at(10, 21, 10):
        inspect(desk, a["qc1"], n["D2"], "minor", "坐落笔误")
    with at(11, 2):
        n["D3"] = submitted(desk, clerk).number
    with at(11, 6, 10):
        decide(desk, a["rev_b"], n["D3"], "approve")
    with at(11, 9):
        n["D4"] = submitted(desk, clerk, applied_at=office(11, 5)).number
    with at(11, 10, 14):
        lease = desk.review.claim_next(a["rev_a"])
        assert lease is not None and lease.number == n["D4"]
        with pytest.raises(ConflictError):  # a stale fence: recorded, not counted as reviewed
            desk.review.decide(
                a["rev_a"], n["D4"], "reject", lease_id=lease.lease_id, fence=lease.fence + 1, reason_code="dispute"
            )
        desk.review.decide(
            a["rev_a"], n["D4"], "reject", lease_id=lease.lease_id, fence=lease.fence, reason_code="dispute"
        )
    with at(11, 11, 10):
        desk.records.evaluate(n["D4"], 4)
    with at(11, 16, 10):
        desk.review.register(a["reg1"], n["D3"])
    with at(11, 17, 10):
        desk.records.evaluate(n["D3"], 2)
    with at(11, 20, 10):
        inspect(desk, a["qc1"], n["D3"], "major", "权利人姓名错误")
    with at(11, 25, 10):
        (correction,) = desk.qc.corrections()
        desk.qc.resolve_correction(a["reg1"], correction.id, "已更正并重新登簿")
    with at(12, 1):
        n["D5"] = submitted(desk, clerk).number
    with desk.db.transaction() as session:  # D4 and D5 came from station JN-SZ-01's clerk
        clerk_record = session.execute(select(User.id).where(User.username == STATION_CLERK)).scalar_one()
        session.execute(update(Dossier).where(Dossier.number.in_([n["D4"], n["D5"]])).values(created_by=clerk_record))
    return City(desk=desk, number=n, actor=a)


def rows_by_name(rows: list[QuarterRecord]) -> dict[str, QuarterRecord]:
    return {r.username if r.scope == "person" else f"unit:{r.unit}": r for r in rows}


def counts(r: QuarterRecord) -> tuple[int, ...]:
    return (r.taken_in, r.reviewed, r.returned, r.rejected, r.registered, r.overdue)


def days(r: QuarterRecord) -> tuple[float | None, ...]:
    return (
        r.accept_days_median,
        r.accept_days_p90,
        r.review_days_median,
        r.review_days_p90,
        r.register_days_median,
        r.register_days_p90,
    )


def quality(r: QuarterRecord) -> tuple[int, ...]:
    return (
        r.inspected_pass,
        r.inspected_minor,
        r.inspected_major,
        r.qc_pass,
        r.qc_minor,
        r.qc_major,
        r.corrections_opened,
        r.corrections_resolved,
    )


def test_each_person_has_their_counts_working_days_quality_and_evaluations(city: City) -> None:
    rows = rows_by_name(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10))
    assert sorted(rows) == sorted(
        ["clerk1", "rev_a", "reg1", "unit:JN-LX", STATION_CLERK, "qc1", "rev_b", "unit:JN-SZ"]
    )  # the desk's admin has no role the records count
    #                                       taken reviewed returned rejected registered overdue
    assert counts(rows["clerk1"]) == (2, 0, 0, 0, 0, 1)  # D2, D3 (D1 was Q3); D3 late
    assert counts(rows[STATION_CLERK]) == (2, 0, 0, 0, 0, 1)  # D4, D5; D5 past due on 12-10
    assert counts(rows["rev_a"]) == (0, 3, 1, 1, 0, 0)  # D2 returned, D1 approved, D4 rejected (not the conflict)
    assert counts(rows["rev_b"]) == (0, 2, 0, 0, 0, 1)  # D2, D3 approved; D3 late
    assert counts(rows["reg1"]) == (0, 0, 0, 0, 3, 1)  # D1, D2, D3 registered; D3 late
    assert counts(rows["qc1"]) == (0, 0, 0, 0, 0, 0)

    #                               受理 median, p90   审核 median, p90   登簿 median, p90
    assert days(rows["clerk1"]) == pytest.approx((0.5, 0.9, None, None, None, None))  # D2 1, D3 0
    assert days(rows[STATION_CLERK]) == pytest.approx((1.0, 1.8, None, None, None, None))  # D4 2, D5 0
    assert days(rows["rev_a"]) == pytest.approx((None, None, 1.0, 1.8, None, None))  # D2 1, D1 2, D4 1
    assert days(rows["rev_b"]) == pytest.approx((None, None, 3.0, 3.8, None, None))  # D2 2 after 补正, D3 4
    assert days(rows["reg1"]) == pytest.approx((None, None, None, None, 2.0, 5.2))  # D1 2, D2 1, D3 6

    #                                inspected p/mi/ma   QC of theirs p/mi/ma   corrections opened/resolved
    assert quality(rows["qc1"]) == (1, 1, 1, 0, 0, 0, 0, 0)
    assert quality(rows["rev_a"]) == (0, 0, 0, 1, 0, 0, 0, 0)  # D1 approved: pass (D2 it only returned)
    assert quality(rows["rev_b"]) == (0, 0, 0, 0, 1, 1, 0, 0)  # D2 minor, D3 major
    assert quality(rows["reg1"]) == (0, 0, 0, 1, 1, 1, 1, 1)  # registered all three; D3's correction
    assert quality(rows["clerk1"]) == (0, 0, 0, 0, 0, 0, 0, 0)

    evaluations = {name: (r.evaluations, r.evaluation_mean) for name, r in rows.items() if r.scope == "person"}
    assert evaluations == {
        "clerk1": (2, 3.5),  # D2 5, D3 2 (D1's was in Q3)
        STATION_CLERK: (1, 4.0),  # D4
        "rev_a": (2, 4.5),  # D2 (returned it) 5, D4 4
        "rev_b": (2, 3.5),  # D2 5, D3 2
        "reg1": (0, None),  # a registrar takes in and decides nothing
        "qc1": (0, None),
    }
    rev_a = rows["rev_a"]
    assert (rev_a.unit, rev_a.display_name, rev_a.roles) == ("JN-LX", "审核员 甲", ("reviewer",))
    assert (rows["clerk1"].unit, rows[STATION_CLERK].unit) == ("JN-LX", "JN-SZ")  # from their stations


def test_a_unit_counts_each_event_once_whoever_of_its_people_did_it(city: City) -> None:
    rows = rows_by_name(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10))
    lx, sz = rows["unit:JN-LX"], rows["unit:JN-SZ"]
    assert (lx.username, lx.display_name, lx.roles) == ("", "", ())
    assert counts(lx) == (2, 3, 1, 1, 3, 1)  # D3 late: its clerk and registrar are both JN-LX, one dossier
    assert counts(sz) == (2, 2, 0, 0, 0, 2)  # D3 (rev_b) and D5 (the station's clerk)
    assert days(lx) == pytest.approx((0.5, 0.9, 1.0, 1.8, 2.0, 5.2))
    assert days(sz) == pytest.approx((1.0, 1.8, 3.0, 3.8, None, None))
    assert quality(lx) == (0, 0, 0, 1, 1, 1, 1, 1)  # D1 approved and registered in JN-LX: one pass
    assert quality(sz) == (1, 1, 1, 0, 1, 1, 0, 0)
    # JN-LX took in or decided D2 (5), D3 (2), D4 (4); JN-SZ D2, D3 and D4 too — each evaluation once.
    assert (lx.evaluations, sz.evaluations) == (3, 3)
    assert lx.evaluation_mean == sz.evaluation_mean == pytest.approx(11 / 3)
    in_order = city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10)
    names = [r.username or f"unit:{r.unit}" for r in in_order]
    assert names == ["clerk1", "reg1", "rev_a", "unit:JN-LX", STATION_CLERK, "qc1", "rev_b", "unit:JN-SZ"]


def test_quarter_boundaries_are_office_midnight(city: City) -> None:
    q3 = rows_by_name(city.desk.records.quarter("2026Q3", city.desk.clocks, today=DEC_10))
    q4 = rows_by_name(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10))
    with city.desk.db.read() as session:
        accepted = dict(
            session.execute(
                select(Dossier.number, Dossier.accepted_at).where(
                    Dossier.number.in_([city.number["D1"], city.number["D2"]])
                )
            ).all()
        )
    assert accepted[city.number["D1"]] == office(9, 30, 23, 30)  # 15:30 UTC the same day
    assert accepted[city.number["D2"]] == office(10, 1, 0, 10)  # 16:10 UTC on 09-30
    assert q3["clerk1"].taken_in == 2  # D6 and D1
    assert q4["clerk1"].taken_in == 2  # D2 and D3
    assert q3["clerk1"].accept_days_median == 0.0
    # D6 was late in Q3 (due 09-08, registered 09-15): counted there, once for the unit, and not again in Q4.
    assert (q3["clerk1"].overdue, q3["rev_a"].overdue, q3["reg1"].overdue, q3["unit:JN-LX"].overdue) == (1, 1, 1, 1)
    assert (q3["rev_a"].reviewed, q3["rev_a"].review_days_median) == (1, 9.0)  # 09-01 → 09-14
    assert (q3["reg1"].registered, q3["reg1"].register_days_median) == (1, 1.0)
    # D1's evaluation (09-30 23:50) is Q3's, for its clerk and for rev_a, who decided on D1 in Q4.
    assert (q3["clerk1"].evaluations, q3["clerk1"].evaluation_mean, q3["rev_a"].evaluations) == (1, 1.0, 1)
    assert q3["unit:JN-SZ"].overdue == 0 and q3["rev_b"].reviewed == 0


def test_an_open_dossier_counts_overdue_once_its_due_date_has_passed(city: City) -> None:
    early = rows_by_name(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_03))
    late = rows_by_name(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10))
    assert (early[STATION_CLERK].overdue, early["unit:JN-SZ"].overdue) == (0, 1)
    assert (late[STATION_CLERK].overdue, late["unit:JN-SZ"].overdue) == (1, 2)
    # As desks show it: D5's clock on 12-10, D3's stopped late at 登簿.
    assert city.desk.clocks.clock(city.number["D5"], today=DEC_10).overdue
    d3 = city.desk.clocks.clock(city.number["D3"], today=DEC_10)
    assert (d3.state, d3.due, d3.overdue) == ("stopped", date(2026, 11, 9), True)
    with pytest.raises(UsageError, match="2027Q1 has not begun yet"):
        city.desk.records.quarter("2027Q1", city.desk.clocks, today=DEC_10)


def test_a_dossier_late_at_a_quarters_end_and_finished_in_the_next_is_overdue_in_both(desk: Desk, clerk: Actor) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="rev1", password="rev-pass-01", roles=["reviewer"], can_review_offline=True)
    reviewer = desk.users.actor("rev1")
    with at(9, 21):  # Mon; due Tue 09-29 (09-25..27 are 中秋节 holidays)
        late_in_q3 = submitted(desk, clerk).number
    with at(9, 28):  # Mon; due Sat 10-10 (an adjusted working day): on time when Q3 ends
        late_in_q4 = submitted(desk, clerk).number
    with at(10, 8, 9):  # after the 国庆节 holidays
        decide(desk, reviewer, late_in_q3, "reject", reason_code="dispute")
    with at(10, 13, 9):
        decide(desk, reviewer, late_in_q4, "reject", reason_code="dispute")
    q3 = rows_by_name(desk.records.quarter("2026Q3", desk.clocks, today=DEC_10))
    q4 = rows_by_name(desk.records.quarter("2026Q4", desk.clocks, today=DEC_10))
    assert counts(q3["clerk1"]) == (2, 0, 0, 0, 0, 1)  # the first past due on 09-30, both still open then
    assert counts(q3["rev1"]) == (0, 0, 0, 0, 0, 0)  # had not worked on them by the end of Q3
    assert counts(q4["clerk1"]) == (0, 0, 0, 0, 0, 2)  # both finished late in Q4
    assert counts(q4["rev1"]) == (0, 2, 0, 2, 0, 2)
    assert q4["rev1"].review_days_median == 7.0  # 09-22..24, 09-28..30, 10-08; and 09-29, 09-30, 10-08..13
    # Nobody has a unit: their rows and the unit row for "no unit" come last, with an empty unit.
    assert [(r.scope, r.unit, r.username) for r in desk.records.quarter("2026Q4", desk.clocks, today=DEC_10)] == [
        ("person", "", "clerk1"),
        ("person", "", "rev1"),
        ("unit", "", ""),
    ]
    assert (q3["unit:"].overdue, q4["unit:"].overdue) == (1, 2)
    assert rows_by_name(desk.records.quarter("2026Q2", desk.clocks, today=DEC_10))["clerk1"].overdue == 0


def test_unit_filter_keeps_that_units_people_and_its_own_row(city: City) -> None:
    rows = city.desk.records.quarter("2026Q4", city.desk.clocks, unit="JN-SZ", today=DEC_10)
    assert [(r.scope, r.username) for r in rows] == [
        ("person", STATION_CLERK),
        ("person", "qc1"),
        ("person", "rev_b"),
        ("unit", ""),
    ]
    assert {r.unit for r in rows} == {"JN-SZ"}
    with pytest.raises(UsageError, match="no unit 'JN-XX' at the registry; units: JN-LX, JN-SZ"):
        city.desk.records.quarter("2026Q4", city.desk.clocks, unit="JN-XX", today=DEC_10)


def test_a_station_unit_is_validated_and_audited(desk: Desk) -> None:
    station = desk.settings.station_id
    with pytest.raises(UsageError, match="bad unit code"):
        desk.records.set_station_unit("registry-admin", station, "JN LX")
    with pytest.raises(NotFound, match="no station NOPE"):
        desk.records.set_station_unit("registry-admin", "NOPE", "JN-LX")
    desk.records.set_station_unit("registry-admin", station, "JN-LX")
    desk.records.set_station_unit("registry-admin", station, "JN-LX")  # no change: no second event
    with desk.db.read() as session:
        assert session.get(Station, station).unit == "JN-LX"  # type: ignore[union-attr]
        events = session.execute(select(AuditEvent).where(AuditEvent.action == "station.unit")).scalars().all()
    assert [(e.actor, e.entity_id, json.loads(e.payload)) for e in events] == [
        ("registry-admin", station, {"before": None, "unit": "JN-LX"})
    ]
    assert desk.verify_audit().ok


# --- the command ----------------------------------------------------------------------------------------------------

HEADER = (
    "quarter,scope,unit,username,display_name,roles,taken_in,reviewed,returned,rejected,registered,"
    "accept_days_median,accept_days_p90,review_days_median,review_days_p90,register_days_median,register_days_p90,"
    "overdue,inspected_pass,inspected_minor,inspected_major,qc_pass,qc_minor,qc_major,corrections_opened,"
    "corrections_resolved,evaluations,evaluation_mean"
)


@pytest.fixture
def frozen_dec_10() -> Iterator[None]:
    with time_machine.travel(office(12, 10, 12), tick=False):
        yield


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(tmp_path / "central"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_registry_records_writes_the_csv_with_one_header_and_exact_rows(
    city: City, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_dec_10: None
) -> None:
    target = tmp_path / "q4-jn-sz.csv"
    code, out, err = run(
        tmp_path, capsys, "registry", "records", "--quarter", "2026Q4", "--unit", "JN-SZ", "--csv", str(target),
        "--db", db_url,
    )  # fmt: skip
    assert (code, err, out) == (0, "", f"已写出 wrote {target}: 4 rows\n")
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # spreadsheet programs then show the Chinese names
    assert target.read_bytes().decode("utf-8-sig").split("\r\n") == [
        HEADER,
        "2026Q4,person,JN-SZ,clerk1@JN-SZ-01,clerk1@JN-SZ-01,,2,0,0,0,0,1.0,1.8,,,,,1,0,0,0,0,0,0,0,0,1,4.00",
        "2026Q4,person,JN-SZ,qc1,质检员 丙,qc,0,0,0,0,0,,,,,,,0,1,1,1,0,0,0,0,0,0,",
        "2026Q4,person,JN-SZ,rev_b,审核员 乙,reviewer,0,2,0,0,0,,,3.0,3.8,,,1,0,0,0,0,1,1,0,0,2,3.50",
        "2026Q4,unit,JN-SZ,,,,2,2,0,0,0,1.0,1.8,3.0,3.8,,,2,1,1,1,0,1,1,0,0,3,3.67",
        "",
    ]
    assert HEADER.split(",") == list(QUARTER_COLUMNS)


def test_registry_records_as_json_has_the_csv_keys_and_as_text_an_aligned_table(
    city: City, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen_dec_10: None
) -> None:
    code, out, err = run(tmp_path, capsys, "registry", "records", "--quarter", "2026Q4", "--json", "--db", db_url)
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert [list(r) for r in rows] == [list(QUARTER_COLUMNS)] * 8
    reg1 = next(r for r in rows if r["username"] == "reg1")
    assert (reg1["registered"], reg1["register_days_median"], reg1["register_days_p90"]) == (3, 2.0, 5.2)
    assert (reg1["roles"], reg1["evaluation_mean"], reg1["accept_days_median"]) == (["registrar"], None, None)
    csv_rows = list(csv.DictReader(io.StringIO(_csv_of(city))))
    assert [r["username"] for r in csv_rows] == [r["username"] for r in rows]

    code, out, err = run(tmp_path, capsys, "registry", "records", "--quarter", "2026Q4", "--db", db_url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "2026Q4 考核记录 records per person and per unit (R17)"
    start = next(i for i, line in enumerate(lines) if line.startswith("unit "))
    assert lines[start - 1] == "" and all(len(line) <= 120 for line in lines[:start])  # a legend that fits
    header, body = lines[start], lines[start + 1 :]
    assert body[4] == "" and body[-1] != ""  # a blank line after each unit's total, none at the end
    table = [header, *(line for line in body if line)]
    assert len(table) == 9 and len({len(line) for line in table}) == 1  # every line as wide: aligned
    for name in ("taken in", "registered", "review d", "overdue", "QC", "evaluations"):  # right-aligned under it
        end = header.index(name) + len(name)
        assert all(line[end - 1] != " " and line[end : end + 1] in ("", " ") for line in table), name
    assert table[1].split() == [
        "JN-LX", "clerk1", "2", "0", "0", "0", "0", "0.5/0.9", "-", "-", "1", "0/0/0", "0/0/0", "0/0", "2", "(3.50)",
    ]  # fmt: skip
    assert table[4].split() == [
        "JN-LX", "=", "unit", "total", "2", "3", "1", "1", "3", "0.5/0.9", "1.0/1.8", "2.0/5.2", "1", "0/0/0",
        "1/1/1", "1/1", "3", "(3.67)",
    ]  # fmt: skip


def _csv_of(city: City) -> str:
    out = io.StringIO(newline="")
    city.desk.records.quarter_to_csv(city.desk.records.quarter("2026Q4", city.desk.clocks, today=DEC_10), out)
    return out.getvalue()


@pytest.mark.parametrize("quarter", ["2026Q5", "2026-Q4", "Q4"])
def test_a_bad_quarter_is_one_line_and_exit_code_2(
    quarter: str, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(tmp_path, capsys, "registry", "records", "--quarter", quarter, "--db", db_url)
    assert (code, out) == (2, "")
    assert err == f"workstation: error: '{quarter}' is not a quarter: write YYYYQn, e.g. 2026Q4\n"


def test_registry_station_add_sets_its_unit(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], desk: Desk
) -> None:
    code, out, err = run(tmp_path, capsys, "registry", "station", "add", "JN-SZ-01", "--unit", "JN-SZ", "--db", db_url)
    assert code == 0 and out.startswith("站点 station JN-SZ-01 token"), err
    code, out, err = run(tmp_path, capsys, "registry", "station", "add", "JN-HY-01", "--unit", "JN HY", "--db", db_url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "bad unit code 'JN HY'" in err
    with desk.db.read() as session:
        units = dict(session.execute(select(Station.id, Station.unit)).all())
    assert units["JN-SZ-01"] == "JN-SZ"
    assert "JN-HY-01" not in units  # refused before any token was issued
