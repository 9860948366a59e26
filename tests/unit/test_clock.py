"""Working-day clocks (R19): holiday calendar as data, pauses for 补正/公告/实地查看, overdue and due-today lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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

CAL = Calendar.load()  # strict: 2025 and 2026 only
LENIENT = replace(CAL, strict=False)  # the same holidays, Monday–Friday outside 2025–2026


def d(text: str) -> date:
    return date.fromisoformat(text)


def no_table(year: int) -> str:
    return (
        f"holidays.toml has no [{year}]: add that year's 法定节假日 and 调休 from the State Council notice "
        f"(国务院办公厅关于{year}年部分节假日安排的通知); see the file's header"
    )


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
    assert not cal.strict
    assert cal.is_working_day(d("2027-01-01"))  # a Friday, no data for 2027
    assert not cal.is_working_day(d("2027-01-02"))


def test_2026_matches_the_published_notice() -> None:
    # 国办发明电〔2025〕7号: the weekdays off and the weekend days worked, nothing else.
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    exceptions = [day.isoformat() for day in year if CAL.is_working_day(day) == (day.weekday() >= 5)]
    assert exceptions == [
        "2026-01-01", "2026-01-02", "2026-01-04",  # 元旦 Thu–Sat, Sunday 01-04 worked
        "2026-02-14", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",  # 春节
        "2026-02-28",  # Saturday worked, 春节
        "2026-04-06",  # 清明节 Sat–Mon
        "2026-05-01", "2026-05-04", "2026-05-05", "2026-05-09",  # 劳动节 Fri–Tue, Saturday 05-09 worked
        "2026-06-19",  # 端午节 Fri–Sun
        "2026-09-20", "2026-09-25",  # Sunday 09-20 worked (国庆节); 中秋节 Fri–Sun
        "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-10",  # 国庆节
    ]  # fmt: skip


# --- a year without a table ----------------------------------------------------------------------------------------


def test_packaged_calendar_is_strict() -> None:
    assert CAL.strict
    with pytest.raises(CalendarError) as info:
        CAL.is_working_day(d("2027-01-04"))
    assert str(info.value) == no_table(2027)
    assert isinstance(info.value, DomainError)


def test_the_year_before_the_first_table_is_refused_too() -> None:
    with pytest.raises(CalendarError) as info:
        CAL.working_days_between(d("2024-12-30"), d("2025-01-03"))
    assert str(info.value) == no_table(2024)


@pytest.mark.parametrize(
    "compute",
    [
        pytest.param(lambda: CAL.is_working_day(d("2027-03-01")), id="is_working_day"),
        pytest.param(lambda: CAL.add_working_days(d("2026-12-30"), 3), id="add_working_days"),
        pytest.param(lambda: CAL.working_days_between(d("2026-12-15"), d("2027-01-05")), id="working_days_between"),
        pytest.param(lambda: CAL.working_days_between(d("2027-01-05"), d("2026-12-15")), id="between_backwards"),
        pytest.param(lambda: due_date(d("2027-01-04"), 5, [], CAL), id="due_date"),
        pytest.param(lambda: status(d("2026-12-21"), 5, [], d("2027-01-04"), CAL), id="status"),
        pytest.param(lambda: overdue([("A", d("2026-12-21"), 5, [])], d("2027-01-04"), CAL), id="overdue"),
        pytest.param(lambda: due_today([("A", d("2026-12-21"), 5, [])], d("2027-01-04"), CAL), id="due_today"),
    ],
)
def test_strict_calendar_refuses_a_day_of_a_year_without_a_table(compute: Callable[[], object]) -> None:
    with pytest.raises(CalendarError) as info:
        compute()
    assert str(info.value) == no_table(2027)


def test_due_date_whose_counting_crosses_into_a_year_without_a_table_refuses() -> None:
    # Monday 2026-12-28: 12-29, 12-30, 12-31 counted, then 2027 would be needed for the 4th and 5th.
    with pytest.raises(CalendarError, match=r"has no \[2027\]"):
        due_date(d("2026-12-28"), 5, [], CAL)
    with pytest.raises(CalendarError, match=r"has no \[2027\]"):
        status(d("2026-12-28"), 5, [], d("2026-12-30"), CAL)
    # A closed pause that pushes the count past 12-31 refuses as well.
    with pytest.raises(CalendarError, match=r"has no \[2027\]"):
        due_date(d("2026-12-21"), 5, [Pause(d("2026-12-22"), d("2026-12-28"), "site_visit")], CAL)


def test_counting_that_stays_in_covered_years_works_as_before() -> None:
    # Monday 2026-12-21: 22, 23, 24, 25, 28 — the last days of the table's last year.
    assert due_date(d("2026-12-21"), 5, [], CAL) == d("2026-12-28")
    s = status(d("2026-12-21"), 5, [], d("2026-12-31"), CAL)
    assert (s.used, s.due, s.overdue) == (8, d("2026-12-28"), True)
    assert [k for k, _ in overdue([("A", d("2026-12-21"), 5, [])], d("2026-12-31"), CAL)] == ["A"]
    assert CAL.add_working_days(d("2026-12-28"), 3) == d("2026-12-31")
    # Neither the acceptance day nor a day after an open pause is looked at.
    assert due_date(d("2024-12-31"), 2, [], CAL) == d("2025-01-03")
    assert due_date(d("2026-12-28"), 5, [Pause(d("2026-12-30"), None, "announcement")], CAL) is None
    # The same arithmetic, permissive: Monday–Friday in 2027, as before this calendar was strict.
    assert due_date(d("2026-12-28"), 5, [], LENIENT) == d("2027-01-04")


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


# The arithmetic properties run on LENIENT (the packaged holidays, Monday–Friday outside 2025–2026), so that they
# cross both year ends; the strict calendar is then held to LENIENT: same answer inside 2025–2026, a refusal once
# a count walks out of them.


@given(dates, st.integers(0, 400))
def test_between_inverts_add(start: date, n: int) -> None:
    assert LENIENT.working_days_between(start, LENIENT.add_working_days(start, n)) == n


@given(dates, dates)
def test_between_is_antisymmetric(a: date, b: date) -> None:
    assert LENIENT.working_days_between(a, b) == -LENIENT.working_days_between(b, a)


@given(dates, st.integers(0, 30), st.lists(pauses(), max_size=3), pauses())
def test_adding_a_pause_never_makes_the_due_date_earlier(
    accepted: date, limit: int, existing: list[Pause], extra: Pause
) -> None:
    before = due_date(accepted, limit, existing, LENIENT)
    after = due_date(accepted, limit, [*existing, extra], LENIENT)
    if before is None:
        assert after is None
    else:
        assert after is None or after >= before


@given(dates, st.integers(1, 30), st.lists(pauses(open_allowed=False), max_size=3))
def test_due_date_is_a_working_day_when_limit_positive(accepted: date, limit: int, ps: list[Pause]) -> None:
    due = due_date(accepted, limit, ps, LENIENT)
    assert due is not None and LENIENT.is_working_day(due) and due > accepted


def walks_inside_the_table(first: date, last: date) -> bool:
    """True when counting over (first, last] looks only at days of 2025 and 2026 (or at none)."""
    return last <= first or (first >= date(2024, 12, 31) and last <= date(2026, 12, 31))


@given(dates, st.integers(0, 400))
def test_strict_add_agrees_or_refuses(start: date, n: int) -> None:
    expected = LENIENT.add_working_days(start, n)
    if walks_inside_the_table(start, expected):
        assert CAL.add_working_days(start, n) == expected
    else:
        with pytest.raises(CalendarError, match="has no"):
            CAL.add_working_days(start, n)


@given(dates, dates)
def test_strict_between_agrees_or_refuses(a: date, b: date) -> None:
    if walks_inside_the_table(min(a, b), max(a, b)):
        assert CAL.working_days_between(a, b) == LENIENT.working_days_between(a, b)
    else:
        with pytest.raises(CalendarError, match="has no"):
            CAL.working_days_between(a, b)


@given(dates, st.integers(0, 30), st.lists(pauses(open_allowed=False), max_size=3), dates)
def test_strict_status_agrees_or_refuses(accepted: date, limit: int, ps: list[Pause], today: date) -> None:
    expected = status(accepted, limit, ps, today, LENIENT)
    assert expected.due is not None  # no open pause
    if walks_inside_the_table(accepted, max(expected.due, today)):
        assert status(accepted, limit, ps, today, CAL) == expected
    else:
        with pytest.raises(CalendarError, match="has no"):
            status(accepted, limit, ps, today, CAL)


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
    # Strict like the packaged file: the listed make-up day is known, the rest of 2018 is not.
    with pytest.raises(CalendarError) as info:
        cal.is_working_day(d("2018-12-28"))
    assert str(info.value) == no_table(2018)


def test_clock_imports_no_framework() -> None:
    import json
    import subprocess
    import sys

    code = "import json, sys, workstation.domain.clock; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy = {"sqlalchemy", "textual", "fastapi", "pydantic", "alembic", "rich", "uvicorn"}
    assert not [m for m in json.loads(out) if m.split(".")[0] in heavy]
