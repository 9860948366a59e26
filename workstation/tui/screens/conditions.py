"""Choose a dossier's conditions (情形): 夫妻共有, 划拨土地, what a 变更 or 更正 changes… The checklist follows them.

A modal with one checkbox per condition of the business; Enter (or the 确定 button) returns the chosen names,
Escape returns None. The business's "at least one of" groups are shown, and checked where it is cheap (a group
with nothing chosen is refused in one line and the choice stays on screen); the service checks everything again.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static

from workstation.domain.catalogue import Business


class ConditionsScreen(ModalScreen[list[str] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "取消 Cancel", id="conditions.cancel", tooltip="不更改 Keep the conditions"),
        Binding("ctrl+s", "save", "确定 Save", id="conditions.save", tooltip="按所选情形更新 Apply the choice"),
    ]
    DEFAULT_CSS = """
    ConditionsScreen { align: center middle; }
    ConditionsScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    ConditionsScreen #conditions-title { text-style: bold; }
    ConditionsScreen SelectionList { height: auto; max-height: 14; }
    ConditionsScreen #conditions-error { color: $text-error; height: auto; }
    ConditionsScreen #conditions-buttons { height: auto; }
    """

    def __init__(self, business: Business, chosen: tuple[str, ...]) -> None:
        super().__init__()
        self._business = business
        self._chosen = chosen

    def compose(self) -> ComposeResult:
        biz = self._business
        with Vertical():
            yield Static(f"情形 Conditions · {biz.code} {biz.name}", id="conditions-title", markup=False)
            yield SelectionList[str](
                *((f"{label}  {name}", name, name in self._chosen) for name, label in biz.conditions.items()),
                id="conditions-list",
            )
            groups = [
                "至少选择一项 choose at least one of: " + "、".join(biz.conditions[n] for n in group)
                for group in biz.require_one_of
            ]
            yield Static("\n".join(groups) or "空格勾选，Ctrl+S 确定 space ticks, ctrl+s applies", markup=False)
            yield Static("", id="conditions-error", markup=False)
            with Horizontal(id="conditions-buttons"):
                yield Button("确定 Save", id="conditions-save", variant="primary")
                yield Button("取消 Cancel", id="conditions-cancel")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(Button.Pressed, "#conditions-save")
    def action_save(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        for group in self._business.require_one_of:
            if not set(group) & set(chosen):
                labels = "、".join(self._business.conditions[n] for n in group)
                self.query_one("#conditions-error", Static).update(f"至少选择一项 choose at least one of: {labels}")
                return
        self.dismiss([name for name in self._business.conditions if name in chosen])

    @on(Button.Pressed, "#conditions-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
