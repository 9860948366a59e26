"""Quarterly records for assessment (R17), per person and per unit (district office), as the registry holds them.

A quarter is read in office time (OFFICE_TZ): 2026Q4 is [2026-10-01 00:00, 2027-01-01 00:00). Each event counts
in the quarter its own time falls in, for the people who did it; a unit's row counts each event once, whoever of
its people did it (a dossier taken in and reviewed within one unit is one overdue dossier for the unit, not two).

Columns (`QUARTER_COLUMNS`; a person's and a unit's rows have the same ones):

- taken_in: dossiers accepted (受理, `accepted_at`) in the quarter, for their taker (`created_by`: at the registry
  the record `clerk@STATION` of the desk's clerk).
- reviewed / returned / rejected: applied review decisions (approve, 补正 return, 不予登记) by `decided_at`, for
  the reviewer; reviewed counts all three kinds (approved = reviewed − returned − rejected).
- registered: 登簿 (`registered_by`, `registered_at`).
- accept_days_* (受理: `applied_at` → `accepted_at`, the dossiers taken in), review_days_* (审核: each review
  round, from acceptance or from the resubmission that ended the 补正 before it, to the applied decision; the 补正
  itself is the applicant's time and lies between rounds), register_days_* (登簿: the last applied approval
  before it → `registered_at`): the median and the 90th percentile (`workstation.domain.stats`) in working days
  of the domain calendar, counted as the clock counts them (working days in (start date, end date], office
  dates). A person's durations are the rounds they did: the taker's 受理, the reviewer's 审核, the registrar's 登簿.
- overdue: dossiers whose time limit (R19) was past at the end of the quarter (today, for the quarter under way),
  read by `ClockService` as desks show it: a finished dossier counts in the quarter it finished late in, and
  not in later ones; a dossier still open and past due counts in every quarter it stands overdue at the end of.
  Attributed to everyone who worked on it by then: its taker, every reviewer with an applied decision, its
  registrar.
- inspected_pass / _minor / _major: QC inspections (R3) the person recorded, by `inspected_at`, per result.
- qc_pass / qc_minor / qc_major: the same inspections, for the people whose dossiers they were: who registered
  the dossier or approved it (an applied approval, at any time), as in `RecordsService.people`. Failed = minor +
  major.
- corrections_opened: correction cases (R4) opened in the quarter against the person (`assigned_to`: the
  registrar, unless the inspector named someone); corrections_resolved: the ones the person resolved in it.
- evaluations / evaluation_mean: applicants' evaluations (评价) made in the quarter of dossiers the person took in
  or decided on (an applied decision, at any time), and their mean score.

A person's unit is `users.unit`; without one, the unit of their station (`stations.unit`): for the registry's
record `name@STATION` of a desk's clerk, that STATION; for a desk's own user, the desk.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workstation.domain import clock as domain_clock
from workstation.domain.clock import Calendar
from workstation.domain.permissions import UserRole
from workstation.domain.qc import QcResult
from workstation.domain.review import DecisionKind
from workstation.domain.stats import spread
from workstation.errors import UsageError
from workstation.services.clocks import FINISHED_STATUSES, ClockService, office_date, office_today
from workstation.services.views import OFFICE_TZ
from workstation.store.db import Database
from workstation.store.models import ClockPause, Correction, Decision, Dossier, Evaluation, QcCheck, Station, User

PERSON, UNIT = "person", "unit"
QUARTER_COLUMNS: tuple[str, ...] = (
    "quarter",
    "scope",
    "unit",
    "username",
    "display_name",
    "roles",
    "taken_in",
    "reviewed",
    "returned",
    "rejected",
    "registered",
    "accept_days_median",
    "accept_days_p90",
    "review_days_median",
    "review_days_p90",
    "register_days_median",
    "register_days_p90",
    "overdue",
    "inspected_pass",
    "inspected_minor",
    "inspected_major",
    "qc_pass",
    "qc_minor",
    "qc_major",
    "corrections_opened",
    "corrections_resolved",
    "evaluations",
    "evaluation_mean",
)
_MEAN = "evaluation_mean"  # to two places; the durations to one
_STATION_ORIGIN = "station"  # users.origin of the registry's `name@STATION` record of a desk's clerk
_LISTED_ROLES = frozenset({UserRole.CLERK.value, UserRole.REVIEWER.value, UserRole.QC.value, UserRole.REGISTRAR.value})
_DECIDED = tuple(kind.value for kind in DecisionKind)
_RESULTS = tuple(result.value for result in QcResult)
_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`2026Q4` (a lower-case q too); anything else is one line saying how to write it."""
        match = _QUARTER.match(text.strip())
        if match is None or not 1900 <= int(match.group(1)) < 9999:
            raise UsageError(f"'{text[:20]}' is not a quarter: write YYYYQn, e.g. 2026Q4")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end_day(self) -> date:
        """The first day after the quarter."""
        return date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=OFFICE_TZ)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end_day, time.min, tzinfo=OFFICE_TZ)


@dataclass(frozen=True)
class QuarterRecord:
    """One row: a person's quarter (scope "person") or a unit's (scope "unit": no username, name or roles)."""

    quarter: str
    scope: str
    unit: str  # "" when the person has none
    username: str
    display_name: str
    roles: tuple[str, ...]
    taken_in: int = 0
    reviewed: int = 0
    returned: int = 0
    rejected: int = 0
    registered: int = 0
    accept_days_median: float | None = None
    accept_days_p90: float | None = None
    review_days_median: float | None = None
    review_days_p90: float | None = None
    register_days_median: float | None = None
    register_days_p90: float | None = None
    overdue: int = 0
    inspected_pass: int = 0
    inspected_minor: int = 0
    inspected_major: int = 0
    qc_pass: int = 0
    qc_minor: int = 0
    qc_major: int = 0
    corrections_opened: int = 0
    corrections_resolved: int = 0
    evaluations: int = 0
    evaluation_mean: float | None = None

    def csv_row(self) -> dict[str, str]:
        """Counts as integers, durations to 0.1, the mean score to 0.01, no locale; nothing to show is empty."""
        row: dict[str, str] = {}
        for column in QUARTER_COLUMNS:
            value = getattr(self, column)
            if column == "roles":
                row[column] = " ".join(value)
            elif value is None:
                row[column] = ""
            elif isinstance(value, float):
                row[column] = f"{value:.2f}" if column == _MEAN else f"{value:.1f}"
            else:
                row[column] = str(value)
        return row

    def to_json(self) -> dict[str, Any]:
        """The CSV's keys, with numbers as numbers (rounded as in the CSV) and null for nothing to show."""
        data: dict[str, Any] = {}
        for column in QUARTER_COLUMNS:
            value = getattr(self, column)
            if column == "roles":
                value = list(value)
            elif isinstance(value, float):
                value = round(value, 2 if column == _MEAN else 1)
            data[column] = value
        return data


def quarter_records(
    db: Database, clocks: ClockService, quarter: Quarter, *, unit: str | None = None, today: date | None = None
) -> list[QuarterRecord]:
    """The quarter's rows: each person's, then their unit's, unit by unit (people without a unit last).

    People listed: everyone with something counted, and every active clerk, reviewer, QC inspector and registrar.
    Units listed: every unit a station or an active person belongs to, and the units of the people listed.
    `unit` keeps that unit's people and its own row (an unknown unit is a UsageError). `today` is the office date
    (default: today); a quarter still under way is read up to it, one not begun yet is refused.
    """
    day = today or office_today()
    if quarter.first_day > day:
        raise UsageError(f"{quarter.label} has not begun yet (today is {day.isoformat()})")
    as_of = min(quarter.last_day, day)
    facts = _Facts()
    calendar = clocks.calendar
    with db.read() as session:
        directory = _directory(session)
        known = directory.known_units()
        if unit is not None and unit not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise UsageError(f"no unit '{unit[:40]}' at the registry; units: {listed}")
        _taken_in(session, facts, quarter, calendar)
        _decisions(session, facts, quarter, calendar)
        _registrations(session, facts, quarter, calendar)
        _inspections(session, facts, quarter)
        _corrections(session, facts, quarter)
        _evaluations(session, facts, quarter)
        candidates = _clock_candidates(session, quarter)
    for dossier_id, number, workers in candidates:
        if _overdue(clocks, number, quarter, as_of):
            facts.add("overdue", dossier_id, workers)
    return _rows(quarter.label, facts, directory, unit)


# -- facts: each event once, with the people who did it ----------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    people: frozenset[str]
    value: float | None


@dataclass
class _Facts:
    """metric → event key → (people, value): an event counts once per person and once per unit."""

    events: dict[str, dict[str, _Event]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, metric: str, key: str, people: Iterable[str | None], value: float | None = None) -> None:
        who = frozenset(p for p in people if p)
        if who:
            self.events[metric][key] = _Event(who, value)


def _days(calendar: Calendar, start: datetime, end: datetime) -> float:
    # Desk clocks are recorded, not trusted: an end before its start is no time, not negative time.
    return float(max(calendar.working_days_between(office_date(start), office_date(end)), 0))


def _taken_in(session: Session, facts: _Facts, quarter: Quarter, calendar: Calendar) -> None:
    for dossier_id, taker, applied_at, accepted_at in session.execute(
        select(Dossier.id, Dossier.created_by, Dossier.applied_at, Dossier.accepted_at).where(
            Dossier.accepted_at >= quarter.since, Dossier.accepted_at < quarter.until
        )
    ):
        assert accepted_at is not None  # the query's filter
        facts.add("taken_in", dossier_id, [taker], _days(calendar, applied_at, accepted_at))


def _decisions(session: Session, facts: _Facts, quarter: Quarter, calendar: Calendar) -> None:
    applied = (
        Decision.outcome == "applied",
        Decision.kind.in_(_DECIDED),
        Decision.decided_at >= quarter.since,
        Decision.decided_at < quarter.until,
    )
    rows = session.execute(
        select(
            Decision.id,
            Decision.dossier_id,
            Decision.reviewer_id,
            Decision.kind,
            Decision.decided_at,
            Dossier.accepted_at,
        )
        .join(Dossier, Dossier.id == Decision.dossier_id)
        .where(*applied)
    ).all()
    resumed: dict[str, list[datetime]] = defaultdict(list)  # when each 补正 ended: the resubmission
    for dossier_id, ended_at in session.execute(
        select(ClockPause.dossier_id, ClockPause.ended_at).where(
            ClockPause.reason == "supplement",
            ClockPause.ended_at.is_not(None),
            ClockPause.dossier_id.in_(select(Decision.dossier_id).where(*applied)),
        )
    ):
        if ended_at is not None:  # the query's filter
            resumed[dossier_id].append(ended_at)
    for decision_id, dossier_id, reviewer, kind, decided_at, accepted_at in rows:
        starts = [t for t in resumed.get(dossier_id, []) if t <= decided_at]
        if accepted_at is not None:
            starts.append(accepted_at)
        facts.add("reviewed", decision_id, [reviewer], _days(calendar, max(starts), decided_at) if starts else None)
        if kind == DecisionKind.RETURN.value:
            facts.add("returned", decision_id, [reviewer])
        elif kind == DecisionKind.REJECT.value:
            facts.add("rejected", decision_id, [reviewer])


def _registrations(session: Session, facts: _Facts, quarter: Quarter, calendar: Calendar) -> None:
    registered = (
        Dossier.registered_by.is_not(None),
        Dossier.registered_at >= quarter.since,
        Dossier.registered_at < quarter.until,
    )
    approved: dict[str, list[datetime]] = defaultdict(list)
    for dossier_id, decided_at in session.execute(
        select(Decision.dossier_id, Decision.decided_at).where(
            Decision.kind == DecisionKind.APPROVE.value,
            Decision.outcome == "applied",
            Decision.dossier_id.in_(select(Dossier.id).where(*registered)),
        )
    ):
        approved[dossier_id].append(decided_at)
    for dossier_id, registrar, registered_at in session.execute(
        select(Dossier.id, Dossier.registered_by, Dossier.registered_at).where(*registered)
    ):
        assert registered_at is not None  # the query's filter
        before = [t for t in approved.get(dossier_id, []) if t <= registered_at]
        value = _days(calendar, max(before), registered_at) if before else None
        facts.add("registered", dossier_id, [registrar], value)


def _inspections(session: Session, facts: _Facts, quarter: Quarter) -> None:
    done = (
        QcCheck.state == "done",
        QcCheck.result.in_(_RESULTS),
        QcCheck.inspected_at >= quarter.since,
        QcCheck.inspected_at < quarter.until,
    )
    approvers = people_by_dossier(
        session,
        select(Decision.dossier_id, Decision.reviewer_id).where(
            Decision.kind == DecisionKind.APPROVE.value,
            Decision.outcome == "applied",
            Decision.dossier_id.in_(select(QcCheck.dossier_id).where(*done)),
        ),
    )
    for check_id, dossier_id, result, inspector, registrar in session.execute(
        select(QcCheck.id, QcCheck.dossier_id, QcCheck.result, QcCheck.inspector_id, Dossier.registered_by)
        .join(Dossier, Dossier.id == QcCheck.dossier_id)
        .where(*done)
    ):
        facts.add(f"inspected_{result}", check_id, [inspector])
        facts.add(f"qc_{result}", check_id, [*approvers.get(dossier_id, ()), registrar])


def _corrections(session: Session, facts: _Facts, quarter: Quarter) -> None:
    for correction_id, assignee in session.execute(
        select(Correction.id, Correction.assigned_to).where(
            Correction.opened_at >= quarter.since, Correction.opened_at < quarter.until
        )
    ):
        facts.add("corrections_opened", correction_id, [assignee])
    for correction_id, resolver in session.execute(
        select(Correction.id, Correction.resolved_by).where(
            Correction.state == "resolved",
            Correction.resolved_at >= quarter.since,
            Correction.resolved_at < quarter.until,
        )
    ):
        facts.add("corrections_resolved", correction_id, [resolver])


def _evaluations(session: Session, facts: _Facts, quarter: Quarter) -> None:
    period = (Evaluation.created_at >= quarter.since, Evaluation.created_at < quarter.until)
    deciders = people_by_dossier(
        session,
        select(Decision.dossier_id, Decision.reviewer_id).where(
            Decision.kind.in_(_DECIDED),
            Decision.outcome == "applied",
            Decision.dossier_id.in_(select(Evaluation.dossier_id).where(*period)),
        ),
    )
    for evaluation_id, dossier_id, score, taker in session.execute(
        select(Evaluation.id, Evaluation.dossier_id, Evaluation.score, Dossier.created_by)
        .join(Dossier, Dossier.id == Evaluation.dossier_id)
        .where(*period)
    ):
        facts.add("evaluations", evaluation_id, [taker, *deciders.get(dossier_id, ())], float(score))


# -- overdue: the clock as desks read it ---------------------------------------------------------------------------


def _clock_candidates(session: Session, quarter: Quarter) -> list[tuple[str, str, set[str]]]:
    """Dossiers whose clock may stand past due in the quarter, with who had worked on each by its end.

    Accepted before the quarter ended, and not finished before it began: a finished dossier's clock stops at
    the latest at its last change (`updated_at`), so one unchanged since before the quarter is left out.
    """
    running = (
        Dossier.accepted_at.is_not(None),
        Dossier.accepted_at < quarter.until,
        or_(Dossier.status.not_in(FINISHED_STATUSES), Dossier.updated_at >= quarter.since),
    )
    deciders = people_by_dossier(
        session,
        select(Decision.dossier_id, Decision.reviewer_id).where(
            Decision.kind.in_(_DECIDED),
            Decision.outcome == "applied",
            Decision.decided_at < quarter.until,
            Decision.dossier_id.in_(select(Dossier.id).where(*running)),
        ),
    )
    candidates = []
    for dossier_id, number, taker, registrar, registered_at in session.execute(
        select(Dossier.id, Dossier.number, Dossier.created_by, Dossier.registered_by, Dossier.registered_at)
        .where(*running)
        .order_by(Dossier.number)
    ):
        workers = {taker} | deciders.get(dossier_id, set())
        if registrar is not None and registered_at is not None and registered_at < quarter.until:
            workers.add(registrar)
        candidates.append((dossier_id, number, workers))
    return candidates


def _overdue(clocks: ClockService, number: str, quarter: Quarter, as_of: date) -> bool:
    """Whether the dossier's clock, read as `ClockService` reads it for desks, stands past due on `as_of`."""
    view = clocks.clock(number, today=as_of)
    if view.accepted is None:
        return False
    if view.stopped_at is None:
        return view.overdue
    stopped = office_date(view.stopped_at)
    if stopped < quarter.first_day:
        return False  # finished before the quarter: its lateness, if any, was an earlier quarter's
    if stopped <= as_of:
        return view.overdue
    # Finished after the quarter: read as it stood on the quarter's last day.
    return domain_clock.status(view.accepted, view.limit_days, view.pauses, as_of, clocks.calendar).overdue


# -- people, units and rows ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    username: str
    display_name: str
    roles: tuple[str, ...]
    unit: str
    listed: bool  # active, with a role whose work the records count


@dataclass(frozen=True)
class _Directory:
    people: dict[str, _Person]
    station_units: frozenset[str]

    def person(self, user_id: str) -> _Person:
        """A user id not in the users table (it should not happen) is shown by its id, with no unit."""
        return self.people.get(user_id) or _Person(user_id, "", (), "", False)

    def known_units(self) -> set[str]:
        """Every unit a station or a person (active or not) belongs to: what `--unit` may name."""
        return set(self.station_units) | {p.unit for p in self.people.values() if p.unit}

    def listed_units(self) -> set[str]:
        """The units shown without a filter, even with nothing to count: the stations' and active people's."""
        return set(self.station_units) | {p.unit for p in self.people.values() if p.listed and p.unit}


def _directory(session: Session) -> _Directory:
    station_units = {sid: unit for sid, unit in session.execute(select(Station.id, Station.unit)) if unit is not None}
    people: dict[str, _Person] = {}
    for user_id, username, display, roles, active, unit, origin, station_id in session.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.roles,
            User.active,
            User.unit,
            User.origin,
            User.station_id,
        )
    ):
        station = username.rpartition("@")[2] if origin == _STATION_ORIGIN else station_id
        held = tuple(sorted(roles.split()))
        people[user_id] = _Person(
            username=username,
            display_name=display,
            roles=held,
            unit=unit or station_units.get(station or "", ""),
            listed=bool(active and _LISTED_ROLES & set(held)),
        )
    return _Directory(people, frozenset(station_units.values()))


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _tally(facts: _Facts, scopes_of: Callable[[str], Iterable[str]]) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for metric, events in facts.events.items():
        for event in events.values():
            for scope in {s for person in event.people for s in scopes_of(person)}:
                tally = tallies[scope]
                tally.counts[metric] += 1
                if event.value is not None:
                    tally.values[metric].append(event.value)
    return tallies


def _rows(label: str, facts: _Facts, directory: _Directory, only: str | None) -> list[QuarterRecord]:
    person = directory.person
    by_person = _tally(facts, lambda user_id: (user_id,))
    by_unit = _tally(facts, lambda user_id: (person(user_id).unit,))
    listed = set(by_person) | {user_id for user_id, p in directory.people.items() if p.listed}
    units = directory.listed_units() | {person(user_id).unit for user_id in listed}
    if only is not None:
        listed = {user_id for user_id in listed if person(user_id).unit == only}
        units = {only}
    rows: list[QuarterRecord] = []
    for unit in sorted(units, key=lambda u: (u == "", u)):
        members = sorted((u for u in listed if person(u).unit == unit), key=lambda u: (person(u).username, u))
        for user_id in members:
            p = person(user_id)
            rows.append(_record(label, PERSON, unit, p.username, p.display_name, p.roles, by_person.get(user_id)))
        rows.append(_record(label, UNIT, unit, "", "", (), by_unit.get(unit)))
    return rows


def _record(
    label: str,
    scope: str,
    unit: str,
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    tally: _Tally | None,
) -> QuarterRecord:
    t = tally or _Tally()
    accept, review, register = (spread(t.values[m]) for m in ("taken_in", "reviewed", "registered"))
    scores = t.values["evaluations"]
    return QuarterRecord(
        quarter=label,
        scope=scope,
        unit=unit,
        username=username,
        display_name=display_name,
        roles=roles,
        taken_in=t.counts["taken_in"],
        reviewed=t.counts["reviewed"],
        returned=t.counts["returned"],
        rejected=t.counts["rejected"],
        registered=t.counts["registered"],
        accept_days_median=accept.median if accept else None,
        accept_days_p90=accept.p90 if accept else None,
        review_days_median=review.median if review else None,
        review_days_p90=review.p90 if review else None,
        register_days_median=register.median if register else None,
        register_days_p90=register.p90 if register else None,
        overdue=t.counts["overdue"],
        inspected_pass=t.counts["inspected_pass"],
        inspected_minor=t.counts["inspected_minor"],
        inspected_major=t.counts["inspected_major"],
        qc_pass=t.counts["qc_pass"],
        qc_minor=t.counts["qc_minor"],
        qc_major=t.counts["qc_major"],
        corrections_opened=t.counts["corrections_opened"],
        corrections_resolved=t.counts["corrections_resolved"],
        evaluations=len(scores),
        evaluation_mean=statistics.fmean(scores) if scores else None,
    )


def people_by_dossier(session: Session, query: Any) -> dict[str, set[str]]:
    """(dossier id, user id) rows as each dossier's set of people."""
    found: dict[str, set[str]] = defaultdict(set)
    for dossier_id, user_id in session.execute(query):
        found[dossier_id].add(user_id)
    return found
