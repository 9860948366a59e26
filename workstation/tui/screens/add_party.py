"""Add a party to a dossier at the window (a second buyer, a mortgagee who turned up with their papers)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from workstation.domain.catalogue import Business
from workstation.services.views import NewParty
from workstation.tui.screens.new_dossier import PartyRow


class AddPartyScreen(ModalScreen[NewParty | None]):
    HELP = """
## 添加当事人 Add a party

选择角色与类型，填写名称与证件号，回车添加。

Role, kind (enterprise or individual), name and identifier (身份证号 or 统一社会信用代码). The identifier is
checked when the party is saved; the checklist then asks for that party's materials.
"""
    DEFAULT_CSS = """
    AddPartyScreen { align: center middle; }
    AddPartyScreen > #add-party-box {
        width: 90%; max-width: 120; height: auto; border: round $primary; background: $surface; padding: 0 1;
    }
    AddPartyScreen .party-row {
        layout: grid; grid-size: 2; grid-columns: 1fr 1fr; grid-rows: 3; grid-gutter: 0 1; height: 6;
    }
    AddPartyScreen .party-row > * { width: 100%; }
    AddPartyScreen #add-party-error { color: $text-error; height: auto; }
    AddPartyScreen #add-party-buttons { height: auto; align-horizontal: right; }
    """
    BINDINGS = [
        Binding(
            "ctrl+s", "save", "保存 Save", id="party.save", tooltip="将当事人加入案卷 Add the party to the dossier"
        ),
        Binding("escape", "cancel", "取消 Cancel", id="party.cancel", tooltip="关闭，不添加 Close without adding"),
    ]

    def __init__(self, number: str, business: Business) -> None:
        super().__init__()
        self._number = number
        self._business = business

    def compose(self) -> ComposeResult:
        others = [r for r in self._business.roles if not r.applicant] or list(self._business.roles)
        with Vertical(id="add-party-box"):
            yield Static(f"添加当事人 Add a party to {self._number}", markup=False)
            yield PartyRow(self._business, others[0].name, 1)
            yield Static("", id="add-party-error", markup=False)
            with Horizontal(id="add-party-buttons"):
                yield Button("添加 Add", id="add-party-save", variant="primary")
                yield Button("取消 Cancel", id="add-party-cancel")

    def on_mount(self) -> None:
        self.query_one(".party-name", Input).focus()

    @on(Button.Pressed, "#add-party-save")
    def action_save(self) -> None:
        party = self.query_one(PartyRow).party()
        if party is None:
            self.query_one("#add-party-error", Static).update(
                "请输入当事人名称或证件号 enter the party's name or identifier"
            )
            return
        self.dismiss(party)

    @on(Button.Pressed, "#add-party-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
