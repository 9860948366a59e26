"""The workstation's terminal UI: log in, then the areas the user's roles open, one Textual mode each.

Intake (受理), Review (审核), QC (质检), Sync (同步), Admin (管理) and Issue (登簿发证) each keep their own screen
stack, so a clerk can look at the sync screen and come back to the dossier they were editing. F1 explains the
focused widget and lists the keys; every binding has an id, so `keymap.toml` can move any key; F2 switches light
and dark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Header

from workstation.domain.permissions import Actor
from workstation.errors import ConfigError
from workstation.services.desk import Desk
from workstation.tui.keymap import load_keymap
from workstation.tui.modes import MODES, first_mode, modes_for
from workstation.tui.screens.login import LoginScreen

LIGHT_THEME = "textual-light"
DARK_THEME = "textual-dark"
KEYMAP_FILE = "keymap.toml"
PALETTE_PLACEHOLDER = "搜索命令 Search for commands…"

# Textual's own palette commands, by their help text (unique to each), in the desk's words: Chinese first.
TEXTUAL_COMMANDS: dict[str, tuple[str, str]] = {
    "Change the current theme": ("配色主题 Theme", "选择配色主题 Choose a colour theme"),
    "Quit the application as soon as possible": ("退出 Quit", "立即退出工作站 Leave the workstation now"),
    "Show help for the focused widget and a summary of available keys": (
        "按键 Keys",
        "显示当前控件的说明和按键 Show help for the focused widget and its keys (F1)",
    ),
    "Hide the keys and widget help panel": ("按键 Keys", "隐藏按键与帮助 Hide the keys and help panel (F1)"),
    "Minimize the widget and restore to normal size": ("还原 Minimize", "恢复正常大小 Back to normal size"),
    "Maximize the focused widget": ("最大化 Maximize", "放大当前控件 Maximize the focused widget"),
    "Save an SVG 'screenshot' of the current screen": ("截图 Screenshot", "将当前画面存为 SVG Save the screen as SVG"),
}


SIGNED_OUT = "signed_out"  # the area under the login screen after a logout: nobody's screens are left open


class SignedOutScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()


def _mode_factory(name: str, desk: Desk, actor: Actor) -> Callable[[], Screen[None]]:
    # Imported when first opened: a clerk's start-up does not pay for the review desk's image code.
    def make() -> Screen[None]:
        if name == "intake":
            from workstation.tui.screens.dossiers import DossiersScreen

            return DossiersScreen(desk, actor)
        if name == "review":
            from workstation.tui.screens.review import ReviewScreen

            return ReviewScreen(desk, actor)
        if name == "qc":
            from workstation.tui.screens.qc import QcScreen

            return QcScreen(desk, actor)
        if name == "sync":
            from workstation.tui.screens.sync import SyncScreen

            return SyncScreen(desk, actor)
        if name == "issue":
            from workstation.tui.screens.issue import IssueScreen

            return IssueScreen(desk, actor)
        from workstation.tui.screens.admin import AdminScreen

        return AdminScreen(desk, actor)

    return make


class WorkstationApp(App[None]):
    TITLE = "不动产登记工作站"
    BINDINGS = [
        # Hidden like Textual's own; an id makes each remappable in keymap.toml.
        Binding("ctrl+q", "quit", "退出 Quit", id="app.quit", show=False, priority=True),
        Binding(
            "ctrl+p",
            "command_palette",
            "命令 Palette",
            id="app.command_palette",
            show=False,
            priority=True,
            tooltip="查找并执行任何命令 Find and run any command",
        ),
        # Tab moves the focus when the app takes the key, not after it has travelled to the focused field and
        # back: keys typed behind it (a password manager's burst) then reach the field the person meant.
        Binding("tab", "focus_next", "下一栏 Next field", id="app.focus_next", show=False, priority=True),
        Binding(
            "shift+tab", "focus_previous", "上一栏 Previous field", id="app.focus_previous", show=False, priority=True
        ),
        Binding(
            "f1",
            "help",
            "帮助 Help",
            id="app.help",
            tooltip="说明当前控件并列出按键 Explain the focused widget and its keys",
        ),
        Binding(
            "f2", "toggle_theme", "明暗 Theme", id="app.toggle_theme", show=False, tooltip="浅色或深色 Light or dark"
        ),
        Binding(
            "ctrl+l",
            "logout",
            "退出登录 Log out",
            id="app.logout",
            show=False,
            tooltip="退出登录或切换用户：回到登录界面 Log out or switch user: back to the login screen",
        ),
        *(
            Binding(mode.key, f"open_mode('{mode.name}')", mode.label, id=f"app.mode.{mode.name}", show=False)
            for mode in MODES
        ),
    ]

    def _handle_exception(self, error: Exception) -> None:
        # Why the screen closed goes to the desk's log too, not only to the terminal that closed.
        logging.getLogger("workstation").error("the terminal UI stopped on an error", exc_info=error)
        super()._handle_exception(error)

    def __init__(
        self,
        desk: Desk,
        *,
        login_hint: str | None = None,
        actor: Actor | None = None,
        mode: str | None = None,
        keymap_file: Path | None = None,
        on_shown: Callable[[], None] | None = None,
    ) -> None:
        """`actor` skips the login (benchmarks, tests); `mode` is where to land instead of the user's first area;
        `on_shown` is called once the first screen has been drawn (heavy background work starts then)."""
        super().__init__()
        self.desk = desk
        self.actor: Actor | None = None
        self._login_hint = login_hint
        self._given_actor = actor
        self._start_mode = mode
        self._on_shown = on_shown
        self._keymap_file = keymap_file if keymap_file is not None else Path(desk.settings.data_dir) / KEYMAP_FILE
        settings = desk.settings
        self.sub_title = f"{settings.station_id} · {settings.station_name}"
        self.theme = DARK_THEME

    def on_mount(self) -> None:
        self._pin_console_size(self.size.width, self.size.height)
        try:
            self.set_keymap(load_keymap(self._keymap_file))
        except ConfigError as exc:
            self.notify(f"按键未改 keys not remapped: {exc}", severity="warning", timeout=10, markup=False)
        if self._given_actor is not None:
            self._logged_in(self._given_actor)
        else:
            self.push_screen(LoginScreen(self.desk, hint=self._login_hint), callback=self._logged_in)
        if self._on_shown is not None:
            self.call_after_refresh(self._on_shown)

    def on_resize(self, event: events.Resize) -> None:
        self._pin_console_size(event.size.width, event.size.height)

    def _pin_console_size(self, width: int, height: int) -> None:
        """Tell Rich the terminal's size: else it asks the OS on every measurement, three times per table cell
        (a 200-page dossier's tables cost ~15,000 system calls to open)."""
        self.console.size = (width, height)

    def _logged_in(self, actor: Actor | None) -> None:
        if actor is None:
            self.exit()
            return
        self.actor = actor
        for mode in modes_for(actor):
            self.add_mode(mode.name, _mode_factory(mode.name, self.desk, actor))
        self.switch_mode(self._start_mode or first_mode(actor))
        if SIGNED_OUT in self._modes:
            self.remove_mode(SIGNED_OUT)

    async def action_logout(self) -> None:
        """Back to the login screen: the user's areas close with everything open in them (a shared desk)."""
        actor = self.actor
        if actor is None:
            return
        self.add_mode(SIGNED_OUT, SignedOutScreen)
        await self.switch_mode(SIGNED_OUT)
        self.actor = None
        self._start_mode = None
        for mode in modes_for(actor):
            await self.remove_mode(mode.name)
        self.notify(f"{actor.username} 已退出登录 logged out", markup=False)
        self.push_screen(LoginScreen(self.desk, hint=self._login_hint), callback=self._logged_in)

    # -- actions ---------------------------------------------------------------------------------------

    def action_open_mode(self, name: str) -> None:
        if self.actor is None:
            return
        allowed = {mode.name for mode in modes_for(self.actor)}
        if name not in allowed:
            self.notify(f"无权限 {self.actor.username} has no access to {name}", severity="warning", markup=False)
            return
        if self.current_mode != name:
            self.switch_mode(name)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_mode", "logout"):
            return self.actor is not None
        return True

    def action_command_palette(self) -> None:
        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(CommandPalette(placeholder=PALETTE_PLACEHOLDER, id="--command-palette"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            title, help_text = TEXTUAL_COMMANDS.get(command.help, (command.title, command.help))
            yield command._replace(title=title, help=help_text)
        yield SystemCommand(
            "明暗主题 Light/dark theme", "切换浅色与深色 Switch light and dark (F2)", self.action_toggle_theme
        )
        if self.actor is None:
            return
        yield SystemCommand("退出登录 Log out", "回到登录界面 Back to the login screen (Ctrl+L)", self.action_logout)
        yield SystemCommand(
            "切换用户 Switch user", "换一位用户登录 Log in as another user (Ctrl+L)", self.action_logout
        )
        for mode in modes_for(self.actor):
            chinese, _, english = mode.label.partition(" ")
            yield SystemCommand(
                f"打开{chinese} Open {english}",
                f"转到{chinese}区 Go to the {english} area ({mode.key.upper()})",
                _opener(self, mode.name),
            )
        # The screen's own keys, so everything the footer cannot fit is one search away.
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if binding.show and binding.description and active.enabled:
                yield SystemCommand(
                    binding.description, binding.tooltip or binding.description, _runner(screen, binding.action)
                )


def _opener(app: WorkstationApp, name: str) -> Callable[[], None]:
    return lambda: app.action_open_mode(name)


def _runner(screen: Screen, action: str) -> Callable[[], object]:
    return lambda: screen.run_action(action)
