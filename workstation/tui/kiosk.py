"""The self-service kiosk (R12), `workstation kiosk`: an applicant, not a clerk, applies in large plain steps.

Business → identity (实名核验) → photo (a stand-in here: no camera) → what changes (a change only) → materials →
submit → the 受理号 and its receipt. Escape goes back a step and nothing typed is lost: every step's widgets stay
in one `ContentSwitcher`, and a refusal is one line under the field, the rest left as typed. Ctrl+R starts over
(an unfinished draft is withdrawn); after a submission "下一位 Next applicant" clears everything on a fresh screen.

A separate app, not a mode of the desk: an applicant gets no login screen, no areas, no command palette. The checks
and records are `workstation.services.kiosk`'s; every service call runs in a thread worker whose result comes back
as a message and whose failure becomes the line under what the applicant was doing.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Input, RadioButton, RadioSet, SelectionList, Static
from textual.worker import Worker, WorkerState

from workstation.domain.catalogue import Business
from workstation.domain.errors import DomainError, MissingMaterials
from workstation.domain.permissions import Actor
from workstation.errors import WorkstationError
from workstation.services.desk import Desk
from workstation.services.kiosk import (
    STAND_IN_LABEL,
    Application,
    Identity,
    KioskRefused,
    Opened,
    PhotoCapture,
    capture_stand_in,
    check_conditions,
    check_identity,
    kiosk_businesses,
    kiosk_login,
    load_file,
    load_folder,
    needs_conditions,
    open_dossier,
    print_receipt,
    withdraw_draft,
)
from workstation.services.receipt import build_receipt, receipt_text
from workstation.services.views import DossierDetail, SlotView, mask_id
from workstation.tui.screens import error_line
from workstation.tui.widgets.chrome import KeysFooter
from workstation.tui.widgets.intake import slot_label

# The catalogue names businesses and conditions in Chinese; the kiosk says them in English beside.
BUSINESS_ENGLISH = {
    "MORT_CANCEL": "Mortgage cancellation",
    "CHANGE": "Change of name, ID number, location or area",
}
CONDITION_ENGLISH = {
    "name_change": "name changed",
    "id_change": "ID number changed",
    "location_change": "location (坐落) changed",
    "area_change": "area or boundaries changed",
    "use_change": "use changed",
    "joint_application": "applying with the mortgagor",
}
STEP_LABELS = {
    "business": "业务 Business",
    "identity": "身份 Identity",
    "photo": "拍照 Photo",
    "conditions": "事项 Changes",
    "materials": "材料 Materials",
    "submit": "提交 Submit",
    "done": "完成 Done",
}


class KioskScreen(Screen[None]):
    """One applicant's application, step by step."""

    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("escape", "back", "返回 Back", id="kiosk.back", tooltip="回到上一步 Back to the previous step"),
        Binding(
            "ctrl+r",
            "restart",
            "重新开始 Start over",
            id="kiosk.restart",
            tooltip="放弃本次申请，从头开始 Drop this application and start again",
        ),
    ]

    class LoggedIn(Message):
        def __init__(self, actor: Actor) -> None:
            super().__init__()
            self.actor = actor

    class DossierOpened(Message):
        def __init__(self, opened: Opened, detail: DossierDetail, note: str) -> None:
            super().__init__()
            self.opened = opened
            self.detail = detail
            self.note = note

    class Loaded(Message):
        def __init__(self, detail: DossierDetail, note: str) -> None:
            super().__init__()
            self.detail = detail
            self.note = note

    class Submitted(Message):
        def __init__(self, detail: DossierDetail, receipt: str) -> None:
            super().__init__()
            self.detail = detail
            self.receipt = receipt

    class Printed(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class StartedOver(Message):
        pass

    def __init__(self, desk: Desk, actor: Actor | None) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._root = Path(desk.settings.inbox_dir)
        self._businesses: tuple[Business, ...] = ()
        self._setup_error = ""
        try:
            self._businesses = kiosk_businesses(desk.catalogue, desk.settings.kiosk_businesses)
        except WorkstationError as exc:
            self._setup_error = str(exc)
        self.step = "business"
        self._business: Business | None = None
        self._identity: Identity | None = None
        self._capture: PhotoCapture | None = None
        self._captured_for: Identity | None = None
        self._conditions: tuple[str, ...] = ()
        self._opened: Opened | None = None
        self._detail: DossierDetail | None = None
        self._slot_keys: tuple[tuple[str, str | None], ...] = ()
        self._error_at = "#kiosk-status"  # where the running worker's refusal is shown
        self._busy = False
        self.accepted: DossierDetail | None = None

    @property
    def busy(self) -> bool:
        """A service call is running (a second one waits its turn: the key only rings the bell)."""
        return self._busy

    # -- layout --------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self._desk.settings
        yield Static(f"不动产登记自助服务 Self-service registration · {settings.station_name}", id="kiosk-title")
        yield Static("", id="kiosk-steps")
        yield Static("", id="kiosk-status", markup=False)
        with ContentSwitcher(initial="step-business", id="kiosk-switcher"):
            with VerticalScroll(id="step-business", classes="step"):
                yield Static("请选择要办理的业务 Choose what you apply for", classes="step-title")
                for business in self._businesses:
                    english = BUSINESS_ENGLISH.get(business.code, business.code)
                    yield Button(f"{business.name}  {english}", id=f"biz-{business.code}", classes="business")
            with VerticalScroll(id="step-identity", classes="step"):
                yield Static("实名核验 Identity check", classes="step-title")
                yield Static("", id="identity-note", markup=False)
                with RadioSet(id="applicant-kind"):
                    yield RadioButton("本人申请 I apply for myself (individual)", id="kind-individual", value=True)
                    yield RadioButton("代企业申请 I apply for an enterprise", id="kind-enterprise")
                with Vertical(id="org-fields"):
                    yield Static("企业名称 Enterprise name", classes="field-label", id="org-name-label")
                    yield Input(placeholder="例如 e.g. 某银行济南分行", id="org-name", classes="identity-field")
                    yield Static("统一社会信用代码 Unified social credit code (18)", classes="field-label")
                    yield Input(
                        placeholder="18位 18 characters", id="org-uscc", max_length=24, classes="identity-field"
                    )
                yield Static("姓名 Your name", classes="field-label", id="person-name-label")
                yield Input(placeholder="姓名 name", id="person-name", max_length=40, classes="identity-field")
                yield Static("身份证号 Your ID number (18)", classes="field-label", id="person-id-label")
                yield Input(placeholder="18位 18 characters", id="person-id", max_length=24, classes="identity-field")
                yield Static("", id="identity-error", classes="error", markup=False)
                yield Button("下一步 Next", variant="primary", id="identity-next", classes="next")
            with VerticalScroll(id="step-photo", classes="step"):
                yield Static("拍照 Photo", classes="step-title")
                yield Static(
                    f"本终端无摄像头，以替代记录代替照片 This kiosk has no camera: a {STAND_IN_LABEL} record is made "
                    "instead of a photo — the time, this kiosk and a SHA-256 of the identity you typed.",
                    classes="note",
                )
                yield Button("拍照（替代）Take the photo (stand-in)", id="photo-take")
                yield Static("", id="photo-record", markup=False)
                yield Static("", id="photo-error", classes="error", markup=False)
                yield Button("下一步 Next", variant="primary", id="photo-next", classes="next")
            with VerticalScroll(id="step-conditions", classes="step"):
                yield Static("变更事项 What has changed? (至少一项 at least one)", classes="step-title")
                yield SelectionList[str](id="conditions")
                yield Static("", id="conditions-error", classes="error", markup=False)
                yield Button("下一步 Next", variant="primary", id="conditions-next", classes="next")
            with VerticalScroll(id="step-materials", classes="step"):
                yield Static("材料 Materials", classes="step-title", id="materials-title")
                yield Static(
                    f"扫描件在扫描文件夹 scans are in the scan folder {self._root}: 输入文件名，回车或「载入」 "
                    "type a file's name, then Enter or Load",
                    classes="note",
                    markup=False,
                )
                yield Vertical(id="slots")
                with Horizontal(id="folder-row"):
                    yield Input(placeholder="文件夹（留空：扫描文件夹）folder (blank: the scan folder)", id="folder")
                    yield Button("全部载入 Load all", id="load-folder")
                yield Static("", id="materials-error", classes="error", markup=False)
                yield Button("下一步 Next", variant="primary", id="materials-next", classes="next")
            with VerticalScroll(id="step-submit", classes="step"):
                yield Static("提交申请 Submit the application", classes="step-title")
                yield Static("", id="submit-summary", markup=False)
                yield Button("提交 Submit", variant="primary", id="submit", classes="next")
                yield Static("", id="submit-error", classes="error", markup=False)
            with VerticalScroll(id="step-done", classes="step"):
                yield Static("", id="done-number", markup=False)
                yield Static("", id="receipt-text", markup=False)
                yield Static(
                    "回执文件名（存于回执文件夹）Receipt file name (in the receipts folder)", classes="field-label"
                )
                with Horizontal(id="print-row"):
                    yield Input(id="pdf-path")
                    yield Button("打印回执 Print the receipt (PDF)", id="print")
                yield Static("", id="print-status", markup=False)
                yield Button("下一位 Next applicant", variant="primary", id="next-applicant", classes="next")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._show_steps()
        if self._setup_error:
            self._refuse_all(self._setup_error)
        elif self._actor is None:
            self._say("#kiosk-status", "登录中 the kiosk is logging in…", ok=True)
            self.query_one("#kiosk-switcher").disabled = True
            self._start("#kiosk-status")
            self._log_in()
        else:
            self._focus_step()

    # -- steps ---------------------------------------------------------------------------------------------------

    def _steps(self) -> list[str]:
        steps = ["business", "identity", "photo"]
        if self._business is not None and needs_conditions(self._business):
            steps.append("conditions")
        return [*steps, "materials", "submit"]

    def _go(self, step: str) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = f"step-{step}"
        self._show_steps()
        self._focus_step()
        self.refresh_bindings()

    def _show_steps(self) -> None:
        parts = []
        for number, step in enumerate([*self._steps(), "done"], start=1):
            label = f"{number} {STEP_LABELS[step]}"
            parts.append(f"[reverse] {label} [/]" if step == self.step else f" {label} ")
        self.query_one("#kiosk-steps", Static).update(" › ".join(parts))

    def _focus_step(self) -> None:
        first = {
            "business": "Button.business",
            "identity": ".identity-field",
            "photo": "#photo-take",
            "conditions": "#conditions",
            "materials": ".slot-path",
            "submit": "#submit",
            "done": "#next-applicant",
        }[self.step]
        for widget in self.query(first):
            if widget.display and widget.focusable:
                widget.focus()
                return

    def action_back(self) -> None:
        if self._busy or self.step in ("business", "done"):
            return
        steps = self._steps()
        self._go(steps[steps.index(self.step) - 1])

    def action_restart(self) -> None:
        if self._busy:
            self.app.bell()
            return
        if self._opened is not None and self.accepted is None:
            self._start("#kiosk-status")
            self._withdraw(self._opened.number)
        else:
            self._fresh_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.step not in ("business", "done")
        if action == "restart":
            return self.step != "done" and self._actor is not None
        return True

    # -- 1 business ----------------------------------------------------------------------------------------------

    @on(Button.Pressed, "Button.business")
    def _business_chosen(self, event: Button.Pressed) -> None:
        code = (event.button.id or "").removeprefix("biz-")
        business = next(b for b in self._businesses if b.code == code)
        self._business = business
        kinds = business.applicant_kinds
        radio = self.query_one("#applicant-kind", RadioSet)
        radio.display = len(kinds) > 1
        if "individual" not in kinds:
            self.query_one("#kind-enterprise", RadioButton).value = True
        if business.applicant_role.name == "mortgagee":
            note = (
                "申请人为抵押权人（银行），您是其经办人 The applicant is the mortgagee (the bank); you are its agent."
            )
        else:
            note = "您本人申请，或作为企业的经办人申请 You apply for yourself, or as an enterprise's agent."
        self.query_one("#identity-note", Static).update(note)
        self._show_kind()
        self._conditions_for(business)
        self._go("identity")

    def _kind(self) -> str:
        business = self._business
        if business is not None and len(business.applicant_kinds) == 1:
            return business.applicant_kinds[0]
        return "enterprise" if self.query_one("#kind-enterprise", RadioButton).value else "individual"

    @on(RadioSet.Changed, "#applicant-kind")
    def _kind_changed(self) -> None:
        self._show_kind()

    def _show_kind(self) -> None:
        agent = self._kind() == "enterprise"
        self.query_one("#org-fields").display = agent
        self.query_one("#person-name-label", Static).update(
            "经办人姓名 The agent's name (yours)" if agent else "姓名 Your name"
        )
        self.query_one("#person-id-label", Static).update(
            "经办人身份证号 The agent's ID number (18)" if agent else "身份证号 Your ID number (18)"
        )

    def _conditions_for(self, business: Business) -> None:
        listed = self.query_one("#conditions", SelectionList)
        if [str(listed.get_option_at_index(i).value) for i in range(listed.option_count)] == list(business.conditions):
            return  # the same business again: what was ticked stays ticked
        listed.clear_options()
        listed.add_options(
            (f"{label}  {CONDITION_ENGLISH.get(name, name.replace('_', ' '))}", name)
            for name, label in business.conditions.items()
        )

    # -- 2 identity ----------------------------------------------------------------------------------------------

    @on(Input.Submitted, ".identity-field")
    def _identity_enter(self, event: Input.Submitted) -> None:
        """Enter moves on to the next empty field; on the last one (or when all are filled) it checks them."""
        fields = [field for field in self.query(".identity-field").results(Input) if _shown(field)]
        later = fields[fields.index(event.input) + 1 :]
        empty = next((field for field in later if not field.value.strip()), None)
        if empty is not None:
            empty.focus()
        else:
            self._identity_next()

    @on(Button.Pressed, "#identity-next")
    def _identity_next(self) -> None:
        business = self._business
        if business is None:
            return
        try:
            identity = check_identity(
                business,
                self._kind(),
                person_name=self._typed("#person-name"),
                person_id=self._typed("#person-id"),
                org_name=self._typed("#org-name"),
                org_uscc=self._typed("#org-uscc"),
            )
        except KioskRefused as exc:
            self._say("#identity-error", str(exc), ok=False)
            return
        self._say("#identity-error", "", ok=True)
        self._identity = identity
        if self._captured_for != identity:  # the photo stands in for who was typed: another identity, another photo
            self._capture = None
            self.query_one("#photo-record", Static).update("")
        self._go("photo")

    def _typed(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    # -- 3 photo -------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#photo-take")
    def _take_photo(self) -> None:
        if self._identity is None:
            return
        self._capture = capture_stand_in(self._identity, station_id=self._desk.settings.station_id)
        self._captured_for = self._identity
        self.query_one("#photo-record", Static).update(f"已记录 recorded: {self._capture.line}")
        self._say("#photo-error", "", ok=True)
        self.query_one("#photo-next", Button).focus()

    @on(Button.Pressed, "#photo-next")
    def _photo_next(self) -> None:
        if self._capture is None:
            self._say("#photo-error", "请先拍照 take the photo first", ok=False)
            return
        if self._business is not None and needs_conditions(self._business):
            self._go("conditions")
        else:
            self._conditions = ()
            self._open("#photo-error")

    # -- 4 conditions --------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#conditions-next")
    def _conditions_next(self) -> None:
        if self._business is None:
            return
        chosen = [str(value) for value in self.query_one("#conditions", SelectionList).selected]
        try:
            self._conditions = check_conditions(self._business, chosen)
        except KioskRefused as exc:
            self._say("#conditions-error", str(exc), ok=False)
            return
        self._say("#conditions-error", "", ok=True)
        self._open("#conditions-error")

    def _open(self, error_at: str) -> None:
        if self._business is None or self._identity is None or self._capture is None or self._actor is None:
            return
        if not self._start(error_at):
            return
        application = Application(self._business.code, self._identity, self._conditions, self._capture)
        self._open_dossier(self._actor, application, self._opened)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.open")
    def _open_dossier(self, actor: Actor, application: Application, current: Opened | None) -> None:
        opened = open_dossier(self._desk, actor, application, current)
        note = ""
        if current is not None and current.number != opened.number:
            note = f"已撤回草稿 {current.number} withdrawn: the application changed; load the files again"
        self.post_message(self.DossierOpened(opened, self._desk.dossiers.show(opened.number), note))

    @on(DossierOpened)
    async def _dossier_opened(self, message: DossierOpened) -> None:
        self._opened = message.opened
        await self._show_materials(message.detail)
        self._say("#materials-error", message.note, ok=True)
        self._go("materials")

    # -- 5 materials ---------------------------------------------------------------------------------------------

    async def _show_materials(self, detail: DossierDetail) -> None:
        self._detail = detail
        self.query_one("#materials-title", Static).update(
            f"材料 Materials · 申请编号 application {detail.number} (未提交 not submitted yet)"
        )
        keys = tuple((slot.material, slot.party_key) for slot in detail.slots)
        slots = self.query_one("#slots", Vertical)
        if keys != self._slot_keys:  # the checklist changed (other conditions): rows anew
            self._slot_keys = keys
            await slots.remove_children()
            await slots.mount_all(SlotRow(index) for index in range(len(detail.slots)))
        self._fill_slots()

    def _fill_slots(self) -> None:
        detail = self._detail
        if detail is None:
            return
        for row in self.query(SlotRow):
            if row.index < len(detail.slots):
                row.show(_slot_line(self._desk, detail, detail.slots[row.index]))

    @on(Button.Pressed, ".slot-load")
    @on(Input.Submitted, ".slot-path")
    def _load_one(self, event: Button.Pressed | Input.Submitted) -> None:
        row = next((node for node in event.control.ancestors if isinstance(node, SlotRow)), None)
        detail, opened = self._detail, self._opened
        if row is None or detail is None or opened is None or self._actor is None:
            return
        text = row.query_one(".slot-path", Input).value
        if self._start("#materials-error"):
            self._load(self._actor, opened.number, detail.slots[row.index], text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.load")
    def _load(self, actor: Actor, number: str, slot: SlotView, text: str) -> None:
        page = load_file(self._desk, actor, number, slot, root=self._root, text=text)
        note = f"已载入 loaded {page.source_name} → {slot.material} {slot.label}"
        self.post_message(self.Loaded(self._desk.dossiers.show(number), note))

    @on(Button.Pressed, "#load-folder")
    @on(Input.Submitted, "#folder")
    def _load_all(self) -> None:
        opened = self._opened
        if opened is None or self._actor is None:
            return
        if self._start("#materials-error"):
            self._load_folder(self._actor, opened.number, self.query_one("#folder", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.load")
    def _load_folder(self, actor: Actor, number: str, text: str) -> None:
        loaded = load_folder(self._desk, actor, number, root=self._root, text=text)
        names = ", ".join(f"{name} → {slot.material}" for slot, name in loaded)
        self.post_message(self.Loaded(self._desk.dossiers.show(number), f"已载入 loaded {len(loaded)}: {names}"))

    @on(Loaded)
    async def _loaded(self, message: Loaded) -> None:
        await self._show_materials(message.detail)
        for row in self.query(SlotRow):
            if message.detail.slots[row.index].satisfied:
                row.query_one(".slot-path", Input).value = ""
        self._say("#materials-error", message.note, ok=True)

    @on(Button.Pressed, "#materials-next")
    def _materials_next(self) -> None:
        detail = self._detail
        if detail is None:
            return
        self.query_one("#submit-summary", Static).update(self._summary(detail))
        self._say("#submit-error", "", ok=True)
        self._go("submit")

    def _summary(self, detail: DossierDetail) -> str:
        identity, business = self._identity, self._business
        if identity is None or business is None:
            return ""
        lines = [
            f"业务 Business: {business.name} {BUSINESS_ENGLISH.get(business.code, business.code)}",
            f"申请人 Applicant: {identity.applicant_name} {mask_id(identity.applicant_id)}",
        ]
        if identity.org_name is not None:
            lines.append(f"经办人 Agent: {identity.person_name} {mask_id(identity.person_id)}")
        if self._conditions:
            lines.append("变更事项 Changes: " + "、".join(business.conditions[c] for c in self._conditions))
        required = [slot for slot in detail.slots if slot.required]
        done = sum(1 for slot in required if slot.satisfied or slot.waived)
        lines.append(f"材料 Materials: {done}/{len(required)} 已载入 loaded")
        if self._capture is not None:
            lines.append(f"拍照 Photo: {STAND_IN_LABEL} {self._capture.sha256[:16]}…")
        return "\n".join(lines)

    # -- 6 submit ------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        opened = self._opened
        if opened is None or self._actor is None:
            return
        if self._start("#submit-error"):
            self._say("#submit-error", "提交中 submitting…", ok=True)
            self._send(self._actor, opened.number)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.submit")
    def _send(self, actor: Actor, number: str) -> None:
        detail = self._desk.dossiers.submit(actor, number)
        self.post_message(self.Submitted(detail, receipt_text(build_receipt(self._desk, actor, number))))

    @on(Submitted)
    def _submitted(self, message: Submitted) -> None:
        self.accepted = message.detail
        number = message.detail.number
        self.query_one("#done-number", Static).update(f"已受理 Accepted · 受理号 Application number  {number}")
        self.query_one("#receipt-text", Static).update(message.receipt)
        self.query_one("#pdf-path", Input).value = f"{number}.pdf"
        self._say("#submit-error", "", ok=True)
        self._go("done")

    # -- done: the receipt, the next applicant -------------------------------------------------------------------

    @on(Button.Pressed, "#print")
    @on(Input.Submitted, "#pdf-path")
    def _print(self) -> None:
        accepted = self.accepted
        if accepted is None or self._actor is None:
            return
        if self._start("#print-status"):
            self._say("#print-status", "正在生成 PDF writing the PDF…", ok=True)
            self._write_pdf(self._actor, accepted.number, self.query_one("#pdf-path", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.print")
    def _write_pdf(self, actor: Actor, number: str, text: str) -> None:
        self.post_message(self.Printed(print_receipt(self._desk, actor, number, text)))

    @on(Printed)
    def _printed(self, message: Printed) -> None:
        self._say("#print-status", f"已写出 wrote {message.path}", ok=True)

    @on(Button.Pressed, "#next-applicant")
    def _next_applicant(self) -> None:
        if not self._busy:
            self._fresh_screen()

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.restart")
    def _withdraw(self, number: str) -> None:
        if self._actor is not None:
            withdraw_draft(self._desk, self._actor, number)
        self.post_message(self.StartedOver())

    @on(StartedOver)
    def _started_over(self) -> None:
        self._fresh_screen()

    def _fresh_screen(self) -> None:
        """Nothing of this applicant stays on the kiosk: the next one gets a new screen."""
        self.app.switch_screen(KioskScreen(self._desk, self._actor))

    # -- the kiosk's account -------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="kiosk.login")
    def _log_in(self) -> None:
        self.post_message(self.LoggedIn(kiosk_login(self._desk, self._desk.settings.user)))

    @on(LoggedIn)
    def _logged_in(self, message: LoggedIn) -> None:
        self._actor = message.actor
        self.query_one("#kiosk-switcher").disabled = False
        self._say("#kiosk-status", "", ok=True)
        self._focus_step()
        self.refresh_bindings()

    def _refuse_all(self, line: str) -> None:
        """The kiosk cannot serve anyone (its account, its settings): one line, no steps."""
        self.query_one("#kiosk-switcher").display = False
        self._say("#kiosk-status", line, ok=False)

    # -- workers and lines ---------------------------------------------------------------------------------------

    def _start(self, error_at: str) -> bool:
        """One service call at a time; its refusal is shown at `error_at`."""
        if self._busy:
            self.app.bell()
            return False
        self._busy = True
        self._error_at = error_at
        return True

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if not (event.worker.group or "").startswith("kiosk."):
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._busy = False
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "kiosk.login":
            self._refuse_all(error_line(error))
        elif isinstance(error, MissingMaterials):
            items = [str(item) for item in error.missing]
            listed = "\n".join(f"• {item}" for item in items)
            self._say(
                self._error_at,
                f"无法提交，缺少 {len(items)} 项 Cannot submit: {len(items)} missing\n{listed}",
                ok=False,
            )
        else:
            self._say(self._error_at, error_line(error), ok=False)

    def _say(self, selector: str, text: str, *, ok: bool) -> None:
        line = self.query_one(selector, Static)
        line.update(text)
        line.display = bool(text)
        line.set_class(not ok, "-error")
        line.set_class(ok, "-ok")


class SlotRow(Horizontal):
    """One checklist item: its state, a file name to type, and Load."""

    def __init__(self, index: int) -> None:
        super().__init__(classes="slot-row", id=f"slot-{index}")
        self.index = index

    def compose(self) -> ComposeResult:
        yield Static("", classes="slot-state", markup=False)
        yield Input(placeholder="文件名 file name", classes="slot-path", id=f"slot-{self.index}-path")
        yield Button("载入 Load", classes="slot-load", id=f"slot-{self.index}-load")

    def show(self, line: str) -> None:
        self.query_one(".slot-state", Static).update(line)


def _slot_line(desk: Desk, detail: DossierDetail, slot: SlotView) -> str:
    try:
        english = desk.catalogue.material(slot.material).name_en
    except DomainError:  # a code the catalogue no longer names: the Chinese label says it
        english = ""
    if slot.satisfied:
        pages = sum(1 for page in detail.pages if (page.material, page.party_key) == (slot.material, slot.party_key))
        mark = f"✔ 已载入 loaded ({pages} 页 p.)"
    elif slot.waived:
        mark = "✔ 免收 waived"
    else:
        mark = "✘ 必需 required" if slot.required else "· 可选 optional"
    return f"{mark}  {slot_label(slot, detail)} {english}".rstrip()


def _shown(widget: Input) -> bool:
    return widget.display and all(getattr(node, "display", True) for node in widget.ancestors)


class KioskApp(App[None]):
    """The kiosk's app: one applicant's screen at a time, under the kiosk's own account."""

    TITLE = "不动产登记自助服务"
    CSS_PATH = "kiosk.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "退出 Quit", id="kiosk.quit", show=False, priority=True)]

    def __init__(self, desk: Desk, *, actor: Actor | None = None) -> None:
        """`actor`: the kiosk's account, already logged in (the command does it); else the screen logs in the desk's
        user (`settings.user`) as a kiosk account."""
        super().__init__()
        self.desk = desk
        self._actor = actor
        self.sub_title = f"{desk.settings.station_id} · {desk.settings.station_name}"

    def on_mount(self) -> None:
        self.push_screen(KioskScreen(self.desk, self._actor))
