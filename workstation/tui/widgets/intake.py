"""The intake desk's pieces: the dossier's tables (pages, checklist, fields, findings) and small dialogs.

Tables receive a `DossierDetail` and fill themselves in one pass, rows keyed by what identifies them inside the
dossier (page ids never appear on screen: pages read by their order number). Dialogs return what the clerk
chose; the screen that opened them calls the services.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static

from workstation.domain.field_labels import field_label_zh
from workstation.services.views import DossierDetail, FieldView, PageView, SlotView
from workstation.tui.widgets.chrome import KeysFooter

UNKNOWN_MATERIAL = "unknown"
OCR_LABELS = {"none": "—", "queued": "queued", "reading": "reading…", "done": "done", "failed": "failed"}


def party_label(detail: DossierDetail, key: str | None, *, with_name: bool = False) -> str:
    """`p2 出卖人` (the tables: names are on the parties tab), or with the name where a choice is made."""
    if not key:
        return ""
    party = next((p for p in detail.parties if p.key == key), None)
    if party is None:
        return key
    name = f" {party.name}" if with_name and party.name else ""
    return f"{key} {party.role_label}{name}"


def slot_label(slot: SlotView, detail: DossierDetail) -> str:
    who = party_label(detail, slot.party_key, with_name=True)
    return f"{slot.material} {slot.label}" + (f" — {who}" if who else "")


SOURCE_LABELS = {"clerk": "窗口录入 clerk", "reviewer": "审核录入 reviewer"}


def set_by(field: FieldView) -> str:
    """Who set the value: `OCR 识别`, `OCR 识别 ✔ clerk1` (confirmed as read), `窗口录入 clerk · clerk1` (typed)."""
    if field.source in SOURCE_LABELS:
        return f"{SOURCE_LABELS[field.source]} · {field.confirmed_by or '—'}"
    if field.confirmed:  # confirmed as read; at the registry's reviewers the confirmer's name may not travel
        return f"OCR 识别 ✔ {field.confirmed_by or ''}".rstrip()
    return "OCR 识别"


def confidence_cell(field: FieldView, *, percent: bool = True) -> str:
    """OCR's confidence; a typed value has none (it would read as a sure 100 % reading)."""
    if field.source != "ocr":
        return "—"
    return f"{round(field.confidence * 100)}%" if percent else f"{field.confidence:.2f}"


def ocr_cell(page: PageView) -> Text:
    label = OCR_LABELS.get(page.ocr_status, page.ocr_status)
    if page.ocr_status == "failed":
        return Text(f"failed: {page.ocr_error or 'unreadable'}", style="bold red")
    if page.ocr_status == "queued" and page.ocr_error:
        return Text(f"queued again: {page.ocr_error}", style="yellow")
    if page.ocr_status == "done":
        return Text(label, style="green")
    return Text(label)


class PagesTable(DataTable[str | Text]):
    HELP = """
## 页面 Pages

案卷的全部页面及识别状态；`m` 移到其他材料，`r` 旋转，`delete` 删除（需说明原因）。

Every page of the dossier in order. **OCR** shows whether the page has been read: *queued*, *reading…*,
*done*, or *failed* with the reason. Pages appear here while the scanner and OCR work.

- `m` put the page in another checklist slot, `r` turn it a quarter turn
- `ctrl+up` / `ctrl+down` move it earlier or later, `delete` remove it (with a reason)
"""
    COLUMNS = ("#", "材料 material", "当事人 party", "识别 OCR", "旋转 rot", "文件 file")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*self.COLUMNS)

    def fill(self, detail: DossierDetail) -> None:
        labels = {(s.material, s.party_key): s.label for s in detail.slots}
        self.clear()
        for page in detail.pages:
            material = page.material or ""
            if not material or material == UNKNOWN_MATERIAL:
                shown = "?" if page.ocr_status == "done" else ""
            else:
                label = labels.get((material, page.party_key)) or labels.get((material, None), "")
                shown = f"{material} {label.split('(', 1)[0]}".rstrip()  # the short name: the table stays narrow
            self.add_row(
                str(page.position),
                shown,
                party_label(detail, page.party_key),
                ocr_cell(page),
                f"{page.rotation}°" if page.rotation else "",
                page.source_name,
                key=page.id,
            )


class ChecklistTable(DataTable[str | Text]):
    HELP = """
## 材料清单 Checklist

业务所需材料：✔ 已收，✘ 缺少，免收 已免收（有原因），· 可选；`w` 免收所选缺少材料。

What the business needs, per party: ✔ received, ✘ missing, *免收* waived (with the reason), · optional.
`w` waives the selected missing material (the reason is recorded). Submitting refuses with the
complete list of what is missing (一次性告知).
"""
    COLUMNS = ("", "材料 material", "当事人 party", "页数 pages", "备注 note")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*self.COLUMNS)

    def fill(self, detail: DossierDetail) -> None:
        pages = Counter((p.material, p.party_key) for p in detail.pages)
        self.clear()
        for index, slot in enumerate(detail.slots):
            if slot.satisfied:
                mark = Text("✔", style="green")
            elif slot.waived:
                mark = Text("免收", style="yellow")
            elif slot.required:
                mark = Text("✘", style="bold red")
            else:
                mark = Text("·", style="dim")
            note = "可选 optional" if not slot.required else ""
            if slot.waived:
                note = slot.waiver_reason or "已免收 waived"
            count = pages.get((slot.material, slot.party_key), 0)
            self.add_row(
                mark,
                f"{slot.material} {slot.label}",
                party_label(detail, slot.party_key),
                str(count) if count else "",
                note,
                key=str(index),
            )


class FieldsTable(DataTable[str | Text]):
    HELP = """
## 字段 Fields

识别出的字段值、置信度与来源（识别、窗口录入、审核录入）；`c` 确认，`e` 更正。

What OCR read from the pages: value, confidence, whether it is sure (✔), to be checked on the page (核对 check)
or failed its check (✘), and who set it (来源): `OCR 识别` as read, `OCR 识别 ✔ name` confirmed as read,
`窗口录入 clerk · name` typed by a clerk, `审核录入 reviewer · name` typed by a reviewer (no confidence then).
The confidence says how the value was found: right after its label with its unit, in the cell below, inside a
sentence; an identifier's check digit; the same value on the dossier's other pages. A value below 90% or read
differently on another page shows as 核对 check.

- `c` confirm the value as read, `e` or `enter` correct it (identifiers are checked again)
"""
    COLUMNS = ("页 page", "字段 field", "值 value", "置信 conf", "校验 ok", "来源 set by")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*self.COLUMNS)

    def fill(self, detail: DossierDetail) -> None:
        positions = {p.id: p.position for p in detail.pages}
        shown = [f for f in detail.fields if f.page_id in positions]
        shown.sort(key=lambda f: (positions[f.page_id or ""], f.key))
        self.clear()
        for f in shown:
            style = _field_style(f)
            self.add_row(
                str(positions[f.page_id or ""]),
                Text(field_label_zh(f.key), style=style),  # the column keeps narrow; F1 and dialogs say both
                Text(f.value, style=style),
                Text(confidence_cell(f), style=style),
                _valid_cell(f),
                set_by(f),
                key=f"{f.page_id}\t{f.key}",
            )


def _valid_cell(field: FieldView) -> Text:
    if field.valid is False:
        return Text("✘", style="bold red")
    if field.to_check:
        return Text("核对 check", style="bold yellow")
    return Text("") if field.valid is None else Text("✔", style="green")


def _field_style(field: FieldView) -> str:
    if field.valid is False:
        return "bold red"
    if field.to_check:
        return "yellow"
    return ""


class FindingsList(Static):
    """Findings as wrapped lines: a message is read whole at any width (a table cut it at the screen's edge)."""

    HELP = """
## 问题 Findings

页面与当事人之间的一致性问题；每次识别或更正字段后重新计算。

Consistency problems between the pages and the parties (a name or identifier that differs, a date out of
range). They are recomputed each time a page is read or a field is corrected.
"""
    DEFAULT_CSS = """
    FindingsList { padding: 0 1; height: auto; }
    """

    def fill(self, detail: DossierDetail) -> None:
        positions = {p.id: p.position for p in detail.pages}
        styles = {"error": "bold $text-error", "warning": "$text-warning"}
        labels = {"error": "错误 error", "warning": "警告 warning", "info": "提示 info"}
        if not detail.findings:
            self.update(Content.styled("无问题 no findings", "$text-muted"))
            return
        lines = []
        for finding in detail.findings:
            pages = ", ".join(str(positions[i]) for i in finding.page_ids if i in positions)
            where = f" (第 {pages} 页 pages)" if pages else ""
            lines.append(
                Content.assemble(
                    (labels.get(finding.severity, finding.severity), styles.get(finding.severity, "")),
                    f" {finding.rule}: {finding.message}{where}",
                )
            )
        self.update(Content("\n").join(lines))


# -- dialogs ---------------------------------------------------------------------------------------------


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a reason, a corrected value); Enter accepts, Escape cancels. Empty input is refused."""

    HELP = """
## 输入 One line

输入原因或更正后的值，回车确认；`escape` 取消。

Type the reason or the corrected value and press `enter`; `escape` closes without changing anything.
"""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 72; max-width: 100%; height: auto; border: round $primary;
        background: $surface; padding: 0 1; }
    PromptScreen .prompt-title { text-style: bold; }
    PromptScreen .prompt-error { color: $text-error; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "取消 Cancel", id="prompt.cancel", tooltip="关闭，不更改 Close without a change")
    ]

    def __init__(self, title: str, *, value: str = "", placeholder: str = "", note: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="prompt-title", markup=False)
            if self._note:
                yield Static(self._note, markup=False)
            yield Input(value=self._value, placeholder=self._placeholder, id="prompt-input")
            yield Static("", classes="prompt-error", id="prompt-error", markup=False)
        yield KeysFooter()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#prompt-error", Static).update(
                "请输入内容，或按 Escape 取消 please type something, or Escape to cancel"
            )
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[int | None]):
    """Pick one of a few options (a checklist slot); returns its index."""

    HELP = """
## 选择 Choose

上下选择，回车确认；`escape` 保持不变。

`up`/`down` to the checklist slot the page belongs in, `enter` to put it there; `escape` leaves it where it is.
"""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    ChoiceScreen .choice-title { text-style: bold; }
    ChoiceScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "取消 Cancel", id="choice.cancel", tooltip="关闭，不更改 Close without a change")
    ]

    def __init__(self, title: str, options: Sequence[str], *, selected: int = 0) -> None:
        super().__init__()
        self._title = title
        self._options = list(options)
        self._selected = selected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="choice-title", markup=False)
            yield OptionList(*(Text(option) for option in self._options), id="choice-list")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = self._selected

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Go on past something that should stop a person (an open error finding)? Only `y` goes on; Enter does not."""

    HELP = """
## 确认 Confirm

按 `y` 仍然继续（记录在您名下及所越过的问题）；`n` 或 `escape` 返回。

`y` goes on anyway, and the record names you and what you passed over; `n` or `escape` goes back.
"""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen .confirm-title { text-style: bold; color: $text-warning; }
    ConfirmScreen VerticalScroll { height: auto; max-height: 14; }
    """
    BINDINGS = [
        Binding(
            "y",
            "answer(True)",
            "仍然继续 Go on",
            id="confirm.yes",
            tooltip="继续，并记录在案 Go on; the override is recorded",
        ),
        Binding("n,escape", "answer(False)", "返回 Back", id="confirm.no", tooltip="返回，不做更改 Back, nothing done"),
    ]

    def __init__(self, title: str, body: str, question: str) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="confirm-title", id="confirm-title", markup=False)
            with VerticalScroll():
                yield Static(self._body, id="confirm-body", markup=False)
            yield Static(self._question, id="confirm-question", markup=False)
        yield KeysFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class MessageScreen(ModalScreen[None]):
    """A longer text to read (the complete list of what is missing); Escape or Enter closes it."""

    HELP = """
## 缺少材料 Missing

受理所缺的全部材料（一次性告知）：请一并告知申请人。

Everything that stops the submission, all at once (一次性告知): tell the applicant the whole list.
Scan the missing materials, or waive one with `w` on the checklist, then submit again.
"""

    DEFAULT_CSS = """
    MessageScreen { align: center middle; }
    MessageScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; background: $surface; padding: 0 1; }
    MessageScreen .message-title { text-style: bold; color: $text-error; }
    MessageScreen VerticalScroll { height: auto; max-height: 18; }
    """
    BINDINGS = [
        Binding("escape", "close", "关闭 Close", id="message.close", tooltip="回到案卷 Back to the dossier"),
        Binding("enter", "close", "关闭 Close", id="message.close_enter", show=False),
    ]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="message-title", id="message-title", markup=False)
            with VerticalScroll():
                yield Static(self._body, id="message-body", markup=False)
        yield KeysFooter()

    def action_close(self) -> None:
        self.dismiss(None)
