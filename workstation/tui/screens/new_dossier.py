"""Open a draft dossier (预受理): business, the applicant, and the other parties the business needs.

The form lists one row per party the business requires besides the applicant (a transfer's seller, say);
`+ party` adds another. Everything is sent in one call that checks every identifier before it writes anything,
so a bad identifier is refused with one line and no dossier is left half made. Dismissed with the 受理号.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static
from textual.worker import Worker, WorkerState

from workstation.domain.catalogue import Business
from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.views import NewParty
from workstation.tui.screens import error_line
from workstation.tui.widgets.chrome import KeysFooter

KIND_LABELS = {"enterprise": "企业 enterprise", "individual": "个人 individual"}
APPLICANT_KINDS = list((label, kind) for kind, label in KIND_LABELS.items())


class PartyRow(Horizontal):
    """One other party: role, kind, name, identifier."""

    def __init__(self, business: Business, role: str, index: int) -> None:
        super().__init__(classes="party-row", id=f"party-{index}")
        self._business = business
        self._role = role
        self.index = index

    def compose(self) -> ComposeResult:
        roles = [(f"{r.label} {r.name}", r.name) for r in self._business.roles]
        kinds = self._business.role(self._role).kinds
        yield Select(roles, value=self._role, allow_blank=False, classes="party-role", id=f"party-{self.index}-role")
        yield Select(
            [(KIND_LABELS.get(k, k), k) for k in kinds],
            value=kinds[0],
            allow_blank=False,
            classes="party-kind",
            id=f"party-{self.index}-kind",
        )
        yield Input(placeholder="名称/姓名 name", classes="party-name", id=f"party-{self.index}-name")
        yield Input(placeholder="身份证号/统一社会信用代码", classes="party-id", id=f"party-{self.index}-id")

    @on(Select.Changed, ".party-role")
    def _role_changed(self, event: Select.Changed) -> None:
        event.stop()
        if not isinstance(event.value, str):
            return
        kinds = self._business.role(event.value).kinds
        kind = self.query_one(".party-kind", Select)
        current = kind.value
        kind.set_options([(KIND_LABELS.get(k, k), k) for k in kinds])
        kind.value = current if current in kinds else kinds[0]

    def party(self) -> NewParty | None:
        """What the row says, or None when its name and identifier are both empty (the row is skipped)."""
        name = self.query_one(".party-name", Input).value.strip()
        identifier = self.query_one(".party-id", Input).value.strip()
        if not name and not identifier:
            return None
        role = self.query_one(".party-role", Select).value
        kind = self.query_one(".party-kind", Select).value
        return NewParty(role=str(role), kind=str(kind), name=name or None, id_value=identifier or None)


class NewDossierScreen(ModalScreen[str | None]):
    CSS_PATH = "new_dossier.tcss"
    AUTO_FOCUS = "#business"
    HELP = """
## 新建案卷 New dossier

选择业务类型与申请人类型，填写申请人及其他当事人，回车创建。

Choose the business (业务类型), then the applicant: kind, name and identifier (统一社会信用代码 for an enterprise,
身份证号 for a person). The other parties the business needs get a row each (e.g. the seller of a transfer);
`+ party` adds one more. A row left empty is skipped. Identifiers are checked before anything is created.
"""
    BINDINGS = [
        Binding(
            "escape", "cancel", "取消 Cancel", id="new_dossier.cancel", tooltip="关闭，不新建 Close without creating"
        ),
        Binding("ctrl+s", "create", "新建 Create", id="new_dossier.create", tooltip="新建此案卷 Open the dossier"),
    ]

    class Created(Message):
        def __init__(self, number: str) -> None:
            super().__init__()
            self.number = number

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._rows = 0

    def compose(self) -> ComposeResult:
        businesses = [(f"{b.code}  {b.name}", b.code) for b in self._desk.catalogue.businesses.values()]
        with VerticalScroll(id="new-dossier"):
            yield Static("新建案卷 New dossier (预受理)", id="new-dossier-title")
            yield Select(businesses, prompt="业务类型 business", id="business")
            yield Static("申请人 Applicant", classes="section")
            with Horizontal(id="applicant"):
                yield Select(APPLICANT_KINDS, value="enterprise", allow_blank=False, id="applicant-kind")
                yield Input(placeholder="申请人名称 applicant name", id="applicant-name")
                yield Input(placeholder="身份证号/统一社会信用代码", id="applicant-id")
            yield Static("其他当事人 Other parties", classes="section", id="parties-title")
            yield Vertical(id="parties")
            yield Static("", id="new-dossier-error", markup=False)
            with Horizontal(id="new-dossier-buttons"):
                yield Button("+ 添加当事人 party", id="add-party", disabled=True)
                yield Button("取消 Cancel", id="cancel")
                yield Button("创建 Create", variant="primary", id="create")
        yield KeysFooter()

    def _business(self) -> Business | None:
        code = self.query_one("#business", Select).value
        return self._desk.catalogue.businesses.get(code) if isinstance(code, str) else None

    @on(Select.Changed, "#business")
    async def _business_changed(self) -> None:
        """The rows of the parties this business needs besides the applicant."""
        parties = self.query_one("#parties", Vertical)
        await parties.remove_children()
        business = self._business()
        self.query_one("#add-party", Button).disabled = business is None
        if business is None:
            return
        applicant = next((r for r in business.roles if r.applicant), business.roles[0])
        allowed = business.applicant_kinds or applicant.kinds
        kind = self.query_one("#applicant-kind", Select)
        current = kind.value
        kind.set_options([(KIND_LABELS.get(k, k), k) for k in allowed])
        kind.value = current if current in allowed else allowed[0]
        rows = []
        for role in business.roles:
            needed = role.min_count - (1 if role is applicant else 0)
            for _ in range(max(needed, 0)):
                self._rows += 1
                rows.append(PartyRow(business, role.name, self._rows + 1))
        if rows:
            await parties.mount_all(rows)

    @on(Button.Pressed, "#add-party")
    async def _add_party(self) -> None:
        business = self._business()
        if business is None:
            return
        applicant = next((r for r in business.roles if r.applicant), business.roles[0])
        role = next((r for r in business.roles if r is not applicant), applicant)
        self._rows += 1
        row = PartyRow(business, role.name, self._rows + 1)
        await self.query_one("#parties", Vertical).mount(row)
        row.query_one(".party-name", Input).focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#create")
    @on(Input.Submitted)
    def action_create(self) -> None:
        if self.query_one("#create", Button).disabled:
            return  # already creating; Enter must not open a second dossier
        business = self._business()
        kind = self.query_one("#applicant-kind", Select).value
        if business is None or not isinstance(kind, str):
            self._show_error("请选择业务类型 choose a business type")
            return
        others = [party for row in self.query(PartyRow) if (party := row.party()) is not None]
        self._show_error("")
        self.query_one("#create", Button).disabled = True
        self._open(
            business.code,
            kind,
            self.query_one("#applicant-name", Input).value.strip() or None,
            self.query_one("#applicant-id", Input).value.strip() or None,
            others,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="new_dossier.create")
    def _open(self, business: str, kind: str, name: str | None, identifier: str | None, others: list[NewParty]) -> None:
        detail = self._desk.dossiers.new(
            self._actor,
            business=business,
            applicant_kind=kind,
            applicant_name=name,
            applicant_id=identifier,
            parties=others,
        )
        self.post_message(self.Created(detail.number))

    @on(Created)
    def _created(self, message: Created) -> None:
        self.dismiss(message.number)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.query_one("#create", Button).disabled = False
        if event.state == WorkerState.ERROR:
            self._show_error(error_line(event.worker.error))

    def _show_error(self, text: str) -> None:
        self.query_one("#new-dossier-error", Static).update(text)
