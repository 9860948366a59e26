"""The city flow in the terminal UI: the window's 补正 list and clock, 登簿 from the review desk."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList

from tests.review_helpers import submitted
from tests.tui_helpers import add_user, make_desk, run_app, text_of, wait_for_workers, wait_until
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem
from workstation.services.desk import Desk
from workstation.tui.screens.dossier_detail import DossierDetailScreen
from workstation.tui.screens.review_decide import RegisterModal


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return make_desk(tmp_path, monkeypatch)


def returned(desk: Desk, clerk: Actor, rev: Actor) -> str:
    number = submitted(desk, clerk).number
    lease = desk.review.claim_next(rev)
    assert lease is not None
    items = [
        ReturnItem(problem="missing", material="M01", note="申请书缺签字"),
        ReturnItem(problem="defective", material="M03", party_key="p1", note="复印件模糊"),
    ]
    desk.review.decide(
        rev, number, "return", lease_id=lease.lease_id, fence=lease.fence, items=items, note="请一次性补齐"
    )
    return number


def test_the_window_sees_the_supplement_list_and_the_paused_clock_and_answers_an_item(desk: Desk) -> None:
    clerk = add_user(desk, "clerk1", ["clerk"])
    rev = add_user(desk, "rev1", ["reviewer"], can_review_online=True, can_review_offline=True)
    number = returned(desk, clerk, rev)

    async def script(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(DossierDetailScreen(desk, clerk, number))
        await wait_for_workers(pilot)
        assert "returned" in text_of(pilot, "#detail-header")
        clock = text_of(pilot, "#detail-clock")
        assert "暂停计时 paused" in clock and "已用 used 0/5" in clock
        notice = text_of(pilot, "#detail-supplement")  # a returned dossier opens on its notice
        assert "rev1" in notice and "2 项 item(s)" in notice and "请一次性补齐" in notice
        assert "✘ 1. M01 — " in notice and "申请书缺签字" in notice
        assert "✘ 2. M03 [p1] — " in notice and "复印件模糊" in notice
        await pilot.press("t")
        await pilot.press(*"1 申请人已到场补签", "enter")
        await wait_for_workers(pilot, rounds=3)
        notice = text_of(pilot, "#detail-supplement")
        assert "✔ 1. M01" in notice and "说明 answer: 申请人已到场补签" in notice
        assert "✘ 2. M03 [p1]" in notice

    run_app(desk, script, actor=clerk)
    assert desk.dossiers.show(number).supplement.items[0].answer == "申请人已到场补签"  # type: ignore[union-attr]


def test_a_desk_with_a_registry_says_its_clock_is_not_synced_rather_than_guess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = make_desk(tmp_path, monkeypatch, registry_url="http://127.0.0.1:9", registry_token="wst_never-used")
    clerk = add_user(desk, "clerk1", ["clerk"])
    number = submitted(desk, clerk).number  # accepted here; the registry has not heard of it

    async def script(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(DossierDetailScreen(desk, clerk, number))
        await wait_for_workers(pilot)
        clock = text_of(pilot, "#detail-clock")
        assert "未同步 not synced" in clock and "used" not in clock and "due" not in clock

    run_app(desk, script, actor=clerk)


def test_a_registrar_registers_an_approved_dossier_from_the_review_desk(desk: Desk) -> None:
    clerk = add_user(desk, "clerk1", ["clerk"])
    reviewer = add_user(desk, "rev1", ["reviewer"], can_review_online=True, can_review_offline=True)
    registrar = add_user(desk, "reg1", ["reviewer", "registrar"], can_review_online=True, can_review_offline=True)
    number = submitted(desk, clerk).number
    lease = desk.review.claim_next(reviewer)
    assert lease is not None
    desk.review.decide(reviewer, number, "approve", lease_id=lease.lease_id, fence=lease.fence)

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RegisterModal))
        assert "登簿人 registrar: reg1" in text_of(pilot, "#register-text")
        options = pilot.app.screen.query_one("#register-list", OptionList)
        assert options.option_count == 1 and number in str(options.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await wait_for_workers(pilot, rounds=3)
        await wait_until(pilot, lambda: desk.review.show_state(number)[1] == "registered")

    run_app(desk, script, actor=registrar, mode="review")
    assert desk.review.show_state(number) == ("ISSUE", "registered")


def test_the_registrar_finds_the_correction_a_major_error_opened_in_the_qc_area(desk: Desk) -> None:
    clerk = add_user(desk, "clerk1", ["clerk"])
    registrar = add_user(desk, "reg1", ["reviewer", "registrar"], can_review_online=True, can_review_offline=True)
    inspector = add_user(desk, "qc1", ["qc"])
    number = submitted(desk, clerk, business="MORT_CIP", kind="enterprise").number
    lease = desk.review.claim_next(registrar)
    assert lease is not None
    desk.review.decide(registrar, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    desk.review.register(registrar, number)  # 在建工程抵押: inspected 100 % (R3)
    check = next(c for c in desk.qc.pending() if c.number == number)
    desk.qc.record(inspector, check.id, "major", defects=["抵押面积有误"])

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f5")
        await wait_for_workers(pilot, rounds=3)
        screen = pilot.app.screen
        assert not screen.check_action("record", ())  # inspectors record; the registrar works the cases
        await pilot.press("c")
        await wait_for_workers(pilot)
        assert screen.check_action("resolve", ())
        table = screen.query_one("#qc-corrections", DataTable)
        assert number in " ".join(str(cell) for cell in table.get_row_at(0))

    run_app(desk, script, actor=registrar, mode="review")
