"""What every screen looks like, at 80×24 (the smallest terminal a desk has) and 160×48.

The data is made under a frozen clock with counting ids, so the same screens come out byte for byte. After a
deliberate change of a screen, look at the report and run `pytest tests/test_tui_snapshots.py --snapshot-update`.
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


def settled(extra: Callable[[Pilot[None]], Awaitable[None]] | None = None) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await wait_for_workers(pilot, rounds=3)
        if extra is not None:
            await extra(pilot)
            await wait_for_workers(pilot, rounds=3)

    return run_before


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
    assert snap_compare(app_for(desk, "clerk1"), terminal_size=size, press=["f1"], run_before=settled())
