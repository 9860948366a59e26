"""What every screen looks like, at 80×24 (the smallest terminal a desk has) and 160×48.

The data is made under a frozen clock with counting ids, so the same screens come out byte for byte. After a
deliberate change of a screen, look at the report and run `pytest tests/tui/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.tui_helpers import LARGE, SMALL, add_user, make_desk, wait_for_workers
from workstation.services.desk import Desk
from workstation.tui.app import WorkstationApp

SIZES = pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
NOW = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 10:30 in Jinan

SnapCompare = Callable[..., bool]


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[time_machine.Traveller]:
    """A stopped clock and ids that count up, for byte-identical screens."""
    counter = itertools.count(1)

    def counting_uuid7() -> uuid.UUID:
        ms = int(NOW.timestamp() * 1000)
        return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | next(counter))

    monkeypatch.setattr("workstation.store.ids.uuid7", counting_uuid7)
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: time_machine.Traveller) -> Iterator[Desk]:
    opened = make_desk(tmp_path, monkeypatch, station_id="jn-lx-01", station_name="历下区不动产登记中心")
    add_user(opened, "clerk1", ["clerk"])
    add_user(opened, "reviewer1", ["reviewer"], can_review_online=True, can_review_offline=True)
    add_user(opened, "qc1", ["qc"])
    yield opened
    opened.close()


def settled(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Let every load finish, then press `keys` one at a time, each once what it started has finished."""

    async def run_before(pilot: Pilot[None]) -> None:
        await wait_for_workers(pilot, rounds=3)
        await tables_measured(pilot)
        for key in keys:
            await pilot.press(key)
            await wait_for_workers(pilot, rounds=3)
            await tables_measured(pilot)

    return run_before


async def tables_measured(pilot: Pilot[None]) -> None:
    """Wait until the app is quiet: no worker running and every DataTable has measured its rows (a table does
    that only when its queue runs empty), five checks in a row."""
    calm = 0
    for _ in range(400):
        pending = [
            table
            for screen in pilot.app.screen_stack
            for table in screen.query(DataTable)
            if table._require_update_dimensions or table._updated_cells or table._new_rows
        ]
        for table in pending:
            table.check_idle()
        busy = bool(pending) or any(not worker.is_finished for worker in pilot.app.workers)
        calm = 0 if busy else calm + 1
        if calm >= 5:
            break
        await pilot.pause(0.03)
    for screen in pilot.app.screen_stack:  # a blinking cursor is on or off by the clock: hold it on
        for field in screen.query("Input, TextArea"):
            field.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()


def app_for(desk: Desk, username: str | None, mode: str | None = None, **kwargs: Any) -> WorkstationApp:
    actor = desk.users.actor(username) if username else None
    return WorkstationApp(desk, actor=actor, mode=mode, **kwargs)


def seed_dossiers(desk: Desk, count: int = 3) -> list[str]:
    clerk = desk.users.actor("clerk1")
    names = ["济南泉城商贸有限公司", "山东鲁信置业有限公司", "王建国", "李秀英", "济南舜耕物流有限公司"]
    numbers = []
    for index in range(count):
        kind = "individual" if index in (2, 3) else "enterprise"
        business = "ENT_NONRES_TRANSFER" if kind == "enterprise" else "RESALE_TRANSFER"
        numbers.append(
            desk.dossiers.new(clerk, business=business, applicant_kind=kind, applicant_name=names[index % 5]).number
        )
    return numbers


@SIZES
def test_login(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    app = WorkstationApp(desk, login_hint="演示账户 demo users: clerk1 / reviewer1 / admin")
    assert snap_compare(app, terminal_size=size, run_before=settled())


@SIZES
def test_intake_dossier_list(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    seed_dossiers(desk, 3)
    assert snap_compare(app_for(desk, "clerk1"), terminal_size=size, run_before=settled())


@SIZES
def test_help_panel(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    seed_dossiers(desk, 1)
    assert snap_compare(app_for(desk, "clerk1"), terminal_size=size, run_before=settled("f1"))


# -- review ---------------------------------------------------------------------------------------------


@pytest.fixture
def review_pool(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two enterprise dossiers (one with a real scan and problems to return) and an individual one, waiting."""
    from tests.review_helpers import submitted
    from tests.service.test_pages import real_page

    monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")
    clerk = desk.users.actor("clerk1")
    first = submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise", channel="online").number
    real_page(desk, first, problems=True)
    second = submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise", channel="online").number
    third = submitted(desk, clerk, channel="online").number
    return [first, second, third]


REVIEW_STATES = {
    "queue": ["f"],
    "dossier": ["f", "enter"],
    "dossier_text": ["f", "enter", "t"],
    "checklist": ["f", "enter", "2"],
    "findings": ["f", "enter", "3"],
    "fields": ["f", "enter", "4"],
    "return_modal": ["f", "enter", "b"],
    "reject_modal": ["f", "enter", "x"],
    "approve_modal": ["f", "enter", "a"],
}


@SIZES
@pytest.mark.parametrize("state", list(REVIEW_STATES))
@pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")
def test_review(
    snap_compare: SnapCompare, desk: Desk, review_pool: list[str], size: tuple[int, int], state: str
) -> None:
    app = app_for(desk, "reviewer1", "review")
    assert snap_compare(app, terminal_size=size, run_before=settled(*REVIEW_STATES[state]))


# -- QC -------------------------------------------------------------------------------------------------


@pytest.fixture
def qc_checks(desk: Desk) -> list[str]:
    from tests.tui.test_tui_qc import registered

    clerk, registrar = desk.users.actor("clerk1"), desk.users.actor("reviewer1")
    return [registered(desk, clerk, registrar) for _ in range(3)]


@SIZES
@pytest.mark.parametrize(("state", "keys"), [("list", []), ("result_modal", ["enter"])])
def test_qc(
    snap_compare: SnapCompare, desk: Desk, qc_checks: list[str], size: tuple[int, int], state: str, keys: list[str]
) -> None:
    assert snap_compare(app_for(desk, "qc1", "qc"), terminal_size=size, run_before=settled(*keys))


@SIZES
def test_qc_corrections(snap_compare: SnapCompare, desk: Desk, qc_checks: list[str], size: tuple[int, int]) -> None:
    inspector = desk.users.actor("qc1")
    check = desk.qc.pending()[0]
    desk.qc.record(inspector, check.id, "major", defects=["权利人姓名与身份证不一致"], notes="登簿信息有误")
    assert snap_compare(app_for(desk, "qc1", "qc"), terminal_size=size, run_before=settled("c"))


# -- sync -----------------------------------------------------------------------------------------------


@SIZES
def test_sync(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    """A parked op and a conflict, as the agent leaves them (set in the outbox directly: no network here)."""
    from sqlalchemy import select

    from workstation.store.models import OutboxOp

    numbers = seed_dossiers(desk, 3)
    clerk = desk.users.actor("clerk1")
    desk.dossiers.withdraw(clerk, numbers[1], reason="申请人撤回")
    desk.sync.attach("http://registry.example:8750", None)
    with desk.db.transaction() as session:
        ops = list(session.execute(select(OutboxOp).order_by(OutboxOp.seq)).scalars())
        parked, conflict = ops[0], ops[-1]
        parked.state, parked.last_error, parked.attempts = "quarantined", "bad_op: the dossier is unknown here", 1
        conflict.state, conflict.attempts = "conflict", 1
        conflict.last_error = "stale_version: the dossier changed on the registry since this desk's version"
        conflict.remote = {
            "number": numbers[1],
            "version": conflict.base_version or 1,
            "stage": "REVIEW",
            "status": "in_review",
        }
        for op in ops[1:-1]:
            op.state = "sent"
    assert snap_compare(app_for(desk, "clerk1", "sync"), terminal_size=size, run_before=settled())


# -- admin ----------------------------------------------------------------------------------------------


@SIZES
@pytest.mark.parametrize(("state", "keys"), [("users", []), ("add_user", ["n"]), ("grants", ["down", "g"])])
def test_admin(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int], state: str, keys: list[str]) -> None:
    assert snap_compare(app_for(desk, "admin", "admin"), terminal_size=size, run_before=settled(*keys))


# -- intake ---------------------------------------------------------------------------------------------


@pytest.fixture
def intake_dossier(desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ENT_NONRES_TRANSFER draft with its seller, a few pages in their slots and a licence read by OCR."""
    from tests.tui.test_tui_intake import _attach, _dossier, _read_licence

    clerk = desk.users.actor("clerk1")
    number = _dossier(desk, clerk)
    _attach(desk, clerk, number, [("M01", None), ("M03", "p2"), ("M11", None)])
    _read_licence(desk, clerk, number, tmp_path, monkeypatch).close()  # reads it on this desk, then closes
    return number


INTAKE_STATES = {
    "desk": ["enter"],
    "fields": ["enter", "e"],
    "missing_list": ["enter", "s"],
    "receipt": ["enter", "p"],
    "import": ["enter", "i"],
    "move_page": ["enter", "m"],
    "remove_page": ["enter", "delete"],
    "page_viewer": ["enter", "down", "down", "down", "v"],  # the licence: a real scan, read
    "add_party": ["enter", "n"],
}


@SIZES
@pytest.mark.parametrize("state", list(INTAKE_STATES))
@pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")
def test_intake(
    snap_compare: SnapCompare,
    desk: Desk,
    intake_dossier: str,
    size: tuple[int, int],
    state: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WS_TUI_IMAGE", "halfcell")
    app = app_for(desk, "clerk1", "intake")
    assert snap_compare(app, terminal_size=size, run_before=settled(*INTAKE_STATES[state]))


@SIZES
def test_new_dossier_form(snap_compare: SnapCompare, desk: Desk, size: tuple[int, int]) -> None:
    from textual.widgets import Select

    async def business(pilot: Pilot[None]) -> None:
        await settled("n")(pilot)
        pilot.app.screen.query_one("#business", Select).value = "ENT_NONRES_TRANSFER"
        await wait_for_workers(pilot)
        await pilot.pause(0.1)

    assert snap_compare(app_for(desk, "clerk1", "intake"), terminal_size=size, run_before=business)
