"""The QC inspector's desk (R3–R4): the checks opened at 登簿, pending first, and the correction cases.

Every fully-inspected business (FIRST, MORT_CIP) and the keyed 3% sample of the rest get a check. An office
collects thousands a year, so checks load a page of 500 at a time in a thread worker; the inspector records
pass, minor or major, and a major result opens a correction case (更正) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor, Permission, has_permission
from workstation.services.desk import Desk
from workstation.services.qc import CorrectionView, QcCheckView
from workstation.tui.screens import error_line, local_time
from workstation.tui.screens.qc_resolve import ResolveCorrectionScreen
from workstation.tui.screens.qc_result import BASIS, QcResultScreen, Recorded
from workstation.tui.widgets.chrome import AppHeader, KeysFooter

PAGE_SIZE = 500
CORRECTIONS_SHOWN = 500
# What the inspector scans first comes first, so 80 columns show number to result; wider terminals show who.
CHECK_COLUMNS = (
    "受理号",
    "业务 business",
    "依据 why",
    "登簿 reg. (UTC+8)",
    "状态 state",
    "结果 result",
    "登簿人",
    "质检员 inspector",
    "差错 defects",
)
CORRECTION_COLUMNS = ("受理号", "状态 state", "承办 assigned", "发起 opened (UTC+8)", "说明 description")
# Fixed widths: the first paint already has its final layout (a table measures new rows only when idle).
CHECK_WIDTHS = (20, 17, 11, 17, 10, 9, 10, 16, 30)
CORRECTION_WIDTHS = (20, 10, 13, 19, 40)
TAB_CHECKS, TAB_CORRECTIONS = "qc-tab-checks", "qc-tab-corrections"


class ChecksTable(DataTable[str]):
    HELP = """
## 质检 QC checks

抽查的已登簿案卷；选中后录入质检结果。

One row per registered dossier chosen for inspection: **full** (100% for FIRST and MORT_CIP) or **sampled**
(the keyed 3% of the rest). Pending checks come first, oldest first.

`enter` or `r` records the result of the selected pending check; `]` and `[` page through 500 at a time.
"""


class CorrectionsTable(DataTable[str]):
    HELP = """
## 更正 Corrections

质检发现重大错误后开立的更正；处理后写明如何更正。

The cases a major QC result opened, oldest first: who must correct the register, and whether it is done.
`v` (or `enter`) resolves the selected open case with what was corrected.
"""


class QcScreen(Screen[None]):
    CSS_PATH = "qc.tcss"
    AUTO_FOCUS = "#qc-checks"
    BINDINGS = [
        Binding(
            "r", "record", "记录 Record", id="qc.record", tooltip="记录合格、一般或重大 Record pass, minor or major"
        ),
        Binding(
            "v", "resolve", "处理 Resolve", id="qc.resolve", tooltip="处理所选更正 Resolve the selected correction case"
        ),
        Binding("c", "switch_tab", "质检/更正 Switch", id="qc.switch_tab", tooltip="显示另一列表 Show the other list"),
        Binding("]", "page(1)", "下一批 More", id="qc.next_page", tooltip="后 500 件 The next 500 checks"),
        Binding("[", "page(-1)", "上一批 Back", id="qc.prev_page", tooltip="前 500 件 The previous 500 checks"),
        Binding(
            "ctrl+r",
            "refresh",
            "刷新 Reload",
            id="qc.refresh",
            tooltip="重新载入两个列表 Reload both lists",
            show=False,
        ),
    ]
    HELP = """
## 质检 QC (R3–R4)

质检抽查与更正（R3–R4）。

Checks of registered dossiers, pending first; corrections (更正) opened by major results on the second tab.

- `enter`/`r` record a result · `v` resolve a correction · `c` switch list · `]`/`[` page by 500.
- QC never blocks a dossier; the registrar of a dossier may not inspect it.
"""

    class Loaded(Message):
        def __init__(
            self,
            checks: Sequence[QcCheckView],
            more: bool,
            counts: dict[str, int],
            corrections: Sequence[CorrectionView],
        ) -> None:
            super().__init__()
            self.checks = checks
            self.more = more
            self.counts = counts
            self.corrections = corrections

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._offset = 0
        self._more = False
        self._checks: dict[str, QcCheckView] = {}
        self._corrections: dict[str, CorrectionView] = {}

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(f"{self._actor.username} · 加载中 loading…", id="qc-header", markup=False)
        with TabbedContent(initial=TAB_CHECKS, id="qc-tabs"):
            with TabPane("质检 Checks", id=TAB_CHECKS):
                yield ChecksTable(id="qc-checks", cursor_type="row", zebra_stripes=True)
            with TabPane("更正 Corrections", id=TAB_CORRECTIONS):
                yield CorrectionsTable(id="qc-corrections", cursor_type="row", zebra_stripes=True)
        yield Static("", id="qc-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        for selector, labels, widths in (
            ("#qc-checks", CHECK_COLUMNS, CHECK_WIDTHS),
            ("#qc-corrections", CORRECTION_COLUMNS, CORRECTION_WIDTHS),
        ):
            table = self.query_one(selector, DataTable)
            for label, width in zip(labels, widths, strict=True):
                table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        self.load()

    # -- loading ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="qc.load")
    def load(self) -> None:
        # One row more than a page tells whether another page exists, without counting.
        checks = self._desk.qc.checks(limit=PAGE_SIZE + 1, offset=self._offset, pending_first=True)
        counts = self._desk.qc.count()
        corrections = self._desk.qc.corrections(limit=CORRECTIONS_SHOWN)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(checks[:PAGE_SIZE], len(checks) > PAGE_SIZE, counts, corrections))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._more = message.more
        self._checks = {c.id: c for c in message.checks}
        # Open cases first: they are the work; resolved ones stay for the record.
        ordered = sorted(message.corrections, key=lambda c: c.state != "open")
        self._corrections = {c.id: c for c in ordered}
        checks = self.query_one("#qc-checks", DataTable)
        corrections = self.query_one("#qc-corrections", DataTable)
        with self.app.batch_update():
            _refill(checks, [(c.id, _check_cells(c)) for c in message.checks])
            _refill(corrections, [(c.id, _correction_cells(c)) for c in ordered])
        pending, done = message.counts.get("pending", 0), message.counts.get("done", 0)
        shown = len(message.checks)
        span = f"{self._offset + 1}–{self._offset + shown} of " if shown and (self._offset or self._more) else ""
        open_cases = sum(1 for c in message.corrections if c.state == "open")
        self.query_one("#qc-header", Static).update(
            f"{self._actor.username} · 质检 checks {span}{pending + done}: 待检 {pending} pending, 已检 {done} done"
            f" · 更正 corrections: {open_cases} 未结 open"
        )
        self.query_one("#qc-tabs", TabbedContent).get_tab(
            TAB_CORRECTIONS
        ).label = f"更正 Corrections ({open_cases} 未结 open)"
        self.refresh_bindings()

    # -- actions ---------------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    def action_page(self, step: int) -> None:
        self._offset = max(0, self._offset + step * PAGE_SIZE)
        self.load()

    def action_switch_tab(self) -> None:
        tabs = self.query_one("#qc-tabs", TabbedContent)
        tabs.active = TAB_CORRECTIONS if tabs.active == TAB_CHECKS else TAB_CHECKS
        self.query_one("#qc-corrections" if tabs.active == TAB_CORRECTIONS else "#qc-checks").focus()
        self.refresh_bindings()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    def action_open(self) -> None:
        if self._on_corrections():
            self.action_resolve()
        else:
            self.action_record()

    def action_record(self) -> None:
        check = self._selected_check()
        if check is not None and check.state == "pending":
            self.app.push_screen(QcResultScreen(self._desk, self._actor, check), callback=self._recorded)

    def action_resolve(self) -> None:
        case = self._selected_correction()
        if case is not None and case.state == "open":
            self.app.push_screen(ResolveCorrectionScreen(self._desk, self._actor, case), callback=self._resolved)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        # enter on a row: record on the checks list, resolve on the corrections list.
        if self.check_action("open", ()):
            self.action_open()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    def _recorded(self, recorded: Recorded | None) -> None:
        if recorded is None:
            return
        check, case = recorded.check, recorded.correction
        said = f"{check.number}: 已记录 {check.result} recorded"
        if case is not None:
            said += f" — 已发起更正 correction opened, assigned to {case.assigned_to}"
        self.query_one("#qc-status", Static).update(said)
        self.notify(said, title="QC", severity="warning" if case is not None else "information", markup=False)

    def _resolved(self, case: CorrectionView | None) -> None:
        if case is not None:
            said = f"{case.number}: 更正已办结 correction resolved by {case.resolved_by}"
            self.query_one("#qc-status", Static).update(said)
            self.notify(said, title="QC", markup=False)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(error_line(event.worker.error), title="QC", severity="error", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted or not self.query("#qc-tabs"):
            return True
        on_corrections = self._on_corrections()
        if action == "record":  # inspectors only; a registrar here works the correction cases
            check = None if on_corrections else self._selected_check()
            inspector = has_permission(self._actor, Permission.QC_INSPECT)
            return inspector and check is not None and check.state == "pending"
        if action == "resolve":
            case = self._selected_correction() if on_corrections else None
            return case is not None and case.state == "open"
        if action == "open":
            return self.check_action("resolve" if on_corrections else "record", ())
        if action == "page":
            if on_corrections:
                return False
            step = parameters[0] if parameters else 0
            return self._more if step == 1 else self._offset > 0
        return True

    # -- selection -------------------------------------------------------------------------------------

    def _on_corrections(self) -> bool:
        return self.query_one("#qc-tabs", TabbedContent).active == TAB_CORRECTIONS

    def _selected_check(self) -> QcCheckView | None:
        key = _cursor_key(self.query_one("#qc-checks", DataTable))
        return self._checks.get(key) if key is not None else None

    def _selected_correction(self) -> CorrectionView | None:
        key = _cursor_key(self.query_one("#qc-corrections", DataTable))
        return self._corrections.get(key) if key is not None else None


def _check_cells(check: QcCheckView) -> tuple[str, ...]:
    registered = local_time(check.registered_at) if check.registered_at else "—"
    result = check.result or "—"
    if check.correction_id:
        result += " → 更正"
    return (
        check.number,
        check.business,
        BASIS.get(check.basis, check.basis),
        registered,
        check.state,
        result,
        check.registrar or "—",
        check.inspector or "—",
        "; ".join(check.defects) or "—",
    )


def _correction_cells(case: CorrectionView) -> tuple[str, ...]:
    return (case.number, case.state, case.assigned_to, local_time(case.opened_at), case.description)


def _refill(table: DataTable[str], rows: list[tuple[str, tuple[str, ...]]]) -> None:
    """Replace the rows, keeping the cursor on the same key where it is still there."""
    keep = _cursor_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    keys = [key for key, _ in rows]
    table.move_cursor(row=keys.index(keep) if keep in keys else 0)


def _cursor_key(table: DataTable[str]) -> str | None:
    if not table.row_count:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value
