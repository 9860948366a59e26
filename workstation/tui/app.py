"""The workstation's terminal UI: log in, then the dossier list. Later desks (intake, review, QC, sync) join it."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.tui.screens.dossiers import DossiersScreen
from workstation.tui.screens.login import LoginScreen

LIGHT_THEME = "textual-light"
DARK_THEME = "textual-dark"


class WorkstationApp(App[None]):
    TITLE = "不动产登记工作站"
    BINDINGS = [
        # Hidden like Textual's own: the list screen shows `q`; an id makes it remappable in a keymap.
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, priority=True),
        Binding("f2", "toggle_theme", "Light/dark", id="app.toggle_theme", tooltip="Switch light and dark theme"),
    ]

    def __init__(self, desk: Desk, *, login_hint: str | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.actor: Actor | None = None
        self._login_hint = login_hint
        settings = desk.settings
        self.sub_title = f"{settings.station_id} · {settings.station_name}"
        self.theme = DARK_THEME

    def on_mount(self) -> None:
        self.push_screen(LoginScreen(self.desk, hint=self._login_hint), callback=self._logged_in)

    def _logged_in(self, actor: Actor | None) -> None:
        if actor is None:
            self.exit()
            return
        self.actor = actor
        self.push_screen(DossiersScreen(self.desk, actor))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Light/dark theme", "Switch between the light and the dark theme", self.action_toggle_theme)
