"""The administrator's desk: users with their roles and review grants, this station, the audit chain.

Adding a user and changing roles or grants go through UserService (permission checked and audited there);
verifying the audit chain reads every event, so it runs in a thread worker and reports when done.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor, Permission, has_permission
from workstation.services.audit import ChainReport
from workstation.services.desk import Desk
from workstation.services.syncstate import SyncOverview
from workstation.services.users import UserView
from workstation.tui.screens import error_line
from workstation.tui.screens.admin_user import AddUserScreen, EditUserScreen
from workstation.tui.widgets.chrome import AppHeader, KeysFooter

USER_COLUMNS = ("用户 user", "姓名 name", "角色 roles", "线上 online", "线下 offline", "启用 active")
# Fixed widths: the first paint already has its final layout (a table measures new rows only when idle).
USER_WIDTHS = (10, 10, 13, 11, 12, 11)


class UsersTable(DataTable[str]):
    HELP = """
## 用户 Users

本站用户及其角色与审核权限；`n` 新增用户。

Everyone who may log in at this desk, with their roles and review grants (R14: online review for digitised
dossiers, offline review for paper ones). `n` adds a user, `g` changes the selected user's roles and grants.
"""


class AdminScreen(Screen[None]):
    CSS_PATH = "admin.tcss"
    AUTO_FOCUS = "#admin-users"
    BINDINGS = [
        Binding(
            "n",
            "add_user",
            "新用户 Add user",
            id="admin.add_user",
            tooltip="添加用户及其角色授权 Add a user with roles and grants",
        ),
        Binding(
            "g",
            "edit_user",
            "角色 Roles",
            id="admin.edit_user",
            tooltip="更改所选用户的角色与授权 Change the user's roles and grants",
        ),
        Binding(
            "v",
            "verify_audit",
            "核验 Audit",
            id="admin.verify_audit",
            tooltip="核验审计哈希链 Check the audit hash chain",
        ),
        Binding(
            "ctrl+r",
            "refresh",
            "刷新 Reload",
            id="admin.refresh",
            tooltip="重新载入用户和本站 Reload users and station",
            show=False,
        ),
    ]
    HELP = """
## 管理 Admin

用户、站点与审计链。

Users and their roles and review grants, this station, and the audit chain.

- `n` add a user · `g` change the selected user's roles and grants · `v` verify the audit hash chain.
- Roles and grants are checked by the services, whatever this screen shows.
"""

    class Loaded(Message):
        def __init__(self, users: Sequence[UserView], overview: SyncOverview) -> None:
            super().__init__()
            self.users = users
            self.overview = overview

    class Verified(Message):
        def __init__(self, report: ChainReport) -> None:
            super().__init__()
            self.report = report

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._users: dict[str, UserView] = {}
        self._verifying = False

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self._station_text(None), id="admin-station", markup=False)
        yield Static("用户 Users", classes="admin-title", id="admin-users-title", markup=False)
        yield UsersTable(id="admin-users", cursor_type="row", zebra_stripes=True)
        yield Static("审计链 audit chain: not verified in this session (v verifies)", id="admin-audit", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#admin-users", DataTable)
        for label, width in zip(USER_COLUMNS, USER_WIDTHS, strict=True):
            table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        self.load()

    # -- loading ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin.load")
    def load(self) -> None:
        users = self._desk.users.list()
        overview = self._desk.sync.overview()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(users, overview))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._users = {u.username: u for u in message.users}
        table = self.query_one("#admin-users", DataTable)
        keep = _cursor_key(table)
        with self.app.batch_update():
            table.clear()
            for user in message.users:
                table.add_row(*_user_cells(user), key=user.username)
            names = [u.username for u in message.users]
            table.move_cursor(row=names.index(keep) if keep in names else 0)
            self.query_one("#admin-users-title", Static).update(f"用户 Users ({len(names)})")
            self.query_one("#admin-station", Static).update(self._station_text(message.overview))
        self.refresh_bindings()

    def _station_text(self, overview: SyncOverview | None) -> str:
        settings = self._desk.settings
        registry = self._desk.sync.registry or settings.registry_url
        if overview is None:
            state = "…"
        elif registry is None:
            state = "单机 local (no registry)"
        else:
            state = "在线 online" if overview.online else "离线 offline"
        kind = getattr(settings.station_kind, "value", settings.station_kind)
        return (
            f"工作站 station {settings.station_id} · {settings.station_name} · 类型 kind {kind}\n"
            f"登记中心 registry {registry or '—'} · {state}"
        )

    # -- actions ---------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    def action_add_user(self) -> None:
        self.app.push_screen(AddUserScreen(self._desk, self._actor), callback=self._saved)

    def action_edit_user(self) -> None:
        user = self._selected()
        if user is not None:
            self.app.push_screen(EditUserScreen(self._desk, self._actor, user), callback=self._saved)

    @on(DataTable.RowSelected, "#admin-users")
    def _row_selected(self) -> None:
        if self.check_action("edit_user", ()):
            self.action_edit_user()

    def _saved(self, user: UserView | None) -> None:
        if user is not None:
            self.notify(f"已保存 saved {user.username}: {' '.join(user.roles)}", title="admin", markup=False)
            self.load()

    def action_verify_audit(self) -> None:
        self._verifying = True
        self.query_one("#admin-audit", Static).update("审计链 audit chain: verifying…")
        self.refresh_bindings()
        self._verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin.verify")
    def _verify(self) -> None:
        report = self._desk.verify_audit()
        self.post_message(self.Verified(report))

    @on(Verified)
    def _verified(self, message: Verified) -> None:
        self._verifying = False
        report = message.report
        audit_line = self.query_one("#admin-audit", Static)
        if report.ok:
            audit_line.update(f"审计链完整 audit chain: intact, {report.events} events ✓")
            audit_line.set_class(False, "-broken")
        else:
            audit_line.update(f"审计链断裂 audit chain BROKEN at event {report.at_seq}: {report.problem}")
            audit_line.set_class(True, "-broken")
            said = f"审计链断裂 audit chain broken: {report.problem}"
            self.notify(said, title="admin", severity="error", markup=False)
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "admin.verify":
                self._verifying = False
                self.query_one("#admin-audit", Static).update("审计链 audit chain: not verified (the check failed)")
                self.refresh_bindings()
            self.notify(error_line(event.worker.error), title="admin", severity="error", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_user":
            return has_permission(self._actor, Permission.USER_MANAGE)
        if action == "edit_user":
            return has_permission(self._actor, Permission.USER_MANAGE) and self._selected() is not None
        if action == "verify_audit":
            return has_permission(self._actor, Permission.AUDIT_VERIFY) and not self._verifying
        return True

    def _selected(self) -> UserView | None:
        tables = self.query("#admin-users")
        if not tables:
            return None
        key = _cursor_key(self.query_one("#admin-users", DataTable))
        return self._users.get(key) if key is not None else None


def _user_cells(user: UserView) -> tuple[str, ...]:
    return (
        user.username,
        user.display_name,
        " ".join(user.roles),
        "是 yes" if user.can_review_online else "—",
        "是 yes" if user.can_review_offline else "—",
        "是 yes" if user.active else "否 no",
    )


def _cursor_key(table: DataTable[str]) -> str | None:
    if not table.row_count:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value
