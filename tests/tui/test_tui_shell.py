"""The app shell: areas by role, the header's facts, F1 help, remapped keys, the command palette, themes."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import HelpPanel, Input

from tests.tui_helpers import (
    LARGE,
    SMALL,
    add_user,
    make_desk,
    run_app,
    screen_text,
    text_of,
    type_burst,
    wait_for_workers,
    wait_until,
)
from workstation.errors import ConfigError
from workstation.services.desk import Desk
from workstation.tui.app import WorkstationApp
from workstation.tui.keymap import load_keymap
from workstation.tui.modes import first_mode, modes_for
from workstation.tui.screens.login import LoginScreen
from workstation.tui.widgets.chrome import KeysFooter, SyncBadge


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    opened = make_desk(tmp_path, monkeypatch)
    add_user(opened, "clerk1", ["clerk"])
    add_user(opened, "reviewer1", ["reviewer"], can_review_online=True, can_review_offline=True)
    add_user(opened, "qc1", ["qc"])
    return opened


def test_each_role_opens_its_own_areas_and_lands_in_its_first(desk: Desk) -> None:
    clerk, reviewer, qc, admin = (desk.users.actor(name) for name in ("clerk1", "reviewer1", "qc1", "admin"))
    assert [m.name for m in modes_for(clerk)] == ["intake", "sync", "issue"]
    # A reviewer may 登簿 (审核人员在线审核登簿), so the correction cases of QC (R4) reach them in the QC area.
    assert [m.name for m in modes_for(reviewer)] == ["review", "qc", "sync", "issue"]
    assert [m.name for m in modes_for(qc)] == ["qc", "sync"]
    registrar = add_user(desk, "reg1", ["registrar"])
    assert [m.name for m in modes_for(registrar)] == ["qc", "sync", "issue"]
    assert [m.name for m in modes_for(admin)] == ["sync", "admin"]
    assert (first_mode(clerk), first_mode(reviewer), first_mode(qc), first_mode(admin)) == (
        "intake",
        "review",
        "qc",
        "admin",
    )


def test_header_names_station_user_areas_and_the_outbox_depth(desk: Desk) -> None:
    clerk = desk.users.actor("clerk1")

    async def script(pilot: Pilot[None]) -> None:
        badge = pilot.app.screen.query_one(SyncBadge)
        await wait_until(pilot, lambda: badge.overview is not None)
        first = screen_text(pilot).splitlines()[0]
        assert "local · clerk1" in first
        assert "F3 受理 Intake" in first and "F6 同步 Sync" in first and "F4" not in first
        assert "● 单机" in first  # no registry configured: this desk works alone
        depth = badge.overview.outbox_depth if badge.overview else -1
        desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise")
        await wait_until(pilot, lambda: badge.overview is not None and badge.overview.outbox_depth > depth, 10)
        assert f"待传 {depth + 1}" in screen_text(pilot).splitlines()[0]

    run_app(desk, script, actor=clerk, size=LARGE)


def test_a_clerk_is_kept_out_of_review_and_can_reach_sync_with_its_key(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        assert pilot.app.current_mode == "intake"
        await pilot.press("f4")
        await pilot.pause()
        assert pilot.app.current_mode == "intake"
        assert any("no access to review" in str(n.message) for n in pilot.app._notifications)
        await pilot.press("f6")
        await pilot.pause()
        assert pilot.app.current_mode == "sync"
        await pilot.press("f3")
        await pilot.pause()
        assert pilot.app.current_mode == "intake"

    run_app(desk, script, actor=desk.users.actor("clerk1"))


def test_f1_explains_the_focused_widget_and_closes_again(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f1")
        await pilot.pause()
        panels = pilot.app.screen.query(HelpPanel)
        assert len(panels) == 1
        await pilot.press("f1")
        await pilot.pause()
        assert not pilot.app.screen.query(HelpPanel)

    run_app(desk, script, actor=desk.users.actor("clerk1"), size=LARGE)


def test_keymap_file_moves_a_key(desk: Desk) -> None:
    (Path(desk.settings.data_dir) / "keymap.toml").write_text('[keys]\n"app.mode.sync" = "f9"\n', encoding="utf-8")

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("f6")
        await pilot.pause()
        assert pilot.app.current_mode == "intake"  # the old key no longer opens it
        await pilot.press("f9")
        await pilot.pause()
        assert pilot.app.current_mode == "sync"

    run_app(desk, script, actor=desk.users.actor("clerk1"))


def test_a_broken_keymap_file_is_reported_and_the_default_keys_stay(desk: Desk) -> None:
    (Path(desk.settings.data_dir) / "keymap.toml").write_text("[keys\n", encoding="utf-8")

    async def script(pilot: Pilot[None]) -> None:
        assert any("按键未改 keys not remapped" in str(n.message) for n in pilot.app._notifications)
        await pilot.press("f6")
        await pilot.pause()
        assert pilot.app.current_mode == "sync"

    run_app(desk, script, actor=desk.users.actor("clerk1"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keys = 3\n", "[keys] must be a table"),
        ('[keys]\n"app.quit" = ""\n', "must be a key name"),
        ('[keys]\n"app.quit" = 5\n', "must be a key name"),
        ("not toml at all =", "not a readable TOML file"),
    ],
)
def test_keymap_errors_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_keymap(path)


def test_keymap_absent_is_no_remapping(tmp_path: Path) -> None:
    assert load_keymap(tmp_path / "nope.toml") == {}
    path = tmp_path / "keymap.toml"
    path.write_text('[keys]\n"dossiers.new" = "n, insert"\n', encoding="utf-8")
    assert load_keymap(path) == {"dossiers.new": "n,insert"}


def test_the_footer_shows_only_whole_keys_in_order_and_always_the_palette_key(desk: Desk) -> None:
    clerk = desk.users.actor("clerk1")
    desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise")

    def footer_keys(pilot: Pilot[None]) -> list[tuple[str, Region]]:
        footer = pilot.app.screen.query_one(KeysFooter)
        return [(str(key.description), key.region) for key in footer.query("FooterKey")]  # type: ignore[attr-defined]

    async def script(pilot: Pilot[None]) -> None:
        await wait_until(pilot, lambda: bool(footer_keys(pilot)))
        keys = footer_keys(pilot)
        assert [name for name, _ in keys] == ["打开 Open", "新建 New", "筛选 Filter", "退出 Quit", "命令 Palette"]
        (palette,) = [region for name, region in keys if name == "命令 Palette"]
        assert palette.right == SMALL[0]
        assert all(region.right <= palette.x for name, region in keys if name != "命令 Palette")
        assert screen_text(pilot).splitlines()[-1].rstrip().endswith("^p 命令 Palette")
        await pilot.resize_terminal(*LARGE)
        await wait_until(pilot, lambda: "帮助 Help" in [name for name, _ in footer_keys(pilot)])
        assert [name for name, _ in footer_keys(pilot)][-2:] == ["帮助 Help", "命令 Palette"]

    run_app(desk, script, actor=clerk, size=SMALL)


def test_command_palette_offers_the_areas_and_the_screens_keys(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, WorkstationApp)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "打开同步 Open Sync" in titles and "打开受理 Open Intake" in titles
        assert "打开审核 Open Review" not in titles
        assert "新建 New" in titles  # the dossier list's own key

    run_app(desk, script, actor=desk.users.actor("clerk1"))


def test_f2_switches_light_and_dark(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        before = pilot.app.theme
        await pilot.press("f2")
        assert pilot.app.theme != before
        await pilot.press("f2")
        assert pilot.app.theme == before

    run_app(desk, script, actor=desk.users.actor("clerk1"), size=SMALL)


@pytest.mark.parametrize(
    "burst",
    [
        pytest.param(["tab"], id="tab"),
        pytest.param(["enter"], id="enter"),
    ],
)
def test_a_login_typed_in_one_burst_reaches_both_fields(desk: Desk, burst: list[str]) -> None:
    """A password manager types user name, Tab (or Enter), password, Enter with no pause between the keys."""

    async def script(pilot: Pilot[None]) -> None:
        assert isinstance(pilot.app.screen, LoginScreen)
        await type_burst(pilot, *"clerk1", *burst, *"clerk1-pass-1", "enter")
        await wait_for_workers(pilot, rounds=3)
        assert pilot.app.actor is not None and pilot.app.actor.username == "clerk1"
        assert pilot.app.current_mode == "intake"

    run_app(desk, script)


def test_keys_typed_ahead_of_a_tab_stay_in_their_field(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await type_burst(pilot, *"clerk1", "tab", *"wrong-pass", "enter")
        await wait_for_workers(pilot, rounds=3)
        assert isinstance(pilot.app.screen, LoginScreen)
        assert pilot.app.screen.query_one("#username", Input).value == "clerk1"  # the password did not land here
        assert "wrong user name or password" in text_of(pilot, "#login-error")

    run_app(desk, script)


def test_log_out_returns_to_the_login_screen_and_another_user_logs_in(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        await type_burst(pilot, *"clerk1", "tab", *"clerk1-pass-1", "enter")
        await wait_for_workers(pilot, rounds=3)
        assert pilot.app.current_mode == "intake"
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen))
        assert pilot.app.actor is None
        assert any("clerk1 已退出登录 logged out" in str(n.message) for n in pilot.app._notifications)
        await pilot.press("f3")  # nobody's areas open while signed out
        await pilot.pause()
        assert isinstance(pilot.app.screen, LoginScreen)
        await type_burst(pilot, *"reviewer1", "tab", *"reviewer1-pass-1", "enter")
        await wait_for_workers(pilot, rounds=3)
        assert pilot.app.actor is not None and pilot.app.actor.username == "reviewer1"
        assert pilot.app.current_mode == "review"
        assert "local · reviewer1" in screen_text(pilot).splitlines()[0]
        await pilot.press("f3")  # the clerk's area left with the clerk
        await pilot.pause()
        assert pilot.app.current_mode == "review"

    run_app(desk, script)


def test_the_command_palette_logs_out_and_switches_user(desk: Desk) -> None:
    async def script(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, WorkstationApp)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "退出登录 Log out" in titles and "切换用户 Switch user" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert pilot.app.screen.query_one(Input).placeholder == "搜索命令 Search for commands…"
        await pilot.press(*"switch user")
        await wait_for_workers(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen))
        assert app.actor is None

    run_app(desk, script, actor=desk.users.actor("clerk1"))


def _tui_classes_with_help() -> list[type]:
    import importlib
    import pkgutil

    import workstation.tui.screens as screens
    import workstation.tui.widgets as widgets

    found: dict[str, type] = {}
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == module.__name__ and "HELP" in vars(value):
                    found[f"{module.__name__}.{value.__name__}"] = value
    return [found[name] for name in sorted(found)]


def _is_chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


@pytest.mark.parametrize("cls", _tui_classes_with_help(), ids=lambda cls: cls.__name__)
def test_f1_help_reads_chinese_first_then_english(cls: type) -> None:
    """One convention wherever a person reads: the heading starts in Chinese, and the text says it in Chinese too."""
    text = str(vars(cls)["HELP"]).strip()
    heading, _, body = text.partition("\n")
    assert heading.startswith("## ") and _is_chinese(heading[3]), heading
    assert any(c.isascii() and c.isalpha() for c in heading), heading  # English second
    assert any(_is_chinese(line.strip()[0]) for line in body.splitlines() if line.strip()), (
        f"{cls.__name__}: no line of the help starts in Chinese"
    )


def test_an_error_that_closes_the_screen_is_written_to_the_desks_log(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise RuntimeError("a widget failed")

    async def script(pilot: Pilot[None]) -> None:
        pilot.app.call_later(fail)
        await pilot.pause()

    with caplog.at_level("ERROR", logger="workstation"), pytest.raises(RuntimeError, match="a widget failed"):
        run_app(desk, script, actor=desk.users.actor("clerk1"))
    record = next(r for r in caplog.records if r.getMessage() == "the terminal UI stopped on an error")
    assert record.exc_info is not None and "a widget failed" in str(record.exc_info[1])
