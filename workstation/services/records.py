"""Per-person work records (R17): what each clerk and reviewer did, how long it took, how it was inspected and
how applicants rated it; plus the applicants' service evaluations (评价) that feed them.

Everything is computed from the rows the flow already writes (dossiers, decisions, QC checks, corrections,
evaluations), never from counters kept on the side, so a record can always be recomputed and checked.
"""

from __future__ import annotations

import csv
import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from workstation.domain.permissions import UserRole
from workstation.errors import NotFound, UsageError
from workstation.services import audit
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.clocks import ClockService
from workstation.services.people import check_unit
from workstation.services.records_quarter import (
    QUARTER_COLUMNS,
    Quarter,
    QuarterRecord,
    people_by_dossier,
    quarter_records,
)
from workstation.store.db import Database
from workstation.store.ids import new_id
from workstation.store.models import Correction, Decision, Dossier, Evaluation, QcCheck, Station, User
from workstation.store.types import utcnow

EVALUATION_CHANNELS = ("window", "online", "mobile", "phone", "sms", "self_service")  # 窗口 网上 移动端 电话 短信 自助
EVALUATION_ACTOR = "(applicant)"  # the audit actor of an evaluation: the applicant, never a user name
SCORE_MIN, SCORE_MAX = 1, 5  # 1 非常不满意 … 5 非常满意
_COMMENT_MAX = 2000
_DECIDED = ("approve", "return", "reject")

# The CSV's columns, in this order (PersonRecord's fields of the same names). See `RecordsService.people`.
CSV_COLUMNS: tuple[str, ...] = (
    "username",
    "display_name",
    "roles",
    "created",
    "submitted",
    "accept_minutes_median",
    "accept_minutes_mean",
    "approved",
    "returned",
    "rejected",
    "conflicts",
    "review_seconds_median",
    "registered",
    "returns_received",
    "qc_pass",
    "qc_minor",
    "qc_major",
    "corrections",
    "corrections_resolved",
    "evaluations",
    "evaluation_mean",
)


@dataclass(frozen=True)
class EvaluationView:
    id: str
    number: str
    score: int
    comment: str
    channel: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "score": self.score,
            "comment": self.comment,
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class PersonRecord:
    """One person's record over a period; each field is documented in `RecordsService.people`."""

    user_id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    created: int = 0
    submitted: int = 0
    accept_minutes_median: float | None = None
    accept_minutes_mean: float | None = None
    approved: int = 0
    returned: int = 0
    rejected: int = 0
    conflicts: int = 0
    review_seconds_median: float | None = None
    registered: int = 0
    returns_received: int = 0
    qc_pass: int = 0
    qc_minor: int = 0
    qc_major: int = 0
    corrections: int = 0
    corrections_resolved: int = 0
    evaluations: int = 0
    evaluation_mean: float | None = None

    def csv_row(self) -> dict[str, str]:
        """The CSV cells: counts as integers, minutes and seconds to 0.1, the mean score to 0.01, none empty."""
        row: dict[str, str] = {}
        for column in CSV_COLUMNS:
            value = getattr(self, column)
            if column == "roles":
                row[column] = " ".join(value)
            elif value is None:
                row[column] = ""
            elif isinstance(value, float):
                row[column] = f"{value:.2f}" if column == "evaluation_mean" else f"{value:.1f}"
            else:
                row[column] = str(value)
        return row

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"user_id": self.user_id}
        for column in CSV_COLUMNS:
            value = getattr(self, column)
            if column == "roles":
                value = list(value)
            elif isinstance(value, float):
                value = round(value, 2 if column == "evaluation_mean" else 1)
            data[column] = value
        return data


@dataclass
class _Tally:
    created: int = 0
    accept_minutes: list[float] = field(default_factory=list)
    decisions: dict[str, int] = field(default_factory=lambda: {k: 0 for k in _DECIDED})
    conflicts: int = 0
    review_seconds: list[float] = field(default_factory=list)
    registered: int = 0
    returns_received: int = 0
    qc: dict[str, int] = field(default_factory=lambda: {"pass": 0, "minor": 0, "major": 0})
    corrections: int = 0
    corrections_resolved: int = 0
    scores: list[int] = field(default_factory=list)


class RecordsService:
    def __init__(self, db: Database, *, station_id: str, recorder: Recorder | None = None):
        self._db = db
        self._station = station_id
        self._recorder = recorder or desk_recorder(station_id)

    # -- evaluations -------------------------------------------------------------------------------------

    def evaluate(self, number: str, score: int, comment: str = "", channel: str = "window") -> EvaluationView:
        """Record an applicant's evaluation (评价) of the service on a dossier: a score 1–5 and a comment.

        The applicant is not a user: the audit event's actor is "(applicant)". Audited as "dossier.evaluate"
        (no version bump: an evaluation is about the dossier, not a change of it) and queued in the outbox.
        """
        if isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            raise UsageError(f"an evaluation score is a whole number from {SCORE_MIN} to {SCORE_MAX}, not {score!r}")
        if channel not in EVALUATION_CHANNELS:
            raise UsageError(
                f"unknown evaluation channel '{str(channel)[:40]}'; channels: {', '.join(EVALUATION_CHANNELS)}"
            )
        with self._db.transaction() as session:
            dossier = session.execute(select(Dossier).where(Dossier.number == number)).scalar_one_or_none()
            if dossier is None:
                raise NotFound(f"no dossier {number[:80]}")
            return self.evaluate_in(session, dossier, score, comment, channel)

    def evaluate_in(
        self,
        session: Session,
        dossier: Dossier,
        score: int,
        comment: str,
        channel: str,
        *,
        evaluation_id: str | None = None,
        station_id: str | None = None,
    ) -> EvaluationView:
        """An evaluation (score and channel checked by the caller) in the caller's transaction."""
        comment = (comment or "").strip()[:_COMMENT_MAX]
        evaluation = Evaluation(
            id=evaluation_id or new_id(),
            dossier_id=dossier.id,
            score=score,
            comment=comment,
            channel=channel,
            created_at=utcnow(),
        )
        session.add(evaluation)
        session.flush()
        body = {"evaluation_id": evaluation.id, "score": score, "comment": comment, "channel": channel}
        self._recorder.note(
            session, EVALUATION_ACTOR, dossier, "dossier.evaluate", body, wire=body, station_id=station_id
        )
        return EvaluationView(
            id=evaluation.id,
            number=dossier.number,
            score=evaluation.score,
            comment=evaluation.comment,
            channel=evaluation.channel,
            created_at=evaluation.created_at,
        )

    # -- records ---------------------------------------------------------------------------------------

    def people(self, since: datetime | None = None, until: datetime | None = None) -> list[PersonRecord]:
        """One record per person, sorted by username: every active clerk and reviewer, and any other user
        (an inactive one, an admin who reviews…) with something counted in the period.

        The period is [since, until) on each event's own time (either bound may be None: open). Columns:

        - created: dossiers this user created at ACCEPT (预受理, `created_by`), by `created_at`.
        - submitted: of the dossiers this user created, those accepted (受理, first submission), by `accepted_at`.
        - accept_minutes_median / accept_minutes_mean: the ACCEPT stage duration of those submitted dossiers,
          minutes from `created_at` to `accepted_at` (None when none was submitted).
        - approved / returned / rejected: review decisions this user made that were applied, by kind, by
          `decided_at` (returned = 补正 returns issued).
        - conflicts: this user's decisions refused as conflicts (stale lease or fence), by `decided_at`.
        - review_seconds_median: the REVIEW duration, median seconds from claim to decision of the applied
          decisions above (None when there was none).
        - registered: 登簿 done by this user (`registered_by`), by `registered_at`.
        - returns_received: applied 补正 returns (by anyone) of dossiers this user created, by `decided_at`.
        - qc_pass / qc_minor / qc_major: finished QC inspections, by `inspected_at`, of dossiers this user
          registered (登簿人) or approved for registration (an applied approve decision, at any time); a person
          who did both on one dossier counts its inspection once.
        - corrections / corrections_resolved: correction cases assigned to this user, by `opened_at`; and of
          those, the ones resolved by now.
        - evaluations / evaluation_mean: applicants' evaluations, by `created_at`, of dossiers this user created
          or made an applied review decision on (approve, return or reject; at any time), each counted once per
          person; the mean score to two places (None when there was none).

        A user id that is not in this desk's user table (a registrar synced from another desk) is shown by
        its id, with no roles.
        """
        if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
            raise UsageError("the period's bounds need a time zone")
        if since is not None and until is not None and until <= since:
            raise UsageError(f"the period ends ({until.isoformat()}) before it starts ({since.isoformat()})")
        tallies: dict[str, _Tally] = defaultdict(_Tally)
        with self._db.read() as session:
            self._count_accept(session, tallies, since, until)
            self._count_review(session, tallies, since, until)
            self._count_qc(session, tallies, since, until)
            self._count_evaluations(session, tallies, since, until)
            users = session.execute(select(User.id, User.username, User.display_name, User.roles, User.active)).all()
        known = {
            user_id: (username, display, roles.split(), active) for user_id, username, display, roles, active in users
        }
        wanted = {UserRole.CLERK.value, UserRole.REVIEWER.value}
        ids = set(tallies) | {uid for uid, (_, _, roles, active) in known.items() if active and wanted & set(roles)}
        records = []
        for user_id in ids:
            username, display, roles, _active = known.get(user_id, (user_id, "", [], False))
            records.append(_record(user_id, username, display, tuple(sorted(roles)), tallies.get(user_id, _Tally())))
        return sorted(records, key=lambda r: (r.username, r.user_id))

    def _count_accept(
        self, session: Session, tallies: dict[str, _Tally], since: datetime | None, until: datetime | None
    ) -> None:
        for user_id, count in session.execute(
            select(Dossier.created_by, func.count(Dossier.id))
            .where(*_within(Dossier.created_at, since, until))
            .group_by(Dossier.created_by)
        ):
            tallies[user_id].created = int(count)
        for user_id, created_at, accepted_at in session.execute(
            select(Dossier.created_by, Dossier.created_at, Dossier.accepted_at).where(
                Dossier.accepted_at.is_not(None), *_within(Dossier.accepted_at, since, until)
            )
        ):
            if accepted_at is not None:  # the query's filter
                tallies[user_id].accept_minutes.append((accepted_at - created_at).total_seconds() / 60)
        for user_id, count in session.execute(
            select(Dossier.created_by, func.count(Decision.id))
            .join(Dossier, Dossier.id == Decision.dossier_id)
            .where(
                Decision.kind == "return", Decision.outcome == "applied", *_within(Decision.decided_at, since, until)
            )
            .group_by(Dossier.created_by)
        ):
            tallies[user_id].returns_received = int(count)

    def _count_review(
        self, session: Session, tallies: dict[str, _Tally], since: datetime | None, until: datetime | None
    ) -> None:
        for reviewer_id, kind, outcome, seconds in session.execute(
            select(Decision.reviewer_id, Decision.kind, Decision.outcome, Decision.seconds).where(
                *_within(Decision.decided_at, since, until)
            )
        ):
            tally = tallies[reviewer_id]
            if outcome == "conflict":
                tally.conflicts += 1
            elif outcome == "applied" and kind in tally.decisions:
                tally.decisions[kind] += 1
                if seconds is not None:
                    tally.review_seconds.append(float(seconds))
        for user_id, count in session.execute(
            select(Dossier.registered_by, func.count(Dossier.id))
            .where(Dossier.registered_by.is_not(None), *_within(Dossier.registered_at, since, until))
            .group_by(Dossier.registered_by)
        ):
            if user_id is not None:  # the query's filter
                tallies[user_id].registered = int(count)
        for user_id, state in session.execute(
            select(Correction.assigned_to, Correction.state).where(*_within(Correction.opened_at, since, until))
        ):
            tallies[user_id].corrections += 1
            if state == "resolved":
                tallies[user_id].corrections_resolved += 1

    def _count_qc(
        self, session: Session, tallies: dict[str, _Tally], since: datetime | None, until: datetime | None
    ) -> None:
        done = (QcCheck.state == "done", QcCheck.result.is_not(None), *_within(QcCheck.inspected_at, since, until))
        checks = session.execute(
            select(QcCheck.dossier_id, QcCheck.result, Dossier.registered_by)
            .join(Dossier, Dossier.id == QcCheck.dossier_id)
            .where(*done)
        ).all()
        if not checks:
            return
        approvers = people_by_dossier(
            session,
            select(Decision.dossier_id, Decision.reviewer_id).where(
                Decision.kind == "approve",
                Decision.outcome == "applied",
                Decision.dossier_id.in_(select(QcCheck.dossier_id).where(*done)),
            ),
        )
        for dossier_id, result, registrar in checks:
            people = approvers.get(dossier_id, set()) | ({registrar} if registrar else set())
            for user_id in people:
                qc = tallies[user_id].qc
                if result in qc:
                    qc[result] += 1

    def _count_evaluations(
        self, session: Session, tallies: dict[str, _Tally], since: datetime | None, until: datetime | None
    ) -> None:
        period = _within(Evaluation.created_at, since, until)
        rows = session.execute(
            select(Evaluation.dossier_id, Evaluation.score, Dossier.created_by)
            .join(Dossier, Dossier.id == Evaluation.dossier_id)
            .where(*period)
        ).all()
        if not rows:
            return
        deciders = people_by_dossier(
            session,
            select(Decision.dossier_id, Decision.reviewer_id).where(
                Decision.kind.in_(_DECIDED),
                Decision.outcome == "applied",
                Decision.dossier_id.in_(select(Evaluation.dossier_id).where(*period)),
            ),
        )
        for dossier_id, score, creator in rows:
            for user_id in deciders.get(dossier_id, set()) | {creator}:
                tallies[user_id].scores.append(int(score))

    # -- quarterly records, per person and per unit (R17, at the registry) -----------------------------------

    def quarter(
        self,
        quarter: Quarter | str,
        clocks: ClockService,
        *,
        unit: str | None = None,
        today: date | None = None,
    ) -> list[QuarterRecord]:
        """A quarter's rows per person and per unit, overdue read by `clocks` as desks read it.

        What each column holds is stated in `workstation.services.records_quarter`. `quarter` is a Quarter or its
        text (2026Q4); `unit` keeps one unit's rows; `today` is the office date a quarter under way is read to.
        """
        parsed = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return quarter_records(self._db, clocks, parsed, unit=unit, today=today)

    def set_station_unit(self, operator: str, station_id: str, unit: str) -> None:
        """The unit (district office) a station belongs to: its clerks' records roll up to it. Audited."""
        code = check_unit(unit)
        with self._db.transaction() as session:
            station = session.get(Station, station_id)
            if station is None:
                raise NotFound(f"no station {station_id[:40]}")
            if station.unit == code:
                return
            before, station.unit = station.unit, code
            audit.append(
                session,
                station_id=self._station,
                actor=operator,
                action="station.unit",
                entity="station",
                entity_id=station_id,
                payload={"before": before, "unit": code},
            )

    # -- CSV -------------------------------------------------------------------------------------------

    @staticmethod
    def to_csv(records: Sequence[PersonRecord], out: TextIO) -> None:
        """Write a header row (CSV_COLUMNS) and one row per person to `out` (open it with newline="")."""
        _csv_rows(out, CSV_COLUMNS, [record.csv_row() for record in records])

    @staticmethod
    def quarter_to_csv(records: Sequence[QuarterRecord], out: TextIO) -> None:
        """Write a header row (QUARTER_COLUMNS) and one row per person or unit to `out` (open it with newline="")."""
        _csv_rows(out, QUARTER_COLUMNS, [record.csv_row() for record in records])

    def write_csv(self, path: Path | str, since: datetime | None = None, until: datetime | None = None) -> int:
        """Write the period's records to `path` as UTF-8 CSV, atomically (a temp file renamed over it).

        The file starts with a byte-order mark, so spreadsheet programs show the Chinese names.

        Returns the number of rows (people) written. A reader sees the old file or the new one, never half.
        """
        records = self.people(since, until)
        _replace_csv(path, lambda out: self.to_csv(records, out))
        return len(records)

    def write_quarter_csv(self, path: Path | str, records: Sequence[QuarterRecord]) -> int:
        """Write a quarter's rows to `path` as `write_csv` writes (UTF-8 with a byte-order mark, atomically).

        Returns the number of rows written (people and units)."""
        _replace_csv(path, lambda out: self.quarter_to_csv(records, out))
        return len(records)


def _csv_rows(out: TextIO, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)


def _replace_csv(path: Path | str, write: Callable[[TextIO], None]) -> None:
    """Write a CSV file by `write`, as UTF-8 with a byte-order mark, through a temp file renamed over `path`."""
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: the folder {target.parent} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _within(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    since: datetime | None,
    until: datetime | None,
) -> tuple[ColumnElement[bool], ...]:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return tuple(conditions)


def _record(user_id: str, username: str, display: str, roles: tuple[str, ...], tally: _Tally) -> PersonRecord:
    return PersonRecord(
        user_id=user_id,
        username=username,
        display_name=display,
        roles=roles,
        created=tally.created,
        submitted=len(tally.accept_minutes),
        accept_minutes_median=statistics.median(tally.accept_minutes) if tally.accept_minutes else None,
        accept_minutes_mean=statistics.fmean(tally.accept_minutes) if tally.accept_minutes else None,
        approved=tally.decisions["approve"],
        returned=tally.decisions["return"],
        rejected=tally.decisions["reject"],
        conflicts=tally.conflicts,
        review_seconds_median=statistics.median(tally.review_seconds) if tally.review_seconds else None,
        registered=tally.registered,
        returns_received=tally.returns_received,
        qc_pass=tally.qc["pass"],
        qc_minor=tally.qc["minor"],
        qc_major=tally.qc["major"],
        corrections=tally.corrections,
        corrections_resolved=tally.corrections_resolved,
        evaluations=len(tally.scores),
        evaluation_mean=statistics.fmean(tally.scores) if tally.scores else None,
    )
