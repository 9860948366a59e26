"""The dossier list: newest first, a page of 500 at a time, loaded from the dossier service in a thread worker.

A registry office holds tens of thousands of dossiers; a page keeps each load and each redraw bounded, and
the status filter finds the drafts (预受理) a clerk is working on without scrolling past the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.views import DossierSummary
from workstation.tui.screens import error_line, local_time
from workstation.tui.screens.dossier_detail import DossierDetailScreen
from workstation.tui.screens.new_dossier import NewDossierScreen
from workstation.tui.widgets.chrome import AppHeader, KeysFooter

# Ordered by what a clerk scans for first, so an 80-column terminal shows number, status, business, applicant.
COLUMNS = ("受理号", "状态 status", "业务 business", "申请人 applicant", "环节 stage", "申请 applied (UTC+8)")
# Fixed widths: columns do not jump from page to page, and the first paint already has its final layout.
WIDTHS = (20, 11, 19, 19, 10, 20)
PAGE_SIZE = 500
# What `f` cycles through: everything, then the states a window clerk acts on.
FILTERS: tuple[str | None, ...] = (None, "draft", "returned", "submitted", "in_review", "registered")


class DossiersScreen(Screen[None]):
    CSS_PATH = "dossiers.tcss"
    AUTO_FOCUS = "#dossiers"
    BINDINGS = [
        Binding("n", "new_dossier", "新建 New", id="dossiers.new", tooltip="新建预受理案卷 Open a new draft dossier"),
        # priority: the table's own (hidden) enter binding would otherwise keep "Open" out of the footer.
        Binding(
            "enter",
            "open_dossier",
            "打开 Open",
            id="dossiers.open",
            tooltip="打开所选案卷 Show the selected dossier",
            priority=True,
        ),
        Binding(
            "f", "cycle_filter", "筛选 Filter", id="dossiers.filter", tooltip="按状态轮换筛选 Show one status (cycles)"
        ),
        Binding(
            "]", "page(1)", "较早 Older", id="dossiers.next_page", tooltip="后 500 件（较早） The next 500 (older)"
        ),
        Binding(
            "[", "page(-1)", "较新 Newer", id="dossiers.prev_page", tooltip="前 500 件（较新） The previous 500 (newer)"
        ),
        Binding(
            "r", "refresh", "刷新 Refresh", id="dossiers.refresh", tooltip="重新载入列表 Reload the list", show=False
        ),
        Binding("q", "app.quit", "退出 Quit", id="dossiers.quit", tooltip="退出工作站 Leave the workstation"),
    ]

    HELP = """
## 案卷 Dossiers

本站的案卷列表；`enter` 打开，`n` 新建。

Newest first, 500 to a page (`]` older, `[` newer); `f` shows one status at a time (draft 预受理, returned 补正…).

- `n` opens a new draft dossier, `enter` opens the selected one.
- F3 intake · F4 review · F5 QC · F6 sync · F7 admin, as your roles allow; `ctrl+p` finds any command.
"""

    class Loaded(Message):
        def __init__(self, rows: Sequence[DossierSummary], total: int, more: bool) -> None:
            super().__init__()
            self.rows = rows
            self.total = total
            self.more = more

    def __init__(self, desk: Desk, actor: Actor) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        # The number to put the cursor on once the next load arrives (a dossier just created).
        self._select_next: str | None = None
        self._offset = 0
        self._filter: str | None = None
        self._more = False

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self._header_text(None), id="dossiers-header", markup=False)
        yield DataTable(id="dossiers", cursor_type="row", zebra_stripes=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in zip(COLUMNS, WIDTHS, strict=True):
            table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        # Also after the detail screen or the new-dossier modal closes: a status may have changed.
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_cycle_filter(self) -> None:
        self._filter = FILTERS[(FILTERS.index(self._filter) + 1) % len(FILTERS)]
        self._offset = 0
        self.load()

    def action_page(self, step: int) -> None:
        self._offset = max(0, self._offset + step * PAGE_SIZE)
        self.load()

    def action_new_dossier(self) -> None:
        self.app.push_screen(NewDossierScreen(self._desk, self._actor), callback=self._created)

    def action_open_dossier(self) -> None:
        number = self._cursor_number()
        if number is not None:
            self.app.push_screen(DossierDetailScreen(self._desk, self._actor, number))

    @on(DataTable.RowSelected, "#dossiers")
    def _row_selected(self) -> None:
        self.action_open_dossier()

    def _created(self, number: str | None) -> None:
        if number is not None:
            self._select_next = number
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="dossiers.load")
    def load(self) -> None:
        # One row more than a page tells whether an older page exists, without counting per status.
        rows = self._desk.dossiers.list(status=self._filter, limit=PAGE_SIZE + 1, offset=self._offset)
        total = self._desk.dossiers.count()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(rows[:PAGE_SIZE], total, more=len(rows) > PAGE_SIZE))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        table = self.query_one(DataTable)
        wanted = self._select_next or self._cursor_number()
        with self.app.batch_update():
            table.clear()
            for row in message.rows:
                table.add_row(
                    row.number,
                    row.status,
                    row.business,
                    row.applicant or "—",
                    row.stage,
                    local_time(row.applied_at),
                    key=row.number,
                )
        self._more = message.more
        numbers = [row.number for row in message.rows]
        if wanted in numbers:
            table.move_cursor(row=numbers.index(wanted))
            if wanted == self._select_next:
                self._select_next = None
        self.query_one("#dossiers-header", Static).update(self._header_text(len(numbers), message.total))
        if not numbers or wanted not in numbers:
            table.move_cursor(row=0)
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(error_line(event.worker.error), title="dossiers", severity="error", markup=False)

    def _cursor_number(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_dossier":
            tables = self.query(DataTable)
            return bool(tables) and tables.first().row_count > 0
        if action == "page":
            step = parameters[0] if parameters else 0
            return self._more if step == 1 else self._offset > 0
        return True

    def _header_text(self, shown: int | None, total: int = 0) -> str:
        if shown is None:
            return f"{self._actor.username} · 加载中 loading…"
        count = f"{total} dossier{'' if total == 1 else 's'}"
        if self._filter is not None:
            first = self._offset + 1 if shown else 0
            return f"{self._actor.username} · {self._filter}: {first}–{self._offset + shown} · 共 {count} in all"
        if shown < total:
            count = f"{self._offset + 1}–{self._offset + shown} of {count}"
        return f"{self._actor.username} · 案卷 {count}"
