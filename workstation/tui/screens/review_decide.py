"""The decision modals of the review desk: approve (one confirm), 补正 (the complete list), 不予登记 (a reason).

Each returns what the reviewer chose; the dossier screen sends it to the review service under the live lease.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, RadioButton, RadioSet, SelectionList, Static
from textual.widgets.selection_list import Selection

from workstation.domain.field_labels import field_label
from workstation.domain.review import ReturnItem
from workstation.tui.widgets.chrome import KeysFooter
from workstation.tui.widgets.ticks import TickList

MATERIAL_CODE_LENGTH = 3  # M05


@dataclass(frozen=True)
class RejectChoice:
    reason_code: str
    note: str


def item_label(item: ReturnItem, problems: Mapping[str, str], material_name: Callable[[str], str]) -> str:
    """'缺少 M05 营业执照 · p2 — note' as a 补正 notice reads."""
    wording = problems.get(item.problem, item.problem)
    what = f"{item.material} {material_name(item.material)}".strip() if item.material else _field(item.field)
    party = f" · {item.party_key}" if item.party_key else ""
    note = f" — {item.note}" if item.note else ""
    return f"{wording} {what}{party}{note}"


def _field(key: str | None) -> str:
    """A field by its label; a finding's rule (also a 补正 target) reads as itself."""
    return field_label(key) if key else "—"


def parse_item(text: str, problems: Mapping[str, str]) -> ReturnItem | None:
    """An item typed by hand: `M05 [problem] [note…]` for a material, `field [problem] [note…]` for a field."""
    words = text.split()
    if not words:
        return None
    target, rest = words[0], words[1:]
    is_material = len(target) == MATERIAL_CODE_LENGTH and target[0] in "mM" and target[1:].isdigit()
    problem = "missing" if is_material else "invalid"
    if rest and rest[0] in problems:
        problem, rest = rest[0], rest[1:]
    note = " ".join(rest)
    if is_material:
        return ReturnItem(problem=problem, material=target.upper(), note=note)
    return ReturnItem(problem=problem, field=target, note=note)


class ApproveModal(ModalScreen[bool]):
    """One confirm; past an open error finding, the errors are named and only `y` approves (Enter does not)."""

    CSS_PATH = "review_decide.tcss"
    BINDINGS = [
        Binding(
            "y", "answer(True)", "确认 Approve", id="review.approve.yes", tooltip="审核通过 Approve: the next stage"
        ),
        Binding(
            "enter",
            "enter",
            "确认 Approve",
            id="review.approve.yes_enter",
            show=False,
            tooltip="审核通过 Approve, unless an open error needs a deliberate y",
        ),
        Binding("n,escape", "answer(False)", "取消 Cancel", id="review.approve.no", tooltip="返回 Back to the dossier"),
    ]
    HELP = """
## 审核通过 Approve

审核通过后案卷进入下一环节；有未解决的错误时只能按 `y` 确认，并记录在您名下。

`y` (or `enter`) approves the dossier: it moves to its next stage. `n` (or `escape`) goes back.

With an open error finding (未解决的错误) the errors are listed and only `y` approves: the approval is
recorded with the errors passed over, under your name.
"""

    def __init__(self, number: str, errors: Sequence[str] = ()) -> None:
        super().__init__()
        self._number = number
        self._errors = list(errors)

    def compose(self) -> ComposeResult:
        with Vertical(id="decide-box", classes="decide-approve"):
            yield Static("审核通过 Approve", classes="decide-title")
            yield Static(
                f"审核通过 {self._number}？进入下一环节。\nApprove {self._number}? It moves on to its next stage.",
                id="approve-text",
                markup=False,
            )
            if self._errors:
                listed = "\n".join(f"• {error}" for error in self._errors)
                yield Static(
                    f"{len(self._errors)} 个未解决的错误 open error(s):\n{listed}\n"
                    "仍要通过请按 y，通过将记录在您名下 — y approves anyway, recorded under your name",
                    id="approve-errors",
                    markup=False,
                )
        yield KeysFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_enter(self) -> None:
        if self._errors:
            self.app.bell()  # past an error only a deliberate `y` approves, never an Enter meant for something else
            return
        self.dismiss(True)


class RegisterModal(ModalScreen[str | None]):
    """登簿: the registrar picks an approved dossier and confirms, under their own name, that it is registered."""

    CSS_PATH = "review_decide.tcss"
    BINDINGS = [
        Binding(
            "escape", "cancel", "取消 Cancel", id="review.register.no", tooltip="返回，不登簿 Back without registering"
        ),
    ]
    HELP = """
## 登簿 Register

待登簿的已通过案卷；回车以您的名义登簿，`escape` 返回。

The approved dossiers waiting for 登簿. `enter` on one registers it under your name (登簿人) — the registry
records it and opens QC when the rules say so (R3). `escape` goes back.
"""

    def __init__(self, waiting: Sequence[tuple[str, str, str]], registrar: str) -> None:
        super().__init__()
        self._waiting = list(waiting)
        self._registrar = registrar

    def compose(self) -> ComposeResult:
        with Vertical(id="decide-box", classes="decide-approve"):
            yield Static("登簿 Register", classes="decide-title")
            yield Static(
                f"登簿人 registrar: {self._registrar}。回车登簿所选案卷，Esc 取消 — Enter registers, Esc cancels.",
                id="register-text",
                markup=False,
            )
            yield OptionList(*(f"{n}  {b}  approved {at}" for n, b, at in self._waiting), id="register-list")
        yield KeysFooter()

    @on(OptionList.OptionSelected, "#register-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._waiting[event.option_index][0])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReturnModal(ModalScreen[list[ReturnItem] | None]):
    """补正: the complete list at once (一次性告知), pre-filled; untick what does not apply, add what is missing."""

    CSS_PATH = "review_decide.tcss"
    AUTO_FOCUS = "#return-items"
    BINDINGS = [
        Binding(
            "ctrl+s",
            "send",
            "发送补正 Send",
            id="review.return.send",
            tooltip="按勾选清单退回 Return with the ticked list",
        ),
        Binding(
            "escape",
            "cancel",
            "取消 Cancel",
            id="review.return.cancel",
            tooltip="返回，不发送 Back to the dossier, nothing sent",
        ),
    ]
    HELP = """
## 补正 Return for supplement

一次性告知的完整补正清单：空格勾选或取消，`ctrl+s` 发送，`escape` 返回。

One complete list of what is missing or wrong (一次性告知), pre-filled from the checklist, the invalid fields
and the consistency findings. `space` ticks or unticks an item. To add one, type in the line below, e.g.
`M05 defective 复印件不清晰` or `area_m2 inconsistent 与合同不符`, and press `enter`.
`ctrl+s` sends the ticked items; `escape` goes back without sending.
"""

    def __init__(
        self,
        number: str,
        items: Sequence[ReturnItem],
        *,
        problems: Mapping[str, str],
        material_name: Callable[[str], str],
        unticked: Sequence[ReturnItem] = (),
    ) -> None:
        super().__init__()
        self._number = number
        self._items = list(items)
        self._problems = problems
        self._material_name = material_name
        self._unticked = {(*item.key(), item.problem) for item in unticked}

    def compose(self) -> ComposeResult:
        with Vertical(id="decide-box", classes="decide-return"):
            yield Static(f"补正 Return {self._number}", classes="decide-title", markup=False)
            yield TickList[int](
                *(
                    Selection(self._label(item), index, (*item.key(), item.problem) not in self._unticked)
                    for index, item in enumerate(self._items)
                ),
                id="return-items",
            )
            yield Input(placeholder="添加 add: M05 defective 说明… or field problem note…", id="return-add")
            problems = " ".join(self._problems)
            yield Static(f"问题类型 problems: {problems}", id="return-problems", markup=False)
            yield Static("", id="decide-error", markup=False)
        yield KeysFooter()

    def _label(self, item: ReturnItem) -> str:
        return item_label(item, self._problems, self._material_name)

    @on(Input.Submitted, "#return-add")
    def _add(self, event: Input.Submitted) -> None:
        item = parse_item(event.value, self._problems)
        if item is None:
            return
        self._items.append(item)
        self.query_one("#return-items", SelectionList).add_option(
            Selection(self._label(item), len(self._items) - 1, True)
        )
        event.input.value = ""
        self._error("")

    @property
    def ticked(self) -> list[ReturnItem]:
        chosen = set(self.query_one("#return-items", SelectionList).selected)
        return [item for index, item in enumerate(self._items) if index in chosen]

    def action_send(self) -> None:
        items = self.ticked
        if not items:
            self._error("清单为空：补正须一次性告知全部问题 the list is empty: a 补正 names everything at once")
            return
        self.dismiss(items)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, text: str) -> None:
        self.query_one("#decide-error", Static).update(text)


class RejectModal(ModalScreen[RejectChoice | None]):
    """不予登记: one of the reasons the law names (review.toml), and a note."""

    CSS_PATH = "review_decide.tcss"
    AUTO_FOCUS = "#reject-reasons"
    BINDINGS = [
        Binding(
            "ctrl+s",
            "send",
            "发送不予登记 Send",
            id="review.reject.send",
            tooltip="按所选理由不予登记 Refuse with the chosen reason",
        ),
        Binding(
            "escape",
            "cancel",
            "取消 Cancel",
            id="review.reject.cancel",
            tooltip="返回，不发送 Back to the dossier, nothing sent",
        ),
    ]
    HELP = """
## 不予登记 Reject

选择法定理由，可加说明，`ctrl+s` 发送；`escape` 返回。

Choose the legal reason (arrows, then `enter` or `space`), add a note if needed, then `ctrl+s`.
A rejection without a reason is not sent. `escape` goes back.
"""

    def __init__(self, number: str, reasons: Mapping[str, str]) -> None:
        super().__init__()
        self._number = number
        self._codes = list(reasons)
        self._reasons = reasons

    def compose(self) -> ComposeResult:
        with Vertical(id="decide-box", classes="decide-reject"):
            yield Static(f"不予登记 Reject {self._number}", classes="decide-title", markup=False)
            with RadioSet(id="reject-reasons"):
                for code in self._codes:
                    yield RadioButton(self._reasons[code], name=code)
            yield Input(placeholder="说明（可选） note (optional)", id="reject-note")
            yield Static("", id="decide-error", markup=False)
        yield KeysFooter()

    @property
    def reason_code(self) -> str | None:
        index = self.query_one("#reject-reasons", RadioSet).pressed_index
        return self._codes[index] if index >= 0 else None

    def action_send(self) -> None:
        code = self.reason_code
        if code is None:
            self.query_one("#decide-error", Static).update("不予登记须选择理由 choose a reason from the list")
            return
        self.dismiss(RejectChoice(code, self.query_one("#reject-note", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
