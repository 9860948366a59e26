"""The admin screen under Pilot: users with grants, add a user, change roles and grants, verify the audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.tui_helpers import LARGE, add_user, make_desk, run_app, screen_text, table_rows, text_of, wait_for_workers
from workstation.services.desk import Desk
from workstation.tui.screens.admin import AdminScreen
from workstation.tui.screens.admin_user import AddUserScreen


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    desk = make_desk(tmp_path, monkeypatch, station_id="JN-07", station_name="历下区便民服务点")
    add_user(desk, "clerk1", ["clerk"])
    return desk


async def type_into(pilot: Pilot[None], selector: str, text: str) -> None:
    await pilot.click(selector)
    await pilot.press(*text)


def test_admin_adds_a_reviewer_then_grants_offline_review(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        assert isinstance(pilot.app.screen, AdminScreen)
        assert [r[0] for r in table_rows(pilot, "#admin-users")] == ["admin", "clerk1"]
        station = text_of(pilot, "#admin-station")
        assert "工作站 station JN-07 · 历下区便民服务点 · 类型 kind hall" in station
        assert "单机 local (no registry)" in station
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, AddUserScreen)
        await type_into(pilot, "#admin-user-name", "rev1")
        await type_into(pilot, "#admin-user-password", "rev1-pass-1")
        await type_into(pilot, "#admin-user-password2", "rev1-pass-1")
        pilot.app.screen.query_one("#admin-user-roles").select("reviewer")  # type: ignore[attr-defined]
        await pilot.click("#admin-user-online")
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot, rounds=4)
        assert isinstance(pilot.app.screen, AdminScreen)
        rows = {r[0]: r for r in table_rows(pilot, "#admin-users")}
        assert rows["rev1"][2:5] == ["reviewer", "是 yes", "—"]
        pilot.app.screen.query_one("#admin-users").move_cursor(row=2)  # type: ignore[attr-defined]
        await pilot.press("g")
        await pilot.pause()
        await pilot.click("#admin-user-offline")
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot, rounds=4)
        rows = {r[0]: r for r in table_rows(pilot, "#admin-users")}
        assert rows["rev1"][2:5] == ["reviewer", "是 yes", "是 yes"]
        await pilot.press("v")
        await wait_for_workers(pilot)
        assert "审计链完整 audit chain: intact" in text_of(pilot, "#admin-audit")

    run_app(desk, script, actor=desk.users.actor("admin"), mode="admin", size=LARGE)
    actor = desk.users.actor("rev1")
    assert (actor.can_review_online, actor.can_review_offline) == (True, True)
    assert desk.users.authenticate("rev1", "rev1-pass-1").username == "rev1"


@pytest.mark.parametrize(
    ("name", "password", "again", "expected"),
    [
        ("rev1", "rev1-pass-1", "rev1-pass-2", "the two passwords differ"),
        ("Bad Name", "rev1-pass-1", "rev1-pass-1", "bad user name"),
        ("rev1", "short", "short", "at least 8"),
        ("clerk1", "rev1-pass-1", "rev1-pass-1", "already exists"),
        ("rev1", "rev1-pass-1", "rev1-pass-1", "at least one role"),  # no role ticked
    ],
)
def test_wrong_input_is_one_line_and_the_form_stays(
    desk: Desk, name: str, password: str, again: str, expected: str
) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        await pilot.pause()
        await type_into(pilot, "#admin-user-name", name)
        await type_into(pilot, "#admin-user-password", password)
        await type_into(pilot, "#admin-user-password2", again)
        if expected != "at least one role":
            pilot.app.screen.query_one("#admin-user-roles").select("clerk")  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot)
        assert isinstance(pilot.app.screen, AddUserScreen)
        error = text_of(pilot, "#admin-user-error")
        assert expected in error and "\n" not in error
        assert expected in screen_text(pilot)  # visible at 80×24

    run_app(desk, script, actor=desk.users.actor("admin"), mode="admin")
    assert [u.username for u in desk.users.list()] == ["admin", "clerk1"]


def test_an_admin_cannot_drop_their_own_admin_role_and_is_told_in_one_line(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("g")  # the cursor is on admin
        await pilot.pause()
        roles = pilot.app.screen.query_one("#admin-user-roles")
        roles.deselect("admin")  # type: ignore[attr-defined]
        roles.select("clerk")  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for_workers(pilot)
        assert "admin role from yourself" in text_of(pilot, "#admin-user-error")

    run_app(desk, script, actor=desk.users.actor("admin"), mode="admin")
    assert {r.value for r in desk.users.actor("admin").roles} == {"admin"}
