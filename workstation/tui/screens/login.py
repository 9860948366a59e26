"""Log in against the desk's user service; the screen is dismissed with the authenticated Actor."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Static
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.tui.screens import error_line
from workstation.tui.widgets.chrome import KeysFooter


class LoginScreen(Screen[Actor]):
    CSS_PATH = "login.tcss"
    AUTO_FOCUS = "#username"
    # Enter after the user name moves on to the password when the app takes the key (a priority binding), so
    # a password typed right behind it lands in the password field, not after the name.
    BINDINGS = [
        Binding("enter", "to_password", "密码 Password", id="login.to_password", show=False, priority=True),
    ]

    class Authenticated(Message):
        def __init__(self, actor: Actor) -> None:
            super().__init__()
            self.actor = actor

    def __init__(self, desk: Desk, *, hint: str | None = None) -> None:
        super().__init__()
        self._desk = desk
        self._hint = hint

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="login-form"):
            yield Static("登录 Log in", id="login-title")
            yield Input(placeholder="用户名 user name", id="username")
            yield Input(placeholder="密码 password", password=True, id="password")
            yield Button("登录 Log in", variant="primary", id="login")
            yield Static("", id="login-error", markup=False)
            if self._hint:
                yield Static(self._hint, id="login-hint", markup=False)
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "to_password":  # else Enter goes on to the field: the password's submits
            focused = self.focused
            return focused is not None and focused.id == "username" and not self.query_one("#password", Input).value
        return True

    def action_to_password(self) -> None:
        # set_focus now, not Widget.focus(): that one waits for the queue, behind the keys typed ahead
        self.set_focus(self.query_one("#password", Input))

    @on(Input.Submitted, "#username")
    def _username_entered(self) -> None:
        self._submit()  # the password is already typed (else Enter moved to it)

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login")
    def _submit(self) -> None:
        if self.query_one("#login", Button).disabled:
            return  # a check is already running; Enter must not start a second one
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not username or not password:
            self._show_error("请输入用户名和密码 enter your user name and password")
            return
        self._show_error("")
        self.query_one("#login", Button).disabled = True
        self._authenticate(username, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login")
    def _authenticate(self, username: str, password: str) -> None:
        self.post_message(self.Authenticated(self._desk.users.authenticate(username, password)))

    @on(Authenticated)
    def _authenticated(self, message: Authenticated) -> None:
        self.dismiss(message.actor)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one("#login", Button).disabled = False
        if event.state == WorkerState.ERROR:
            password = self.query_one("#password", Input)
            password.clear()
            password.focus()
            self._show_error(error_line(event.worker.error))

    def _show_error(self, text: str) -> None:
        self.query_one("#login-error", Static).update(text)
