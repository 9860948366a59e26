"""The self-service kiosk under Pilot: an applicant (not a clerk) at a kiosk station applies for R12's businesses.

A bank's agent cancels a mortgage: a wrong ID check digit is refused in one line and nothing typed is lost, the
photo is a stand-in, the scans come from the kiosk's scan folder, and the 受理号 is shown with the dossier accepted
as self-service with its identity check on record. A change needs at least one of what changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Button, Input, SelectionList

from tests.review_helpers import IDN, USCC2
from tests.tui_helpers import Script, add_user, make_desk, screen_text, text_of, wait_for_workers
from workstation.services.desk import Desk
from workstation.tui.kiosk import KioskApp, KioskScreen

SIZE = (120, 40)
STATION_NAME = "历下区政务大厅自助区"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    opened = make_desk(tmp_path, monkeypatch, station_kind="kiosk", station_name=STATION_NAME, user="kiosk1")
    add_user(opened, "kiosk1", ["clerk"])  # the kiosk's own account: logged in without a password
    return opened


def scans(desk: Desk, count: int) -> list[Path]:
    """Small distinct PNGs in the kiosk's scan folder, as its scanner leaves them."""
    inbox = Path(desk.settings.inbox_dir)
    inbox.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = inbox / f"scan-{i:02d}.png"
        Image.new("L", (60, 80), 250 - 10 * i).save(path)
        paths.append(path)
    return paths


def kiosk(pilot: Pilot[None]) -> KioskScreen:
    screen = pilot.app.screen
    assert isinstance(screen, KioskScreen), type(screen).__name__
    return screen


async def settle(pilot: Pilot[None]) -> None:
    await wait_for_workers(pilot, rounds=3)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Until `condition` holds and no service call is running (they land in workers): counted rounds, no clock."""
    for _ in range(100):
        if condition() and not kiosk(pilot).busy:
            return
        await pilot.pause()
        await wait_for_workers(pilot)
    lines = " | ".join(str(line.render()) for line in kiosk(pilot).query(".error, #kiosk-status"))
    raise AssertionError(f"{what}: not reached at step {kiosk(pilot).step}; the screen says: {lines}")


async def reach(pilot: Pilot[None], step: str) -> None:
    await until(pilot, lambda: kiosk(pilot).step == step, f"step {step}")


def said(pilot: Pilot[None], selector: str, text: str) -> Callable[[], bool]:
    return lambda: text in text_of(pilot, selector)


async def type_into(pilot: Pilot[None], selector: str, text: str) -> None:
    screen = kiosk(pilot)
    field = screen.query_one(selector, Input)
    screen.set_focus(field)
    field.value = ""
    await pilot.press(*text)


async def fill(pilot: Pilot[None], selector: str, text: str) -> None:
    """A field filled at once (what typing does is shown on the ID number's field)."""
    screen = kiosk(pilot)
    field = screen.query_one(selector, Input)
    screen.set_focus(field)
    field.value = text
    await pilot.pause()


async def press(pilot: Pilot[None], selector: str) -> None:
    """The button pressed (as Textual simulates a person's press: a click or Enter within the 0.2 s of the last
    press's animation is dropped, so those would depend on the test's speed)."""
    kiosk(pilot).query_one(selector, Button).press()
    await settle(pilot)


def shown_line(pilot: Pilot[None], selector: str) -> str:
    text = text_of(pilot, selector)
    assert kiosk(pilot).query_one(selector).display, f"{selector} is hidden"
    return text


def run(desk: Desk, script: Script) -> None:
    """The kiosk app as `workstation kiosk` starts it: no account given, the screen logs in the desk's user."""

    async def main() -> None:
        async with KioskApp(desk).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await script(pilot)

    asyncio.run(main())


def test_a_banks_agent_cancels_a_mortgage_at_the_kiosk_and_reads_the_application_number(desk: Desk) -> None:
    files = scans(desk, 7)
    (Path(desk.settings.inbox_dir) / "notes.txt").write_text("not a scan", encoding="utf-8")
    seen: dict[str, str] = {}

    async def script(pilot: Pilot[None]) -> None:
        screen = kiosk(pilot)
        assert screen.step == "business"
        await press(pilot, "#biz-MORT_CANCEL")
        await reach(pilot, "identity")
        assert not screen.query_one("#applicant-kind").display  # the mortgagee is a bank: no choice to make
        await fill(pilot, "#org-name", "某银行济南分行")
        await pilot.press("enter")  # on to the next empty field
        assert screen.focused is screen.query_one("#org-uscc")
        await fill(pilot, "#org-uscc", USCC2)
        await fill(pilot, "#person-name", "王小明")
        await type_into(pilot, "#person-id", IDN[:-1] + "2")
        await pilot.press("enter")
        await until(pilot, said(pilot, "#identity-error", "身份证号有误"), "the refusal")
        line = shown_line(pilot, "#identity-error")
        assert "身份证号有误" in line and f"should be {IDN[-1]}, not 2" in line and "\n" not in line
        assert screen.step == "identity"
        assert screen.query_one("#org-name", Input).value == "某银行济南分行"  # nothing typed is lost
        assert screen.query_one("#org-uscc", Input).value == USCC2

        await type_into(pilot, "#person-id", IDN)
        await pilot.press("enter")
        await reach(pilot, "photo")
        await press(pilot, "#photo-take")
        await until(pilot, said(pilot, "#photo-record", "STAND-IN"), "the photo's record")
        record = text_of(pilot, "#photo-record")
        assert "STAND-IN" in record and "替代" in record
        await press(pilot, "#photo-next")
        await reach(pilot, "materials")
        opened = screen._opened
        assert opened is not None
        seen["number"], seen["sha"] = opened.number, opened.application.capture.sha256

        await fill(pilot, "#slot-0-path", "notes.txt")  # not a scan: refused in one line, the slot stays open
        await pilot.press("enter")
        await until(pilot, said(pilot, "#materials-error", "notes.txt"), "the refusal")
        line = shown_line(pilot, "#materials-error")
        assert "notes.txt" in line and "not an image or PDF" in line and "\n" not in line
        await fill(pilot, "#slot-0-path", files[0].name)
        await pilot.press("enter")
        await until(pilot, said(pilot, "#materials-error", "scan-00.png"), "the first file")
        assert "已载入 loaded scan-00.png → M01" in shown_line(pilot, "#materials-error")
        (Path(desk.settings.inbox_dir) / "notes.txt").unlink()
        await press(pilot, "#load-folder")  # the six left, in name order, into the six open slots
        await until(pilot, said(pilot, "#materials-error", "已载入 loaded 6"), "the folder")
        assert "已载入 loaded 6" in shown_line(pilot, "#materials-error")
        assert all(slot.satisfied for slot in desk.dossiers.show(opened.number).slots)
        assert not any(path.exists() for path in files)  # out of the scan folder: the next applicant never sees them

        await press(pilot, "#materials-next")
        await reach(pilot, "submit")
        assert "7/7" in text_of(pilot, "#submit-summary")
        await press(pilot, "#submit")
        await reach(pilot, "done")
        # The step changes before the receipt is painted: read the terminal once it shows.
        await until(pilot, lambda: "不动产登记受理回执" in screen_text(pilot), "the receipt on screen")
        seen["screen"] = screen_text(pilot)

    run(desk, script)
    number = seen["number"]
    assert f"受理号 Application number  {number}" in seen["screen"]
    assert "不动产登记受理回执" in seen["screen"]
    detail = desk.dossiers.show(number)
    assert (detail.status, detail.channel, detail.business) == ("submitted", "self_service", "MORT_CANCEL")
    assert [(p.role, p.kind, p.name, p.id_value) for p in detail.parties] == [
        ("mortgagee", "enterprise", "某银行济南分行", USCC2)
    ]
    assert detail.signing is not None
    assert (detail.signing["witness"], detail.signing["method"], detail.signing["result"]) == (
        f"自助终端 {STATION_NAME}",
        "kiosk",
        "pass",
    )
    assert detail.signing["reference"] == seen["sha"]


def test_a_change_without_what_changed_is_refused_in_one_line_then_taken_with_one(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        screen = kiosk(pilot)
        await press(pilot, "#biz-CHANGE")
        await reach(pilot, "identity")
        assert screen.query_one("#applicant-kind").display  # a person, or an enterprise's agent
        assert not screen.query_one("#org-fields").display
        await fill(pilot, "#person-name", "王小明")
        await fill(pilot, "#person-id", IDN)
        await pilot.press("enter")
        await reach(pilot, "photo")
        await press(pilot, "#photo-take")
        await press(pilot, "#photo-next")
        await reach(pilot, "conditions")

        await press(pilot, "#conditions-next")
        await until(pilot, said(pilot, "#conditions-error", "请至少选择一项"), "the refusal")
        line = shown_line(pilot, "#conditions-error")
        assert line.startswith("请至少选择一项") and "权利人名称/姓名变更" in line and "\n" not in line
        assert screen.step == "conditions" and desk.dossiers.count() == 0

        screen.query_one("#conditions", SelectionList).select("name_change")
        await press(pilot, "#conditions-next")
        await reach(pilot, "materials")
        opened = screen._opened
        assert opened is not None
        detail = desk.dossiers.show(opened.number)
        assert detail.conditions == ("name_change",) and detail.channel == "self_service"
        assert "M25" in [slot.material for slot in detail.slots]

        await press(pilot, "#materials-next")
        await reach(pilot, "submit")
        await press(pilot, "#submit")  # nothing loaded: everything missing is listed at once
        await until(pilot, said(pilot, "#submit-error", "无法提交"), "the refusal")
        assert screen.step == "submit"
        listed = text_of(pilot, "#submit-error").splitlines()
        assert listed[0].startswith(f"无法提交，缺少 {len(detail.missing)} 项")
        assert [item.removeprefix("• ") for item in listed[1:]] == list(detail.missing)
        await pilot.press("escape")  # back to the materials, the dossier still open
        await reach(pilot, "materials")
        assert screen._opened == opened

    run(desk, script)


def test_the_same_business_is_refused_at_a_hall_counter_with_the_pointer_to_self_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R12: where the office sends mortgage cancellations to the kiosk, the counter's new-dossier form refuses one in
    one line that says where to go, and opens nothing; the clerk's form stays as typed."""
    from textual.widgets import Select

    from tests.tui_helpers import run_app
    from workstation.tui.screens.new_dossier import NewDossierScreen

    hall = make_desk(
        tmp_path, monkeypatch, counter_refuses=["MORT_CANCEL", "CHANGE"], self_service_hint="一楼自助服务区"
    )
    clerk = add_user(hall, "clerk1", ["clerk"])

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        await settle(pilot)
        form = pilot.app.screen
        assert isinstance(form, NewDossierScreen)
        form.query_one("#business", Select).value = "MORT_CANCEL"
        await pilot.pause()
        await pilot.click("#applicant-name")
        await pilot.press(*"某银行济南分行")
        await pilot.click("#create")
        await settle(pilot)
        assert isinstance(pilot.app.screen, NewDossierScreen)
        error = text_of(pilot, "#new-dossier-error")
        assert "请到一楼自助服务区自助办理" in error and "\n" not in error
        assert pilot.app.screen.query_one("#applicant-name", Input).value == "某银行济南分行"
        assert hall.dossiers.list() == []

    try:
        run_app(hall, script, actor=clerk)
    finally:
        hall.close()
