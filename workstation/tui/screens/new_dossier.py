"""Open a draft dossier (预受理): business, applicant kind, name and identifier. Dismissed with the 受理号."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Select, Static
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.tui.screens import error_line

APPLICANT_KINDS = [("enterprise 企业", "enterprise"), ("individual 个人", "individual")]


class NewDossierScreen(ModalScreen[str | None]):
    # The few rules live here because this modal has no .tcss of its own yet.
    CSS = """
    NewDossierScreen { align: center middle; }
    NewDossierScreen #new-dossier { width: 76; max-width: 100%; height: auto; border: round $primary;
        padding: 0 1; background: $surface; }
    NewDossierScreen #new-dossier-title { text-style: bold; }
    NewDossierScreen #new-dossier-error { color: $text-error; height: auto; }
    NewDossierScreen #new-dossier-buttons { height: auto; align-horizontal: right; }
    NewDossierScreen #new-dossier-buttons Button { margin-left: 1; }
    """
    AUTO_FOCUS = "#business"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_dossier.cancel", tooltip="Close without creating")]

    class Created(Message):
        def __init__(self, number: str) -> None:
            super().__init__()
            self.number = number

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor

    def compose(self) -> ComposeResult:
        businesses = [(f"{b.code}  {b.name}", b.code) for b in self._desk.catalogue.businesses.values()]
        with Vertical(id="new-dossier"):
            yield Static("New dossier 新建案卷 (预受理)", id="new-dossier-title")
            yield Select(businesses, prompt="business 业务类型", id="business")
            yield Select(APPLICANT_KINDS, value="enterprise", allow_blank=False, id="applicant-kind")
            yield Input(placeholder="applicant name 申请人名称", id="applicant-name")
            yield Input(placeholder="身份证号 / 统一社会信用代码 (optional)", id="applicant-id")
            yield Static("", id="new-dossier-error", markup=False)
            with Horizontal(id="new-dossier-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create 创建", variant="primary", id="create")
        yield Footer()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#create")
    @on(Input.Submitted)
    def _create(self) -> None:
        if self.query_one("#create", Button).disabled:
            return  # already creating; Enter must not open a second dossier
        business = self.query_one("#business", Select).value
        kind = self.query_one("#applicant-kind", Select).value
        if not isinstance(business, str) or not isinstance(kind, str):
            self._show_error("choose a business type")
            return
        self._show_error("")
        self.query_one("#create", Button).disabled = True
        self._open(
            business,
            kind,
            self.query_one("#applicant-name", Input).value.strip() or None,
            self.query_one("#applicant-id", Input).value.strip() or None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="new_dossier.create")
    def _open(self, business: str, kind: str, name: str | None, identifier: str | None) -> None:
        detail = self._desk.dossiers.new(
            self._actor, business=business, applicant_kind=kind, applicant_name=name, applicant_id=identifier
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
