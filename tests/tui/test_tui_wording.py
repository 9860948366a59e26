"""What a person reads in the footer and the command palette: Chinese first, then English ("受理 Submit").

Every key of every screen, dialog and widget of the desk (hidden ones too: F1 lists them) and every command the
palette offers, in every area, follow the convention; Textual's own palette commands are given the desk's words.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widgets import DataTable

import workstation.tui.screens as screens
import workstation.tui.widgets as widgets
from tests.tui_helpers import add_user, make_desk, run_app, wait_for_workers
from workstation.services.desk import Desk
from workstation.tui import app as app_module
from workstation.tui.app import WorkstationApp
from workstation.tui.modes import MODES, modes_for

ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def _is_chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def reads_chinese_first(text: str) -> bool:
    text = text.strip()
    return bool(text) and _is_chinese(text[0]) and ENGLISH_WORD.search(text) is not None


def _tui_classes() -> list[type[DOMNode]]:
    modules = [app_module]
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    found: dict[str, type[DOMNode]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, DOMNode) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{value.__name__}"] = value
    return [found[name] for name in sorted(found)]


TUI_CLASSES = _tui_classes()


def test_the_walk_finds_the_desks_screens_and_the_app() -> None:
    names = {cls.__name__ for cls in TUI_CLASSES}
    assert {"WorkstationApp", "DossiersScreen", "DossierDetailScreen", "ReviewDossierScreen", "SyncScreen"} <= names
    assert sum(1 for cls in TUI_CLASSES if vars(cls).get("BINDINGS")) >= 20


@pytest.mark.parametrize("cls", [cls for cls in TUI_CLASSES if vars(cls).get("BINDINGS")], ids=lambda c: c.__name__)
def test_every_key_of_the_desk_reads_chinese_first_then_english(cls: type[DOMNode]) -> None:
    for binding in vars(cls)["BINDINGS"]:
        assert isinstance(binding, Binding), binding
        assert reads_chinese_first(binding.description), f"{cls.__name__} {binding.key}: {binding.description!r}"
        if binding.tooltip:  # the palette's help line under the command
            assert reads_chinese_first(binding.tooltip), f"{cls.__name__} {binding.key}: {binding.tooltip!r}"


@pytest.mark.parametrize("cls", TUI_CLASSES, ids=lambda c: c.__name__)
def test_every_key_in_a_footer_reads_chinese_first_then_english(cls: type[DOMNode]) -> None:
    """The inherited keys too: a Textual widget's own shown key would land in the footer in English only."""
    for _key, binding in cls._merge_bindings():
        if binding.show and binding.description:
            assert reads_chinese_first(binding.description), f"{cls.__name__} {binding.key}: {binding.description!r}"


def test_the_palettes_footer_key_is_the_desks_own() -> None:
    (palette,) = [b for b in WorkstationApp.BINDINGS if isinstance(b, Binding) and b.key == App.COMMAND_PALETTE_BINDING]
    assert palette.action == "command_palette" and reads_chinese_first(palette.description)
    assert reads_chinese_first(app_module.PALETTE_PLACEHOLDER)


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    opened = make_desk(tmp_path, monkeypatch)
    add_user(opened, "all1", ["clerk", "reviewer", "qc", "registrar", "admin"], can_review_online=True)
    return opened


def _assert_chinese_first(commands: list[SystemCommand], where: str) -> None:
    for command in commands:
        assert reads_chinese_first(command.title), f"{where}: {command.title!r}"
        assert reads_chinese_first(command.help), f"{where}: {command.title!r} — {command.help!r}"


def test_every_palette_command_in_every_area_reads_chinese_first_then_english(desk: Desk) -> None:
    actor = desk.users.actor("all1")
    assert [mode.name for mode in modes_for(actor)] == [mode.name for mode in MODES]
    seen: set[str] = set()

    async def script(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, WorkstationApp)
        for mode in MODES:
            await app.switch_mode(mode.name)
            await wait_for_workers(pilot, rounds=3)
            commands = list(app.get_system_commands(app.screen))
            _assert_chinese_first(commands, mode.name)
            seen.update(command.title for command in commands)
            await pilot.press("f1")
            await pilot.pause()
            helped = list(app.get_system_commands(app.screen))
            _assert_chinese_first(helped, f"{mode.name} with F1 help shown")
            seen.update(command.title for command in helped)
            await pilot.press("f1")
            await pilot.pause()
        tables = app.screen.query(DataTable)
        assert tables, "the admin area lists its users in a table"
        tables.first().focus()
        await pilot.pause()
        maximizing = list(app.get_system_commands(app.screen))
        app.screen.maximize(tables.first())
        await pilot.pause()
        maximized = list(app.get_system_commands(app.screen))
        _assert_chinese_first(maximizing + maximized, "a maximized table")
        seen.update(command.title for command in maximizing + maximized)
        await app.action_logout()
        await pilot.pause()
        signed_out = list(app.get_system_commands(app.screen))
        _assert_chinese_first(signed_out, "the login screen")

    run_app(desk, script, actor=actor)
    # The walk met the areas, the shell's own commands and each of Textual's, in their desk words.
    assert {f"打开{m.label.partition(' ')[0]} Open {m.label.partition(' ')[2]}" for m in MODES} <= seen
    assert {"退出登录 Log out", "切换用户 Switch user", "明暗主题 Light/dark theme"} <= seen
    assert {"配色主题 Theme", "退出 Quit", "按键 Keys", "最大化 Maximize", "还原 Minimize", "截图 Screenshot"} <= seen


def reads_chinese_first_where_it_has_words(text: str) -> bool:
    """A header of codes or marks only ("#", "受理号", "") has nothing to translate; any English reads second."""
    text = text.strip()
    return ENGLISH_WORD.search(text) is None or _is_chinese(text[0])


TITLES = ".sync-title, .admin-title, .section, .decide-title, .qc-modal-title, .admin-modal-title"


def _headers_and_titles(app: App[None]) -> list[str]:
    """The column headers of every table on the screen, and its static titles, as the user reads them."""
    shown = [str(column.label) for table in app.screen.query(DataTable) for column in table.columns.values()]
    return shown + [str(title.render()) for title in app.screen.query(TITLES)]


def test_table_headers_and_titles_of_every_area_read_chinese_first(desk: Desk) -> None:
    from workstation.tui.screens.dossier_detail import DossierDetailScreen
    from workstation.tui.screens.review_dossier import FIELD_COLUMNS

    actor = desk.users.actor("all1")
    number = desk.dossiers.new(actor, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    seen: dict[str, list[str]] = {}

    async def script(pilot: Pilot[None]) -> None:
        app = pilot.app
        for mode in MODES:
            await app.switch_mode(mode.name)
            await wait_for_workers(pilot, rounds=3)
            seen[mode.name] = _headers_and_titles(app)
        await app.switch_mode("intake")
        await app.push_screen(DossierDetailScreen(desk, actor, number))
        await wait_for_workers(pilot, rounds=3)
        seen["dossier"] = _headers_and_titles(app)

    run_app(desk, script, actor=actor)
    seen["review dossier fields"] = list(FIELD_COLUMNS)
    for where, texts in seen.items():
        for text in texts:
            assert reads_chinese_first_where_it_has_words(text), f"{where}: {text!r}"
    # The walk read the tables it is meant to check, not an empty screen.
    assert {"状态 status", "业务 business"} <= set(seen["intake"])
    assert {"材料 material", "当事人 party", "字段 field"} <= set(seen["dossier"])
    assert {"隔离 Parked ops (0)", "冲突 Conflicts (0)"} <= set(seen["sync"])
    assert "角色 roles" in seen["admin"] and "剩余 left" in seen["review"] and "质检员 inspector" in seen["qc"]
