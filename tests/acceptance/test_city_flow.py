"""One city, one flow (R3, R17, R19): 补正 back to the window, clocks kept by the registry, 登簿 and QC at the centre,
records by quarter.

Three desks — a window (W), a review desk (R) and a QC desk (Q) — and a registry (PostgreSQL where the tests have
one), every desk through its own fault proxy. The process runs on a rehearsal clock across 春节 2026, so every
clock figure is compared with one computed by hand from the published holiday notice (国办发明电〔2025〕7号):

    02-12 Thu  受理 at the window (10:00)                          clock starts; the day itself does not count
    02-13 Fri  rev1 returns it for 补正 with three items (11:05)    counted (1); the 补正 pause starts
    02-14 Sat  调休 working day: the window resubmits (10:00)        paused: (02-13, 02-14] is not counted
               rev2 asks for work first and is not offered it; rev1 is, and approves (10:15)
    02-15 … 02-23  春节 holidays                                   not working days
    02-24 Tue  rev1 (reviewer and registrar) 登簿 (09:30)            counted (2); the clock stops
    limit 5 working days → due 02-13, 02-24, 02-25, 02-26, 02-27 = Fri 02-27; at the stop: used 2, left 3.

A second dossier (在建工程抵押, inspected 100 %) is approved and registered on 02-24; the QC desk records a major
error; the correction reaches the registrar at the review desk, who resolves it. The quarter's records (2026Q1)
are then compared figure by figure with the flow. The second run cuts each acting desk off the network while it
works and heals it afterwards: the same final state, the same clocks, the same records.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from sync.client import SyncAgent, Transient
from tests.faultproxy import FaultProxy
from tests.review_helpers import submitted
from tests.sync_helpers import desk_with_registry, log_in, provision, running_registry
from workstation.domain.errors import DomainError
from workstation.domain.qc import must_inspect
from workstation.domain.review import ReturnItem
from workstation.services.clocks import ClockService, ClockView
from workstation.services.desk import Desk
from workstation.services.views import OFFICE_TZ
from workstation.store.models import ClockPause, Correction, Decision, Dossier, QcCheck
from workstation.store.types import set_clock

pytestmark = pytest.mark.slow

WINDOW, REVIEW, QC = "JN-W01", "JN-REV", "JN-QC"


class RehearsalClock:
    """The process's time, set step by step in office time; each reading a millisecond after the last."""

    def __init__(self) -> None:
        self._now = datetime(2026, 2, 11, tzinfo=UTC)

    def at(self, office: str) -> None:
        moment = datetime.fromisoformat(office).replace(tzinfo=OFFICE_TZ).astimezone(UTC)
        assert moment >= self._now, "the rehearsal only moves forward"
        self._now = moment

    def __call__(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


@pytest.fixture
def clock() -> Iterator[RehearsalClock]:
    rehearsal = RehearsalClock()
    set_clock(rehearsal)
    try:
        yield rehearsal
    finally:
        set_clock(None)


@dataclass
class City:
    registry: object
    proxies: dict[str, FaultProxy]
    agents: dict[str, SyncAgent]
    desks: dict[str, Desk]
    cut: bool

    def sync(self, *names: str) -> None:
        """Each desk sends what it holds and pulls what the registry decided, through lost and doubled answers."""
        for name in names:
            proxy, agent = self.proxies[name], self.agents[name]
            proxy.partitioned = False
            proxy.drop_response, proxy.duplicate = 0.3, 0.3
            stop = time.monotonic() + 90
            try:
                while True:
                    try:
                        agent.sync_once()
                    except Transient:
                        assert time.monotonic() < stop, f"desk {name} never drained"
                        continue
                    if agent.status().outbox_depth == 0:
                        break
            finally:
                proxy.reset_faults()
            agent.sync_once()

    def offline(self, name: str) -> None:
        """In the cut run, the desk loses the network for the work that follows (it heals at the next sync)."""
        if self.cut:
            self.proxies[name].partitioned = True
            with pytest.raises(Transient):
                self.agents[name].sync_once()


def reading(view: ClockView) -> tuple[object, ...]:
    return (view.state, view.accepted, view.used, view.remaining, view.due, view.paused, view.overdue)


def expect_clock(city: City, number: str, today: date, expected: tuple[object, ...], *names: str) -> None:
    """The registry's own clock, and each named desk's mirror of it, read on `today`."""
    registry_clock = ClockService(city.registry.db, city.desks["W"].catalogue, station_id="registry")  # type: ignore[attr-defined]
    assert reading(registry_clock.clock(number, today)) == expected, "registry"
    for name in names:
        view = city.desks[name].clocks.clock(number, today)
        assert view.source == "registry" and view.synced_at is not None, name
        assert reading(view) == expected, name


@pytest.mark.parametrize("cut", [False, True], ids=["online", "cut-between-steps"])
def test_one_flow_through_three_desks_and_the_registry(
    tmp_path: Path, registry_db: str | None, clock: RehearsalClock, cut: bool
) -> None:
    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry", registry_db))
        port = urlsplit(url).port or 0
        names = {"W": WINDOW, "R": REVIEW, "Q": QC}
        proxies = {n: stack.enter_context(FaultProxy("127.0.0.1", port, seed=i)) for i, n in enumerate(names)}
        desks: dict[str, Desk] = {}
        agents: dict[str, SyncAgent] = {}
        for n, station in names.items():
            token = registry.add_station(station, station, unit="LX")
            desks[n] = desk_with_registry(tmp_path / n, station, proxies[n].url, token)
            agents[n] = SyncAgent(desks[n].db, desks[n].blobs, station_id=station, url=proxies[n].url, token=token)
            stack.callback(desks[n].close)
            stack.callback(agents[n].stop)
        city = City(registry, proxies, agents, desks, cut)
        provision(registry, "rev1", ("reviewer", "registrar"), unit="LX")
        provision(registry, "rev2", ("reviewer",), unit="LX")
        provision(registry, "qc1", ("qc",), unit="CITY")
        w, r, q = desks["W"], desks["R"], desks["Q"]
        clerk = w.users.actor("clerk1")

        # 02-12 Thu: 受理 at the window.
        clock.at("2026-02-12 09:00")
        city.offline("W")
        applied = clock()
        clock.at("2026-02-12 10:00")
        d1 = submitted(w, clerk, applied_at=applied)
        assert w.clocks.clock(d1.number).state == "not synced"  # the registry keeps the clock; no guessing here
        city.sync("W")
        # 02-13 (1), 02-14 调休 Saturday (2), 春节 02-15…02-23, 02-24 (3), 02-25 (4), 02-26 (5).
        accepted = ("running", date(2026, 2, 12), 0, 5, date(2026, 2, 26), False, False)
        expect_clock(city, d1.number, date(2026, 2, 12), accepted, "W")

        # 02-13 Fri: rev1 claims it and returns it with three items, one of them refused first (not on the checklist).
        clock.at("2026-02-13 11:00")
        rev1 = log_in(r, "rev1")
        lease = r.review.claim_next(rev1)
        assert lease is not None and lease.number == d1.number
        claimed = ("running", date(2026, 2, 12), 1, 4, date(2026, 2, 26), False, False)
        assert reading(r.clocks.clock(d1.number, date(2026, 2, 13))) == claimed  # the registry's, with the lease
        city.offline("R")
        clock.at("2026-02-13 11:05")
        with pytest.raises(DomainError, match="M99 is not on this dossier's checklist"):
            r.review.decide(
                rev1, d1.number, "return", lease_id=lease.lease_id, fence=lease.fence,
                items=[ReturnItem(problem="missing", material="M99")],
            )  # fmt: skip
        items = [
            ReturnItem(problem="missing", material="M01", note="申请书缺申请人签字"),
            ReturnItem(problem="defective", material="M03", party_key="p1", note="身份证复印件模糊"),
            ReturnItem(problem="defective", material="M03", party_key="p2", note="出卖人身份证已过期"),
        ]
        r.review.decide(
            rev1, d1.number, "return", lease_id=lease.lease_id, fence=lease.fence, items=items,
            note="请一次性补齐以下材料",
        )  # fmt: skip
        city.sync("R")
        clock.at("2026-02-13 11:30")
        city.sync("W")
        shown = w.dossiers.show(d1.number)
        assert shown.status == "returned" and shown.supplement is not None and shown.supplement.open
        sup = shown.supplement
        assert (sup.reviewer, sup.note, len(sup.items)) == ("rev1", "请一次性补齐以下材料", 3)
        assert [(i.material, i.party_key, i.note, i.addressed) for i in sup.items] == [
            ("M01", None, "申请书缺申请人签字", False),
            ("M03", "p1", "身份证复印件模糊", False),
            ("M03", "p2", "出卖人身份证已过期", False),
        ]
        assert sup.decided_at.astimezone(OFFICE_TZ).strftime("%m-%d %H:%M") == "02-13 11:05"  # the registry's time
        window_decisions = w.review.decisions(d1.number)
        assert [(x.kind, x.reviewer, len(x.items)) for x in window_decisions] == [("return", "rev1", 3)]
        paused = ("paused", date(2026, 2, 12), 1, 4, None, True, False)
        expect_clock(city, d1.number, date(2026, 2, 13), paused, "W", "R")

        # 02-14 Sat (调休 working day): the applicant brings two pages; the clerk notes the third item.
        clock.at("2026-02-14 09:30")
        city.offline("W")
        for material, party in (("M01", None), ("M03", "p1")):
            w.dossiers.attach_page(
                clerk, d1.number, data=f"补正 {material} {party}".encode(), source_name=f"{material}.png",
                media_type="image/png", material=material, party_key=party,
            )  # fmt: skip
        with pytest.raises(DomainError, match=r"1 补正 item\(s\) not addressed yet .*3\. M03 p2"):
            w.dossiers.submit(clerk, d1.number)
        w.dossiers.answer(clerk, d1.number, 3, "出卖人持有效期内新证到场核验，复印件已附")
        clock.at("2026-02-14 10:00")
        w.dossiers.submit(clerk, d1.number)
        city.sync("W")
        with registry.db.read() as s:
            resubmitted = s.execute(
                select(ClockPause.ended_at).where(ClockPause.dossier_id == d1.id, ClockPause.reason == "supplement")
            ).scalar_one()
        assert resubmitted is not None and resubmitted.astimezone(OFFICE_TZ).date() == date(2026, 2, 14)
        running = ("running", date(2026, 2, 12), 1, 4, date(2026, 2, 27), False, False)
        expect_clock(city, d1.number, date(2026, 2, 14), running, "W")

        # Back to the same reviewer: rev2 asks first and is not offered it while rev1 is logged in; rev1 is.
        clock.at("2026-02-14 10:05")
        rev1 = log_in(r, "rev1")
        rev2 = log_in(q, "rev2")
        assert q.review.claim_next(rev2) is None
        clock.at("2026-02-14 10:10")
        again = r.review.claim_next(rev1)
        assert again is not None and again.number == d1.number
        city.offline("R")
        clock.at("2026-02-14 10:15")
        r.review.decide(rev1, d1.number, "approve", lease_id=again.lease_id, fence=again.fence)
        city.sync("R", "W")

        # 02-24 Tue, after 春节: 登簿 at the registry, requested from the review desk by rev1 as registrar.
        clock.at("2026-02-24 09:30")
        rev1 = log_in(r, "rev1")
        city.offline("R")
        r.review.register(rev1, d1.number)
        city.sync("R", "W")
        stopped = ("stopped", date(2026, 2, 12), 2, 3, date(2026, 2, 27), False, False)
        expect_clock(city, d1.number, date(2026, 3, 31), stopped, "W", "R")

        # A second dossier, inspected 100 % (R3): approved and registered the same day.
        clock.at("2026-02-24 10:00")
        d2 = submitted(w, clerk, business="MORT_CIP", kind="enterprise")
        city.sync("W")
        clock.at("2026-02-24 10:10")
        lease2 = r.review.claim_next(rev1)
        assert lease2 is not None and lease2.number == d2.number
        clock.at("2026-02-24 10:15")
        r.review.decide(rev1, d2.number, "approve", lease_id=lease2.lease_id, fence=lease2.fence)
        city.sync("R")
        clock.at("2026-02-24 10:20")
        r.review.register(rev1, d2.number)
        city.sync("R", "W")

        # QC at the centre: checks were opened once, at the registry, per the rules.
        with registry.db.read() as s:
            checks = {c.dossier_id: c for c in s.execute(select(QcCheck)).scalars()}
        d1_sampled, _ = must_inspect(w.catalogue.business("RESALE_TRANSFER"), d1.id, registry.qc_policy)
        assert set(checks) == ({d1.id} if d1_sampled else set()) | {d2.id}
        assert checks[d2.id].basis is not None
        for desk in desks.values():  # no desk opened a check of its own
            with desk.db.read() as s:
                assert s.execute(select(QcCheck)).first() is None

        # The QC desk records a major error on d2; the correction reaches the registrar at the review desk.
        clock.at("2026-02-24 14:00")
        qc1 = log_in(q, "qc1")
        pending = {c.number: c for c in q.qc.pending()}
        assert d2.number in pending and (d1.number in pending) == d1_sampled
        q.qc.record(qc1, pending[d2.number].id, "major", defects=["抵押面积与测绘报告不一致"], notes="登簿面积有误")
        clock.at("2026-02-25 09:00")
        rev1 = log_in(r, "rev1")
        open_cases = [c for c in r.qc.corrections() if c.state == "open"]
        assert [c.number for c in open_cases] == [d2.number]
        r.qc.resolve_correction(rev1, open_cases[0].id, "已更正登记簿面积")
        with registry.db.read() as s:
            corrections = list(s.execute(select(Correction)).scalars())
            decisions = sorted(
                (x.kind, x.outcome) for x in s.execute(select(Decision).where(Decision.dossier_id == d1.id)).scalars()
            )
            states = {x.number: (x.stage, x.status) for x in s.execute(select(Dossier)).scalars()}
        assert [(c.state, c.resolution) for c in corrections] == [("resolved", "已更正登记簿面积")]
        assert decisions == [("approve", "applied"), ("return", "applied")]
        assert states == {d1.number: ("ISSUE", "registered"), d2.number: ("ISSUE", "registered")}
        assert {n: (x.stage, x.status) for n, x in ((d.number, w.dossiers.show(d.number)) for d in (d1, d2))} == states

        # Records for the quarter (R17), at the registry, against the flow.
        clock.at("2026-04-01 09:00")
        rows = registry._records.quarter("2026Q1", ClockService(registry.db, w.catalogue, station_id="registry"))  # type: ignore[attr-defined]
        out = io.StringIO()
        registry._records.quarter_to_csv(rows, out)  # type: ignore[attr-defined]
        table = {
            (row["scope"], row["username"] or row["unit"]): row for row in csv.DictReader(io.StringIO(out.getvalue()))
        }
        rev1_row, qc1_row = table[("person", "rev1")], table[("person", "qc1")]
        taker = table[("person", f"clerk1@{WINDOW}")]
        assert {k: rev1_row[k] for k in ("reviewed", "returned", "rejected", "registered", "overdue")} == {
            "reviewed": "3", "returned": "1", "rejected": "0", "registered": "2", "overdue": "0",
        }  # fmt: skip
        # 审核 rounds: 02-12→02-13 (1 working day), 02-14→02-14 (0), d2 02-24→02-24 (0); 登簿: d1 02-14→02-24 (1:
        # 02-24 only, 春节 between), d2 (0).
        assert (rev1_row["review_days_median"], rev1_row["review_days_p90"]) == ("0.0", "0.8")
        assert (rev1_row["register_days_median"], rev1_row["register_days_p90"]) == ("0.5", "0.9")
        assert (rev1_row["qc_major"], rev1_row["corrections_opened"], rev1_row["corrections_resolved"]) == (
            "1",
            "1",
            "1",
        )
        assert (qc1_row["inspected_major"], qc1_row["inspected_pass"]) == ("1", "0")
        assert (taker["taken_in"], taker["accept_days_median"], taker["overdue"], taker["unit"]) == (
            "2",
            "0.0",
            "0",
            "LX",
        )
        unit = table[("unit", "LX")]  # the district office: its window's clerk and its reviewers, each event once
        assert (unit["taken_in"], unit["reviewed"], unit["registered"], unit["qc_major"]) == ("2", "3", "2", "1")
        print(out.getvalue())
