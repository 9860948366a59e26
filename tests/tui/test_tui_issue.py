"""登簿发证 under Pilot: a registrar registers and reads the certificate number, a clerk takes the fee, records how
the certificate was collected and issues; 发证 of an unpaid dossier is refused in one line; printing writes PDFs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select

from tests.review_helpers import IDN, submitted
from tests.tui_helpers import (
    add_user,
    make_desk,
    run_app,
    table_rows,
    text_of,
    wait_for_workers,
    wait_until,
)
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.store.models import Dossier
from workstation.tui.modes import modes_for
from workstation.tui.screens.dossier_detail import DossierDetailScreen, PrintScreen
from workstation.tui.screens.issue import DeliveryModal, IssueScreen, PayModal, RegisterConfirm, print_path

# The certificate PDF's renderer still calls a Pillow method deprecated for Pillow 14.
pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return make_desk(tmp_path, monkeypatch)


@pytest.fixture
def clerk(desk: Desk) -> Actor:
    return add_user(desk, "clerk1", ["clerk"])


@pytest.fixture
def reviewer(desk: Desk) -> Actor:
    return add_user(desk, "rev1", ["reviewer"], can_review_online=True, can_review_offline=True)


@pytest.fixture
def registrar(desk: Desk) -> Actor:
    return add_user(desk, "reg1", ["registrar"])


def approved(desk: Desk, clerk: Actor, reviewer: Actor) -> str:
    """A dossier accepted, claimed and approved: it waits for 登簿."""
    number = submitted(desk, clerk).number
    lease = desk.review.claim_next(reviewer)
    assert lease is not None and lease.number == number
    desk.review.decide(reviewer, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    return number


def registered(desk: Desk, clerk: Actor, reviewer: Actor) -> str:
    number = approved(desk, clerk, reviewer)
    desk.review.register(reviewer, number)
    return number


def status_in_database(desk: Desk, number: str) -> str:
    with desk.db.read() as session:
        return str(session.execute(select(Dossier.status).where(Dossier.number == number)).scalar_one())


def issue_screen(pilot: Pilot[None]) -> IssueScreen:
    screen = pilot.app.screen
    assert isinstance(screen, IssueScreen), type(screen).__name__
    return screen


def notes(pilot: Pilot[None]) -> list[str]:
    return [n.message for n in pilot.app._notifications]


async def settle(pilot: Pilot[None]) -> None:
    await wait_for_workers(pilot, rounds=4)


async def opened(pilot: Pilot[None], key: str, modal: type) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, modal))
    await pilot.pause()


def test_the_issue_area_opens_for_whoever_may_register_or_issue(
    desk: Desk, clerk: Actor, reviewer: Actor, registrar: Actor
) -> None:
    inspector = add_user(desk, "qc1", ["qc"])
    assert all("issue" in {m.name for m in modes_for(actor)} for actor in (clerk, reviewer, registrar))
    assert "issue" not in {m.name for m in modes_for(inspector)}


def test_a_registrar_registers_an_approved_dossier_and_reads_its_certificate_number(
    desk: Desk, clerk: Actor, reviewer: Actor, registrar: Actor
) -> None:
    number = approved(desk, clerk, reviewer)

    async def script(pilot: Pilot[None]) -> None:
        screen = issue_screen(pilot)
        assert [row[0] for row in table_rows(pilot, "#issue-waiting")] == [number]
        assert table_rows(pilot, "#issue-waiting")[0][1] == "存量房转移登记"
        assert not screen.query("#issue-registered")  # taking fees is the window's, not the registrar's
        assert not screen.check_action("pay", ())
        await opened(pilot, "b", RegisterConfirm)
        assert number in text_of(pilot, "#register-text") and "reg1" in text_of(pilot, "#register-text")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(pilot.app.screen, IssueScreen)
        (entry,) = desk.register.entries_of(number)
        assert entry.cert_number and entry.cert_number.startswith("鲁(")
        said = f"{number}: 已登簿 registered，证书号 certificate {entry.cert_number}"
        assert any(note.startswith(said) for note in notes(pilot))
        assert text_of(pilot, "#issue-status").startswith(said)
        assert table_rows(pilot, "#issue-waiting") == []
        assert not screen.check_action("register", ())

    run_app(desk, script, actor=registrar, mode="issue")
    assert status_in_database(desk, number) == "registered"


def test_a_clerk_takes_the_fee_records_the_collection_and_issues(desk: Desk, clerk: Actor, reviewer: Actor) -> None:
    number = registered(desk, clerk, reviewer)
    (certificate,) = [e.cert_number for e in desk.register.entries_of(number)]

    async def script(pilot: Pilot[None]) -> None:
        screen = issue_screen(pilot)
        assert not screen.query("#issue-waiting")  # 登簿 is the registrar's
        assert table_rows(pilot, "#issue-registered") == [
            [number, "80.00 未缴 unpaid", "未选 not chosen", str(certificate), "存量房转移登记"]
        ]
        assert not screen.check_action("print_receipt", ())  # no 票据 before the payment

        await opened(pilot, "p", PayModal)
        modal = pilot.app.screen
        amount = modal.query_one("#pay-amount", Input)
        assert amount.value == "80.00"  # prefilled with what is due
        amount.value = "79.00"
        await pilot.press(*"WX20261204001", "enter")
        await settle(pilot)
        assert pilot.app.screen is modal  # refused: the modal stays, with what was typed
        error = str(modal.query_one(".issue-modal-error").render())
        assert error and "\n" not in error
        assert modal.query_one("#pay-reference", Input).value == "WX20261204001"
        amount.value = "80.00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert pilot.app.screen is screen
        paid = desk.settle.charge(number)
        assert paid.paid and paid.method == "qr" and paid.reference == "WX20261204001"
        assert table_rows(pilot, "#issue-registered")[0][1] == "80.00 已缴 paid"
        assert any(f"票据 receipt {paid.receipt_number}" in n for n in notes(pilot))
        assert not screen.check_action("pay", ())

        await opened(pilot, "d", DeliveryModal)
        delivery = pilot.app.screen
        assert isinstance(delivery, DeliveryModal) and delivery.step == "choose"
        await pilot.press("ctrl+s")  # 窗口领取, the method offered first
        await settle(pilot)
        assert table_rows(pilot, "#issue-registered")[0][2] == "窗口 待领取"

        await opened(pilot, "d", DeliveryModal)
        delivery = pilot.app.screen
        assert isinstance(delivery, DeliveryModal) and delivery.step == "collect"
        await pilot.press(*"王小明")
        await pilot.press("tab", *IDN, "enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert table_rows(pilot, "#issue-registered")[0][2] == "窗口 已领取"
        state = desk.settle.delivery(number)
        assert state is not None and (state.state["collector"], state.state["collector_id"]) == ("王小明", IDN)
        assert not screen.check_action("deliver", ())  # collected: nothing more to record

        await pilot.press("i")
        await settle(pilot)
        assert f"{number}: 已发证 issued (issued)" in notes(pilot)
        assert table_rows(pilot, "#issue-registered") == []

    run_app(desk, script, actor=clerk, mode="issue")
    assert status_in_database(desk, number) == "issued"


def test_issuing_an_unpaid_dossier_is_refused_in_one_line_and_changes_nothing(
    desk: Desk, clerk: Actor, reviewer: Actor
) -> None:
    number = registered(desk, clerk, reviewer)

    async def script(pilot: Pilot[None]) -> None:
        issue_screen(pilot)
        await pilot.press("i")
        await settle(pilot)
        line = text_of(pilot, "#issue-status")
        assert line.startswith(f"未缴费 {number} owes 80.00 元") and "发证 refused" in line
        assert "\n" not in line
        assert line in notes(pilot)
        assert [row[0] for row in table_rows(pilot, "#issue-registered")] == [number]

    run_app(desk, script, actor=clerk, mode="issue")
    assert status_in_database(desk, number) == "registered"


def test_printing_the_certificate_and_the_fee_receipt_writes_pdfs_under_prints(
    desk: Desk, clerk: Actor, reviewer: Actor
) -> None:
    number = registered(desk, clerk, reviewer)
    desk.settle.pay(clerk, number, method="cash", amount="80.00", reference="XJ20261204001")
    data_dir = Path(desk.settings.data_dir)

    async def script(pilot: Pilot[None]) -> None:
        issue_screen(pilot)
        for key, kind in (("c", "certificate"), ("e", "e-certificate"), ("f", "fee-receipt")):
            await pilot.press(key)
            await settle(pilot)
            path = print_path(data_dir, number, kind)
            assert path.read_bytes().startswith(b"%PDF"), kind
            assert any(f"prints/{number}-{kind}.pdf" in n for n in notes(pilot)), kind

    run_app(desk, script, actor=clerk, mode="issue")


def test_the_dossier_desk_prints_its_notices_and_certificates(desk: Desk, clerk: Actor, reviewer: Actor) -> None:
    number = registered(desk, clerk, reviewer)
    (certificate,) = [e.cert_number for e in desk.register.entries_of(number)]
    data_dir = Path(desk.settings.data_dir)

    async def script(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(DossierDetailScreen(desk, clerk, number))
        await settle(pilot)
        await opened(pilot, "o", PrintScreen)
        await settle(pilot)
        options = pilot.app.screen.query_one("#print-list", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == [
            "受理凭证 Receipt of acceptance",
            f"证书 Certificate {certificate}",
            f"电子证照 E-certificate {certificate}",
        ]
        options.focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DossierDetailScreen)
        assert print_path(data_dir, number, "certificate").read_bytes().startswith(b"%PDF")
        await opened(pilot, "o", PrintScreen)
        await settle(pilot)
        pilot.app.screen.query_one("#print-list", OptionList).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert print_path(data_dir, number, "receipt").read_bytes().startswith(b"%PDF")
        assert any(f"prints/{number}-receipt.pdf" in n for n in notes(pilot))

    run_app(desk, script, actor=clerk, mode="intake")


def test_an_ems_delivery_takes_its_waybill_and_can_be_changed_to_the_window_before_it_ships(
    desk: Desk, clerk: Actor, reviewer: Actor
) -> None:
    number = registered(desk, clerk, reviewer)

    async def script(pilot: Pilot[None]) -> None:
        issue_screen(pilot)
        await opened(pilot, "d", DeliveryModal)
        modal = pilot.app.screen
        modal.query_one("#deliver-method", Select).value = "ems"
        await pilot.pause()
        assert modal.query_one("#deliver-address", Input).display  # the application's address when left empty
        assert not modal.query_one("#deliver-point", Input).display
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert table_rows(pilot, "#issue-registered")[0][2] == "邮寄 待寄出"

        await opened(pilot, "d", DeliveryModal)
        modal = pilot.app.screen
        assert isinstance(modal, DeliveryModal) and modal.step == "ship"
        await pilot.press(*"12", "enter")  # too short for a waybill: refused in one line, the modal stays
        await settle(pilot)
        assert pilot.app.screen is modal and "运单号格式不正确" in str(modal.query_one(".issue-modal-error").render())
        await pilot.press("ctrl+o")  # the applicant comes to the window after all
        await pilot.pause()
        assert modal.step == "choose"
        modal.query_one("#deliver-method", Select).value = "window"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert table_rows(pilot, "#issue-registered")[0][2] == "窗口 待领取"

    run_app(desk, script, actor=clerk, mode="issue")
    view = desk.settle.delivery(number)
    assert view is not None and [step["action"] for step in view.history] == ["choose", "choose"]
