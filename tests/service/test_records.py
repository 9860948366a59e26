"""Per-person records (R17) computed from a real flow, service evaluations, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.review_helpers import submitted
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.errors import ConflictError, NotFound, UsageError
from workstation.services.changes import Recorder
from workstation.services.desk import Desk
from workstation.services.records import CSV_COLUMNS, PersonRecord, RecordsService
from workstation.store.models import (
    Assignment,
    AuditEvent,
    Correction,
    Decision,
    Dossier,
    Evaluation,
    OutboxOp,
    QcCheck,
)
from workstation.store.types import utcnow


@pytest.fixture
def rev(desk: Desk) -> Actor:
    admin = desk.users.actor("admin")
    desk.users.add(
        admin,
        username="revall",
        password="rev-pass-all",
        roles=["reviewer"],
        display_name="李审核",
        can_review_online=True,
        can_review_offline=True,
    )
    return desk.users.actor("revall")


@pytest.fixture
def records(desk: Desk) -> RecordsService:
    return RecordsService(desk.db, station_id=desk.settings.station_id)


def claim_aged(desk: Desk, rev: Actor, number: str, seconds: int) -> tuple[str, int]:
    """Claim `number` and move the claim `seconds` into the past, as if the reviewer had read that long."""
    lease = desk.review.claim_next(rev)
    assert lease is not None and lease.number == number
    with desk.db.transaction() as session:
        session.execute(
            update(Assignment)
            .where(Assignment.lease_id == lease.lease_id)
            .values(claimed_at=lease.claimed_at - timedelta(seconds=seconds))
        )
    return lease.lease_id, lease.fence


def set_created(desk: Desk, number: str, minutes_before_acceptance: int) -> None:
    """Make the ACCEPT stage of `number` last exactly that many minutes."""
    with desk.db.transaction() as session:
        dossier = session.execute(select(Dossier).where(Dossier.number == number)).scalar_one()
        assert dossier.accepted_at is not None
        dossier.created_at = dossier.accepted_at - timedelta(minutes=minutes_before_acceptance)


def run_flow(desk: Desk, clerk: Actor, rev: Actor, records: RecordsService) -> dict[str, str]:
    """A: 补正 → resubmitted → approved → 登簿 (QC minor, a correction for the clerk); B: 不予登记; C: a conflict."""
    a = submitted(desk, clerk).number
    lease_id, fence = claim_aged(desk, rev, a, 600)
    desk.review.decide(
        rev, a, "return", lease_id=lease_id, fence=fence, items=[ReturnItem(problem="missing", material="M01")]
    )
    desk.dossiers.answer(clerk, a, 1, "申请书已补交")
    desk.dossiers.submit(clerk, a)
    lease_id, fence = claim_aged(desk, rev, a, 1200)
    desk.review.decide(rev, a, "approve", lease_id=lease_id, fence=fence)
    desk.review.register(rev, a)

    b = submitted(desk, clerk).number
    lease_id, fence = claim_aged(desk, rev, b, 300)
    desk.review.decide(rev, b, "reject", lease_id=lease_id, fence=fence, reason_code="dispute")

    c = submitted(desk, clerk).number
    lease_id, fence = claim_aged(desk, rev, c, 60)
    with pytest.raises(ConflictError):
        desk.review.decide(rev, c, "approve", lease_id=lease_id, fence=fence + 1)  # a stale or forged fence

    for number, minutes in ((a, 10), (b, 20), (c, 60)):
        set_created(desk, number, minutes)

    admin_id = desk.users.actor("admin").user_id
    now = utcnow()
    with desk.db.transaction() as session:
        dossier_a = session.execute(select(Dossier).where(Dossier.number == a)).scalar_one()
        check = session.execute(select(QcCheck).where(QcCheck.dossier_id == dossier_a.id)).scalar_one_or_none()
        if check is None:  # not drawn by the 3% sample: inspected anyway, as a supervisor may
            check = QcCheck(dossier_id=dossier_a.id, basis="sampled", created_at=now)
            session.add(check)
        check.state, check.result, check.inspected_at = "done", "minor", now
        session.add(
            Correction(
                dossier_id=dossier_a.id,
                description="权利人姓名录入有误",
                assigned_to=clerk.user_id,
                opened_by=admin_id,
                opened_at=now,
            )
        )

    records.evaluate(a, 5, comment="很快")
    records.evaluate(b, 2, channel="online")
    records.evaluate(c, 4)
    return {"a": a, "b": b, "c": c}


def by_name(people: list[PersonRecord]) -> dict[str, PersonRecord]:
    return {p.username: p for p in people}


def review_seconds(desk: Desk) -> list[float]:
    with desk.db.read() as session:
        rows = session.execute(select(Decision.seconds).where(Decision.outcome == "applied")).scalars().all()
    return sorted(float(s) for s in rows if s is not None)


# --- records ----------------------------------------------------------------------------------------------------------


def test_records_match_the_flow(desk: Desk, clerk: Actor, rev: Actor, records: RecordsService) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="idle", password="idle-pass-01", roles=["reviewer"])  # no activity: zeros
    run_flow(desk, clerk, rev, records)

    people = by_name(records.people())
    assert sorted(people) == ["clerk1", "idle", "revall"]  # the admin did nothing counted here
    c = people["clerk1"]
    assert (c.roles, c.created, c.submitted, c.returns_received) == (("clerk",), 3, 3, 1)
    assert (c.accept_minutes_median, c.accept_minutes_mean) == (20.0, 30.0)  # 10, 20 and 60 minutes
    assert (c.approved, c.returned, c.rejected, c.conflicts, c.review_seconds_median, c.registered) == (
        0,
        0,
        0,
        0,
        None,
        0,
    )
    assert (c.qc_pass, c.qc_minor, c.qc_major, c.corrections, c.corrections_resolved) == (0, 0, 0, 1, 0)
    assert c.evaluations == 3 and c.evaluation_mean == pytest.approx(11 / 3)

    r = people["revall"]
    assert (r.display_name, r.roles) == ("李审核", ("reviewer",))
    assert (r.approved, r.returned, r.rejected, r.conflicts, r.registered) == (1, 1, 1, 1, 1)
    seconds = review_seconds(desk)
    assert len(seconds) == 3 and r.review_seconds_median == seconds[1]
    assert 600 <= r.review_seconds_median < 660  # claims aged 300, 600 and 1200 seconds
    assert (r.qc_pass, r.qc_minor, r.qc_major) == (0, 1, 0)  # A: approved and registered by revall, counted once
    # Evaluated: A (returned, approved) and B (rejected); C had only a refused decision.
    assert r.evaluations == 2 and r.evaluation_mean == 3.5
    assert (r.created, r.submitted, r.accept_minutes_median, r.returns_received, r.corrections) == (0, 0, None, 0, 0)

    idle = people["idle"]
    assert (idle.approved, idle.evaluations, idle.evaluation_mean, idle.review_seconds_median) == (0, 0, None, None)
    assert r.to_json()["evaluation_mean"] == 3.5 and r.to_json()["roles"] == ["reviewer"]


def test_period_filter_excludes_events_outside_it(
    desk: Desk, clerk: Actor, rev: Actor, records: RecordsService
) -> None:
    numbers = run_flow(desk, clerk, rev, records)
    # Move everything that happened to B (the rejected one) a month back.
    month = timedelta(days=30)
    with desk.db.transaction() as session:
        b = session.execute(select(Dossier).where(Dossier.number == numbers["b"])).scalar_one()
        assert b.accepted_at is not None
        b.created_at, b.accepted_at = b.created_at - month, b.accepted_at - month
        for decision in session.execute(select(Decision).where(Decision.dossier_id == b.id)).scalars():
            decision.decided_at -= month
        for evaluation in session.execute(select(Evaluation).where(Evaluation.dossier_id == b.id)).scalars():
            evaluation.created_at -= month
    since = utcnow() - timedelta(days=1)

    recent = by_name(records.people(since=since))
    c, r = recent["clerk1"], recent["revall"]
    assert (c.created, c.submitted, c.accept_minutes_median, c.accept_minutes_mean) == (2, 2, 35.0, 35.0)
    assert (c.evaluations, c.evaluation_mean) == (2, 4.5)
    assert (r.approved, r.returned, r.rejected, r.conflicts, r.registered) == (1, 1, 0, 1, 1)
    assert (r.evaluations, r.evaluation_mean) == (1, 5.0)

    old = by_name(records.people(until=since))
    c, r = old["clerk1"], old["revall"]
    assert (c.created, c.submitted, c.accept_minutes_median, c.returns_received, c.corrections) == (1, 1, 20.0, 0, 0)
    assert (c.evaluations, c.evaluation_mean) == (1, 2.0)
    assert (r.approved, r.returned, r.rejected, r.conflicts, r.registered, r.qc_minor) == (0, 0, 1, 0, 0, 0)
    assert 300 <= (r.review_seconds_median or 0) < 360

    nothing = by_name(records.people(since=since - 2 * month, until=since - 2 * month + timedelta(days=1)))
    assert {(p.created, p.approved, p.evaluations) for p in nothing.values()} == {(0, 0, 0)}
    with pytest.raises(UsageError, match="before it starts"):
        records.people(since=since, until=since - month)
    with pytest.raises(UsageError, match="time zone"):
        records.people(since=datetime(2026, 1, 1))


# --- evaluations ------------------------------------------------------------------------------------------------------


def test_evaluation_is_recorded_audited_and_range_checked(desk: Desk, clerk: Actor, records: RecordsService) -> None:
    number = submitted(desk, clerk).number
    version = desk.dossiers.show(number).version
    for bad in (0, 6, -1, 3.5, True, "5"):
        with pytest.raises(UsageError, match="whole number from 1 to 5"):
            records.evaluate(number, bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown evaluation channel 'fax'"):
        records.evaluate(number, 3, channel="fax")
    with pytest.raises(NotFound, match="no dossier NOPE"):
        records.evaluate("NOPE", 3)

    view = records.evaluate(number, 1, comment="  等了太久  ", channel="sms")
    assert (view.number, view.score, view.comment, view.channel) == (number, 1, "等了太久", "sms")
    assert view.to_json()["score"] == 1
    assert desk.dossiers.show(number).version == version
    with desk.db.read() as session:
        rows = session.execute(select(Evaluation)).scalars().all()
        assert [(e.score, e.channel) for e in rows] == [(1, "sms")]
        dossier_id = rows[0].dossier_id
        event = session.execute(
            select(AuditEvent).where(AuditEvent.entity_id == dossier_id, AuditEvent.action == "dossier.evaluate")
        ).scalar_one()
        op = session.execute(
            select(OutboxOp).where(OutboxOp.entity_id == dossier_id, OutboxOp.kind == "dossier.evaluate")
        ).scalar_one()
    payload: dict[str, Any] = json.loads(event.payload)
    assert (event.actor, event.entity, payload["score"], payload["evaluation_id"]) == (
        "(applicant)",
        "dossier",
        1,
        view.id,
    )
    assert op.base_version is None and op.payload["score"] == 1
    assert desk.verify_audit().ok


def test_evaluation_without_outbox(desk: Desk, clerk: Actor) -> None:
    records = RecordsService(desk.db, station_id=desk.settings.station_id, recorder=Recorder(desk.settings.station_id))
    number = submitted(desk, clerk).number
    records.evaluate(number, 4)
    with desk.db.read() as session:
        kinds = session.execute(select(OutboxOp.kind)).scalars().all()
    assert "dossier.evaluate" not in kinds


# --- CSV --------------------------------------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_row_per_person(
    desk: Desk, clerk: Actor, rev: Actor, records: RecordsService, tmp_path: Path
) -> None:
    run_flow(desk, clerk, rev, records)
    people = records.people()
    out = io.StringIO(newline="")
    records.to_csv(people, out)
    reader = csv.DictReader(io.StringIO(out.getvalue(), newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = {row["username"]: row for row in reader}
    assert sorted(rows) == ["clerk1", "revall"]
    c, r = rows["clerk1"], rows["revall"]
    assert (c["roles"], c["created"], c["submitted"], c["accept_minutes_median"], c["accept_minutes_mean"]) == (
        "clerk",
        "3",
        "3",
        "20.0",
        "30.0",
    )
    assert (c["returns_received"], c["corrections"], c["evaluations"], c["evaluation_mean"]) == ("1", "1", "3", "3.67")
    assert (c["review_seconds_median"], c["approved"]) == ("", "0")
    assert (r["display_name"], r["approved"], r["returned"], r["rejected"], r["conflicts"]) == (
        "李审核",
        "1",
        "1",
        "1",
        "1",
    )
    assert (r["registered"], r["qc_minor"], r["evaluation_mean"]) == ("1", "1", "3.50")
    assert float(r["review_seconds_median"]) == pytest.approx(review_seconds(desk)[1], abs=0.05)

    folder = tmp_path / "reports"
    folder.mkdir()
    target = folder / "records.csv"
    target.write_text("old contents\n", encoding="utf-8")
    assert records.write_csv(target) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["records.csv"]  # no temp file left behind
    with target.open(encoding="utf-8-sig", newline="") as fh:
        written = list(csv.DictReader(fh))
    assert [row["username"] for row in written] == ["clerk1", "revall"]
    assert written[1]["display_name"] == "李审核"
    assert target.read_bytes().startswith(b"\xef\xbb\xbfusername,display_name,roles,created,")

    # A period with nothing in it still lists the clerk and the reviewer, all zeros.
    assert records.write_csv(target, since=utcnow() + timedelta(days=1)) == 2
    with target.open(encoding="utf-8-sig", newline="") as fh:
        empty = list(csv.DictReader(fh))
    assert {(row["created"], row["approved"], row["evaluation_mean"]) for row in empty} == {("0", "0", "")}

    with pytest.raises(UsageError, match="does not exist"):
        records.write_csv(tmp_path / "missing" / "records.csv")
