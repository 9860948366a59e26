"""Resolve a correction case (更正): say what was corrected. Refusals show as one line; dismissed with the case."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.qc import CorrectionView
from workstation.tui.screens import error_line
from workstation.tui.widgets.chrome import KeysFooter


class ResolveCorrectionScreen(ModalScreen[CorrectionView | None]):
    CSS_PATH = "qc.tcss"
    AUTO_FOCUS = "#qc-resolution"
    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "取消 Cancel",
            id="qc_resolve.cancel",
            tooltip="关闭，更正保持未结 Close; the case stays open",
        )
    ]
    HELP = """
## 处理更正 Resolve a correction

写明如何更正，回车提交。

Say what was corrected (the register entry, the certificate…); the case closes with your name and the time.
Only its assignee or a QC inspector may resolve it. `enter` resolves, `escape` closes.
"""

    class Done(Message):
        def __init__(self, correction: CorrectionView) -> None:
            super().__init__()
            self.correction = correction

    def __init__(self, desk: Desk, actor: Actor, correction: CorrectionView) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._correction = correction

    def compose(self) -> ComposeResult:
        case = self._correction
        with Vertical(id="qc-resolve", classes="qc-modal"):
            yield Static(f"处理更正 Resolve correction · {case.number}", classes="qc-modal-title", markup=False)
            yield Static(
                f"承办 assigned to {case.assigned_to} · {case.description}", classes="qc-modal-sub", markup=False
            )
            yield Input(placeholder="处理结果 resolution: what was corrected", id="qc-resolution", max_length=2000)
            yield Static("", id="qc-resolve-error", classes="qc-modal-error", markup=False)
            with Horizontal(classes="qc-modal-buttons"):
                yield Button("取消 Cancel", id="qc-resolve-cancel")
                yield Button("办结 Resolve", variant="primary", id="qc-resolve-save")
        yield KeysFooter()

    @on(Button.Pressed, "#qc-resolve-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#qc-resolve-save")
    @on(Input.Submitted, "#qc-resolution")
    def _save(self) -> None:
        self.query_one("#qc-resolve-error", Static).update("")
        self._resolve(self.query_one("#qc-resolution", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="qc_resolve.resolve")
    def _resolve(self, text: str) -> None:
        self.post_message(self.Done(self._desk.qc.resolve_correction(self._actor, self._correction.id, text)))

    @on(Done)
    def _done(self, message: Done) -> None:
        self.dismiss(message.correction)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.query_one("#qc-resolve-error", Static).update(error_line(event.worker.error))
