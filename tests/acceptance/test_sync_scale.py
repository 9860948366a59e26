"""Acceptance test 9: ten desks × 200 dossiers through a faulty network into one registry on PostgreSQL.

Each desk has its own SQLite data directory and station id and captures while its agent's background loop runs;
every request goes through the FaultProxy, which loses responses after the registry committed, sends requests
twice and delays them. At the end every outbox is empty and every op the desks hold as acknowledged is at the
registry exactly once: one AppliedOp, one audit event, one dossier per create, nothing parked, no conflict.

A soak (about a minute on two cores): `make test` leaves it out, CI runs it once. The same exactly-once property
at the size of a working day is in `make test` by `test_city_run.py` (three desks through a faulty network) and the
fault tests of `test_sync_faults.py`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.client import SyncAgent, sync_status
from tests.faultproxy import FaultProxy
from tests.review_helpers import IDN, submitted
from tests.sync_helpers import agent_for, make_desk, running_registry
from workstation.services.desk import Desk
from workstation.store.models import AppliedOp, AuditEvent, ChangeRecord, Dossier, OutboxOp, Page, SyncConflict

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.soak]

REQUIRE_PG = os.environ.get("WS_TEST_REQUIRE_PG") == "1"
DESKS = 10
PER_DESK = 200
WITH_PAGES = (0, 99, 199)  # these dossiers of each desk go through the window flow with pages, to submission
DEADLINE = 240.0


def _capture(desk: Desk, start: threading.Event) -> list[str]:
    clerk = desk.users.actor("clerk1")
    numbers = []
    start.wait()
    for i in range(PER_DESK):
        if i in WITH_PAGES:
            numbers.append(submitted(desk, clerk).number)
        else:
            d = desk.dossiers.new(
                clerk,
                business="RESALE_TRANSFER",
                applicant_kind="individual",
                applicant_name="王小明",
                applicant_id=IDN,
            )
            numbers.append(d.number)
    return numbers


def _wait_until_drained(desks: list[Desk], deadline: float) -> list[int]:
    while True:
        depths = [sync_status(d.db, None).outbox_depth for d in desks]
        if not any(depths) or time.monotonic() > deadline:
            return depths
        time.sleep(0.2)


@pytest.fixture
def pg_url(registry_db: str | None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tests' PostgreSQL database, fresh from the session's migrated template (conftest's `registry_db`)."""
    if not registry_db:
        if REQUIRE_PG:
            pytest.fail("WS_TEST_REQUIRE_PG=1 but WS_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL configured: set WS_TEST_PG_URL (CI does)")
    for key in list(os.environ):
        if key.startswith("WS_") and not key.startswith("WS_TEST_") and key != "WS_PASSWORD_COST":
            monkeypatch.delenv(key)
    return registry_db


@pytest.fixture
def desks(pg_url: str, tmp_path: Path) -> Iterator[list[Desk]]:
    """Ten desks, each with its own SQLite data directory and station id."""
    opened = [make_desk(tmp_path / f"desk-{i:02d}", f"JN-{i:02d}") for i in range(DESKS)]
    yield opened
    for desk in opened:
        desk.close()


def test_ten_desks_sync_through_faults_and_every_acked_op_lands_exactly_once(
    pg_url: str, desks: list[Desk], tmp_path: Path
) -> None:
    t0 = time.perf_counter()
    with running_registry(tmp_path / "registry", pg_url) as (registry, url):
        upstream_port = int(url.rsplit(":", 1)[1])
        with FaultProxy("127.0.0.1", upstream_port, seed=9) as proxy:
            proxy.drop_response = 0.05
            proxy.duplicate = 0.1
            proxy.delay = (0.0, 0.02)
            # However few batches the desks need, the faults strike them: an applied batch whose answer is lost,
            # and one delivered twice.
            proxy.strike = {"/v1/ops": ["drop_response", "duplicate"]}
            agents: list[SyncAgent] = [
                agent_for(desk, registry, proxy.url, interval=0.3, backoff_base=0.05, backoff_cap=1.0, seed=i)
                for i, desk in enumerate(desks)
            ]
            for agent in agents:
                agent.start()
            try:
                start = threading.Event()
                with ThreadPoolExecutor(max_workers=DESKS) as pool:
                    futures = [pool.submit(_capture, desk, start) for desk in desks]
                    start.set()
                    captured = [f.result() for f in futures]  # a capture error fails the test here
                captured_at = time.perf_counter()
                depths = _wait_until_drained(desks, time.monotonic() + DEADLINE)
                drained_at = time.perf_counter()
            finally:
                for agent in agents:
                    agent.stop()
            stats = proxy.stats
            on_ops = [r.faults for r in proxy.records if r.target == "/v1/ops"]

        print(
            f"\n{DESKS} desks × {PER_DESK} dossiers: captured in {captured_at - t0:.1f} s, outboxes empty "
            f"{drained_at - captured_at:.1f} s later ({drained_at - t0:.1f} s in all); proxy: "
            f"{stats['requests']} requests, {stats['dropped_responses']} responses lost, {stats['duplicated']} "
            f"duplicated, {stats['delayed']} delayed"
        )
        assert depths == [0] * DESKS, f"outboxes not empty after {DEADLINE:.0f} s: {depths}"
        # The faults did strike where it matters: batches applied whose answer was lost, batches applied twice.
        assert any("drop_response" in f for f in on_ops) and any("duplicate" in f for f in on_ops), stats

        with registry.db.read() as s:
            applied = {
                station: dict(
                    s.execute(select(AppliedOp.op_id, AppliedOp.status).where(AppliedOp.station_id == station)).all()
                )
                for station in (d.settings.station_id for d in desks)
            }
            audited = s.execute(
                select(AuditEvent.entity_id, func.count())
                .where(AuditEvent.entity == "op", AuditEvent.action.like("sync.%"))
                .group_by(AuditEvent.entity_id)
            ).all()
            numbers = list(s.execute(select(Dossier.number)).scalars())
            creates = s.execute(
                select(func.count()).where(AuditEvent.entity == "dossier", AuditEvent.action == "dossier.create")
            ).scalar_one()
            # A desk's own creates and draft edits are not fed back to it: only moves (受理) reach the feed.
            fed_back = s.execute(
                select(func.count()).where(
                    ChangeRecord.kind == "dossier.state", ChangeRecord.payload["cause"].as_string() != "dossier.submit"
                )
            ).scalar_one()
            registry_pages = s.execute(select(func.count()).select_from(Page)).scalar_one()
            page_blobs = list(s.execute(select(Page.sha256)).scalars())
            conflicts = s.execute(select(func.count()).select_from(SyncConflict)).scalar_one()

        desk_pages = 0
        for desk, numbers_of_desk in zip(desks, captured, strict=True):
            station = desk.settings.station_id
            with desk.db.read() as s:
                states = {
                    state: n for state, n in s.execute(select(OutboxOp.state, func.count()).group_by(OutboxOp.state))
                }
                sent = set(s.execute(select(OutboxOp.op_id).where(OutboxOp.state == "sent")).scalars())
                desk_pages += s.execute(select(func.count()).select_from(Page)).scalar_one()
            assert set(states) == {"sent"}, f"{station}: outbox states {states}"  # none pending, parked or in conflict
            at_registry = applied[station]
            assert set(at_registry) == sent and len(at_registry) == len(sent), station
            assert set(at_registry.values()) == {"applied"}, station
            assert registry.last_seq(station) == len(sent), station  # in sequence, no gap, nothing skipped
            assert len(numbers_of_desk) == PER_DESK

        assert all(n == 1 for _, n in audited), [op for op, n in audited if n != 1][:5]  # each op took effect once
        assert len(audited) == sum(len(ops) for ops in applied.values())
        assert len(numbers) == len(set(numbers)) == DESKS * PER_DESK == 2000
        assert set(numbers) == {n for per_desk in captured for n in per_desk}
        assert (creates, fed_back) == (2000, 0)
        assert registry_pages == desk_pages > 0 and all(registry.blobs.exists(sha) for sha in page_blobs)
        assert conflicts == 0
