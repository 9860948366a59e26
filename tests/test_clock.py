"""Working-day clocks (R19): holiday calendar as data, pauses for 补正/公告/实地查看, overdue and due-today lists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain import DomainError
from workstation.domain.clock import (
    Calendar,
    CalendarError,
    Pause,
    due_date,
    due_today,
    overdue,
    status,
)

CAL = Calendar.load()


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- calendar ------------------------------------------------------------------------------------------------------


def test_packaged_calendar_covers_2025_and_2026() -> None:
    assert CAL.covers(d("2025-06-01")) and CAL.covers(d("2026-12-31"))
    assert not CAL.covers(d("2027-01-04"))
    assert not CAL.is_working_day(d("2025-01-01"))  # 元旦, a Wednesday
    assert CAL.is_working_day(d("2025-01-26"))  # Sunday, 春节 调休上班


def test_2026_national_day_week() -> None:
    # 2026-10-01..07 off; Sunday 09-20 and Saturday 10-10 are working days.
    for day in range(1, 8):
        assert not CAL.is_working_day(date(2026, 10, day))
    assert CAL.is_working_day(d("2026-09-20"))
    assert CAL.is_working_day(d("2026-10-10"))
    assert not CAL.is_working_day(d("2026-09-19"))  # an ordinary Saturday
    # Accepted Monday 09-28: 09-29, 09-30, (holiday week skipped), 10-08, 10-09, Saturday 10-10.
    assert due_date(d("2026-09-28"), 5, [], CAL) == d("2026-10-10")
    # Accepted Friday 09-18: the adjusted Sunday is the first working day.
    assert due_date(d("2026-09-18"), 1, [], CAL) == d("2026-09-20")
    assert CAL.working_days_between(d("2026-09-30"), d("2026-10-08")) == 1


def test_five_working_days_across_a_weekend() -> None:
    # Thursday 2026-03-05; acceptance day not counted: Fri, Mon, Tue, Wed, Thu.
    assert due_date(d("2026-03-05"), 5, [], CAL) == d("2026-03-12")
    assert CAL.add_working_days(d("2026-03-06"), 1) == d("2026-03-09")
    assert CAL.add_working_days(d("2026-03-07"), 0) == d("2026-03-07")


def test_plain_calendar_is_monday_to_friday() -> None:
    cal = Calendar()
    assert cal.is_working_day(d("2027-01-01"))  # a Friday, no data for 2027
    assert not cal.is_working_day(d("2027-01-02"))


# --- pauses --------------------------------------------------------------------------------------------------------


def test_supplement_pause_of_three_working_days_moves_due_by_three() -> None:
    accepted = d("2026-03-05")
    pause = Pause(d("2026-03-09"), d("2026-03-12"), "supplement")  # 03-10, 03-11, 03-12 not counted
    assert CAL.working_days_between(pause.start, pause.end or pause.start) == 3
    assert due_date(accepted, 5, [pause], CAL) == CAL.add_working_days(d("2026-03-12"), 3) == d("2026-03-17")


def test_pause_over_a_weekend_counts_only_working_days() -> None:
    pause = Pause(d("2026-03-06"), d("2026-03-09"), "announcement")  # Sat, Sun, Mon → 1 working day
    assert due_date(d("2026-03-05"), 5, [pause], CAL) == d("2026-03-13")


def test_overlapping_pauses_count_a_day_once() -> None:
    a = Pause(d("2026-03-09"), d("2026-03-11"), "supplement")
    b = Pause(d("2026-03-10"), d("2026-03-12"), "site_visit")
    assert due_date(d("2026-03-05"), 5, [a, b], CAL) == d("2026-03-17")


def test_open_pause_stops_the_clock() -> None:
    pause = Pause(d("2026-03-09"), None, "supplement")
    assert due_date(d("2026-03-05"), 5, [pause], CAL) is None
    s = status(d("2026-03-05"), 5, [pause], d("2026-03-20"), CAL)
    assert s.paused and s.due is None and not s.overdue and not s.due_today
    assert (s.used, s.remaining) == (2, 3)  # Fri 03-06 and Mon 03-09 counted, nothing after


def test_open_pause_after_the_limit_ran_out_keeps_the_due_date() -> None:
    pause = Pause(d("2026-03-16"), None, "supplement")
    assert due_date(d("2026-03-05"), 5, [pause], CAL) == d("2026-03-12")
    assert status(d("2026-03-05"), 5, [pause], d("2026-03-17"), CAL).overdue


def test_bad_pause_refused() -> None:
    with pytest.raises(DomainError, match="unknown pause reason"):
        Pause(d("2026-03-09"), None, "lunch")
    with pytest.raises(DomainError, match="before it starts"):
        Pause(d("2026-03-09"), d("2026-03-08"), "supplement")


# --- status and lists ----------------------------------------------------------------------------------------------


def test_status_counts_used_and_remaining() -> None:
    s = status(d("2026-03-05"), 5, [], d("2026-03-10"), CAL)
    assert (s.used, s.remaining, s.due) == (3, 2, d("2026-03-12"))
    assert not (s.overdue or s.due_today or s.paused)
    s = status(d("2026-03-05"), 5, [], d("2026-03-12"), CAL)
    assert s.due_today and not s.overdue and s.remaining == 0
    s = status(d("2026-03-05"), 5, [], d("2026-03-16"), CAL)
    assert s.overdue and s.used == 7 and s.remaining == 0


def test_status_paused_during_a_closed_pause() -> None:
    pause = Pause(d("2026-03-09"), d("2026-03-12"), "site_visit")
    assert status(d("2026-03-05"), 5, [pause], d("2026-03-10"), CAL).paused
    assert not status(d("2026-03-05"), 5, [pause], d("2026-03-12"), CAL).paused


def test_overdue_and_due_today_lists() -> None:
    today = d("2026-03-13")  # Friday
    items = [
        ("A", d("2026-03-05"), 5, []),  # due 03-12: overdue
        ("B", d("2026-03-04"), 5, []),  # due 03-11: overdue, earliest
        ("C", d("2026-03-06"), 5, []),  # due 03-13: due today
        ("D", d("2026-03-05"), 5, [Pause(d("2026-03-09"), None, "supplement")]),  # stopped
        ("E", d("2026-03-12"), 5, []),  # due 03-19
        ("F", d("2026-03-12"), 1, []),  # due 03-13: due today
    ]
    late = overdue(items, today, CAL)
    assert [(k, s.due) for k, s in late] == [("B", d("2026-03-11")), ("A", d("2026-03-12"))]
    assert [k for k, _ in due_today(items, today, CAL)] == ["C", "F"]


# --- properties ----------------------------------------------------------------------------------------------------

dates = st.dates(min_value=date(2024, 6, 1), max_value=date(2027, 6, 30))
reasons = st.sampled_from(["supplement", "announcement", "site_visit"])


@st.composite
def pauses(draw: st.DrawFn, open_allowed: bool = True) -> Pause:
    start = draw(dates)
    if open_allowed and draw(st.booleans()) and draw(st.booleans()):
        return Pause(start, None, draw(reasons))
    return Pause(start, start + timedelta(days=draw(st.integers(0, 60))), draw(reasons))


@given(dates, st.integers(0, 400))
def test_between_inverts_add(start: date, n: int) -> None:
    assert CAL.working_days_between(start, CAL.add_working_days(start, n)) == n


@given(dates, dates)
def test_between_is_antisymmetric(a: date, b: date) -> None:
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)


@given(dates, st.integers(0, 30), st.lists(pauses(), max_size=3), pauses())
def test_adding_a_pause_never_makes_the_due_date_earlier(
    accepted: date, limit: int, existing: list[Pause], extra: Pause
) -> None:
    before = due_date(accepted, limit, existing, CAL)
    after = due_date(accepted, limit, [*existing, extra], CAL)
    if before is None:
        assert after is None
    else:
        assert after is None or after >= before


@given(dates, st.integers(1, 30), st.lists(pauses(open_allowed=False), max_size=3))
def test_due_date_is_a_working_day_when_limit_positive(accepted: date, limit: int, ps: list[Pause]) -> None:
    due = due_date(accepted, limit, ps, CAL)
    assert due is not None and CAL.is_working_day(due) and due > accepted


# --- bad data ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[2026]\nholidays = ["2026-10-10"]\nworkdays = ["2026-10-10"]', "both a holiday and a working day"),
        ('[2026]\nholidays = ["2026-10-01..2026-10-07"]\nworkdays = ["2026-10-04"]', "2026-10-04 is both"),
        ('[2026]\nholidays = ["2026-10-1"]', "not an ISO date"),
        ('[2026]\nholidays = ["1 October"]', "not an ISO date"),
        ("[2026]\nholidays = [20261001]", "not an ISO date"),
        ('[2026]\nholidays = ["2026-10-07..2026-10-01"]', "ends before it starts"),
        ('[2026]\nholidays = ["2025-10-01"]', "not in 2026"),
        ('[2026]\nworkdays = ["2026-10-09"]', "is a weekday"),
        ('[2026]\nholiday = ["2026-10-01"]', "unknown key 'holiday'"),
        ('[holidays]\n"2026" = ["2026-10-01"]', "not a year"),
        ("[2026\n", "invalid TOML"),
    ],
)
def test_bad_holiday_data_refused(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message) as info:
        Calendar.load(text)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, DomainError)


def test_calendar_constructor_refuses_overlap() -> None:
    with pytest.raises(CalendarError, match="both"):
        Calendar(frozenset({d("2026-10-10")}), frozenset({d("2026-10-10")}))


def test_toml_date_literals_and_december_make_up_day_accepted() -> None:
    cal = Calendar.load("[2019]\nholidays = [2019-01-01]\nworkdays = [2018-12-29]\n")
    assert cal.is_working_day(d("2018-12-29")) and not cal.is_working_day(d("2019-01-01"))
    assert cal.years == frozenset({2019})


def test_clock_imports_no_framework() -> None:
    import json
    import subprocess
    import sys

    code = "import json, sys, workstation.domain.clock; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy = {"sqlalchemy", "textual", "fastapi", "pydantic", "alembic", "rich", "uvicorn"}
    assert not [m for m in json.loads(out) if m.split(".")[0] in heavy]
