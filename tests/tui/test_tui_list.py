"""The dossier list pages through a large registry office's dossiers and filters them by status."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.tui_helpers import add_user, make_desk, run_app, text_of, wait_for_workers
from workstation.services.desk import Desk
from workstation.tui.screens.dossiers import PAGE_SIZE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    monkeypatch = pytest.MonkeyPatch()
    desk = make_desk(tmp_path_factory.mktemp("big"), monkeypatch)
    clerk = add_user(desk, "clerk1", ["clerk"])
    for index in range(PAGE_SIZE * 2 + 20):
        desk.dossiers.new(
            clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name=f"申请人{index}"
        )
    yield desk
    desk.close()
    monkeypatch.undo()


def test_a_thousand_dossiers_come_a_page_at_a_time(big_desk: Desk) -> None:
    clerk = big_desk.users.actor("clerk1")

    async def script(pilot: Pilot[None]) -> None:
        table = pilot.app.screen.query_one("#dossiers", DataTable)
        assert table.row_count == PAGE_SIZE
        assert "案卷 1–500 of 1020 dossiers" in text_of(pilot, "#dossiers-header")
        newest = str(table.get_row_at(0)[3])
        assert newest == f"申请人{PAGE_SIZE * 2 + 19}"
        started = time.perf_counter()
        await pilot.press("]")
        await wait_for_workers(pilot)
        await pilot.press("]")
        await wait_for_workers(pilot)
        print(f"two pages loaded and drawn in {time.perf_counter() - started:.2f} s")
        assert table.row_count == 20
        assert "案卷 1001–1020 of 1020 dossiers" in text_of(pilot, "#dossiers-header")
        assert str(table.get_row_at(19)[3]) == "申请人0"
        await pilot.press("]")  # no older page: the key does nothing
        await wait_for_workers(pilot)
        assert table.row_count == 20
        await pilot.press("[")
        await wait_for_workers(pilot)
        assert table.row_count == PAGE_SIZE

    run_app(big_desk, script, actor=clerk)


def test_the_filter_shows_one_status(big_desk: Desk) -> None:
    clerk = big_desk.users.actor("clerk1")

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f")  # drafts: every dossier here is one
        await wait_for_workers(pilot)
        assert "draft: 1–500" in text_of(pilot, "#dossiers-header")
        await pilot.press("f")  # returned: none
        await wait_for_workers(pilot)
        assert pilot.app.screen.query_one("#dossiers", DataTable).row_count == 0
        assert "returned: 0–0" in text_of(pilot, "#dossiers-header")

    run_app(big_desk, script, actor=clerk)
