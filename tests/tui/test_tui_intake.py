"""The intake desk in the terminal UI: a clerk builds a dossier from scans, OCR fills it, the clerk submits.

Driven with Textual's Pilot against a real desk (SQLite in a temp dir). The end-to-end test reads the sample
scans of case 01 with the real RapidOCR engine on the desk's process pool, as the CLI runs it beside the UI;
the others use recorded readings (ReplayEngine) or pages attached without OCR, so they are about the screen.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, TabbedContent

from ocr.engines.base import Line
from ocr.engines.replay import save
from tests.replay_pages import make_page, reading_key
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
from workstation.domain.permissions import Actor
from workstation.errors import UsageError
from workstation.services.desk import Desk
from workstation.services.events import PageEvent
from workstation.services.views import NewParty
from workstation.store.models import AuditEvent, Dossier, Finding
from workstation.tui.screens.dossier_detail import DossierDetailScreen, ImportScreen, ReceiptScreen
from workstation.tui.screens.dossiers import DossiersScreen
from workstation.tui.screens.new_dossier import NewDossierScreen
from workstation.tui.widgets.intake import ChoiceScreen, ConfirmScreen, MessageScreen, PromptScreen

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "scans"
BUSINESS = "ENT_NONRES_TRANSFER"
BUYER, BUYER_USCC = "济南海岱餐饮管理有限公司", "91370102MA15LK9R0X"
SELLER, SELLER_ID = "徐玉成", "370102198701055097"
PARTY_ONE_IDS: list[tuple[str, str | None]] = [("M05", "p1"), ("M06", "p1"), ("M07", "p1")]


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    opened = make_desk(tmp_path, monkeypatch)
    yield opened
    opened.close()


@pytest.fixture
def clerk(desk: Desk) -> Actor:
    return add_user(desk, "clerk1", ["clerk"])


def _dossier(desk: Desk, clerk: Actor) -> str:
    return desk.dossiers.new(
        clerk,
        business=BUSINESS,
        applicant_kind="enterprise",
        applicant_name=BUYER,
        applicant_id=BUYER_USCC,
        parties=[NewParty(role="seller", kind="individual", name=SELLER, id_value=SELLER_ID)],
    ).number


def _attach(desk: Desk, clerk: Actor, number: str, materials: list[tuple[str, str | None]]) -> None:
    for i, (material, party) in enumerate(materials, start=1):
        desk.dossiers.attach_page(
            clerk,
            number,
            data=f"page {i} {material}".encode(),
            source_name=f"scan-{i:03d}.png",
            media_type="image/png",
            material=material,
            party_key=party,
        )


async def _open(pilot: Pilot[None], desk: Desk, clerk: Actor, number: str) -> DossierDetailScreen:
    screen = DossierDetailScreen(desk, clerk, number)
    await pilot.app.push_screen(screen)
    await wait_for_workers(pilot)
    return screen


async def _type(pilot: Pilot[None], selector: str, text: str) -> None:
    await pilot.click(selector)
    pilot.app.screen.query_one(selector, Input).value = text
    await pilot.pause()


def _material_rows(pilot: Pilot[None]) -> list[list[str]]:
    return table_rows(pilot, "#slots")


# -- the clerk's whole job --------------------------------------------------------------------------------


@pytest.mark.slow
def test_clerk_builds_case_01_from_the_scans_ocr_fills_the_checklist_and_submits(
    desk: Desk, clerk: Actor, tmp_path: Path
) -> None:
    runner = desk.ocr_runner(workers=2)
    runner.start()
    try:

        async def script(pilot: Pilot[None]) -> None:
            assert isinstance(pilot.app.screen, DossiersScreen)
            # New dossier with its seller, through the modal.
            await pilot.press("n")
            assert isinstance(pilot.app.screen, NewDossierScreen)
            pilot.app.screen.query_one("#business", Select).value = BUSINESS
            await pilot.pause()
            await _type(pilot, "#applicant-name", BUYER)
            await _type(pilot, "#applicant-id", BUYER_USCC)
            pilot.app.screen.query_one("#party-2-kind", Select).value = "individual"
            await _type(pilot, "#party-2-name", SELLER)
            await _type(pilot, "#party-2-id", SELLER_ID)
            await pilot.click("#create")
            await wait_for_workers(pilot, rounds=3)
            assert isinstance(pilot.app.screen, DossiersScreen)
            [summary] = desk.dossiers.list()
            number = summary.number
            parties = desk.dossiers.show(number).parties
            assert [(p.role, p.kind, p.name, p.id_value) for p in parties] == [
                ("buyer", "enterprise", BUYER, BUYER_USCC),
                ("seller", "individual", SELLER, SELLER_ID),
            ]

            await pilot.press("enter")
            await wait_for_workers(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, DossierDetailScreen)

            # Submitting an empty dossier: refused with everything missing at once.
            await pilot.press("s")
            await wait_for_workers(pilot)
            assert isinstance(pilot.app.screen, MessageScreen)
            refusal = text_of(pilot, "#message-body").splitlines()
            assert refusal == [
                "- M01 不动产登记申请书",
                "- M02 询问笔录",
                "- M08 不动产权证书",
                "- M11 存量房买卖合同(新建房屋为商品房买卖合同)",
                "- M12 税费缴纳凭证/完税证明",
                f"- M05 营业执照 — 买受人 {BUYER}",
                f"- M06 法定代表人身份证明书 — 买受人 {BUYER}",
                f"- M07 授权委托书(经办人) — 买受人 {BUYER}",
                f"- M03 居民身份证 — 出卖人 {SELLER}",
            ]
            await pilot.press("escape")
            assert desk.dossiers.show(number).status == "draft"

            # Import the case's scans; pages show up and are read in the background.
            await pilot.press("i")
            assert isinstance(pilot.app.screen, ImportScreen)
            await _type(pilot, "#import-path", str(SAMPLES / "case-01-*"))
            await pilot.press("enter")
            await wait_for_workers(pilot)
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, DossierDetailScreen))
            assert text_of(pilot, "#detail-message") == f"已导入 imported 10 file(s), 11 new page(s) into {number}"

            def all_read() -> bool:
                return text_of(pilot, "#detail-progress").startswith("识别 OCR 11/11 read")

            await wait_until(pilot, all_read, timeout=90)
            await wait_for_workers(pilot)
            detail = desk.dossiers.show(number)
            assert [p.ocr_status for p in detail.pages] == ["done"] * 11
            assert detail.missing == ()
            assert "材料齐全 nothing missing" in text_of(pilot, "#detail-progress")
            slots = {row[1]: row[0] for row in _material_rows(pilot)}
            assert slots["M05 营业执照"] == "✔" and slots["M03 居民身份证"] == "✔"
            pages = table_rows(pilot, "#pages")
            assert len(pages) == 11 and all(row[3] == "done" for row in pages)
            assert [row[0] for row in pages] == [str(i) for i in range(1, 12)]
            assert sum(1 for row in pages if row[1].startswith("M11")) == 2  # the contract's two PDF pages
            fields = table_rows(pilot, "#fields")
            assert any(row[1] == "统一社会信用代码" and row[2] == BUYER_USCC for row in fields)

            # Submit: accepted. The key is in the footer at 80 columns, with the field keys before it.
            footer = screen_text(pilot).splitlines()[-1]
            assert "修改 Edit" in footer and "确认 Confirm" in footer and "受理 Submit" in footer, footer
            await pilot.press("s")
            await wait_for_workers(pilot)
            after = desk.dossiers.show(number)
            assert (after.status, after.stage) == ("submitted", "REVIEW")
            assert "submitted @ REVIEW" in text_of(pilot, "#detail-header")
            assert text_of(pilot, "#detail-message").startswith("已受理 submitted")
            assert not screen.check_action("rotate_page", ())  # no edits after submission
            assert "修改 Edit" not in screen_text(pilot) and "受理 Submit" not in screen_text(pilot)

            # The receipt, and its PDF.
            await pilot.press("p")
            await wait_for_workers(pilot)
            assert isinstance(pilot.app.screen, ReceiptScreen)
            receipt = text_of(pilot, "#receipt-text")
            assert f"受理号 {number}" in receipt and "M11 存量房买卖合同(新建房屋为商品房买卖合同)  2 页" in receipt
            assert SELLER_ID not in receipt
            await pilot.press("w")
            await wait_for_workers(pilot)
            pdf = Path(desk.settings.data_dir) / "receipts" / f"{number}.pdf"
            assert text_of(pilot, "#receipt-status") == f"已保存 saved to receipts/{number}.pdf in the data folder"
            assert len(PdfReader(pdf).pages) == 1

        run_app(desk, script, actor=clerk, mode="intake")
    finally:
        runner.stop()


# -- the new-dossier form ---------------------------------------------------------------------------------


def test_a_bad_seller_identifier_is_refused_in_one_line_and_nothing_is_created(desk: Desk, clerk: Actor) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        pilot.app.screen.query_one("#business", Select).value = BUSINESS
        await pilot.pause()
        await _type(pilot, "#applicant-name", BUYER)
        pilot.app.screen.query_one("#party-2-kind", Select).value = "individual"
        await _type(pilot, "#party-2-name", SELLER)
        await _type(pilot, "#party-2-id", "370102198701055098")  # wrong check digit
        await pilot.click("#create")
        await wait_for_workers(pilot)

        assert isinstance(pilot.app.screen, NewDossierScreen)
        error = text_of(pilot, "#new-dossier-error")
        assert error.startswith("party 2 (seller): ") and "\n" not in error
        assert desk.dossiers.list() == []

    run_app(desk, script, actor=clerk, mode="intake")


def test_another_party_row_is_added_and_empty_rows_are_skipped(desk: Desk, clerk: Actor) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        pilot.app.screen.query_one("#business", Select).value = BUSINESS
        await pilot.pause()
        await _type(pilot, "#applicant-name", BUYER)
        await _type(pilot, "#party-2-name", "济南甲置业有限公司")
        await pilot.click("#add-party")
        await pilot.pause()
        await _type(pilot, "#party-3-name", "济南乙置业有限公司")
        await pilot.click("#add-party")
        await pilot.pause()
        await pilot.press("ctrl+s")  # the third row was left empty; at 80×24 the button scrolled out of view
        await wait_for_workers(pilot, rounds=3)

        assert isinstance(pilot.app.screen, DossiersScreen)
        [summary] = desk.dossiers.list()
        parties = desk.dossiers.show(summary.number).parties
        assert [(p.key, p.role, p.name) for p in parties] == [
            ("p1", "buyer", BUYER),
            ("p2", "seller", "济南甲置业有限公司"),
            ("p3", "seller", "济南乙置业有限公司"),
        ]

    run_app(desk, script, actor=clerk, mode="intake")


def test_f1_explains_the_focused_table(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        await pilot.press("f1")
        await pilot.pause()
        assert "页面 Pages" in screen_text(pilot)

    run_app(desk, script, actor=clerk, mode="intake", size=LARGE)


def test_service_checks_every_party_before_writing_anything(desk: Desk, clerk: Actor) -> None:
    with pytest.raises(UsageError, match="party 2 \\(seller\\)"):
        desk.dossiers.new(
            clerk,
            business=BUSINESS,
            applicant_kind="enterprise",
            parties=[NewParty(role="seller", kind="individual", id_value="12345")],
        )
    assert desk.dossiers.list() == []


# -- pages ------------------------------------------------------------------------------------------------


def test_reorder_rotate_and_move_show_in_the_table_and_in_the_dossier(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None), ("M02", None), ("M08", None)])

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        assert [row[5] for row in table_rows(pilot, "#pages")] == ["scan-001.png", "scan-002.png", "scan-003.png"]

        await pilot.press("ctrl+down")
        await wait_for_workers(pilot)
        assert [p.source_name for p in desk.dossiers.show(number).pages] == [
            "scan-002.png",
            "scan-001.png",
            "scan-003.png",
        ]
        rows = table_rows(pilot, "#pages")
        assert [row[:2] for row in rows] == [
            ["1", "M02 询问笔录"],
            ["2", "M01 不动产登记申请书"],
            ["3", "M08 不动产权证书"],
        ]
        assert pilot.app.screen.query_one("#pages", DataTable).cursor_row == 1  # the cursor follows the page

        await pilot.press("r")
        await wait_for_workers(pilot)
        assert desk.dossiers.show(number).pages[1].rotation == 90
        assert table_rows(pilot, "#pages")[1][4] == "90°"

        await pilot.press("m")
        chooser = pilot.app.screen
        assert isinstance(chooser, ChoiceScreen)
        await pilot.press("down", "down", "down", "down", "enter")  # M01 → … → M12
        await wait_for_workers(pilot)
        moved = desk.dossiers.show(number).pages[1]
        assert moved.material == "M12"
        assert table_rows(pilot, "#pages")[1][1] == "M12 税费缴纳凭证/完税证明"
        checklist = {row[1]: row[0] for row in _material_rows(pilot)}
        assert checklist["M01 不动产登记申请书"] == "✘" and checklist["M12 税费缴纳凭证/完税证明"] == "✔"

        await pilot.press("delete")
        assert isinstance(pilot.app.screen, PromptScreen)
        await pilot.press(*"dup", "enter")
        await wait_for_workers(pilot)
        assert len(desk.dossiers.show(number).pages) == 2
        assert text_of(pilot, "#detail-message") == "第 2 页已删除 page 2 removed (dup)"

    run_app(desk, script, actor=clerk, mode="intake")


def test_scan_here_makes_the_dossier_active_and_scanned_pages_appear_live(
    desk: Desk, clerk: Actor, tmp_path: Path
) -> None:
    number = _dossier(desk, clerk)
    scan = make_page(tmp_path / "scanner" / "scan-0001.png", seed=7)

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        assert "scanning here" not in text_of(pilot, "#detail-header")
        await pilot.press("a")
        await wait_for_workers(pilot)
        assert desk.intake.active_number() == number
        assert "● 扫描中 scanning here" in text_of(pilot, "#detail-header")

        # The hot folder takes a scan on its own thread, for the active dossier.
        hot_folder = threading.Thread(
            target=lambda: desk.intake.ingest(clerk, scan, number=None, source="scan-0001.png")
        )
        hot_folder.start()
        hot_folder.join()
        await wait_until(pilot, lambda: len(table_rows(pilot, "#pages")) == 1, timeout=5)
        assert table_rows(pilot, "#pages")[0][3:] == ["queued", "", "scan-0001.png"]
        assert text_of(pilot, "#detail-progress").startswith("识别 OCR 0/1 read · 1 排队 queued")

        await pilot.press("a")
        await wait_for_workers(pilot)
        assert desk.intake.active_number() is None
        assert "scanning here" not in text_of(pilot, "#detail-header")

    run_app(desk, script, actor=clerk, mode="intake")


def test_a_bad_import_path_is_one_line_and_keeps_what_was_typed(desk: Desk, clerk: Actor, tmp_path: Path) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None)])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a scan", encoding="utf-8")

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        await pilot.press("i")
        await _type(pilot, "#import-path", str(tmp_path / "missing.png"))
        await pilot.press("enter")
        await wait_for_workers(pilot)
        assert isinstance(pilot.app.screen, ImportScreen)
        assert text_of(pilot, "#import-error") == f"无此文件或文件夹 no such file or folder: {tmp_path / 'missing.png'}"
        assert pilot.app.screen.query_one("#import-path", Input).value == str(tmp_path / "missing.png")

        await _type(pilot, "#import-path", str(notes))
        await pilot.press("enter")
        await wait_for_workers(pilot)
        error = text_of(pilot, "#import-error")
        assert error.startswith("notes.txt") and "\n" not in error
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DossierDetailScreen)
        assert [p.source_name for p in desk.dossiers.show(number).pages] == ["scan-001.png"]
        assert len(table_rows(pilot, "#pages")) == 1

    run_app(desk, script, actor=clerk, mode="intake")


# -- fields -----------------------------------------------------------------------------------------------


def _read_licence(desk: Desk, clerk: Actor, number: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    """A licence page read by a recorded reading: its USCC line read with low confidence."""
    page = make_page(tmp_path / "licence.png", seed=1)
    lines = [
        Line("营业执照", (100, 100, 1100, 150), 0.99),
        Line(f"统一社会信用代码 {BUYER_USCC}", (100, 160, 1100, 210), 0.62),
        Line(f"名称 {BUYER}", (100, 220, 1100, 270), 0.98),
        Line("法定代表人 方勇", (100, 280, 1100, 330), 0.98),
    ]
    recordings = tmp_path / "readings.json"
    save({reading_key(page): lines}, recordings)
    desk.intake.ingest(clerk, page, number=number, source="licence.png")
    desk.close()
    replay = make_desk(tmp_path, monkeypatch, ocr_engine=f"replay:{recordings}")
    runner = replay.ocr_runner()
    runner.run_until_idle(timeout=60)
    runner.stop()
    return replay


def test_fields_are_highlighted_edited_and_confirmed(
    desk: Desk, clerk: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = _dossier(desk, clerk)
    desk = _read_licence(desk, clerk, number, tmp_path, monkeypatch)
    read = {f.key: f for f in desk.dossiers.show(number).fields}
    assert read["uscc"].confidence < 0.90 and not read["uscc"].confirmed

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        table = pilot.app.screen.query_one("#fields", DataTable)
        rows = table_rows(pilot, "#fields")
        keys = [row[1] for row in rows]
        assert "uscc" not in keys and "org_name" not in keys  # labels, not keys
        assert all(row[5] == "OCR 识别" for row in rows)  # nothing typed or confirmed yet
        uscc_row = keys.index("统一社会信用代码")
        low = table.get_row_at(uscc_row)[2]
        assert "yellow" in str(getattr(low, "style", ""))  # low confidence stands out

        table.move_cursor(row=keys.index("名称"))
        await pilot.press("c")
        await wait_for_workers(pilot)
        assert {f.key: f.confirmed_by for f in desk.dossiers.show(number).fields}["org_name"] == "clerk1"
        # Confirmed as read: still OCR's value, with who confirmed it.
        assert table_rows(pilot, "#fields")[keys.index("名称")][5] == "OCR 识别 ✔ clerk1"

        table.move_cursor(row=uscc_row)
        await pilot.press("e")
        prompt = pilot.app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.query_one(Input).value == BUYER_USCC
        prompt.query_one(Input).value = "91370102MA15LK9R0Y"  # a wrong check character
        await pilot.press("enter")
        await wait_for_workers(pilot)
        uscc = {f.key: f for f in desk.dossiers.show(number).fields}["uscc"]
        assert (uscc.value, uscc.valid, uscc.confirmed_by, uscc.source) == (
            "91370102MA15LK9R0Y",
            False,
            "clerk1",
            "clerk",
        )
        row = table_rows(pilot, "#fields")[uscc_row]
        # Typed: no OCR confidence to show (not "100%"), and who typed it.
        assert row[1:] == ["统一社会信用代码", "91370102MA15LK9R0Y", "—", "✘", "窗口录入 clerk · clerk1"]

    try:
        run_app(desk, script, actor=clerk, mode="intake")
    finally:
        desk.close()


# -- waiving, receipts ------------------------------------------------------------------------------------


def test_waiving_the_last_missing_material_lets_the_dossier_be_submitted(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(
        desk,
        clerk,
        number,
        [("M01", None), ("M02", None), ("M08", None), ("M11", None), ("M12", None), *PARTY_ONE_IDS],
    )

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        rows = _material_rows(pilot)
        table = pilot.app.screen.query_one("#slots", DataTable)
        table.move_cursor(row=[row[1] for row in rows].index("M03 居民身份证"))
        await pilot.press("w")
        assert isinstance(pilot.app.screen, PromptScreen)
        await pilot.press(*"shared data", "enter")
        await wait_for_workers(pilot)
        assert desk.dossiers.show(number).missing == ()
        assert _material_rows(pilot)[-1][0] == "免收"
        await pilot.press("s")
        await wait_for_workers(pilot)
        assert desk.dossiers.show(number).status == "submitted"

    run_app(desk, script, actor=clerk, mode="intake")


def test_receipt_modal_shows_the_text_and_saves_the_pdf(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None), ("M03", "p2")])

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        await pilot.press("p")
        await wait_for_workers(pilot)
        text = text_of(pilot, "#receipt-text")
        assert f"受理号 {number}" in text
        assert f"出卖人(个人) {SELLER}  身份证号 370102********5097" in text
        assert f"  M03 居民身份证 — 出卖人 {SELLER}  1 页" in text
        await pilot.press("w")
        await wait_for_workers(pilot)
        pdf = Path(desk.settings.data_dir) / "receipts" / f"{number}.pdf"
        assert text_of(pilot, "#receipt-status") == f"已保存 saved to receipts/{number}.pdf in the data folder"
        assert len(PdfReader(pdf).pages) == 1
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DossierDetailScreen)

    run_app(desk, script, actor=clerk, mode="intake")


# -- live progress, size ----------------------------------------------------------------------------------


def test_a_burst_of_500_page_events_reloads_the_dossier_a_bounded_number_of_times(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None)])

    async def script(pilot: Pilot[None]) -> None:
        screen = await _open(pilot, desk, clerk, number)
        before = screen.reloads
        started = time.monotonic()

        def burst() -> None:
            for i in range(500):
                desk.events.publish(PageEvent(f"page-{i}", number, "reading"))
                desk.events.publish(PageEvent(f"page-{i}", "OTHER-1", "reading"))  # not this dossier's

        thread = threading.Thread(target=burst)
        thread.start()
        thread.join()
        await pilot.pause(1.0)
        await wait_for_workers(pilot)
        elapsed = time.monotonic() - started
        reloads = screen.reloads - before
        assert 1 <= reloads <= 4 * elapsed + 1
        assert table_rows(pilot, "#pages")[0][5] == "scan-001.png"

    run_app(desk, script, actor=clerk, mode="intake")


def test_a_200_page_dossier_opens_in_full_and_uses_a_large_terminal(desk: Desk, clerk: Actor) -> None:
    big = _dossier(desk, clerk)
    _attach(desk, clerk, big, [("M11", None)] * 200)
    small = _dossier(desk, clerk)
    _attach(desk, clerk, small, [("M11", None)])

    async def open_timed(pilot: Pilot[None], number: str, rows: int) -> tuple[DossierDetailScreen, float]:
        started = time.perf_counter()
        screen = DossierDetailScreen(desk, clerk, number)
        await pilot.app.push_screen(screen)
        table = screen.query_one("#pages", DataTable)
        while table.row_count < rows:  # polled without waiting for frames, which would count the wait
            assert time.perf_counter() - started < 120, "the pages table never filled"  # a hang, not a speed limit
            await asyncio.sleep(0.002)
        return screen, time.perf_counter() - started

    async def script(pilot: Pilot[None]) -> None:
        screen, _ = await open_timed(pilot, small, 1)  # the first open also parses the stylesheet, once per app
        times: dict[int, list[float]] = {1: [], 200: []}
        for _ in range(3):  # the best of three: other processes on a 2-core machine make single runs noisy
            for number, rows in ((small, 1), (big, 200)):
                screen.dismiss(None)
                await pilot.pause()
                screen, opened = await open_timed(pilot, number, rows)
                times[rows].append(opened)
        best_small, best_big = min(times[1]), min(times[200])
        # One show() and one batch update: 200 pages should cost next to nothing over the screen itself. Printed,
        # not asserted (a loaded machine makes any limit flaky); `workstation bench tui` measures the open.
        print(f"open: best of 1 page {best_small:.3f} s, best of 200 pages {best_big:.3f} s; all {times}")
        # Side by side at 160 columns: the pages and the checklist both in view.
        assert screen.has_class("-wide")
        await pilot.pause()
        shown = screen_text(pilot)
        assert "scan-001.png" in shown and "缺少 Missing" in shown, shown

    run_app(desk, script, actor=clerk, mode="intake", size=LARGE)


@pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")
def test_v_shows_the_page_beside_its_ocr_text_and_turns_through_the_dossier(
    desk: Desk, clerk: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.service.test_pages import real_page
    from workstation.tui.screens.page_viewer import PageViewerScreen
    from workstation.tui.widgets.ocr_text import OcrText
    from workstation.tui.widgets.page_image import PageImage

    monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None), ("M03", "p2")])
    real_page(desk, number, problems=True)  # the first page: a real scan, read, with a field taken from it

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PageViewerScreen))
        viewer = pilot.app.screen
        await wait_until(pilot, lambda: viewer.query_one(PageImage).has_picture)
        title = text_of(pilot, "#viewer-title")
        assert f"{number} · 第 1 页 (1/2) · M01" in title and "OCR done" in title
        shown = viewer.query_one(OcrText).text
        assert "济南泉城商贸有限公司" in shown and "统一社会信用代码" in shown

        await pilot.press("right")  # the next page: its bytes are not an image, said in one line
        await wait_until(pilot, lambda: "(2/2)" in text_of(pilot, "#viewer-title"))
        await wait_for_workers(pilot)
        assert not viewer.query_one(PageImage).has_picture
        assert "无法显示此页 cannot show this page" in str(viewer.query_one("#page-image-note").render())
        await pilot.press("right")  # no page after the last: nothing moves
        assert "(2/2)" in text_of(pilot, "#viewer-title")
        await pilot.press("left")
        await wait_until(pilot, lambda: viewer.query_one(PageImage).has_picture)

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DossierDetailScreen))

    run_app(desk, script, actor=clerk)


def test_n_adds_a_party_at_the_desk_checked_first_and_the_checklist_asks_for_their_materials(
    desk: Desk, clerk: Actor
) -> None:
    from workstation.tui.screens.add_party import AddPartyScreen

    number = _dossier(desk, clerk)
    before = desk.dossiers.show(number)

    async def add(pilot: Pilot[None], name: str, identifier: str) -> None:
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AddPartyScreen))
        pilot.app.screen.query_one(".party-kind", Select).value = "individual"
        await _type(pilot, ".party-name", name)
        await _type(pilot, ".party-id", identifier)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DossierDetailScreen))
        await wait_for_workers(pilot)

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        # A wrong identifier: one line on the desk, nothing added.
        await add(pilot, "王小明", "370102198701055090")
        assert "370102198701055090" not in str(desk.dossiers.show(number).parties)
        assert len(desk.dossiers.show(number).parties) == len(before.parties)
        assert "check digit" in text_of(pilot, "#detail-message")

        await add(pilot, "王小明", "11010519491231002X")
        after = desk.dossiers.show(number)
        added = [p for p in after.parties if p.name == "王小明"]
        assert len(added) == 1 and added[0].role == "seller"
        assert any(s.party_key == added[0].key for s in after.slots)  # their ID card is asked for
        assert "seller 王小明 added" in text_of(pilot, "#detail-message")
        assert any(row[2].startswith(f"{added[0].key} ") for row in table_rows(pilot, "#slots"))

    run_app(desk, script, actor=clerk)


def _add_error_finding(desk: Desk, number: str) -> None:
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        session.add(
            Finding(
                dossier_id=dossier_id,
                rule="name_matches",
                severity="error",
                message="申请人名称与营业执照不一致",
                page_ids=[],
            )
        )


def test_submitting_past_an_open_error_asks_first_and_records_who_overrode_which(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(
        desk,
        clerk,
        number,
        [("M01", None), ("M02", None), ("M03", "p2"), ("M08", None), ("M11", None), ("M12", None), *PARTY_ONE_IDS],
    )
    assert desk.dossiers.show(number).missing == ()
    _add_error_finding(desk, number)

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        shown = screen_text(pilot)
        assert "未解决的错误" in shown and "open error" in shown and "申请人名称与营业执照不一致" in shown
        await pilot.press("n")
        await wait_for_workers(pilot)
        assert isinstance(pilot.app.screen, DossierDetailScreen)
        assert desk.dossiers.show(number).status == "draft"
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for_workers(pilot)
        assert desk.dossiers.show(number).status == "submitted"

    run_app(desk, script, actor=clerk, mode="intake")
    with desk.db.read() as session:
        [(who, payload)] = session.execute(
            select(AuditEvent.actor, AuditEvent.payload).where(AuditEvent.action == "dossier.submit")
        ).all()
    assert who == "clerk1"
    assert json.loads(payload)["overridden_findings"] == [
        {"rule": "name_matches", "message": "申请人名称与营业执照不一致"}
    ]


def test_a_long_finding_wraps_whole_at_80_columns(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None)])
    message = "出卖人姓名在不动产权证书上为徐玉成而在买卖合同上为徐玉城，证件号码一致，请核对原件并更正"
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        session.add(Finding(dossier_id=dossier_id, rule="seller_name", severity="error", message=message, page_ids=[]))

    async def script(pilot: Pilot[None]) -> None:
        await _open(pilot, desk, clerk, number)
        pilot.app.screen.query_one("#detail-tabs", TabbedContent).active = "tab-findings"
        await pilot.pause()
        shown = screen_text(pilot)
        assert "错误 error seller_name" in shown
        assert message[:12] in shown and message[-5:] in shown  # wrapped onto the next line, not cut

    run_app(desk, script, actor=clerk, mode="intake")


def test_dialogs_read_chinese_first_then_english(desk: Desk, clerk: Actor) -> None:
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None)])

    def title() -> str:
        return screen_text(pilot_ref[0])

    pilot_ref: list[Pilot[None]] = []

    async def script(pilot: Pilot[None]) -> None:
        pilot_ref.append(pilot)
        await _open(pilot, desk, clerk, number)
        await pilot.press("delete")
        assert isinstance(pilot.app.screen, PromptScreen)
        assert "删除第 1 页 Remove page 1" in title() and "原因 reason?" in title()
        await pilot.press("enter")  # nothing typed
        assert "请输入内容" in title() and "please type something" in title()
        await pilot.press("escape")
        await pilot.press("m")
        assert isinstance(pilot.app.screen, ChoiceScreen)
        assert "第 1 页移至 Move page 1 to" in title() and "不归入材料 no slot" in title()
        await pilot.press("escape")
        await pilot.press("i")
        assert isinstance(pilot.app.screen, ImportScreen)
        assert "导入扫描件 Import scans into" in title()
        await pilot.press("escape")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MessageScreen))
        assert "无法受理" in title() and "Cannot submit" in title()

    run_app(desk, script, actor=clerk, mode="intake", size=LARGE)


def test_every_field_ocr_reads_has_a_chinese_and_an_english_label() -> None:
    import tomllib

    from workstation.domain.field_labels import field_label, field_label_zh

    table = tomllib.loads((Path(__file__).resolve().parents[2] / "ocr" / "data" / "fields.toml").read_text("utf-8"))
    keys = {key for name, value in table.items() if name[:1] == "M" for key in value}
    assert keys and all(field_label_zh(key) != key for key in keys), sorted(k for k in keys if field_label(k) == k)
    assert field_label("right_holder") == "权利人 right holder" and field_label_zh("obligor") == "义务人"
