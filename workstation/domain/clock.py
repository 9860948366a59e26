"""Working-day clocks for the time limit of a dossier (R19), paused during 补正, 公告 and 实地查看.

Pure: the holiday calendar is packaged data (data/holidays.toml), and `today` is always passed in.

Readings, stated once here:
- Acceptance day does not count. The clock starts the working day after acceptance, so with a limit of n working
  days the dossier is due on the n-th working day after the acceptance date (`add_working_days(accepted, n)`).
- A pause runs from `start` (the day the 补正 notice is issued, the 公告 begins, the site visit is ordered) to
  `end` (the day the applicant resubmits, the 公告 period ends, the visit is done). The working days in
  (start, end] are not counted: the start day was already worked; the end day is treated like a new acceptance
  day and the clock resumes the working day after it. Overlapping pauses are merged (a day is paused once).
- An open pause (`end is None`) stops the clock: unless the limit was already used up before it began, the due
  date is unknown (None).
- The calendar loaded from holidays.toml is strict: a computation that looks at a day of a year the file has no
  table for (asks whether it is a working day, or walks over it while counting) raises `CalendarError`, rather than
  guessing Monday–Friday and missing that year's holidays and 调休. Days it does not look at do not matter: the
  acceptance day is never looked at, and an open pause ends the due-date walk before the next day.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from .errors import DomainError

HOLIDAYS_FILE = "holidays.toml"
PAUSE_REASONS = frozenset({"supplement", "announcement", "site_visit"})  # 补正, 公告, 实地查看

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5

K = TypeVar("K")


class CalendarError(DomainError):
    """The holiday calendar is invalid, or has no data for a year a computation needs."""


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday–Friday unless a holiday; Saturday/Sunday only when an adjusted working day (调休).

    `years` are the years the data covers (derived from the dates when not given). What a day outside them is:
    - strict (`Calendar.load`, i.e. holidays.toml, and so the desk and the registry): unknown. Asking about it
      raises `CalendarError` naming the year and how to add it. A date listed in a table is known even when its
      year is not covered (the December make-up day of next year's 元旦, listed under the next year).
    - permissive (the default for a calendar built in code): Monday–Friday plus the dates given. For arithmetic
      that should not depend on any year's notice: `Calendar()` is a plain Monday–Friday week, which the property
      tests and the service tests checked by hand use.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = field(default=frozenset(), compare=False)  # years the data covers
    strict: bool = False  # refuse days outside `years` instead of treating them as Monday–Friday

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = sorted(self.holidays & self.workdays)
        if both:
            raise CalendarError(f"holiday calendar: {both[0].isoformat()} is both a holiday and a working day")
        for day in sorted(self.workdays):
            if day.weekday() < _SATURDAY:
                raise CalendarError(
                    f"holiday calendar: working day {day.isoformat()} is a weekday; only a Saturday or Sunday "
                    "can be an adjusted working day"
                )
        if not self.years:
            object.__setattr__(self, "years", frozenset(d.year for d in self.holidays | self.workdays))

    @classmethod
    def load(cls, text: str | None = None) -> Calendar:
        """The packaged calendar, or one parsed from `text` (strict); a bad file is refused with one line."""
        if text is None:
            return _packaged_calendar()
        return _parse(text)

    def covers(self, day: date) -> bool:
        """True when the data says what `day` is: its year has a table, or the day itself is listed."""
        return day.year in self.years or day in self.holidays or day in self.workdays

    def is_working_day(self, day: date) -> bool:
        """Whether `day` counts; a strict calendar refuses a day it does not cover (`CalendarError`)."""
        if self.strict and not self.covers(day):
            raise CalendarError(
                f"{HOLIDAYS_FILE} has no [{day.year}]: add that year's 法定节假日 and 调休 from the State Council "
                f"notice (国务院办公厅关于{day.year}年部分节假日安排的通知); see the file's header"
            )
        if day.weekday() >= _SATURDAY:
            return day in self.workdays
        return day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself when n == 0)."""
        if n < 0:
            raise DomainError(f"cannot add a negative number of working days ({n})")
        day = start
        while n:
            day += _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative when b is before a."""
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        day = a
        while day < b:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count


@dataclass(frozen=True)
class Pause:
    start: date
    end: date | None  # None: still open (clock stopped)
    reason: str  # "supplement" 补正 | "announcement" 公告 | "site_visit" 实地查看

    def __post_init__(self) -> None:
        if self.reason not in PAUSE_REASONS:
            known = ", ".join(sorted(PAUSE_REASONS))
            raise DomainError(f"unknown pause reason '{self.reason}'; known: {known}")
        if self.end is not None and self.end < self.start:
            raise DomainError(f"pause ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")

    def covers(self, day: date) -> bool:
        """True when `day` is not counted because of this pause: day in (start, end]."""
        return self.start < day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class ClockStatus:
    used: int  # counted working days from the day after acceptance to today (inclusive)
    remaining: int  # working days left, 0 when used up
    due: date | None  # None while an open pause stops the clock
    overdue: bool  # today is after the due date
    due_today: bool
    paused: bool  # a pause has begun and not yet ended today


def _counts(day: date, pauses: Sequence[Pause], cal: Calendar) -> bool:
    return cal.is_working_day(day) and not any(p.covers(day) for p in pauses)


def due_date(accepted: date, limit_days: int, pauses: Sequence[Pause], cal: Calendar) -> date | None:
    """The day the limit-th counted working day after acceptance falls on; None when an open pause stops it."""
    if limit_days < 0:
        raise DomainError(f"time limit cannot be negative ({limit_days})")
    open_from = min((p.start for p in pauses if p.end is None), default=None)
    day, left = accepted, limit_days
    while left:
        day += _ONE_DAY
        if open_from is not None and day > open_from:
            return None
        if _counts(day, pauses, cal):
            left -= 1
    return day


def status(accepted: date, limit_days: int, pauses: Sequence[Pause], today: date, cal: Calendar) -> ClockStatus:
    due = due_date(accepted, limit_days, pauses, cal)
    used = 0
    day = accepted
    while day < today:
        day += _ONE_DAY
        if _counts(day, pauses, cal):
            used += 1
    paused = any(p.start <= today and (p.end is None or today < p.end) for p in pauses)
    return ClockStatus(
        used=used,
        remaining=max(limit_days - used, 0),
        due=due,
        overdue=due is not None and today > due,
        due_today=due is not None and today == due,
        paused=paused,
    )


Item = tuple[K, date, int, Sequence[Pause]]  # (dossier_id, accepted, limit_days, pauses)


def overdue(items: Iterable[Item[K]], today: date, cal: Calendar) -> list[tuple[K, ClockStatus]]:
    """Dossiers past their due date, earliest due first (ties keep the input order)."""
    return _select(items, today, cal, lambda s: s.overdue)


def due_today(items: Iterable[Item[K]], today: date, cal: Calendar) -> list[tuple[K, ClockStatus]]:
    """Dossiers due today, in input order (all share one due date)."""
    return _select(items, today, cal, lambda s: s.due_today)


def _select(items: Iterable[Item[K]], today: date, cal: Calendar, keep: Any) -> list[tuple[K, ClockStatus]]:
    chosen = []
    for dossier_id, accepted, limit_days, pauses in items:
        st = status(accepted, limit_days, pauses, today, cal)
        if keep(st):
            chosen.append((dossier_id, st))
    return sorted(chosen, key=lambda pair: pair[1].due or date.max)


# --- loading -------------------------------------------------------------------------------------------------------


@cache
def _packaged_calendar() -> Calendar:
    text = resources.files(__package__).joinpath("data", HOLIDAYS_FILE).read_text(encoding="utf-8")
    return _parse(text)


def _parse(text: str) -> Calendar:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{HOLIDAYS_FILE}: invalid TOML: {exc}") from None
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    for key, table in raw.items():
        if not (key.isdigit() and len(key) == 4):
            raise CalendarError(f"{HOLIDAYS_FILE}: '{key}' is not a year; one table per year, e.g. [2026]")
        if not isinstance(table, dict):
            raise CalendarError(f"{HOLIDAYS_FILE}: [{key}] must be a table with holidays and workdays")
        unknown = sorted(set(table) - {"notice", "holidays", "workdays"})
        if unknown:
            raise CalendarError(f"{HOLIDAYS_FILE}: [{key}] has unknown key '{unknown[0]}'")
        year = int(key)
        years.add(year)
        for name, into in (("holidays", holidays), ("workdays", workdays)):
            entries = table.get(name, [])
            if not isinstance(entries, list):
                raise CalendarError(f"{HOLIDAYS_FILE}: [{key}] {name} must be a list of dates")
            for entry in entries:
                into.update(_entry_days(entry, year, f"{HOLIDAYS_FILE}: [{key}] {name}"))
    both = sorted(holidays & workdays)
    if both:
        raise CalendarError(f"{HOLIDAYS_FILE}: {both[0].isoformat()} is both a holiday and a working day")
    try:
        return Calendar(frozenset(holidays), frozenset(workdays), frozenset(years), strict=True)
    except CalendarError as exc:
        raise CalendarError(f"{HOLIDAYS_FILE}: {exc.message}") from None


def _entry_days(entry: object, year: int, where: str) -> list[date]:
    if isinstance(entry, date) and not isinstance(entry, datetime):
        first = last = entry
    elif isinstance(entry, str):
        parts = entry.split("..")
        if len(parts) > 2:
            raise CalendarError(f"{where}: '{entry}' is not an ISO date or a range 'YYYY-MM-DD..YYYY-MM-DD'")
        first, last = _iso(parts[0], where), _iso(parts[-1], where)
        if last < first:
            raise CalendarError(f"{where}: range '{entry}' ends before it starts")
    else:
        raise CalendarError(f"{where}: {entry!r} is not an ISO date")
    for day in (first, last):
        if not (day.year == year or (day.year == year - 1 and day.month == 12)):
            raise CalendarError(f"{where}: {day.isoformat()} is not in {year} (or December {year - 1})")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _iso(text: str, where: str) -> date:
    text = text.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{where}: '{text}' is not an ISO date (YYYY-MM-DD)") from None


def default_calendar() -> Calendar:
    """The packaged calendar (strict), loaded once."""
    return _packaged_calendar()
