"""The intake desk for one dossier: its pages as they are scanned and read, the checklist, fields, findings.

Every service call runs in a thread worker and comes back as a message. Pages appear live: the desk's event bus
(called on the OCR and intake threads) only posts a message here; bursts collapse (`PagesChanged.can_replace`)
and reloads are spaced at least RELOAD_INTERVAL apart, each one `show()` in an exclusive worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.errors import DomainError, MissingMaterials
from workstation.domain.field_labels import field_label
from workstation.domain.permissions import Actor
from workstation.errors import UsageError
from workstation.services.desk import Desk
from workstation.services.events import PageEvent
from workstation.services.receipt import build_receipt, receipt_path, receipt_text, write_receipt_pdf
from workstation.services.views import DossierDetail, NewParty, PartyView, mask_id
from workstation.tui.screens import error_line, local_time
from workstation.tui.screens.add_party import AddPartyScreen
from workstation.tui.screens.conditions import ConditionsScreen
from workstation.tui.screens.issue import certificate_kind, print_path, shown_path
from workstation.tui.screens.page_viewer import PageViewerScreen
from workstation.tui.widgets.chrome import AppHeader, KeysFooter
from workstation.tui.widgets.intake import (
    ChecklistTable,
    ChoiceScreen,
    ConfirmScreen,
    FieldsTable,
    FindingsList,
    MessageScreen,
    PagesTable,
    PromptScreen,
    set_by,
    slot_label,
)

KIND_LABELS = {"enterprise": "企业", "individual": "个人"}
OCR_STATES = {"reading": "识别中", "queued": "排队", "failed": "失败"}
ID_LABELS = {"uscc": "统一社会信用代码", "id_number": "身份证号"}
EDITABLE = ("draft", "returned")
RELOAD_INTERVAL = 0.25  # seconds: at most four reloads a second while OCR reports progress
SCAN_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf", ".bmp", ".webp")
PAGE_ACTIONS = ("move_page", "rotate_page", "delete_page", "reorder_up", "reorder_down")
FIELD_ACTIONS = ("edit_field", "confirm_field")
CHANGE_WORKER = "detail.change"
EDIT_ACTIONS = (
    "activate",
    "import_files",
    "add_party",
    "waive",
    "submit",
    "conditions",
    *PAGE_ACTIONS,
    *FIELD_ACTIONS,
)


class DossierDetailScreen(Screen[None]):
    CSS_PATH = "dossier_detail.tcss"
    AUTO_FOCUS = "#pages"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    HELP = """
## 案卷 Dossier desk

窗口受理一件案卷：扫描或导入页面，识别后自动填入清单；材料齐全后 `s` 受理。

The window clerk's desk for one dossier. Scan into it (`a` makes it the desk's active dossier: the scanner's
hot folder then files pages here) or import files (`i`). Pages are read by OCR in the background; the
checklist fills as they are recognised.

When nothing is missing, `s` submits (受理); a refusal lists everything missing at once (一次性告知).
`v` shows the selected page beside its OCR text; `n` adds a party (a second buyer, say).
`p` shows the 受理回执 receipt, which can be saved as a PDF; `o` writes the dossier's notices (受理凭证, 补正,
不予受理, 不予登记) and certificates as PDFs.
"""
    BINDINGS = [
        # The order of the footer: what a clerk does on every dossier first, so it stays in view at 80 columns.
        Binding(
            "i", "import_files", "导入 Import", id="detail.import", tooltip="导入扫描件 Take scan files from a folder"
        ),
        Binding(
            "e", "edit_field", "修改 Edit", id="detail.edit_field", tooltip="更改所选字段 Correct the selected field"
        ),
        Binding(
            "c",
            "confirm_field",
            "确认 Confirm",
            id="detail.confirm_field",
            tooltip="确认识别无误 Confirm the field as read",
        ),
        Binding("s", "submit", "受理 Submit", id="detail.submit", tooltip="受理本案卷 Submit the dossier"),
        Binding(
            "t",
            "answer",
            "补正 Answer",
            id="detail.answer",
            tooltip="记录补正事项如何补齐 Note how a 补正 item was met",
        ),
        Binding(
            "a",
            "activate",
            "扫描 Scan",
            id="detail.activate",
            tooltip="新扫描页归入此案卷 Make this the desk's active dossier",
        ),
        Binding("v", "view_page", "查看 View", id="detail.view", tooltip="页面与识别文字 The page beside its OCR text"),
        Binding("escape", "back", "返回 Back", id="detail.back", tooltip="回到案卷列表 Back to the dossier list"),
        Binding(
            "m",
            "move_page",
            "移动 Move",
            id="detail.move",
            tooltip="归入另一项材料 Put the page in another checklist slot",
        ),
        Binding(
            "r", "rotate_page", "旋转 Rotate", id="detail.rotate", tooltip="顺时针转 90° Turn the page 90° clockwise"
        ),
        Binding(
            "ctrl+up",
            "reorder_up",
            "上移 Earlier",
            id="detail.reorder_up",
            tooltip="页面上移 Move the page up",
            show=False,
        ),
        Binding(
            "ctrl+down",
            "reorder_down",
            "下移 Later",
            id="detail.reorder_down",
            tooltip="页面下移 Move the page down",
            show=False,
        ),
        Binding(
            "delete",
            "delete_page",
            "删除 Remove",
            id="detail.delete",
            tooltip="删除页面并说明原因 Remove the page, with a reason",
        ),
        Binding(
            "n", "add_party", "当事人 Party", id="detail.add_party", tooltip="添加当事人 Add a party (buyer, seller…)"
        ),
        Binding(
            "k",
            "conditions",
            "情形 Conditions",
            id="detail.conditions",
            tooltip="选择情形（夫妻共有、变更事项…）Choose the dossier's conditions; the checklist follows",
        ),
        Binding(
            "w",
            "waive",
            "容缺 Waive",
            id="detail.waive",
            tooltip="所选缺件容缺受理 Waive the selected missing material",
        ),
        Binding(
            "p", "receipt", "回执 Receipt", id="detail.receipt", tooltip="受理回执（文本、PDF） The receipt (text, PDF)"
        ),
        Binding(
            "o",
            "print_documents",
            "打印 Print",
            id="detail.print",
            tooltip="通知书或证书存为 PDF Write a notice or certificate as a PDF",
        ),
    ]

    class Shown(Message):
        def __init__(
            self, detail: DossierDetail, active: str | None, note: str = "", clock: Content | None = None
        ) -> None:
            super().__init__()
            self.detail = detail
            self.active = active
            self.note = note
            self.clock = clock

    class PagesChanged(Message):
        """Posted from the event bus's thread; a burst collapses to one message in the queue."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DossierDetailScreen.PagesChanged)

    def __init__(self, desk: Desk, actor: Actor, number: str) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number
        self._detail: DossierDetail | None = None
        self._active: str | None = None
        self._unsubscribe: object = None
        self._dirty = False
        self._reload_timer: Timer | None = None
        self._last_reload = 0.0
        self._busy = False  # a change is running
        self.reloads = 0  # loads started (the live-progress test counts them)
        self._shown_supplement = False

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(f"{self._number} loading…", id="detail-header", markup=False)
        yield Static("", id="detail-progress", markup=False)
        yield Static("", id="detail-message", markup=False)
        yield Static("", id="detail-clock", markup=False)
        with Horizontal(id="detail-main"):
            with Vertical(id="pages-pane"):
                yield PagesTable(id="pages")
            with TabbedContent(id="detail-tabs"):
                with TabPane("材料 Checklist", id="tab-checklist"):
                    yield Static("", id="detail-missing", markup=False)
                    yield ChecklistTable(id="slots")
                with TabPane("字段 Fields", id="tab-fields"):
                    yield FieldsTable(id="fields")
                with TabPane("问题 Findings", id="tab-findings"), VerticalScroll(id="findings-scroll"):
                    yield FindingsList(id="findings")
                with TabPane("当事人 Parties", id="tab-parties"), VerticalScroll():
                    yield Static("", id="detail-parties")
                with TabPane("补正 Supplement", id="tab-supplement"), VerticalScroll():
                    yield Static("未退回补正 never returned for 补正", id="detail-supplement")
        yield KeysFooter()

    def on_mount(self) -> None:
        number = self._number

        def on_event(event: PageEvent) -> None:  # on the publisher's thread: post only
            if event.dossier_number == number:
                self.post_message(self.PagesChanged())

        self._unsubscribe = self._desk.events.subscribe(on_event)
        self._reload()

    def on_unmount(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()

    # -- loading -----------------------------------------------------------------------------------------

    def _reload(self) -> None:
        self.reloads += 1
        self._last_reload = time.monotonic()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.load")
    def _load(self) -> None:
        detail = self._desk.dossiers.show(self._number)
        active = self._desk.intake.active_number()
        clock = _clock_line(self._desk, self._number)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Shown(detail, active, clock=clock))

    @on(PagesChanged)
    def _pages_changed(self) -> None:
        if self._reload_timer is not None:
            self._dirty = True  # the timer already set reloads once more, with this change too
            return
        wait = self._last_reload + RELOAD_INTERVAL - time.monotonic()
        if wait <= 0:
            self._reload()
        else:
            self._dirty = True
            self._reload_timer = self.set_timer(wait, self._reload_due)

    def _reload_due(self) -> None:
        self._reload_timer = None
        if self._dirty:
            self._dirty = False
            self._reload()

    @on(Shown)
    def _shown(self, message: Shown) -> None:
        detail = message.detail
        if self._detail is not None and detail.version < self._detail.version:
            return  # a load that started before the clerk's last change landed: already out of date
        self._detail, self._active = detail, message.active
        pages = self.query_one(PagesTable)
        fields = self.query_one(FieldsTable)
        slots = self.query_one(ChecklistTable)
        page_key, field_key, slot_row = _cursor_key(pages), _cursor_key(fields), slots.cursor_row
        with self.app.batch_update():
            self.query_one("#detail-header", Static).update(_header(detail, message.active))
            self.query_one("#detail-progress", Static).update(_progress(detail))
            pages.fill(detail)
            slots.fill(detail)
            fields.fill(detail)
            self.query_one(FindingsList).fill(detail)
            self.query_one("#detail-missing", Static).update(_missing(detail.missing))
            self.query_one("#detail-parties", Static).update(_parties(detail.parties))
            self.query_one("#detail-supplement", Static).update(_supplement(detail))
            if message.clock is not None:
                self.query_one("#detail-clock", Static).update(message.clock)
            if detail.status == "returned" and detail.supplement is not None and not self._shown_supplement:
                self._shown_supplement = True  # a returned dossier opens on what the applicant must bring
                self.query_one(TabbedContent).active = "tab-supplement"
            _restore_cursor(pages, page_key)
            _restore_cursor(fields, field_key)
            if slots.row_count:
                slots.move_cursor(row=min(slot_row, slots.row_count - 1))
        if message.note:
            self._say(message.note, ok=True)
        self.refresh_bindings()

    # -- the active dossier and imports ------------------------------------------------------------------

    def action_activate(self) -> None:
        self._set_active(None if self._active == self._number else self._number)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.activate")
    def _set_active(self, number: str | None) -> None:
        self._desk.intake.set_active(self._actor, number)
        note = (
            f"正在扫描 scanning into {number}: the hot folder files new pages here"
            if number
            else "已停止扫描 this dossier is no longer the desk's active one"
        )
        self.post_message(self.Shown(self._desk.dossiers.show(self._number), number, note))

    def action_import_files(self) -> None:
        self.app.push_screen(ImportScreen(self._desk, self._actor, self._number), callback=self._imported)

    def _imported(self, summary: str | None) -> None:
        if summary:
            self._say(summary, ok=True)
            self._reload()

    # -- pages ---------------------------------------------------------------------------------------------

    def action_add_party(self) -> None:
        detail = self._detail
        if detail is None:
            return

        def chosen(party: NewParty | None) -> None:
            if party is None:
                return
            self._change(
                "add_party",
                lambda: self._desk.dossiers.add_party(
                    self._actor,
                    self._number,
                    role=party.role,
                    kind=party.kind,
                    name=party.name,
                    id_value=party.id_value,
                ),
                f"已添加当事人 {' '.join(filter(None, (party.role, party.name)))} added; "
                "the checklist asks for their materials",
            )

        business = self._desk.catalogue.business(detail.business)
        self.app.push_screen(AddPartyScreen(detail.number, business), chosen)

    def action_view_page(self) -> None:
        page_id = _cursor_key(self.query_one(PagesTable))
        if self._detail is not None and page_id is not None:
            self.app.push_screen(PageViewerScreen(self._desk, self._detail, page_id))

    def action_move_page(self) -> None:
        detail, page_id = self._detail, _cursor_key(self.query_one(PagesTable))
        if detail is None or page_id is None:
            return
        options = [slot_label(slot, detail) for slot in detail.slots] + ["（不归入材料 no slot: out of the checklist）"]
        page = next(p for p in detail.pages if p.id == page_id)
        current = next(
            (i for i, s in enumerate(detail.slots) if (s.material, s.party_key) == (page.material, page.party_key)),
            0,
        )

        def chosen(index: int | None) -> None:
            if index is None or self._detail is None:
                return
            slot = detail.slots[index] if index < len(detail.slots) else None
            self._change(
                "move",
                lambda: self._desk.dossiers.move_page(
                    self._actor,
                    self._number,
                    page_id,
                    material=slot.material if slot else None,
                    party_key=slot.party_key if slot else None,
                ),
                f"第 {page.position} 页已移动 page {page.position} moved to {slot.material if slot else 'no slot'}",
            )

        title = f"第 {page.position} 页移至 Move page {page.position} to…"
        self.app.push_screen(ChoiceScreen(title, options, selected=current), chosen)

    def action_rotate_page(self) -> None:
        page_id = _cursor_key(self.query_one(PagesTable))
        if page_id is not None:
            self._change(
                "rotate", lambda: self._desk.dossiers.rotate_page(self._actor, self._number, page_id, degrees=90)
            )

    def action_reorder_up(self) -> None:
        self._reorder(-1)

    def action_reorder_down(self) -> None:
        self._reorder(1)

    def _reorder(self, step: int) -> None:
        table = self.query_one(PagesTable)
        page_id = _cursor_key(table)
        target = table.cursor_row + 1 + step
        if page_id is None or not 1 <= target <= table.row_count:
            return
        self._change(
            "reorder",
            lambda: self._desk.dossiers.reorder_page(self._actor, self._number, page_id, position=target),
        )

    def action_delete_page(self) -> None:
        detail, page_id = self._detail, _cursor_key(self.query_one(PagesTable))
        if detail is None or page_id is None:
            return
        page = next(p for p in detail.pages if p.id == page_id)

        def reason_given(reason: str | None) -> None:
            if reason:
                self._change(
                    "delete",
                    lambda: self._desk.dossiers.delete_page(self._actor, self._number, page_id, reason=reason),
                    f"第 {page.position} 页已删除 page {page.position} removed ({reason})",
                )

        title = f"删除第 {page.position} 页 Remove page {page.position} ({page.source_name}): 原因 reason?"
        self.app.push_screen(PromptScreen(title, placeholder="原因 reason, 例如 e.g. 重复扫描"), reason_given)

    # -- fields ----------------------------------------------------------------------------------------------

    def _field_at_cursor(self) -> tuple[str, str, int] | None:
        key = _cursor_key(self.query_one(FieldsTable))
        if key is None or self._detail is None:
            return None
        page_id, field_key = key.split("\t", 1)
        position = next((p.position for p in self._detail.pages if p.id == page_id), 0)
        return page_id, field_key, position

    def action_edit_field(self) -> None:
        self.query_one(TabbedContent).active = "tab-fields"
        at = self._field_at_cursor()
        if at is None or self._detail is None:
            return
        page_id, key, position = at
        field = next(f for f in self._detail.fields if f.page_id == page_id and f.key == key)

        def edited(value: str | None) -> None:
            if value is None:
                return
            corrected = None if value == field.value else value
            self._change(
                "confirm",
                lambda: self._desk.dossiers.confirm_field(self._actor, self._number, page_id, key, value=corrected),
                f"第 {position} 页 {field_label(key)}: "
                + ("已更正 corrected" if corrected is not None else "已确认 confirmed"),
            )

        if field.source == "ocr":
            note = f"识别置信度 read with {round(field.confidence * 100)}% confidence; Enter 确认 confirms as typed"
        else:
            note = f"{set_by(field)}; Enter 确认 confirms as typed"
        title = f"第 {position} 页 page {position} · {field_label(key)}"
        self.app.push_screen(PromptScreen(title, value=field.value, note=note), edited)

    @on(DataTable.RowSelected, "#fields")
    def _field_selected(self) -> None:
        if self.check_action("edit_field", ()):
            self.action_edit_field()

    def action_confirm_field(self) -> None:
        self.query_one(TabbedContent).active = "tab-fields"
        at = self._field_at_cursor()
        if at is None:
            return
        page_id, key, position = at
        self._change(
            "confirm",
            lambda: self._desk.dossiers.confirm_field(self._actor, self._number, page_id, key),
            f"第 {position} 页 {field_label(key)}: 已确认 confirmed as read",
        )

    # -- checklist, submission, receipt ------------------------------------------------------------------------

    def action_waive(self) -> None:
        self.query_one(TabbedContent).active = "tab-checklist"
        detail = self._detail
        table = self.query_one(ChecklistTable)
        if detail is None or not table.row_count:
            return
        slot = detail.slots[table.cursor_row]
        if slot.satisfied or slot.waived:
            done = "已收取 received" if slot.satisfied else "已免收 waived"
            self._say(f"{slot.material} {done} already", ok=False)
            return

        def reason_given(reason: str | None) -> None:
            if reason:
                self._change(
                    "waive",
                    lambda: self._desk.dossiers.waive(
                        self._actor, self._number, material=slot.material, party_key=slot.party_key, reason=reason
                    ),
                    f"{slot.material} 已免收 waived ({reason})",
                )

        title = f"免收 Waive {slot_label(slot, detail)}: 原因 reason?"
        self.app.push_screen(PromptScreen(title, placeholder="原因 reason, 例如 e.g. 共享数据已核验"), reason_given)

    def action_submit(self) -> None:
        errors = [f for f in self._detail.findings if f.severity == "error"] if self._detail else []
        if not errors:
            self._send_submit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send_submit()

        listed = "\n".join(f"• {f.rule}: {f.message}" for f in errors)
        self.app.push_screen(
            ConfirmScreen(
                f"{len(errors)} 个未解决的错误 open error(s) — 仍要受理？ Submit anyway?",
                listed,
                "y 仍然受理（记录在您名下）submit, recorded under your name · n 返回 back",
            ),
            answered,
        )

    def _send_submit(self) -> None:
        self._say("受理中 submitting…", ok=True)
        self._change("submit", lambda: self._desk.dossiers.submit(self._actor, self._number), None)

    def action_receipt(self) -> None:
        self.app.push_screen(ReceiptScreen(self._desk, self._actor, self._number))

    def action_print_documents(self) -> None:
        if self._detail is not None:
            self.app.push_screen(PrintScreen(self._desk, self._actor, self._detail), self._printed)

    def _printed(self, path: Path | None) -> None:
        if path is not None:
            said = f"已写出 wrote {shown_path(self._desk, path)}"
            self._say(said, ok=True)
            self.notify(said, title="打印 Print", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)

    # -- changes -------------------------------------------------------------------------------------------------

    def _change(self, name: str, call: Callable[[], DossierDetail], note: str | None = "") -> None:
        """Run one service change in a worker of group `detail.<name>`; its result redraws the dossier.

        One change at a time: a key pressed while the last change is still landing only rings the bell, so a
        quick double ctrl+up never reorders from a stale position.
        """
        if self._busy:
            self.app.bell()
            return
        self._busy = True
        self.run_worker(
            partial(self._apply_change, call, note),
            name=CHANGE_WORKER,
            group=f"detail.{name}",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _apply_change(self, call: Callable[[], DossierDetail], note: str | None) -> None:
        detail = call()
        if note is None:  # the submission: say where it went
            note = f"已受理 submitted: status {detail.status} @ {detail.stage}; P 回执 shows the receipt"
        clock = _clock_line(self._desk, self._number)
        self.post_message(self.Shown(detail, self._desk.intake.active_number(), note, clock=clock))

    def action_conditions(self) -> None:
        detail = self._detail
        if detail is None:
            return
        business = self._desk.catalogue.business(detail.business)

        def chosen(names: list[str] | None) -> None:
            if names is None or tuple(names) == detail.conditions:
                return
            shown = "、".join(business.conditions[n] for n in names) or "无 none"
            self._change(
                "conditions",
                lambda: self._desk.dossiers.set_conditions(self._actor, self._number, names),
                f"情形已更新 conditions: {shown}",
            )

        self.app.push_screen(ConditionsScreen(business, detail.conditions), chosen)

    def action_answer(self) -> None:
        detail = self._detail
        if detail is None or detail.supplement is None or not detail.supplement.open:
            self._say("未处于补正状态 nothing to answer: the dossier is not returned for 补正", ok=False)
            return
        count = len(detail.supplement.items)

        def given(text: str | None) -> None:
            if not text:
                return
            head, _, note = text.strip().partition(" ")
            if not head.isdigit() or not 1 <= int(head) <= count or not note.strip():
                self._say(f"请写编号 write the item's number (1–{count}), a space, then what was done", ok=False)
                return
            item = int(head)
            self._change(
                "answer",
                lambda: self._desk.dossiers.answer(self._actor, self._number, item, note),
                f"补正事项 {item} 已说明 answered",
            )

        title = f"答复补正事项 Answer a 补正 item (1–{count}): 编号，再写处理情况 number, then what was done"
        self.app.push_screen(PromptScreen(title, placeholder="例如 e.g. 2 已补交加盖公章的决议原件"), given)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.name == CHANGE_WORKER and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._busy = False
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        if isinstance(error, MissingMaterials):
            items = [str(item) for item in error.missing]
            self._say(f"无法受理 cannot submit: {len(items)} missing (list shown; 一次性告知)", ok=False)
            body = "\n".join(f"- {item}" for item in items)
            title = f"无法受理：缺少 {len(items)} 项材料 Cannot submit: {len(items)} items missing"
            self.app.push_screen(MessageScreen(title, body))
        else:
            self._say(error_line(error), ok=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        detail = self._detail
        if action == "receipt":
            return detail is not None
        if action == "conditions" and (detail is None or not self._desk.catalogue.business(detail.business).conditions):
            return False
        if action == "print_documents":
            return detail is not None and bool(notice_kinds(detail))
        if action == "answer":  # only while a 补正 notice waits for the applicant
            return detail is not None and detail.supplement is not None and detail.supplement.open
        if action == "view_page":
            return self.query_one(PagesTable).row_count > 0
        if action not in EDIT_ACTIONS:
            return True
        if detail is None or detail.status not in EDITABLE:
            return False
        if action in PAGE_ACTIONS:
            table = self.query_one(PagesTable)
            if not table.row_count:
                return False
            if action == "reorder_up":
                return table.cursor_row > 0
            if action == "reorder_down":
                return table.cursor_row < table.row_count - 1
        if action in FIELD_ACTIONS:
            return self.query_one(FieldsTable).row_count > 0
        if action == "waive":
            return any(s.required and not s.satisfied and not s.waived for s in detail.slots)
        return True

    @on(DataTable.RowHighlighted)
    def _row_moved(self) -> None:
        self.refresh_bindings()

    def _say(self, text: str, *, ok: bool) -> None:
        message = self.query_one("#detail-message", Static)
        message.update(text)
        message.display = bool(text)
        message.set_class(ok, "-ok")
        message.set_class(not ok, "-error")


class ImportScreen(ModalScreen[str | None]):
    """Take scan files into the dossier: a file, a folder (its scans, by name) or a pattern like scans/a-*."""

    HELP = """
## 导入 Import

输入扫描件文件、文件夹或通配路径，按文件名顺序导入并在后台识别。

Type the path of a scan file, a folder (every scan in it, by file name) or a pattern such as
`scans/case-01-*`. Pages are added in that order and read by OCR in the background.
A file that cannot be taken is named with its reason; the others are still taken.
"""
    BINDINGS = [
        Binding("escape", "cancel", "取消 Cancel", id="import.cancel", tooltip="关闭，不导入 Close without importing")
    ]
    DEFAULT_CSS = """
    ImportScreen { align: center middle; }
    ImportScreen > Vertical { width: 80; max-width: 100%; height: auto; border: round $primary;
        background: $surface; padding: 0 1; }
    ImportScreen #import-title { text-style: bold; }
    ImportScreen #import-error { color: $text-error; height: auto; }
    """

    class Done(Message):
        def __init__(self, summary: str) -> None:
            super().__init__()
            self.summary = summary

    def __init__(self, desk: Desk, actor: Actor, number: str) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"导入扫描件 Import scans into {self._number}", id="import-title", markup=False)
            yield Input(
                placeholder="文件、文件夹或通配 file, folder or pattern, e.g. ~/scans/case-01-*", id="import-path"
            )
            yield Static("", id="import-error", markup=False)
        yield KeysFooter()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self._error("请输入文件、文件夹或通配 type a file, a folder or a pattern")
            return
        self._error("导入中 importing…")
        event.input.disabled = True
        self._import(text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.import")
    def _import(self, text: str) -> None:
        paths = _scan_paths(text)
        taken = pages = 0
        refused: list[str] = []
        for path in paths:
            try:
                result = self._desk.intake.ingest(self._actor, path, number=self._number, source=path.name)
            except UsageError as exc:
                refused.append(str(exc))
                continue
            taken += 1
            pages += len(result.page_ids) if result.outcome == "attached" else 0
            if result.outcome != "attached":
                refused.append(result.message)
        if not taken and refused:
            several = f"{len(refused)} 个文件被拒 files refused; {refused[0]}"
            raise UsageError(refused[0] if len(refused) == 1 else several)
        summary = f"已导入 imported {taken} file(s), {pages} new page(s) into {self._number}"
        if refused:
            summary += f"; {len(refused)} 未导入 not taken: {refused[0]}"
        self.post_message(self.Done(summary))

    @on(Done)
    def _done(self, message: Done) -> None:
        self.dismiss(message.summary)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._error(error_line(event.worker.error))
            path = self.query_one("#import-path", Input)
            path.disabled = False
            path.focus()

    def _error(self, text: str) -> None:
        self.query_one("#import-error", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReceiptScreen(ModalScreen[None]):
    """The 受理回执 as text; `w` writes it as a one-page PDF into the data folder's receipts/."""

    HELP = """
## 受理回执 Receipt

申请人带走的受理回执；`w` 保存为 PDF。

What the applicant takes home: the 受理号, business, applicants (identifiers masked), the materials received
with their page counts, the acceptance time and the time limit. `w` saves it as a PDF for printing.
"""
    BINDINGS = [
        Binding(
            "w", "save_pdf", "保存 Save PDF", id="receipt.save_pdf", tooltip="回执存为 PDF Write the receipt as a PDF"
        ),
        Binding("escape", "close", "关闭 Close", id="receipt.close", tooltip="回到案卷 Back to the dossier"),
    ]
    DEFAULT_CSS = """
    ReceiptScreen { align: center middle; }
    ReceiptScreen > Vertical { width: 96; max-width: 100%; height: 100%; max-height: 40; border: round $primary;
        background: $surface; padding: 0 1; }
    ReceiptScreen VerticalScroll { height: 1fr; }
    ReceiptScreen #receipt-status { height: auto; }
    ReceiptScreen #receipt-status.-error { color: $text-error; }
    ReceiptScreen #receipt-status.-ok { color: $text-success; }
    """

    class Built(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Saved(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, desk: Desk, actor: Actor, number: str) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = number

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="receipt-scroll"):
                yield Static("加载中 loading…", id="receipt-text", markup=False)
            yield Static("", id="receipt-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self._build()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.receipt")
    def _build(self) -> None:
        self.post_message(self.Built(receipt_text(build_receipt(self._desk, self._actor, self._number))))

    @on(Built)
    def _built(self, message: Built) -> None:
        self.query_one("#receipt-text", Static).update(message.text)

    def action_save_pdf(self) -> None:
        self._status("正在生成 PDF writing the PDF…", ok=True)
        self._save()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.receipt_pdf")
    def _save(self) -> None:
        receipt = build_receipt(self._desk, self._actor, self._number)
        out = receipt_path(Path(self._desk.settings.data_dir), self._number)
        self.post_message(self.Saved(write_receipt_pdf(receipt, out)))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        # Named inside the data folder: the same dossier reads the same on every desk (and in snapshots).
        where = message.path.relative_to(Path(self._desk.settings.data_dir)).as_posix()
        self._status(f"已保存 saved to {where} in the data folder", ok=True)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._status(error_line(event.worker.error), ok=False)

    def _status(self, text: str, *, ok: bool) -> None:
        status = self.query_one("#receipt-status", Static)
        status.update(text)
        status.set_class(ok, "-ok")
        status.set_class(not ok, "-error")

    def action_close(self) -> None:
        self.dismiss(None)


NOTICE_LABELS = {
    "receipt": "受理凭证 Receipt of acceptance",
    "supplement": "补正材料通知书 Supplement notice",
    "refuse-intake": "不予受理告知书 Refusal at intake",
    "refuse-registration": "不予登记告知书 Refusal of registration",
}


def notice_kinds(detail: DossierDetail) -> list[str]:
    """The written notices the dossier gives ground for, as it stands."""
    kinds = []
    if detail.accepted_at is not None:
        kinds.append("receipt")
    if detail.supplement is not None:
        kinds.append("supplement")
    if detail.status == "refused":
        kinds.append("refuse-intake")
    if detail.status == "rejected":
        kinds.append("refuse-registration")
    return kinds


class PrintScreen(ModalScreen[Path | None]):
    """The dossier's notices and its certificates: `enter` on one writes it as a PDF into the data folder."""

    HELP = """
## 打印 Print

本案卷可出具的通知书和证书；回车生成 PDF。

The written notices this dossier gives ground for (受理凭证 once accepted, 补正 once returned, 不予受理,
不予登记) and the certificates 登簿 allocated, paper or signed electronic. `enter` writes the chosen one as a
PDF under prints/ in the data folder.
"""
    BINDINGS = [Binding("escape", "cancel", "关闭 Close", id="print.cancel", tooltip="回到案卷 Back to the dossier")]
    DEFAULT_CSS = """
    PrintScreen { align: center middle; }
    PrintScreen > Vertical { width: 80; max-width: 100%; height: auto; max-height: 100%; border: round $primary;
        background: $surface; padding: 0 1; }
    PrintScreen #print-title { text-style: bold; }
    PrintScreen #print-list { height: auto; max-height: 12; }
    PrintScreen #print-status { height: auto; }
    PrintScreen #print-status.-error { color: $text-error; }
    """

    class Certificates(Message):
        def __init__(self, numbers: list[str]) -> None:
            super().__init__()
            self.numbers = numbers

    def __init__(self, desk: Desk, actor: Actor, detail: DossierDetail) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._number = detail.number
        # (what the option writes, its label): ("notice", kind) or ("certificate"/"e-certificate", number).
        self._choices = [(("notice", kind), NOTICE_LABELS[kind]) for kind in notice_kinds(detail)]
        self._certificates: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"打印 Print {self._number}", id="print-title", markup=False)
            yield OptionList(*(label for _, label in self._choices), id="print-list")
            yield Static("证书加载中 loading certificates…", id="print-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.print_load")
    def _load(self) -> None:
        entries = self._desk.register.entries_of(self._number)
        self.post_message(self.Certificates([e.cert_number for e in entries if e.cert_number]))

    @on(Certificates)
    def _certificates_loaded(self, message: Certificates) -> None:
        self._certificates = message.numbers
        options = self.query_one("#print-list", OptionList)
        for number in message.numbers:
            for kind, label in (("certificate", "证书 Certificate"), ("e-certificate", "电子证照 E-certificate")):
                self._choices.append(((kind, number), f"{label} {number}"))
                options.add_option(f"{label} {number}")
        self._status("" if self._choices else "无可打印文书 nothing to print for this dossier")

    @on(OptionList.OptionSelected, "#print-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._status("正在生成 PDF writing the PDF…")
        self._write(*self._choices[event.option_index][0])

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail.print")
    def _write(self, what: str, name: str) -> Path:
        from workstation.services.documents import write_certificate, write_notice  # PDF code: on the first print

        data_dir = Path(self._desk.settings.data_dir)
        if what == "notice":
            return write_notice(self._desk, self._actor, self._number, name, print_path(data_dir, self._number, name))
        electronic = what == "e-certificate"
        out = print_path(data_dir, self._number, certificate_kind(electronic, self._certificates.index(name)))
        return write_certificate(self._desk, self._actor, name, out, electronic=electronic)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._status(error_line(event.worker.error), error=True)
        elif event.state == WorkerState.SUCCESS and event.worker.group == "detail.print":
            self.dismiss(event.worker.result)

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#print-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- helpers --------------------------------------------------------------------------------------------------


def _scan_paths(text: str) -> list[Path]:
    """The files `text` names: one file, a folder's scans, or a glob pattern's scans, sorted by name."""
    path = Path(text).expanduser()
    if any(ch in text for ch in "*?["):
        parent = path.parent
        found = sorted(p for p in parent.glob(path.name) if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES)
        if not found:
            raise UsageError(f"无匹配的扫描件 no scan files match {text}")
        return found
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES)
        if not found:
            raise UsageError(f"文件夹无扫描件 the folder {text} holds no scan files ({', '.join(SCAN_SUFFIXES)})")
        return found
    if not path.is_file():
        raise UsageError(f"无此文件或文件夹 no such file or folder: {text}")
    return [path]


def _cursor_key(table: DataTable[Any]) -> str | None:
    if not table.row_count:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value


def _restore_cursor(table: DataTable[Any], key: str | None) -> None:
    if key is None or not table.row_count:
        return
    try:
        table.move_cursor(row=table.get_row_index(key))
    except Exception:  # the row is gone (a page removed): stay where the cursor is
        return


def _header(detail: DossierDetail, active: str | None) -> Content:
    marker = (
        Content.styled("  ● 扫描中 scanning here", "bold $text-success") if active == detail.number else Content("")
    )
    return Content.assemble(
        (detail.number, "bold"),
        f"  {detail.business} {detail.business_name}  ",
        (f"{detail.status} @ {detail.stage}", "bold"),
        marker,
    )


def _progress(detail: DossierDetail) -> str:
    states = [p.ocr_status for p in detail.pages]
    parts = [f"识别 OCR {states.count('done')}/{len(states)} read"]
    for state, label in OCR_STATES.items():
        if states.count(state):
            parts.append(f"{states.count(state)} {label} {state}")
    if detail.status in EDITABLE:
        parts.append(f"缺少 missing {len(detail.missing)}" if detail.missing else "材料齐全 nothing missing")
    if detail.findings:
        parts.append(f"问题 {len(detail.findings)} finding(s)")
    if detail.conditions:
        parts.append(f"情形 conditions {len(detail.conditions)} (k)")
    if detail.signing:
        parts.append("见证 signed ✔" if detail.signing.get("result") == "pass" else "见证 signing ✘")
    parts.append(f"申请 applied {local_time(detail.applied_at)}")
    return " · ".join(parts)


def _clock_line(desk: Desk, number: str) -> Content:
    """The time limit (R19) as this desk knows it: its own, or the registry's as last mirrored, with its age."""
    try:
        view = desk.clocks.clock(number)
    except (UsageError, DomainError) as exc:
        return Content.styled(f"时限 clock: {error_line(exc)}", "$text-error")
    parts = [f"时限 clock: {CLOCK_LABELS.get(view.state, view.state)}"]
    if view.used is not None:
        parts.append(f"已用 used {view.used}/{view.limit_days} 工作日 working days")
    if view.due is not None:
        parts.append(f"到期 due {view.due.isoformat()}")
    if view.source == "registry":
        parts.append(
            f"以中心为准 registry's as of {local_time(view.synced_at)}"
            if view.synced_at
            else "未与中心同步 not synced with the registry"
        )
    style = "$text-error" if view.overdue or view.state == "not synced" else ("$text-warning" if view.paused else "")
    return Content.styled(" · ".join(parts), style) if style else Content(" · ".join(parts))


CLOCK_LABELS = {
    "not accepted yet": "未受理 not accepted yet",
    "not synced": "未同步 not synced (the registry keeps it)",
    "stopped": "已停止 stopped",
    "overdue": "已超期 overdue",
    "due today": "今日到期 due today",
    "paused": "暂停计时 paused",
    "running": "计时中 running",
}


def _supplement(detail: DossierDetail) -> Content:
    sup = detail.supplement
    if sup is None:
        return Content("未退回补正 never returned for 补正")
    state = "待补正 open — T answers an item" if sup.open else "已补正 answered"
    lines: list[Content] = [
        Content.assemble(
            ("补正告知 notice ", "bold"),
            f"{local_time(sup.decided_at)} · {sup.reviewer or '—'} · {len(sup.items)} 项 item(s) · {state}",
        )
    ]
    if sup.note:
        lines.append(Content(f"审核意见 opinion: {sup.note}"))
    for i in sup.items:
        field = field_label(i.field) if i.field else None
        what = " ".join(x for x in (i.material, f"[{i.party_key}]" if i.party_key else None, field) if x)
        mark = ("✔ ", "$text-success") if i.addressed else ("✘ ", "$text-error")
        text = f"{i.item}. {what} — {i.problem_label}" + (f": {i.note}" if i.note else "")
        lines.append(Content.assemble(mark, text))
        if i.answer:
            lines.append(Content(f"     说明 answer: {i.answer}"))
    return Content("\n").join(lines)


def _missing(missing: tuple[str, ...]) -> Content:
    if not missing:
        return Content.styled("材料齐全 Nothing missing", "$text-success")
    return Content.assemble(
        (f"缺少 Missing ({len(missing)}): ", "bold $text-error"),
        "; ".join(missing),
    )


def _parties(parties: tuple[PartyView, ...]) -> Content:
    lines = []
    for party in parties:
        kind = KIND_LABELS.get(party.kind, party.kind)
        line = f"{party.key}  {party.role_label}({kind})  {party.name or '—'}"
        if party.id_value:
            line += f"  {ID_LABELS.get(party.id_type or '', party.id_type or 'ID')} {mask_id(party.id_value)}"
        lines.append(Content(line))
    return Content("\n").join(lines)
