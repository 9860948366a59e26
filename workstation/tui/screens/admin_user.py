"""Add a user, or change a user's roles and review grants (R14). The service validates; its refusal is one line."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, SelectionList, Static
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor, UserRole
from workstation.services.desk import Desk
from workstation.services.users import UserView
from workstation.tui.screens import error_line
from workstation.tui.widgets.chrome import KeysFooter

ROLE_LABELS = {
    UserRole.CLERK: "窗口受理 clerk",
    UserRole.REVIEWER: "审核/登簿 reviewer",
    UserRole.QC: "质检 qc",
    UserRole.ADMIN: "管理 admin",
}

_HELP = """
## 角色与权限 Roles and grants

选择角色；审核人员另需网上或线下审核权限。

- **clerk** takes in and digitises dossiers · **reviewer** reviews and registers (登簿) · **qc** inspects after
  登簿 · **admin** manages users and stations (not a superuser: an admin who reviews also needs reviewer).
- **online / offline review** (R14): who may review digitised (online) and paper (offline) dossiers.

`space` ticks a role; `ctrl+s` saves, `escape` closes without saving.
"""


class _UserForm(ModalScreen[UserView | None]):
    CSS_PATH = "admin.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "取消 Cancel", id="admin_user.cancel", tooltip="关闭，不保存 Close without saving"),
        Binding("ctrl+s", "save", "保存 Save", id="admin_user.save", tooltip="保存用户 Save the user"),
    ]
    HELP = _HELP

    class Saved(Message):
        def __init__(self, user: UserView) -> None:
            super().__init__()
            self.user = user

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor

    def roles_and_grants(self, user: UserView | None) -> ComposeResult:
        chosen = set(user.roles) if user is not None else set()
        yield Static("角色 roles", classes="admin-label")
        yield SelectionList[str](
            *((label, role.value, role.value in chosen) for role, label in ROLE_LABELS.items()),
            id="admin-user-roles",
        )
        with Horizontal(classes="admin-grants"):
            online = user is not None and user.can_review_online
            offline = user is not None and user.can_review_offline
            yield Checkbox("线上审核 online review", online, id="admin-user-online", compact=True)
            yield Checkbox("线下审核 offline review", offline, id="admin-user-offline", compact=True)
        yield Static("", id="admin-user-error", classes="admin-error", markup=False)
        with Horizontal(classes="admin-buttons"):
            yield Button("取消 Cancel", id="admin-user-cancel", compact=True)
            yield Button("保存 Save", variant="primary", id="admin-user-save", compact=True)

    def chosen_roles(self) -> list[str]:
        return list(self.query_one("#admin-user-roles", SelectionList).selected)

    def grants(self) -> tuple[bool, bool]:
        return (
            self.query_one("#admin-user-online", Checkbox).value,
            self.query_one("#admin-user-offline", Checkbox).value,
        )

    def show_error(self, text: str) -> None:
        self.query_one("#admin-user-error", Static).update(text)

    @on(Button.Pressed, "#admin-user-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#admin-user-save")
    def _save_pressed(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        raise NotImplementedError

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self.dismiss(message.user)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.show_error(error_line(event.worker.error))


class AddUserScreen(_UserForm):
    AUTO_FOCUS = "#admin-user-name"

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-user", classes="admin-modal"):
            yield Static("新增用户 New user", classes="admin-modal-title")
            yield Input(
                placeholder="用户名 user name (a-z, 0-9, _ . -)", id="admin-user-name", max_length=32, compact=True
            )
            yield Input(
                placeholder="姓名 display name（可选 optional）", id="admin-user-display", max_length=64, compact=True
            )
            with Horizontal(classes="admin-passwords"):
                yield Input(placeholder="密码 password", password=True, id="admin-user-password", compact=True)
                yield Input(placeholder="再次输入 again", password=True, id="admin-user-password2", compact=True)
            yield from self.roles_and_grants(None)
        yield KeysFooter()

    @on(Input.Submitted)
    def action_save(self) -> None:
        password = self.query_one("#admin-user-password", Input).value
        if password != self.query_one("#admin-user-password2", Input).value:
            self.show_error("两次密码不一致 the two passwords differ; type the same password twice")
            return
        self.show_error("")
        online, offline = self.grants()
        self._add(
            self.query_one("#admin-user-name", Input).value.strip(),
            self.query_one("#admin-user-display", Input).value.strip(),
            password,
            self.chosen_roles(),
            online,
            offline,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin_user.add")
    def _add(self, username: str, display: str, password: str, roles: list[str], online: bool, offline: bool) -> None:
        user = self._desk.users.add(
            self._actor,
            username=username,
            password=password,
            roles=roles,
            display_name=display,
            can_review_online=online,
            can_review_offline=offline,
        )
        self.post_message(self.Saved(user))


class EditUserScreen(_UserForm):
    AUTO_FOCUS = "#admin-user-roles"

    def __init__(self, desk: Desk, actor: Actor, user: UserView) -> None:
        super().__init__(desk, actor)
        self._user = user

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-user", classes="admin-modal"):
            yield Static(f"角色与权限 Roles and grants · {self._user.username}", classes="admin-modal-title")
            yield from self.roles_and_grants(self._user)
        yield KeysFooter()

    def action_save(self) -> None:
        self.show_error("")
        online, offline = self.grants()
        self._update(self.chosen_roles(), online, offline)

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin_user.update")
    def _update(self, roles: list[str], online: bool, offline: bool) -> None:
        user = self._desk.users.update(
            self._actor, self._user.username, roles=roles, can_review_online=online, can_review_offline=offline
        )
        self.post_message(self.Saved(user))
