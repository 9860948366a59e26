"""The sync screen under Pilot against a real registry on loopback: parked ops retried, conflicts side by side."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from textual.pilot import Pilot

from tests.review_helpers import submitted
from tests.service.test_sync import withdrawn_here_claimed_there
from tests.sync_helpers import agent_for, reviewer_at, running_registry
from tests.sync_helpers import make_desk as make_sync_desk
from tests.tui_helpers import (
    LARGE,
    add_user,
    make_desk,
    run_app,
    screen_text,
    table_rows,
    text_of,
    wait_for_workers,
    wait_until,
)
from workstation.services import outbox
from workstation.services.syncstate import put_state
from workstation.store.models import AppliedOp
from workstation.store.types import utcnow
from workstation.tui.screens import local_time
from workstation.tui.screens import sync as sync_screen
from workstation.tui.screens.sync import SyncScreen, age


def test_a_parked_op_is_shown_with_its_reason_and_retried_until_the_registry_applies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        # Desk JN-01 holds a dossier the registry has not heard of yet; this review desk (JN-02) already sent a
        # note on it (a site visit stops its clock), which the registry refused (no such dossier) and the desk parked.
        other = make_sync_desk(tmp_path / "other", "JN-01")
        other_agent = agent_for(other, registry, url)
        d = submitted(other, other.users.actor("clerk1"))
        desk = make_desk(tmp_path / "desk", monkeypatch, station_id="JN-02")
        agent = agent_for(desk, registry, url)
        with desk.db.transaction() as s:
            op = outbox.enqueue(
                s,
                station_id="JN-02",
                kind="clock.pause",
                entity_id=d.id,
                actor="rev1",
                payload={"reason": "site_visit", "note": "实地查看"},
            )
            s.flush()
            parked_seq = op.seq
        assert agent.sync_once().quarantined == 1
        other_agent.sync_once()  # now the registry knows the dossier
        lease = registry.claim("JN-02", reviewer_at(registry, "JN-02")).lease  # and this desk's reviewer leases it
        assert lease is not None and lease.number == d.number
        desk.sync.attach(url, lambda: agent.sync_once())
        admin = desk.users.actor("admin")

        async def script(pilot: Pilot[None]) -> None:
            assert isinstance(pilot.app.screen, SyncScreen)
            [row] = table_rows(pilot, "#sync-quarantined")
            assert row[:2] == [str(parked_seq), "clock.pause"]
            assert row[4].startswith("not_found:") and "no dossier" in row[4]
            assert "在线 online" in text_of(pilot, "#sync-facts") and "待传 outbox 0 waiting" in text_of(
                pilot, "#sync-facts"
            )
            await pilot.press("t")
            await wait_for_workers(pilot, rounds=3)
            await wait_until(pilot, lambda: not table_rows(pilot, "#sync-quarantined"))
            assert "隔离 Parked ops (0)" in screen_text(pilot)
            assert "待传 outbox 0 waiting" in text_of(pilot, "#sync-facts")

        run_app(desk, script, actor=admin, mode="sync")
        with registry.db.read() as s:
            applied = (
                s.execute(
                    select(AppliedOp.status)
                    .where(AppliedOp.station_id == "JN-02", AppliedOp.kind == "clock.pause")
                    .order_by(AppliedOp.seq)
                )
                .scalars()
                .all()
            )
        assert applied == ["refused", "applied"]
        assert desk.sync.status().outbox_depth == 0 and desk.sync.status().quarantined == []
        agent.stop()
        other_agent.stop()
        other.close()
        desk.close()


def test_a_conflict_shows_the_desks_change_and_the_registrys_dossier_side_by_side(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as (registry, url):
        desk, agent, number = withdrawn_here_claimed_there(tmp_path, registry, url)
        base = desk.dossiers.show(number).version - 1
        desk.sync.attach(url, None)

        async def script(pilot: Pilot[None]) -> None:
            [row] = table_rows(pilot, "#sync-conflicts")
            assert row[1:] == ["dossier.withdraw", number, "stale_version"]
            local = text_of(pilot, "#sync-conflict-local")
            remote = text_of(pilot, "#sync-conflict-remote")
            assert f"版本 version {base} → {base + 1}" in local and "状态 status withdrawn" in local
            assert f"版本 version {base + 1}" in remote and "环节 stage REVIEW" in remote
            assert "状态 status in_review" in remote
            # Side by side: both panels start on the same screen line.
            assert (
                pilot.app.screen.query_one("#sync-conflict-local").region.y
                == pilot.app.screen.query_one("#sync-conflict-remote").region.y
            )
            assert "状态 status withdrawn" in screen_text(pilot) and "状态 status in_review" in screen_text(pilot)

        run_app(desk, script, actor=desk.users.actor("clerk1"), mode="sync", size=LARGE)
        run_app(desk, script, actor=desk.users.actor("clerk1"), mode="sync")  # and at 80×24
        agent.stop()
        desk.close()


def test_a_conflict_dealt_with_is_marked_settled_with_a_note_kept_and_audited(tmp_path: Path) -> None:
    from sqlalchemy import select as select_

    from workstation.store.models import AuditEvent, OutboxOp
    from workstation.tui.widgets.intake import PromptScreen

    with running_registry(tmp_path / "registry") as (registry, url):
        desk, agent, _number = withdrawn_here_claimed_there(tmp_path, registry, url)
        desk.sync.attach(url, None)

        async def script(pilot: Pilot[None]) -> None:
            assert len(table_rows(pilot, "#sync-conflicts")) == 1
            await pilot.press("tab")  # to the conflicts
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen))
            await pilot.press("enter")  # no note: nothing happens, the prompt stays
            assert isinstance(pilot.app.screen, PromptScreen)
            await pilot.press(*"以中心为准", "enter")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, SyncScreen))
            await wait_for_workers(pilot, rounds=3)
            await wait_until(pilot, lambda: table_rows(pilot, "#sync-conflicts") == [])
            assert "冲突 Conflicts (0)" in text_of(pilot, "#sync-conflicts-title")

        run_app(desk, script, actor=desk.users.actor("clerk1"), mode="sync", size=LARGE)
        with desk.db.read() as s:
            [op] = s.execute(select_(OutboxOp).where(OutboxOp.state == "settled")).scalars()
            assert op.last_error and op.last_error.startswith("stale_version")
            assert "settled by clerk1: 以中心为准" in op.last_error
            [event] = s.execute(select_(AuditEvent).where(AuditEvent.action == "sync.settle")).scalars()
            assert event.actor == "clerk1" and json.loads(event.payload)["note"] == "以中心为准"
        assert desk.sync.overview().parked == 0
        assert desk.verify_audit().ok
        agent.stop()
        desk.close()


def test_ages_come_from_the_screens_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = utcnow()
    assert [age(now - timedelta(seconds=s), now) for s in (3, 42, 600, 7300, 200000)] == [
        "just now",
        "42 s ago",
        "10 min ago",
        "2 h ago",
        "2 d ago",
    ]
    desk = make_desk(tmp_path, monkeypatch)
    clerk = add_user(desk, "clerk1", ["clerk"])
    desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual")  # one op waits
    monkeypatch.setattr(sync_screen, "system_clock", lambda: utcnow() + timedelta(hours=3))

    async def script(pilot: Pilot[None]) -> None:
        facts = text_of(pilot, "#sync-facts")
        assert facts.startswith("单机 local: no registry configured") and "尚未同步 no sync yet" in facts
        assert "待传 outbox 1 waiting, 最早 oldest" in facts and "(UTC+8, 3 h ago)" in facts
        assert not pilot.app.screen.query_one("#sync-conflict-detail").display  # no conflict, no panel

    run_app(desk, script, actor=desk.users.actor("admin"), mode="sync")
    desk.close()


def test_times_on_the_sync_screen_read_in_office_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = make_desk(tmp_path, monkeypatch)
    with desk.db.transaction() as session:
        put_state(session, "last_success", "2026-11-20T02:30:00+00:00")  # 10:30 in the office (UTC+8)
    monkeypatch.setenv("TZ", "America/New_York")  # a machine set to another zone than the office's
    time.tzset()
    try:
        assert local_time(datetime(2026, 11, 20, 2, 30)) == "2026-11-20 10:30"  # naive: UTC, not the machine's zone
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()

    async def script(pilot: Pilot[None]) -> None:
        facts = text_of(pilot, "#sync-facts")
        assert "上次成功 last success 2026-11-20 10:30 (UTC+8, " in facts
        assert "02:30" not in facts and "T02" not in facts

    run_app(desk, script, actor=desk.users.actor("admin"), mode="sync")
    desk.close()
