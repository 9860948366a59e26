"""One dossier: header, parties, the material checklist and what is missing; submit (受理) from here."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.views import DossierDetail, PartyView, SlotView
from workstation.tui.screens import error_line, local_time
from workstation.tui.widgets.chrome import AppHeader

KIND_LABELS = {"enterprise": "企业", "individual": "个人"}
ID_LABELS = {"uscc": "统一社会信用代码", "id_number": "身份证号"}


class DossierDetailScreen(Screen[None]):
    # The few rules live here because this screen has no .tcss of its own yet.
    CSS = """
    DossierDetailScreen #detail-message-box { height: auto; max-height: 7; display: none; }
    DossierDetailScreen #detail-message { padding: 0 1; }
    DossierDetailScreen #detail-message.-error { color: $text-error; }
    DossierDetailScreen #detail-message.-ok { color: $text-success; }
    DossierDetailScreen #detail-body { padding: 0 1; }
    DossierDetailScreen #detail-body > Static { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("s", "submit", "Submit", id="detail.submit", tooltip="Submit the dossier (受理)"),
        Binding("escape", "back", "Back", id="detail.back", tooltip="Back to the dossier list"),
    ]

    class Shown(Message):
        def __init__(self, detail: DossierDetail, submitted: bool) -> None:
            super().__init__()
            self.detail = detail
            self.submitted = submitted

    def __init__(self, desk: Desk, actor: Actor, number: str) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(id="detail-message-box", can_focus=False):
            yield Static("", id="detail-message", markup=False)
        with VerticalScroll(id="detail-body"):
            yield Static(f"{self._number} loading…", id="detail-header", markup=False)
            yield Static("", id="detail-parties")
            yield Static("", id="detail-slots")
            yield Static("", id="detail-missing")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        self._say("submitting…", ok=True)
        self._submit()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.load")
    def _load(self) -> None:
        self.post_message(self.Shown(self._desk.dossiers.show(self._number), submitted=False))

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.submit")
    def _submit(self) -> None:
        self.post_message(self.Shown(self._desk.dossiers.submit(self._actor, self._number), submitted=True))

    @on(Shown)
    def _shown(self, message: Shown) -> None:
        detail = message.detail
        self.query_one("#detail-header", Static).update(_header(detail))
        self.query_one("#detail-parties", Static).update(_parties(detail.parties))
        self.query_one("#detail-slots", Static).update(_slots(detail.slots))
        self.query_one("#detail-missing", Static).update(_missing(detail.missing))
        if message.submitted:
            self._say(f"submitted (受理): status {detail.status} @ {detail.stage}", ok=True)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._say(error_line(event.worker.error), ok=False)

    def _say(self, text: str, *, ok: bool) -> None:
        self.query_one("#detail-message-box").display = True
        message = self.query_one("#detail-message", Static)
        message.update(text)
        message.set_class(ok, "-ok")
        message.set_class(not ok, "-error")


def _header(detail: DossierDetail) -> Content:
    plan = " → ".join(f"[{stage}]" if stage == detail.stage else stage for stage in detail.stages)
    return Content.assemble(
        (detail.number, "bold"),
        f"  {detail.business} {detail.business_name}\n",
        "status ",
        (f"{detail.status} @ {detail.stage}", "bold"),
        f"   applied {local_time(detail.applied_at)}   channel {detail.channel}\n",
        f"stages {plan}",
    )


def _parties(parties: tuple[PartyView, ...]) -> Content:
    lines = [Content.styled("Parties 当事人", "bold")]
    for party in parties:
        kind = KIND_LABELS.get(party.kind, party.kind)
        line = f"{party.key}  {party.role_label}({kind})  {party.name or '—'}"
        if party.id_value:
            line += f"  {ID_LABELS.get(party.id_type or '', party.id_type or 'ID')} {party.id_value}"
        lines.append(Content(line))
    return Content("\n").join(lines)


def _slots(slots: tuple[SlotView, ...]) -> Content:
    lines = [Content.styled("Materials 材料", "bold")]
    for slot in slots:
        if slot.satisfied:
            mark = ("✔", "$text-success")
        elif slot.waived:
            mark = ("waived", "$text-warning")
        elif slot.required:
            mark = ("✘", "$text-error")
        else:
            mark = ("·", "$text-muted")
        who = f" [{slot.party_key}]" if slot.party_key else ""
        optional = "" if slot.required else " (optional)"
        reason = f" — {slot.waiver_reason}" if slot.waived and slot.waiver_reason else ""
        lines.append(
            Content.assemble(mark, " " * (7 - len(mark[0])), f"{slot.material} {slot.label}{who}{optional}{reason}")
        )
    return Content("\n").join(lines)


def _missing(missing: tuple[str, ...]) -> Content:
    if not missing:
        return Content.styled("Nothing missing 材料齐全", "$text-success")
    lines = [Content.styled(f"Missing 缺少 ({len(missing)})", "bold $text-error")]
    lines.extend(Content(f"- {item}") for item in missing)
    return Content("\n").join(lines)
