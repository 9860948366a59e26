"""Record one QC inspection (R3–R4): pass, minor or major, the defects found and a note.

The service checks everything (a defect or note for a finding, none for a pass, the registrar not inspecting
their own work); its refusal shows as one line here and the modal stays open. Dismissed with what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static, TextArea
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.qc import CorrectionView, QcCheckView
from workstation.tui.screens import error_line, local_time
from workstation.tui.widgets.chrome import KeysFooter

BASIS = {"full": "全检 full", "sampled": "抽检 sampled"}
RESULTS = (
    ("pass", "合格 pass"),
    ("minor", "一般差错 minor (does not affect ownership)"),
    ("major", "重大差错 major (affects ownership: opens a 更正 correction)"),
)


@dataclass(frozen=True)
class Recorded:
    check: QcCheckView
    correction: CorrectionView | None  # opened by a major result


class QcResultScreen(ModalScreen[Recorded | None]):
    CSS_PATH = "qc.tcss"
    AUTO_FOCUS = "#qc-result-kind"
    BINDINGS = [
        Binding(
            "escape", "cancel", "取消 Cancel", id="qc_result.cancel", tooltip="关闭，不记录 Close without recording"
        ),
        Binding("ctrl+s", "save", "记录 Record", id="qc_result.save", tooltip="记录此结果 Record this result"),
    ]
    HELP = """
## 质检结果 QC result

选择结果，列出问题，提交。

- **pass** 合格: nothing wrong; lists no defects.
- **minor** 一般差错: a defect that does not affect ownership; name it, or say it in the note.
- **major** 重大差错: affects ownership; a correction case (更正) opens at once, assigned to the registrar.

Defects one per line. `ctrl+s` records, `escape` closes without recording.
"""

    class Done(Message):
        def __init__(self, recorded: Recorded) -> None:
            super().__init__()
            self.recorded = recorded

    def __init__(self, desk: Desk, actor: Actor, check: QcCheckView) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._check = check

    def compose(self) -> ComposeResult:
        check = self._check
        registered = local_time(check.registered_at) if check.registered_at else "—"
        with Vertical(id="qc-result", classes="qc-modal"):
            yield Static(f"质检 QC · {check.number} · {check.business}", classes="qc-modal-title", markup=False)
            yield Static(
                f"{BASIS.get(check.basis, check.basis)} · 登簿 registered {registered} by {check.registrar or '—'}",
                classes="qc-modal-sub",
                markup=False,
            )
            with RadioSet(id="qc-result-kind"):
                for index, (value, label) in enumerate(RESULTS):
                    yield RadioButton(label, value=index == 0, id=f"qc-result-{value}")
            yield Static("差错 defects（每行一项 one per line）", classes="qc-modal-label")
            yield TextArea(id="qc-result-defects", soft_wrap=True, show_line_numbers=False)
            yield Input(placeholder="说明 note", id="qc-result-note", max_length=2000)
            yield Static("", id="qc-result-error", classes="qc-modal-error", markup=False)
            with Horizontal(classes="qc-modal-buttons"):
                yield Button("取消 Cancel", id="qc-result-cancel")
                yield Button("记录 Record", variant="primary", id="qc-result-save")
        yield KeysFooter()

    def result_value(self) -> str:
        pressed = self.query_one("#qc-result-kind", RadioSet).pressed_index
        return RESULTS[max(pressed, 0)][0]

    @on(Button.Pressed, "#qc-result-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#qc-result-save")
    @on(Input.Submitted, "#qc-result-note")
    def action_save(self) -> None:
        defects = [line for line in self.query_one("#qc-result-defects", TextArea).text.splitlines() if line.strip()]
        note = self.query_one("#qc-result-note", Input).value
        self.query_one("#qc-result-error", Static).update("")
        self.query_one("#qc-result-save", Button).disabled = True
        self._record(self.result_value(), defects, note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="qc_result.record")
    def _record(self, result: str, defects: list[str], note: str) -> None:
        view = self._desk.qc.record(self._actor, self._check.id, result, defects=defects, notes=note)
        correction = self._desk.qc.correction(view.correction_id) if view.correction_id else None
        self.post_message(self.Done(Recorded(view, correction)))

    @on(Done)
    def _done(self, message: Done) -> None:
        self.dismiss(message.recorded)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.query_one("#qc-result-error", Static).update(error_line(event.worker.error))
            self.query_one("#qc-result-save", Button).disabled = False
