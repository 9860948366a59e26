"""The QC screen under Pilot: pending checks first, a major result opens a correction, the correction resolves."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from textual.pilot import Pilot

from tests.review_helpers import submitted
from tests.tui_helpers import LARGE, add_user, make_desk, run_app, screen_text, table_rows, text_of, wait_for_workers
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.store.ids import new_id
from workstation.store.models import Dossier, QcCheck, User
from workstation.store.types import utcnow
from workstation.tui.screens.qc import QcScreen


def registered(desk: Desk, clerk: Actor, registrar: Actor, business: str = "MORT_CIP") -> str:
    """A dossier taken through submit → claim → approve → 登簿; returns its 受理号."""
    number = submitted(desk, clerk, business=business, kind="enterprise").number
    lease = desk.review.claim_next(registrar)
    assert lease is not None and lease.number == number
    desk.review.decide(registrar, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    desk.review.register(registrar, number)
    return number


@pytest.fixture
def qc_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Desk, Actor, list[str]]:
    desk = make_desk(tmp_path, monkeypatch)
    clerk = add_user(desk, "clerk1", ["clerk"])
    registrar = add_user(desk, "reg1", ["reviewer"], can_review_online=True, can_review_offline=True)
    inspector = add_user(desk, "qc1", ["qc"])
    numbers = [registered(desk, clerk, registrar) for _ in range(2)]
    return desk, inspector, numbers


def test_a_major_result_opens_a_correction_the_screen_says_so_and_lists_it(qc_desk: tuple) -> None:  # type: ignore[type-arg]
    desk, inspector, numbers = qc_desk
    first = numbers[0]

    async def script(pilot: Pilot[None]) -> None:
        assert isinstance(pilot.app.screen, QcScreen)
        rows = table_rows(pilot, "#qc-checks")
        assert [r[0] for r in rows] == numbers
        assert [r[2] for r in rows] == ["全检 full"] * 2 and [r[4] for r in rows] == ["pending"] * 2
        assert "待检 2 pending, 已检 0 done" in text_of(pilot, "#qc-header")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.click("#qc-result-major")
        await pilot.click("#qc-result-defects")
        await pilot.press(*"权利人姓名与身份证明不符")
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot, rounds=4)
        assert isinstance(pilot.app.screen, QcScreen)
        assert "已发起更正 correction opened, assigned to reg1" in text_of(pilot, "#qc-status")
        rows = table_rows(pilot, "#qc-checks")
        assert rows[0][0] == numbers[1] and rows[0][4] == "pending"  # pending first
        assert (rows[1][0], rows[1][4], rows[1][5]) == (first, "done", "major → 更正")
        await pilot.press("c")
        await pilot.pause()
        assert table_rows(pilot, "#qc-corrections") == [
            [first, "open", "reg1", table_rows(pilot, "#qc-corrections")[0][3], "权利人姓名与身份证明不符"]
        ]
        assert "更正 Corrections (1 未结 open)" in screen_text(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("enter")  # no resolution: refused in one line, the modal stays
        await wait_for_workers(pilot)
        assert "a resolution is required" in text_of(pilot, "#qc-resolve-error")
        await pilot.press(*"已更正登记簿")
        await pilot.press("enter")
        await wait_for_workers(pilot, rounds=4)
        assert isinstance(pilot.app.screen, QcScreen)
        assert table_rows(pilot, "#qc-corrections")[0][1] == "resolved"

    run_app(desk, script, actor=inspector, mode="qc")
    check = next(c for c in desk.qc.checks() if c.number == first)
    assert (check.state, check.result, check.defects) == ("done", "major", ("权利人姓名与身份证明不符",))
    [case] = desk.qc.corrections()
    assert (case.number, case.state, case.assigned_to, case.resolution) == (first, "resolved", "reg1", "已更正登记簿")


def test_a_finding_without_defect_or_note_is_refused_in_one_line_and_nothing_is_recorded(qc_desk: tuple) -> None:  # type: ignore[type-arg]
    desk, inspector, _ = qc_desk

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("r")
        await pilot.pause()
        await pilot.click("#qc-result-minor")
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot)
        error = text_of(pilot, "#qc-result-error")
        assert "needs at least one defect or a note" in error and "\n" not in error
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, QcScreen)

    run_app(desk, script, actor=inspector, mode="qc", size=LARGE)
    assert desk.qc.count() == {"pending": 2, "done": 0}


def test_checks_page_by_500_with_pending_first(qc_desk: tuple) -> None:  # type: ignore[type-arg]
    desk, _, numbers = qc_desk
    many = desk.qc.checks(limit=1, offset=1, pending_first=True)
    assert [c.number for c in many] == [numbers[1]]
    with pytest.raises(Exception, match="offset"):
        desk.qc.checks(offset=-1)


def ten_thousand_checks(desk: Desk) -> None:
    """10,000 registered dossiers with a pending QC check each, written in bulk (the flow would take an hour)."""
    start = utcnow() - timedelta(days=30)
    with desk.db.transaction() as s:
        creator = s.execute(select(User.id).where(User.username == "admin")).scalar_one()
        dossiers, checks = [], []
        for i in range(10_000):
            dossier_id = new_id()
            at = start + timedelta(minutes=i)
            dossiers.append(
                {
                    "id": dossier_id,
                    "number": f"{desk.settings.station_id}-2026-{i + 1:06d}",
                    "station_id": desk.settings.station_id,
                    "business_code": "MORT_CIP",
                    "registration_type": "首次",
                    "channel": "window",
                    "applicant_kind": "enterprise",
                    "digitized": True,
                    "hall_mode": "standard",
                    "stage_plan": "ACCEPT REVIEW REGISTER ISSUE",
                    "conditions": [],
                    "stage": "ISSUE",
                    "status": "registered",
                    "applied_at": at,
                    "registered_at": at,
                    "created_by": creator,
                }
            )
            checks.append({"id": new_id(), "dossier_id": dossier_id, "basis": "full", "created_at": at})
        s.execute(insert(Dossier), dossiers)
        s.execute(insert(QcCheck), checks)


def test_ten_thousand_checks_load_a_page_of_500_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = make_desk(tmp_path, monkeypatch)
    inspector = add_user(desk, "qc1", ["qc"])
    ten_thousand_checks(desk)

    async def script(pilot: Pilot[None]) -> None:
        assert len(table_rows(pilot, "#qc-checks")) == 500
        assert "质检 checks 1–500 of 10000: 待检 10000 pending" in text_of(pilot, "#qc-header")
        started = time.perf_counter()
        await pilot.press("]")
        await wait_for_workers(pilot)
        print(f"next 500 checks in {time.perf_counter() - started:.2f} s")  # measured by `workstation bench tui`
        rows = table_rows(pilot, "#qc-checks")
        assert rows[0][0].endswith("-000501") and len(rows) == 500
        assert "checks 501–1000 of 10000" in text_of(pilot, "#qc-header")
        await pilot.press("[")
        await wait_for_workers(pilot)
        assert table_rows(pilot, "#qc-checks")[0][0].endswith("-000001")

    run_app(desk, script, actor=inspector, mode="qc")
