"""One dossier under review: its pages (image beside OCR text), checklist, findings and fields; the decision keys.

A decision goes to the review service under the live lease. A decision the service refuses (the lease was lost)
is recorded there as a conflict and shown here in one line; the 补正 list chosen is kept for the next try.
After a decision the screen moves on to the next dossier of my queue, or claims the next one when it is empty.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.errors import DomainError
from workstation.domain.field_labels import field_label_zh
from workstation.domain.permissions import Actor
from workstation.domain.review import ReturnItem, merge_items
from workstation.errors import ConflictError
from workstation.services.desk import Desk
from workstation.services.pages import PageImages
from workstation.services.review import DecisionView, Heartbeat, LeaseView
from workstation.services.views import DossierDetail, PageView
from workstation.tui.screens import error_line, local_time
from workstation.tui.screens.review import KIND_LABELS, Clock, form_label, queue_order, time_left, utc_now
from workstation.tui.screens.review_decide import ApproveModal, RejectChoice, RejectModal, ReturnModal
from workstation.tui.widgets.chrome import AppHeader, KeysFooter
from workstation.tui.widgets.intake import confidence_cell, set_by
from workstation.tui.widgets.ocr_text import OcrText
from workstation.tui.widgets.page_image import PageImage, PageLoaded, read_page

SEVERITY_LABELS = {"error": "错误 error", "warning": "警告 warn", "info": "提示 info"}
KIND_DONE = {"approve": "审核通过 approved", "return": "补正 returned", "reject": "不予登记 rejected"}
TAB_FOCUS = {
    "tab-pages": "#page-list",
    "tab-checklist": "#checklist-scroll",
    "tab-findings": "#findings-scroll",
    "tab-fields": "#fields",
}
TABS = tuple(TAB_FOCUS)
FIELD_COLUMNS = ("字段 field", "值 value", "置信 conf", "校验 valid", "页 page", "来源 set by")


class ReviewDossierScreen(Screen[None]):
    CSS_PATH = "review_dossier.tcss"
    AUTO_FOCUS = "#page-list"
    # Below 120 columns the page shows image or text (`t` switches); from 120 both, side by side.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding(
            "a",
            "approve",
            "通过 Approve",
            id="review.approve",
            tooltip="审核通过，进入下一环节 Approve: on to the next stage",
        ),
        Binding(
            "b",
            "return",
            "补正 Return",
            id="review.return",
            tooltip="一次性告知补正 Return for supplement, the complete list",
        ),
        Binding(
            "x",
            "reject",
            "不予登记 Refuse",
            id="review.reject",
            tooltip="依法不予登记 Refuse registration with a legal reason",
        ),
        Binding(
            "t",
            "toggle_text",
            "图文 Text",
            id="review.toggle_text",
            tooltip="切换页面图像或文字 Show the page image or its text",
        ),
        Binding(
            "o",
            "open_full",
            "原图 Full size",
            id="review.open_full",
            tooltip="在看图程序中打开 Open the page in the image viewer",
        ),
        Binding("1", "tab('tab-pages')", "页面 Pages", id="review.tab.pages", tooltip="页面 The pages", show=False),
        Binding(
            "2",
            "tab('tab-checklist')",
            "清单 Checklist",
            id="review.tab.checklist",
            tooltip="材料清单 The checklist",
            show=False,
        ),
        Binding(
            "3",
            "tab('tab-findings')",
            "发现 Findings",
            id="review.tab.findings",
            tooltip="审查发现 The findings",
            show=False,
        ),
        Binding(
            "4",
            "tab('tab-fields')",
            "字段 Fields",
            id="review.tab.fields",
            tooltip="识别字段 Extracted fields",
            show=False,
        ),
        Binding(
            "escape",
            "back",
            "队列 Queue",
            id="review.back",
            tooltip="回到我的队列（租约保留） Back to my queue, lease kept",
        ),
    ]

    HELP = """
## 审核案卷 Reviewing a dossier

页面、清单、问题与字段；`a` 通过，`b` 补正，`x` 不予登记。

Pages with their image and OCR text (extracted values highlighted), the checklist (清单), the consistency
findings and the extracted fields; `1`–`4` switch between them. Below 120 columns `t` switches image and text.

- `a` approves (one confirm), `b` returns it for 补正 with the complete list (一次性告知), `x` refuses
  registration (不予登记) with a legal reason.
- After a decision the next dossier of your queue opens (or the next one is claimed).
- A decision refused because the lease was lost is shown in one line and recorded as a conflict.
- `o` opens the page at full resolution; `escape` goes back to the queue, keeping the lease.
"""

    class Shown(Message):
        def __init__(self, detail: DossierDetail, lease: LeaseView | None) -> None:
            super().__init__()
            self.detail = detail
            self.lease = lease

    class Suggested(Message):
        def __init__(self, items: list[ReturnItem]) -> None:
            super().__init__()
            self.items = items

    class Decided(Message):
        def __init__(self, decision: DecisionView, following: LeaseView | None, problem: str = "") -> None:
            super().__init__()
            self.decision = decision
            self.following = following
            self.problem = problem  # why no next dossier could be found, when one could not

    class Renewed(Message):
        def __init__(self, lease: LeaseView, beat: Heartbeat) -> None:
            super().__init__()
            self.lease = lease
            self.beat = beat

    class Refused(Message):
        """The service recorded the decision as a conflict (the lease was lost)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self,
        desk: Desk,
        actor: Actor,
        lease: LeaseView,
        *,
        clock: Clock | None = None,
        pages: PageImages | None = None,
    ) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._lease: LeaseView = lease
        self.clock: Clock = clock or utc_now
        self._pages = pages or PageImages(desk)
        self._detail: DossierDetail | None = None
        self._page_id: str | None = None
        self._lease_lost: str | None = None
        self._busy = False  # a decision is on its way
        # What the reviewer chose for a 补正 that did not go through; offered again, so nothing is lost.
        self._draft: tuple[list[ReturnItem], list[ReturnItem]] | None = None

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self._title(), id="dossier-title", markup=False)
        yield Static("", id="dossier-message", markup=False)
        with TabbedContent(initial="tab-pages", id="dossier-tabs"):
            with TabPane("页面 Pages", id="tab-pages"), Horizontal(id="pages-row"):
                yield OptionList(id="page-list")
                yield PageImage(id="page-image")
                yield OcrText(id="ocr-text")
            with TabPane("清单 Checklist", id="tab-checklist"), VerticalScroll(id="checklist-scroll"):
                yield Static("", id="checklist")
            with TabPane("发现 Findings", id="tab-findings"), VerticalScroll(id="findings-scroll"):
                yield Static("", id="findings")
            with TabPane("字段 Fields", id="tab-fields"):
                yield DataTable(id="fields", cursor_type="row", zebra_stripes=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#fields", DataTable).add_columns(*FIELD_COLUMNS)
        self.set_interval(1.0, self.tick)
        # This screen keeps its own lease alive too, so its countdown follows each renewal.
        self.set_interval(max(self._desk.review.lease.total_seconds() / 3, 1.0), self.heartbeat)
        self.load()

    # -- actions ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "return", "reject"):
            return self._detail is not None and self._lease_lost is None and not self._busy
        if action == "open_full":
            return self._page_id is not None
        if action == "toggle_text":
            return self.has_class("-narrow")
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        if tab in TABS:
            # Focus first: focus left in a hidden pane would bring that pane back.
            self.query_one(TAB_FOCUS[tab]).focus()
            self.query_one("#dossier-tabs", TabbedContent).active = tab

    def action_toggle_text(self) -> None:
        self.toggle_class("-show-text")

    def action_approve(self) -> None:
        errors = (
            [f"{f.rule}: {f.message}" for f in self._detail.findings if f.severity == "error"] if self._detail else []
        )
        self.app.push_screen(ApproveModal(self._lease.number, errors), callback=self._approve_answered)

    def _approve_answered(self, yes: bool | None) -> None:
        if yes:
            self._send("approve")

    def action_return(self) -> None:
        self.suggest()

    def action_reject(self) -> None:
        self.app.push_screen(
            RejectModal(self._lease.number, self._desk.review.rules.reject_reasons), callback=self._reject_answered
        )

    def _reject_answered(self, choice: RejectChoice | None) -> None:
        if choice is not None:
            self._send("reject", reason_code=choice.reason_code, note=choice.note)

    def action_open_full(self) -> None:
        if self._page_id is not None:
            self.open_full(self._page_id)

    @on(OptionList.OptionHighlighted, "#page-list")
    def _page_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        page_id = event.option.id
        if page_id is not None and page_id != self._page_id:
            self._page_id = page_id
            self.query_one(PageImage).show_note("loading…")
            self.query_one(OcrText).show_note("loading…")
            self.load_page(page_id)
            self.refresh_bindings()

    # -- workers ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.load")
    def load(self) -> None:
        number = self._lease.number
        detail = self._desk.dossiers.show(number)
        lease = self._desk.review.lease_of(self._actor, number)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Shown(detail, lease))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.page")
    def load_page(self, page_id: str) -> None:
        loaded = read_page(self._desk, self._pages, self._lease.number, page_id)
        if loaded is not None:
            self.post_message(loaded)

    def heartbeat(self) -> None:
        if self._lease_lost is None and not self._busy:
            self._renew(self._lease)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.dossier_heartbeat")
    def _renew(self, lease: LeaseView) -> None:
        self.post_message(self.Renewed(lease, self._desk.review.heartbeat(self._actor, [lease.lease_id])))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.suggest")
    def suggest(self) -> None:
        self.post_message(self.Suggested(self._desk.review.suggest_return(self._lease.number)))

    def _send(
        self, kind: str, *, items: Sequence[ReturnItem] = (), reason_code: str | None = None, note: str = ""
    ) -> None:
        self._busy = True  # no second decision while this one is on its way
        self.refresh_bindings()
        self.decide(kind, items=items, reason_code=reason_code, note=note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.decide")
    def decide(
        self, kind: str, *, items: Sequence[ReturnItem] = (), reason_code: str | None = None, note: str = ""
    ) -> None:
        lease = self._lease
        try:
            decision = self._desk.review.decide(
                self._actor,
                lease.number,
                kind,
                lease_id=lease.lease_id,
                fence=lease.fence,
                items=items,
                reason_code=reason_code,
                note=note,
                op_id=str(uuid.uuid4()),
            )
        except ConflictError as exc:
            self.post_message(self.Refused(str(exc)))
            return
        # Next: the first dossier left in my queue (R15 order), else the next one from the pool.
        following: LeaseView | None = None
        problem = ""
        try:
            queue = queue_order(self._desk.review.queue(self._actor))
            following = queue[0] if queue else self._desk.review.claim_next(self._actor)
        except Exception as exc:  # the decision stands; only finding the next one failed
            problem = error_line(exc)
        self.post_message(self.Decided(decision, following, problem))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.open_full")
    def open_full(self, page_id: str) -> None:
        path = self._pages.full_resolution(self._lease.number, page_id)
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        try:
            subprocess.Popen(
                [opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
        except OSError:
            self.app.call_from_thread(
                self.notify, f"无图片查看器 no image viewer ({opener}); the page is in {Path(path).name}", markup=False
            )

    # -- results ---------------------------------------------------------------------------------------

    @on(Shown)
    def _shown(self, message: Shown) -> None:
        detail = message.detail
        self._detail = detail
        if message.lease is not None:
            self._lease = message.lease
        elif self._lease_lost is None:
            self._lease_lost = "this desk no longer holds the lease"
            self._message(
                f"租约失效 lease lost on {detail.number}: decisions are refused; escape to go back to my queue"
            )
        self.query_one("#dossier-title", Static).update(self._title())
        self._draw_pages(detail.pages)
        self.query_one("#checklist", Static).update(self._checklist(detail))
        self.query_one("#findings", Static).update(self._findings(detail))
        self._draw_fields(detail)
        self.refresh_bindings()

    @on(PageLoaded)
    def _page_shown(self, message: PageLoaded) -> None:
        if message.page_id != self._page_id or self._detail is None:
            return
        page = next((p for p in self._detail.pages if p.id == message.page_id), None)
        caption = self._page_label(page) if page is not None else ""
        picture = self.query_one(PageImage)
        if message.image is not None:
            picture.show_image(message.image, caption)
        else:
            picture.show_note(message.note)
        values = [f.value for f in self._detail.fields if f.page_id in (None, message.page_id)]
        self.query_one(OcrText).show_lines(message.lines, values)

    @on(Suggested)
    def _suggested(self, message: Suggested) -> None:
        items = list(merge_items(message.items, self._draft[0] if self._draft else ()))
        unticked = self._draft[1] if self._draft else []
        self.app.push_screen(
            ReturnModal(
                self._lease.number,
                items,
                problems=self._desk.review.rules.problems,
                material_name=self._material_name,
                unticked=unticked,
            ),
            callback=lambda chosen: self._return_answered(items, chosen),
        )

    def _return_answered(self, offered: list[ReturnItem], chosen: list[ReturnItem] | None) -> None:
        if chosen is None:
            return
        # Kept until the return is recorded, so a refused one can be sent again as it was.
        ticked = {(*item.key(), item.problem) for item in chosen}
        self._draft = (list(merge_items(offered, chosen)), [i for i in offered if (*i.key(), i.problem) not in ticked])
        self._send("return", items=chosen)

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        self._busy = False
        decision = message.decision
        done = KIND_DONE.get(decision.kind, decision.kind)
        self.notify(f"{decision.number} {done} → {decision.stage_after}/{decision.status_after}", markup=False)
        self._draft = None
        following = message.following
        if message.problem:
            self.notify(f"无法领取下一件 no next dossier: {message.problem}", severity="error", markup=False)
            self.dismiss()
            return
        if following is None:
            self.notify("队列已空 my queue is empty and the pool has nothing for me", markup=False)
            self.dismiss()
            return
        self._switch_to(following)

    @on(Renewed)
    def _renewed(self, message: Renewed) -> None:
        if message.lease.lease_id != self._lease.lease_id or self._busy:
            return  # moved on to another dossier, or a decision is on its way
        for lease in message.beat.renewed:
            self._lease = lease
        for _lease_id, why in message.beat.lost:
            self._lease_lost = why
            self._message(f"租约失效 lease lost on {self._lease.number}: {why}; escape to go back to my queue")
            self.refresh_bindings()
        self.tick()

    @on(Refused)
    def _refused(self, message: Refused) -> None:
        self._busy = False
        self._lease_lost = message.text
        self._message(message.text)
        self.tick()
        self.notify(message.text, title="conflict", severity="error", markup=False)
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            if event.worker.group == "review.decide":
                self._busy = False
                self.refresh_bindings()
            self.notify(error_line(event.worker.error), title="review", severity="error", markup=False)

    # -- drawing ---------------------------------------------------------------------------------------

    def tick(self) -> None:
        """The lease countdown, once a second, from the lease's expiry and the clock: no database call."""
        self.query_one("#dossier-title", Static).update(self._title())

    def _switch_to(self, lease: LeaseView) -> None:
        self._lease = lease
        self._detail = None
        self._page_id = None
        self._lease_lost = None
        self._message("")
        self.query_one("#page-list", OptionList).clear_options()
        self.query_one(PageImage).show_note("loading…")
        self.query_one(OcrText).show_note("")
        self.query_one("#dossier-title", Static).update(self._title())
        self.action_tab("tab-pages")
        self.refresh_bindings()
        self.load()

    def _message(self, text: str) -> None:
        line = self.query_one("#dossier-message", Static)
        line.update(text)
        line.display = bool(text)

    def _title(self) -> str:
        lease = self._lease
        detail = self._detail
        business = detail.business_name if detail is not None and detail.business_name else lease.business
        kind = KIND_LABELS.get(lease.applicant_kind, lease.applicant_kind)
        left = "租约失效 lease lost" if self._lease_lost else f"剩余 left {time_left(lease, self.clock())}"
        status = f" · {detail.status}" if detail is not None else ""
        signed = ""
        if detail is not None and detail.signing:  # captured away from the hall: how the signing was witnessed
            mark = "✔" if detail.signing.get("result") == "pass" else "✘"
            signed = f" · 见证 signed {detail.signing.get('method', '')} {mark}"
        return (
            f"{lease.number} · {business} · {kind} · {form_label(lease.digitized)} · "
            f"申请 applied {local_time(lease.applied_at)}{status}{signed} · {left}"
        )

    def _draw_pages(self, pages: Sequence[PageView]) -> None:
        options = self.query_one("#page-list", OptionList)
        options.clear_options()
        options.add_options([Option(self._page_label(page), id=page.id) for page in pages])
        if pages:
            options.highlighted = 0
        else:
            self.query_one(PageImage).show_note("this dossier has no pages (paper only)")
            self.query_one(OcrText).show_note("")

    def _page_label(self, page: PageView) -> str:
        material = page.material or "—"
        return f"{page.position:>2} {material} {self._material_name(material) if page.material else ''}".rstrip()

    def _material_name(self, code: str) -> str:
        try:
            return self._desk.catalogue.material(code).name
        except DomainError:
            return ""

    def _checklist(self, detail: DossierDetail) -> Content:
        parties = {p.key: " ".join(x for x in (p.role_label, p.name) if x) for p in detail.parties}
        lines: list[Content] = []
        for slot in detail.slots:
            if slot.waived:
                mark, style = "≈", "$text-warning"
            elif slot.satisfied:
                mark, style = "✓", "$text-success"
            elif slot.required:
                mark, style = "✗", "$text-error"
            else:
                mark, style = "·", "$text-muted"
            who = f" — {parties.get(slot.party_key, slot.party_key)}" if slot.party_key else ""
            need = "" if slot.required else " (可选 optional)"
            waiver = f" · 已免收 waived: {slot.waiver_reason}" if slot.waived and slot.waiver_reason else ""
            lines.append(Content.assemble((f"{mark} ", style), f"{slot.material} {slot.label}{who}{need}{waiver}"))
        if detail.missing:
            lines.append(Content.styled(f"缺少 missing: {', '.join(detail.missing)}", "$text-error"))
        return Content("\n").join(lines) if lines else Content("无材料清单 no checklist")

    @staticmethod
    def _findings(detail: DossierDetail) -> Content:
        if not detail.findings:
            return Content.styled("未发现问题 no findings: the documents agree", "$text-muted")
        styles = {"error": "$text-error", "warning": "$text-warning"}
        return Content("\n").join(
            Content.assemble(
                (f"{SEVERITY_LABELS.get(f.severity, f.severity):<10} ", styles.get(f.severity, "$text-muted")),
                f"{f.rule}: {f.message}",
            )
            for f in detail.findings
        )

    def _draw_fields(self, detail: DossierDetail) -> None:
        table = self.query_one("#fields", DataTable)
        positions = {p.id: str(p.position) for p in detail.pages}
        table.clear()
        for f in sorted(detail.fields, key=lambda f: (f.key, f.value)):
            valid = "—" if f.valid is None else ("✗" if not f.valid else ("核对 check" if f.to_check else "✓"))
            table.add_row(
                field_label_zh(f.key),
                f.value,
                confidence_cell(f, percent=False),
                valid,
                positions.get(f.page_id or "", "—"),
                set_by(f),
            )

    # -- for tests and the queue screen ----------------------------------------------------------------

    @property
    def lease(self) -> LeaseView:
        return self._lease

    @property
    def detail(self) -> DossierDetail | None:
        return self._detail
