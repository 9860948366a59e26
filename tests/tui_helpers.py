"""Driving the terminal UI in tests: a desk on SQLite in a temp dir, the app under Pilot, small readers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import _character_to_key
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from workstation.config import load_settings
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk, open_desk
from workstation.tui.app import WorkstationApp

SMALL = (80, 24)
LARGE = (160, 48)
PASSWORD = "admin-pass-1"

Script = Callable[[Pilot[None]], Awaitable[None]]


def make_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Desk:
    """A desk of its own (SQLite): the TUI sees services, never the database behind them."""
    for key in list(os.environ):
        if key.startswith("WS_"):
            monkeypatch.delenv(key)
    return open_desk(load_settings(data_dir=tmp_path, admin_password=PASSWORD, **settings))


def add_user(desk: Desk, username: str, roles: list[str], **flags: bool) -> Actor:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username=username, password=f"{username}-pass-1", roles=roles, **flags)
    return desk.users.actor(username)


def run_app(
    desk: Desk,
    script: Script,
    *,
    size: tuple[int, int] = SMALL,
    actor: Actor | None = None,
    mode: str | None = None,
    message_hook: Callable[[Any], None] | None = None,
) -> None:
    """Run the app under Pilot; `actor` logs in directly (skipping the login screen), `mode` picks the area."""

    async def main() -> None:
        app = WorkstationApp(desk, actor=actor, mode=mode)
        async with app.run_test(size=size, notifications=True, message_hook=message_hook) as pilot:
            await wait_for_workers(pilot)
            await script(pilot)

    asyncio.run(main())


async def wait_for_workers(pilot: Pilot[None], rounds: int = 2) -> None:
    """Let the workers started so far finish, and those they start in turn (a load after a save)."""
    for _ in range(rounds):
        # A worker that failed on purpose (a wrong password, a refused claim) was handled by its screen, which is what
        # the test looks at; waiting must not re-raise its error (it did when the worker was still listed, under load).
        await asyncio.gather(*(worker.wait() for worker in list(pilot.app.workers)), return_exceptions=True)
        await pilot.pause()


async def wait_until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `condition()` holds (pages read by OCR in the background, a sync pass); fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)


async def type_burst(pilot: Pilot[None], *keys: str) -> None:
    """Keys as a password manager or a barcode scanner types them: all queued at once, none waiting for the
    last one to be handled (`pilot.press` lets the app settle between keys, which hides a lost key)."""
    app = pilot.app
    driver = app._driver
    assert driver is not None
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        char = key if len(key) == 1 else {"tab": "\t", "enter": "\r"}.get(key)
        event = events.Key(name, char)
        event.set_sender(app)
        driver.send_message(event)
    await pilot.pause()


async def log_in(pilot: Pilot[None], username: str, password: str) -> None:
    await pilot.click("#username")
    await pilot.press(*username)
    await pilot.press("tab", *password, "enter")
    await wait_for_workers(pilot, rounds=3)


def text_of(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).content)


def table_rows(pilot: Pilot[None], selector: str) -> list[list[str]]:
    table = pilot.app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def screen_text(pilot: Pilot[None]) -> str:
    """Everything the terminal shows now, as text (what a user reads)."""
    strips = pilot.app.screen._compositor.render_strips()
    # A wide (CJK) character takes two cells; its second cell renders as "", so text is as a user reads it.
    return "\n".join(strip.text for strip in strips)
