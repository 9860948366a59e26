"""登簿 and 缴费发证 (stages 3 and 4): the approved dossiers waiting for 登簿, and the registered ones on their way
to 发证 with their certificate numbers, fees and delivery.

A registrar (REGISTER) sees the first list, a window clerk (ISSUE) the second; someone with both sees both, and
the keys act on the list that has the focus. Every service call runs in a thread worker; a refusal (unpaid, not
collected, a seizure on the unit) comes back as one line, in the modal that asked when there is one. Certificates,
electronic certificates and 票据 are written as PDFs under `<data dir>/prints/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.delivery import DELIVERY_STATUSES, METHODS, TERMINAL_STATUSES
from workstation.domain.errors import CatalogueError
from workstation.domain.permissions import Actor, Permission, has_permission
from workstation.services.desk import Desk
from workstation.services.settle import ChargeView, DeliveryView
from workstation.tui.screens import error_line, local_time
from workstation.tui.widgets.chrome import AppHeader, KeysFooter

LISTED = 500  # rows per list: an office's day of work, many times over
WAITING_COLUMNS = ("受理号", "业务 business", "通过 approved (UTC+8)")
WAITING_WIDTHS = (20, 24, 21)
# What the window clerk acts on comes first, so 80 columns show number, fee and delivery.
REGISTERED_COLUMNS = ("受理号", "费用 fee", "交付 delivery", "证书号 certificate", "业务 business")
REGISTERED_WIDTHS = (20, 17, 15, 34, 20)
PAY_METHODS = (("扫码 QR code", "qr"), ("网上 online", "online"), ("现金 cash", "cash"))
COLLECTED_AT = ("window", "community")
SHORT_METHODS = {"window": "窗口", "community": "便民点", "ems": "邮寄"}

_Result = TypeVar("_Result")


def print_path(data_dir: Path, number: str, kind: str) -> Path:
    """Where a printed document of dossier `number` goes: `<data dir>/prints/<number>-<kind>.pdf`."""
    return Path(data_dir) / "prints" / f"{number}-{kind}.pdf"


def certificate_kind(electronic: bool, index: int) -> str:
    """The `kind` of a certificate's print: the first of a dossier's plain, the next ones numbered."""
    kind = "e-certificate" if electronic else "certificate"
    return kind if index == 0 else f"{kind}-{index + 1}"


def shown_path(desk: Desk, path: Path) -> str:
    """The path as the desk names it: inside the data folder, so it reads the same on every desk."""
    try:
        return path.relative_to(Path(desk.settings.data_dir)).as_posix() + " (数据目录 in the data folder)"
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Waiting:
    """An approved dossier waiting for 登簿."""

    number: str
    business: str
    approved_at: datetime


@dataclass(frozen=True)
class Registered:
    """A registered dossier between 登簿 and 发证."""

    number: str
    business: str
    certificates: tuple[str, ...]
    charge: ChargeView
    delivery: DeliveryView | None

    @property
    def delivery_status(self) -> str | None:
        return None if self.delivery is None else str(self.delivery.state.get("status") or "")

    @property
    def payable(self) -> bool:
        return bool(self.charge.due) and not self.charge.free and not self.charge.paid

    @property
    def deliverable(self) -> bool:
        return bool(self.certificates) and self.delivery_status not in TERMINAL_STATUSES


def fee_cell(charge: ChargeView) -> str:
    if not charge.due:
        return "待核定 unassessed"
    if charge.free:
        return "免收 free"
    return f"{charge.due} {'已缴 paid' if charge.paid else '未缴 unpaid'}"


def delivery_cell(delivery: DeliveryView | None) -> str:
    """Short, for the table: 窗口 待领取, 邮寄 已寄出…"""
    if delivery is None:
        return "未选 not chosen"
    method, status = str(delivery.state.get("method")), str(delivery.state.get("status"))
    if status == "ready":
        label = "待领取" if method in COLLECTED_AT else "待寄出"
    else:
        label = DELIVERY_STATUSES.get(status, status)
    return f"{SHORT_METHODS.get(method, method)} {label}"


def delivery_line(state: Mapping[str, Any]) -> str:
    """In full, for the delivery modal: how, where and how far."""
    if not state:
        return "未选领取方式 not chosen yet"
    method, status = str(state.get("method") or ""), str(state.get("status") or "")
    parts = [METHODS.get(method, method), DELIVERY_STATUSES.get(status, status)]
    parts += [str(state[key]) for key in ("point", "address", "recipient", "phone", "waybill") if state.get(key)]
    return " · ".join(parts)


class WaitingTable(DataTable[str]):
    HELP = """
## 待登簿 Awaiting 登簿

审核通过、等待登簿的案卷，最早通过的在前；`b` 以您的名义登簿。

Approved dossiers waiting for 登簿, oldest approval first. `b` registers the selected one under your name
(登簿人) once you confirm; the certificate number(s) it allocates are shown.
"""


class RegisteredTable(DataTable[str]):
    HELP = """
## 待发证 Awaiting 发证

已登簿的案卷：证书号、费用、交付方式。`p` 缴费，`d` 交付，`i` 发证。

Registered dossiers with their certificate numbers, fee and delivery. `p` records the payment, `d` the way the
certificate reaches the applicant (choose, collected with ID, EMS waybill), `i` issues: 发证 is refused, in one
line, while a fee is unpaid or the certificate is neither collected nor shipped.
`c` prints the certificate, `e` the signed electronic one, `f` the 票据.
"""


class IssueScreen(Screen[None]):
    CSS_PATH = "issue.tcss"
    AUTO_FOCUS = "DataTable"
    BINDINGS = [
        Binding(
            "b", "register", "登簿 Register", id="issue.register", tooltip="所选案卷登簿 Register the selected dossier"
        ),
        Binding("p", "pay", "缴费 Pay", id="issue.pay", tooltip="记录缴费 Record the payment of the fee due"),
        Binding(
            "d",
            "deliver",
            "交付 Deliver",
            id="issue.deliver",
            tooltip="领取方式、领取或邮寄 How the certificate reaches the applicant",
        ),
        Binding("i", "issue", "发证 Issue", id="issue.issue", tooltip="发放证书，办结 Issue: the dossier is done"),
        Binding(
            "c", "print_certificate", "证书 Certificate", id="issue.certificate", tooltip="打印证书 PDF Certificate PDF"
        ),
        Binding(
            "e",
            "print_certificate(True)",
            "电子证照 E-cert",
            id="issue.e_certificate",
            tooltip="签名的电子证照 PDF The signed electronic certificate",
        ),
        Binding(
            "f", "print_receipt", "票据 Receipt", id="issue.fee_receipt", tooltip="打印缴费票据 The fee receipt PDF"
        ),
        Binding(
            "r", "refresh", "刷新 Refresh", id="issue.refresh", tooltip="重新载入列表 Reload the lists", show=False
        ),
    ]
    HELP = """
## 登簿发证 Register & Issue

登簿（登簿人）与缴费发证（窗口）：`b` 登簿，`p` 缴费，`d` 交付，`i` 发证。

- 待登簿 (registrars): `b` registers the selected approved dossier and shows its certificate number(s).
- 待发证 (window clerks): `p` pay · `d` deliver · `i` issue · `c`/`e` certificate / electronic · `f` 票据.
- `r` reloads; the keys act on the list that has the focus (`tab` moves between the lists).
"""

    class Loaded(Message):
        def __init__(self, waiting: list[Waiting] | None, registered: list[Registered] | None) -> None:
            super().__init__()
            self.waiting = waiting
            self.registered = registered

    class Done(Message):
        """A change went through: say so, and reload."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Printed(Message):
        def __init__(self, paths: Sequence[Path]) -> None:
            super().__init__()
            self.paths = tuple(paths)

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._registrar = has_permission(actor, Permission.REGISTER)
        self._issuer = has_permission(actor, Permission.ISSUE)
        self._waiting: dict[str, Waiting] = {}
        self._registered: dict[str, Registered] = {}
        self._list = "issue-waiting" if self._registrar else "issue-registered"  # the list the keys act on

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(f"{self._actor.username} · 加载中 loading…", id="issue-summary", markup=False)
        if self._registrar:
            with Vertical(id="issue-waiting-pane", classes="issue-pane"):
                yield Static("待登簿 Awaiting 登簿", classes="section", markup=False)
                yield WaitingTable(id="issue-waiting", cursor_type="row", zebra_stripes=True)
        if self._issuer:
            with Vertical(id="issue-registered-pane", classes="issue-pane"):
                yield Static("待发证 Awaiting 发证", classes="section", markup=False)
                yield RegisteredTable(id="issue-registered", cursor_type="row", zebra_stripes=True)
        yield Static("", id="issue-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        for selector, labels, widths in (
            ("#issue-waiting", WAITING_COLUMNS, WAITING_WIDTHS),
            ("#issue-registered", REGISTERED_COLUMNS, REGISTERED_WIDTHS),
        ):
            for table in self.query(selector).results(DataTable):
                for label, width in zip(labels, widths, strict=True):
                    table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        self.load()

    # -- loading ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.load")
    def load(self) -> None:
        waiting = registered = None
        if self._registrar:
            waiting = [
                Waiting(number, self._business_name(code), at)
                for number, code, at in self._desk.review.awaiting_register(LISTED)
            ]
        if self._issuer:
            summaries = self._desk.dossiers.list(status="registered", limit=LISTED)
            registered = [
                self._registered_row(s.number, s.business_name)
                for s in sorted(summaries, key=lambda s: (s.applied_at, s.number))
            ]
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(waiting, registered))

    def _registered_row(self, number: str, business: str) -> Registered:
        certificates = tuple(e.cert_number for e in self._desk.register.entries_of(number) if e.cert_number)
        return Registered(
            number, business, certificates, self._desk.settle.charge(number), self._desk.settle.delivery(number)
        )

    def _business_name(self, code: str) -> str:
        try:
            return self._desk.catalogue.business(code).name
        except CatalogueError:
            return code

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        with self.app.batch_update():
            if message.waiting is not None:
                self._waiting = {w.number: w for w in message.waiting}
                _refill(
                    self.query_one("#issue-waiting", DataTable),
                    [(w.number, (w.number, w.business, local_time(w.approved_at))) for w in message.waiting],
                )
            if message.registered is not None:
                self._registered = {r.number: r for r in message.registered}
                _refill(
                    self.query_one("#issue-registered", DataTable),
                    [
                        (
                            r.number,
                            (
                                r.number,
                                fee_cell(r.charge),
                                delivery_cell(r.delivery),
                                "、".join(r.certificates) or "—",
                                r.business,
                            ),
                        )
                        for r in message.registered
                    ],
                )
        parts = [self._actor.username]
        if message.waiting is not None:
            parts.append(f"待登簿 awaiting 登簿 {len(message.waiting)}")
        if message.registered is not None:
            parts.append(f"待发证 awaiting 发证 {len(message.registered)}")
        self.query_one("#issue-summary", Static).update(" · ".join(parts))
        self.refresh_bindings()

    # -- 登簿 ------------------------------------------------------------------------------------------

    def action_register(self) -> None:
        waiting = self._selected_waiting()
        if waiting is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._say(f"{waiting.number}: 登簿中 registering…")
                self._register(waiting.number)

        self.app.push_screen(RegisterConfirm(waiting, self._actor.username), confirmed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.register")
    def _register(self, number: str) -> None:
        done = self._desk.review.register(self._actor, number)
        certificates = "、".join(done.get("certificates") or ())
        said = f"{number}: 已登簿 registered"
        if certificates:
            said += f"，证书号 certificate {certificates}"
        elif self._desk.has_registry:  # the registry numbers the certificates; its change feed brings them here
            said += "，证书号由中心分配 the registry allocates the certificate number"
        else:
            said += "，不发证书 no certificate for this business"
        if done.get("qc"):
            said += f"; 质检 QC {done['qc']}"
        self.post_message(self.Done(said))

    # -- 缴费, 交付, 发证 ----------------------------------------------------------------------------------

    def action_pay(self) -> None:
        row = self._selected_registered()
        if row is not None:
            self.app.push_screen(PayModal(self._desk, self._actor, row.number, row.charge), self._paid)

    def _paid(self, view: ChargeView | None) -> None:
        if view is not None:
            self.post_message(
                self.Done(f"{view.number}: 已缴费 paid {view.due} 元，票据 receipt {view.receipt_number}")
            )

    def action_deliver(self) -> None:
        row = self._selected_registered()
        if row is not None:
            self.app.push_screen(DeliveryModal(self._desk, self._actor, row.number, row.delivery), self._delivered)

    def _delivered(self, view: DeliveryView | None) -> None:
        if view is not None:
            self.post_message(self.Done(f"{view.number}: 交付 delivery {delivery_line(view.state)}"))

    def action_issue(self) -> None:
        row = self._selected_registered()
        if row is not None:
            self._say(f"{row.number}: 发证中 issuing…")
            self._issue(row.number)

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.issue")
    def _issue(self, number: str) -> None:
        done = self._desk.review.issue(self._actor, number)
        self.post_message(self.Done(f"{number}: 已发证 issued ({done['status']})"))

    # -- printing ----------------------------------------------------------------------------------------

    def action_print_certificate(self, electronic: bool = False) -> None:
        row = self._selected_registered()
        if row is not None and row.certificates:
            self._print_certificates(row.number, row.certificates, electronic)

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.print")
    def _print_certificates(self, number: str, certificates: tuple[str, ...], electronic: bool) -> None:
        from workstation.services.documents import write_certificate  # the PDF and signing code: on the first print

        data_dir = Path(self._desk.settings.data_dir)
        paths = [
            write_certificate(
                self._desk,
                self._actor,
                cert,
                print_path(data_dir, number, certificate_kind(electronic, index)),
                electronic=electronic,
            )
            for index, cert in enumerate(certificates)
        ]
        self.post_message(self.Printed(paths))

    def action_print_receipt(self) -> None:
        row = self._selected_registered()
        if row is not None:
            self._print_receipt(row.number)

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.print")
    def _print_receipt(self, number: str) -> None:
        from workstation.services.documents import write_fee_receipt

        out = print_path(Path(self._desk.settings.data_dir), number, "fee-receipt")
        self.post_message(self.Printed([write_fee_receipt(self._desk, self._actor, number, out)]))

    def action_refresh(self) -> None:
        self.load()

    # -- results -----------------------------------------------------------------------------------------

    @on(Done)
    def _done(self, message: Done) -> None:
        self._say(message.text)
        self.notify(message.text, title="登簿发证", markup=False)
        self.load()

    @on(Printed)
    def _printed(self, message: Printed) -> None:
        said = "已写出 wrote " + "; ".join(shown_path(self._desk, path) for path in message.paths)
        self._say(said)
        self.notify(said, title="打印 Print", markup=False)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            line = error_line(event.worker.error)
            self._say(line, error=True)
            self.notify(line, title="登簿发证", severity="error", markup=False)

    def _say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#issue-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    # -- selection and what can run ------------------------------------------------------------------------

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, DataTable) and event.widget.id:
            self._list = event.widget.id
            self.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "register":
            return self._registrar and self._selected_waiting() is not None
        if action not in ("pay", "deliver", "issue", "print_certificate", "print_receipt"):
            return True
        row = self._selected_registered()
        if row is None or not self._issuer:
            return False
        if action == "pay":
            return row.payable
        if action == "deliver":
            return row.deliverable
        if action == "print_certificate":
            return bool(row.certificates)
        if action == "print_receipt":
            return row.charge.paid
        return True

    def _selected_waiting(self) -> Waiting | None:
        key = self._cursor_key("issue-waiting")
        return self._waiting.get(key) if key is not None else None

    def _selected_registered(self) -> Registered | None:
        key = self._cursor_key("issue-registered")
        return self._registered.get(key) if key is not None else None

    def _cursor_key(self, table_id: str) -> str | None:
        if self._list != table_id or not self.is_mounted:
            return None
        tables = self.query(f"#{table_id}").results(DataTable)
        table = next(iter(tables), None)
        return _cursor_key(table) if table is not None else None


class RegisterConfirm(ModalScreen[bool]):
    """登簿 of one dossier, confirmed by the registrar under their own name."""

    CSS_PATH = "issue.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "登簿 Register", id="issue.register.yes", tooltip="确认登簿 Register it"),
        Binding("n,escape", "answer(False)", "取消 Cancel", id="issue.register.no", tooltip="返回，不登簿 Back"),
    ]
    HELP = """
## 登簿 Register

确认后以您的名义登簿（登簿人），并分配证书号；`y` 确认，`n` 返回。

`y` registers the dossier under your name (登簿人): the register is written and the certificate or proof number
allocated; from then on the registration has legal effect. `n` or `escape` goes back.
"""

    def __init__(self, waiting: Waiting, registrar: str) -> None:
        super().__init__()
        self._waiting = waiting
        self._registrar = registrar

    def compose(self) -> ComposeResult:
        w = self._waiting
        with Vertical(classes="issue-modal"):
            yield Static("登簿 Register", classes="issue-modal-title")
            yield Static(
                f"{w.number}  {w.business}\n登簿人 registrar: {self._registrar}\n"
                f"确认登簿？Register {w.number}? (y / n)",
                id="register-text",
                markup=False,
            )
        yield KeysFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class _WorkModal(ModalScreen[_Result | None]):
    """A modal that sends what was typed to a service in a worker and closes with its result; a refusal shows
    as one line in the modal, and nothing typed is lost."""

    _busy = False

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._busy = False
        if event.state == WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self._error(error_line(event.worker.error))

    def _error(self, text: str) -> None:
        self.query_one(".issue-modal-error", Static).update(text)

    def _start(self) -> bool:
        if self._busy:
            self.app.bell()
            return False
        self._busy = True
        self._error("")
        return True

    def action_cancel(self) -> None:
        self.dismiss(None)


class PayModal(_WorkModal[ChargeView]):
    """缴费: the method, exactly the amount due (prefilled), and the transaction or cash receipt reference."""

    CSS_PATH = "issue.tcss"
    AUTO_FOCUS = "#pay-reference"
    BINDINGS = [
        Binding("ctrl+s", "send", "缴费 Pay", id="issue.pay.send", tooltip="记录此笔缴费 Record this payment"),
        Binding(
            "escape", "cancel", "取消 Cancel", id="issue.pay.cancel", tooltip="返回，不记录 Back, nothing recorded"
        ),
    ]
    HELP = """
## 缴费 Pay

收费方式、金额（应缴额已填入）和交易流水号或现金收据号；回车或 `ctrl+s` 记录。

The method (QR scan, online or cash), the amount — exactly what is due, filled in — and the reference: the
transaction number of a QR or online payment, the cash receipt number. `enter` or `ctrl+s` records it and
allocates the 票据 number; a refusal (a wrong amount, no reference) is shown here, nothing typed is lost.
"""

    def __init__(self, desk: Desk, actor: Actor, number: str, charge: ChargeView) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number
        self._charge = charge

    def compose(self) -> ComposeResult:
        items = "; ".join(f"{label} {amount}" for label, amount in self._charge.items)
        with Vertical(classes="issue-modal"):
            yield Static(f"缴费 Pay {self._number}", classes="issue-modal-title", markup=False)
            yield Static(f"应缴 due {self._charge.due} 元  {items}", classes="issue-modal-sub", markup=False)
            yield Static("方式 method", classes="issue-modal-label")
            yield Select(PAY_METHODS, value="qr", allow_blank=False, id="pay-method")
            yield Static("金额 amount (元)", classes="issue-modal-label")
            yield Input(self._charge.due, id="pay-amount")
            yield Static("流水号或收据号 reference", classes="issue-modal-label")
            yield Input(placeholder="交易流水号 / 现金收据号 transaction or cash receipt number", id="pay-reference")
            yield Static("", classes="issue-modal-error", markup=False)
        yield KeysFooter()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_send()

    def action_send(self) -> None:
        if not self._start():
            return
        method = self.query_one("#pay-method", Select).value
        amount = self.query_one("#pay-amount", Input).value.strip()
        reference = self.query_one("#pay-reference", Input).value.strip()
        self._pay(str(method), amount, reference)

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.pay")
    def _pay(self, method: str, amount: str, reference: str) -> ChargeView:
        return self._desk.settle.pay(self._actor, self._number, method=method, amount=amount, reference=reference)


DELIVERY_METHODS = tuple((f"{label} {code}", code) for code, label in METHODS.items())
MARKS = (("已妥投 delivered", "delivered"), ("退回 returned", "returned"))


class DeliveryModal(_WorkModal[DeliveryView]):
    """交付: the next step of the certificate's way to the applicant, as the delivery stands.

    Nothing chosen yet (or returned by EMS): how it goes — window, community point or free EMS. Ready at the window
    or a point: who collected it, with their ID number. Ready for EMS: the waybill. Shipped: delivered or returned.
    """

    CSS_PATH = "issue.tcss"
    BINDINGS = [
        Binding("ctrl+s", "send", "记录 Record", id="issue.deliver.send", tooltip="记录此步 Record this step"),
        Binding(
            "ctrl+o",
            "change_method",
            "改方式 Change",
            id="issue.deliver.change",
            tooltip="改为其他领取方式 Choose another way (window, point, EMS)",
        ),
        Binding(
            "escape", "cancel", "取消 Cancel", id="issue.deliver.cancel", tooltip="返回，不记录 Back, nothing recorded"
        ),
    ]
    HELP = """
## 交付 Delivery

证书如何到达申请人：选择领取方式，领取时登记领取人姓名与身份证号，邮寄时登记运单号。

The form follows the delivery: first choose window (窗口领取), community point (社区便民点, name it) or free
EMS (免费邮寄; the address defaults to the application's). Once ready, record who collected it with their ID
number (checked), or the EMS waybill. `ctrl+o` chooses another way while it is not handed over yet.
`enter` or `ctrl+s` records; a refusal is shown here in one line.
"""

    def __init__(self, desk: Desk, actor: Actor, number: str, delivery: DeliveryView | None) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number
        self._state = dict(delivery.state) if delivery is not None else {}

    @property
    def step(self) -> str:
        """The form shown: choose, collect, ship or mark."""
        return (self.query_one(ContentSwitcher).current or "deliver-choose").removeprefix("deliver-")

    def _first_step(self) -> str:
        method, status = self._state.get("method"), self._state.get("status")
        if status == "ready":
            return "collect" if method in COLLECTED_AT else "ship"
        if status == "shipped":
            return "mark"
        return "choose"

    def compose(self) -> ComposeResult:
        where = delivery_line(self._state)
        method = str(self._state.get("method") or "window")
        with Vertical(classes="issue-modal"):
            yield Static(f"交付 Delivery {self._number}", classes="issue-modal-title", markup=False)
            yield Static(f"现在 now: {where}", classes="issue-modal-sub", markup=False)
            with ContentSwitcher(initial=f"deliver-{self._first_step()}"):
                with Vertical(id="deliver-choose", classes="deliver-form"):
                    yield Static("领取方式 method", classes="issue-modal-label")
                    yield Select(DELIVERY_METHODS, value=method, allow_blank=False, id="deliver-method")
                    yield Input(placeholder="社区便民点 community point", id="deliver-point")
                    yield Input(
                        placeholder="收件地址（默认申请地址） address (default: the application's)",
                        id="deliver-address",
                    )
                    yield Input(placeholder="收件人/领取人（可选） recipient (optional)", id="deliver-recipient")
                    yield Input(placeholder="联系电话（可选） phone (optional)", id="deliver-phone")
                with Vertical(id="deliver-collect", classes="deliver-form"):
                    yield Static("领取人 collected by", classes="issue-modal-label")
                    yield Input(placeholder="领取人姓名 name", id="deliver-name")
                    yield Input(placeholder="身份证号 ID number (18)", id="deliver-id")
                with Vertical(id="deliver-ship", classes="deliver-form"):
                    yield Static("EMS 运单号 waybill", classes="issue-modal-label")
                    yield Input(placeholder="运单号 waybill number", id="deliver-waybill")
                with Vertical(id="deliver-mark", classes="deliver-form"):
                    yield Static("邮件状态 EMS reports", classes="issue-modal-label")
                    yield Select(MARKS, value="delivered", allow_blank=False, id="deliver-mark")
            yield Static("", classes="issue-modal-error", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self._show_destination(str(self.query_one("#deliver-method", Select).value))
        self._focus_step()

    def _focus_step(self) -> None:
        form = self.query_one(f"#deliver-{self.step}", Vertical)
        first = next(iter(w for w in form.query("Input, Select") if w.display), None)
        if first is not None:
            first.focus()

    @on(Select.Changed, "#deliver-method")
    def _method_changed(self, event: Select.Changed) -> None:
        self._show_destination(str(event.value))

    def _show_destination(self, method: str) -> None:
        self.query_one("#deliver-point", Input).display = method == "community"
        self.query_one("#deliver-address", Input).display = method == "ems"

    def action_change_method(self) -> None:
        self.query_one(ContentSwitcher).current = "deliver-choose"
        self._error("")
        self._focus_step()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "change_method":
            return self.is_mounted and self.step != "choose" and self._state.get("status") in ("ready", "returned")
        return True

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_send()

    def action_send(self) -> None:
        if not self._start():
            return
        step = self.step

        def value(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        if step == "choose":
            method = str(self.query_one("#deliver-method", Select).value)
            details = {"method": method, "recipient": value("#deliver-recipient"), "phone": value("#deliver-phone")}
            if method == "community":
                details["point"] = value("#deliver-point")
            if method == "ems":
                details["address"] = value("#deliver-address")
            self._deliver("choose", details)
        elif step == "collect":
            self._deliver("collect", {"name": value("#deliver-name"), "id_number": value("#deliver-id")})
        elif step == "ship":
            self._deliver("ship", {"waybill": value("#deliver-waybill")})
        else:
            self._deliver(str(self.query_one("#deliver-mark", Select).value), {})

    @work(thread=True, exclusive=True, exit_on_error=False, group="issue.deliver")
    def _deliver(self, action: str, details: dict[str, str]) -> DeliveryView:
        return self._desk.settle.deliver(self._actor, self._number, action, **details)


def _refill(table: DataTable[str], rows: list[tuple[str, tuple[str, ...]]]) -> None:
    """Replace the rows, keeping the cursor on the same key where it is still there."""
    keep = _cursor_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    keys = [key for key, _ in rows]
    if keys:
        table.move_cursor(row=keys.index(keep) if keep in keys else 0)


def _cursor_key(table: DataTable[str]) -> str | None:
    if not table.row_count:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value
