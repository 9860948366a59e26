"""Has my work reached the registry? Online state, the outbox, parked ops and conflicts with both sides.

The facts are read in a thread worker every 2 s; the next read is scheduled only after the previous one was
drawn (dolphie's polling pattern), and the tables are updated by diffing rows inside `batch_update`, so the
cursor stays where the user left it. Ages ("3 min ago") come from the screen's clock, which tests freeze.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.syncstate import SyncStatus
from workstation.tui.screens import error_line, local_time
from workstation.tui.widgets.chrome import AppHeader, KeysFooter
from workstation.tui.widgets.intake import PromptScreen

POLL_SECONDS = 2.0
QUARANTINE_COLUMNS = ("序号 seq", "类型 kind", "受理号", "入队 queued (UTC+8)", "原因 reason")
CONFLICT_COLUMNS = ("序号 seq", "类型 kind", "受理号", "原因 reason")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago, in the largest whole unit: "just now", "5 min ago", "3 h ago", "2 d ago"."""
    if moment is None:
        return "—"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now" if seconds < 10 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


class QuarantineTable(DataTable[str]):
    HELP = """
## 隔离 Parked ops

登记中心拒收的操作在此隔离并说明原因；`t` 重试所选操作。

Changes the registry refused for a reason other than the network (an op it cannot apply as sent); the queue
moved on without them. `t` sends the selected one again as a new op, once the cause is fixed.
"""


class ConflictTable(DataTable[str]):
    HELP = """
## 冲突 Conflicts

本站的更改与登记中心的状态冲突；`d` 记录处理说明（不会再发送）。

Changes refused because the registry had moved on: the dossier was changed elsewhere from the same version
(stale version), or a decision came under a lease that was no longer live (stale fence). Nothing was applied;
the panel below shows this desk's change beside the dossier as the registry holds it.
"""


class ConflictSide(Static):
    HELP = """
## 冲突两侧 Both sides of a conflict

左侧为本站的更改，右侧为登记中心现在的状态。

Left, this desk's refused change: the version it was made from and what it would have made the dossier.
Right, the dossier as the registry holds it now. Nothing was applied; settle it with the registry office
(for a stale lease: claim the dossier again and decide anew).
"""


class SyncScreen(Screen[None]):
    CSS_PATH = "sync.tcss"
    AUTO_FOCUS = "#sync-quarantined"
    BINDINGS = [
        Binding(
            "y",
            "sync_now",
            "立即同步 Sync",
            id="sync.now",
            tooltip="立即推送和拉取 Push and pull now instead of waiting",
        ),
        Binding(
            "t",
            "retry",
            "重试 Retry",
            id="sync.retry",
            tooltip="重发所选搁置操作 Send the selected parked op again, then sync",
        ),
        Binding(
            "d",
            "settle",
            "已处理 Settled",
            id="sync.settle",
            tooltip="标记所选冲突已处理 Mark the conflict settled, with a note",
        ),
    ]
    HELP = """
## 同步 Sync

本站与登记中心的同步状态：在线/离线、待传数量、隔离与冲突。

Whether this desk's work has reached the registry: online or offline, the last success and error, how many
changes wait in the outbox and for how long, changes the registry refused (parked) and conflicts.

- `y` syncs now · `t` retries the selected parked op · `d` marks the selected conflict settled (with a note
  saying how; it stays on record) · `tab` moves between the lists.
- Everything works offline; the outbox is sent when the registry answers again.
"""

    class Polled(Message):
        def __init__(self, status: SyncStatus) -> None:
            super().__init__()
            self.status = status

    class Nudged(Message):
        """The agent was woken (after a retry: `seq` is the op queued again)."""

        def __init__(self, seq: int | None) -> None:
            super().__init__()
            self.seq = seq

    def __init__(self, desk: Desk, actor: Actor, *, clock: Clock | None = None) -> None:
        """`clock` gives "now" for the ages shown; by default the system's (tests freeze it or pass their own)."""
        super().__init__()
        self._desk = desk
        self._actor = actor
        self._clock = clock if clock is not None else system_clock
        self._status: SyncStatus | None = None
        self._paused = False
        self._quarantined: dict[str, dict[str, Any]] = {}
        self._conflicts: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Vertical(id="sync-body"):
            yield Static("读取同步状态 reading the sync state…", id="sync-facts", markup=False)
            yield Static("隔离 Parked ops", classes="sync-title", id="sync-quarantined-title", markup=False)
            yield QuarantineTable(id="sync-quarantined", cursor_type="row", zebra_stripes=True)
            yield Static("冲突 Conflicts", classes="sync-title", id="sync-conflicts-title", markup=False)
            yield ConflictTable(id="sync-conflicts", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="sync-conflict-detail"):
                yield ConflictSide("", id="sync-conflict-local", classes="sync-side", markup=False)
                yield ConflictSide("", id="sync-conflict-remote", classes="sync-side", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#sync-quarantined", DataTable).add_columns(*QUARANTINE_COLUMNS)
        self.query_one("#sync-conflicts", DataTable).add_columns(*CONFLICT_COLUMNS)
        self._show_conflict()
        self.poll()

    # -- polling ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync.poll")
    def poll(self) -> None:
        status = self._desk.sync.status()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Polled(status))

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        self._status = message.status
        self._draw(message.status)
        if self.is_active:
            self.set_timer(POLL_SECONDS, self.poll)
        else:  # another area is showing: read again when this screen is back
            self._paused = True

    def on_screen_resume(self) -> None:
        if self._paused:
            self._paused = False
            self.poll()

    def _draw(self, status: SyncStatus) -> None:
        self._quarantined = {q["op_id"]: q for q in status.quarantined}
        self._conflicts = {c["op_id"]: c for c in status.conflicts}
        with self.app.batch_update():
            self.query_one("#sync-facts", Static).update(self._facts(status))
            _diff_rows(
                self.query_one("#sync-quarantined", DataTable),
                [(q["op_id"], _quarantine_cells(q)) for q in status.quarantined],
            )
            _diff_rows(
                self.query_one("#sync-conflicts", DataTable),
                [(c["op_id"], _conflict_cells(c)) for c in status.conflicts],
            )
            parked = len(status.quarantined)
            hint = "  · t 重试所选 retries the selected" if parked else ""
            self.query_one("#sync-quarantined-title", Static).update(f"隔离 Parked ops ({parked}){hint}")
            self.query_one("#sync-conflicts-title", Static).update(f"冲突 Conflicts ({len(status.conflicts)})")
            self._show_conflict()
        self.refresh_bindings()

    def _facts(self, status: SyncStatus) -> str:
        now = self._clock()
        if status.registry is None:
            state = "单机 local: no registry configured (set registry_url); work stays on this desk"
        else:
            state = f"{'在线 online' if status.online else '离线 offline'} · 登记中心 registry {status.registry}"
        success = _parse(status.last_success)
        last = (
            f"上次成功 last success {local_time(success)} (UTC+8, {age(success, now)})"
            if success
            else "尚未同步 no sync yet"
        )
        oldest = (
            f", 最早 oldest {local_time(status.oldest_pending)} (UTC+8, {age(status.oldest_pending, now)})"
            if status.oldest_pending
            else ""
        )
        lines = [state, f"{last} · 待传 outbox {status.outbox_depth} waiting{oldest}"]
        if status.last_error:
            lines.append(f"上次错误 last error: {status.last_error}")
        return "\n".join(lines)

    # -- the conflict's two sides ----------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#sync-conflicts")
    def _conflict_highlighted(self) -> None:
        self._show_conflict()

    @on(DataTable.RowHighlighted, "#sync-quarantined")
    def _quarantine_highlighted(self) -> None:
        self.refresh_bindings()

    def _show_conflict(self) -> None:
        key = _cursor_key(self.query_one("#sync-conflicts", DataTable))
        conflict = self._conflicts.get(key) if key is not None else None
        local = self.query_one("#sync-conflict-local", Static)
        remote = self.query_one("#sync-conflict-remote", Static)
        self.query_one("#sync-conflict-detail").display = conflict is not None
        if conflict is None:
            local.update("")
            remote.update("")
            return
        local.border_title = f"本站 This desk · op {conflict['seq']}"
        remote.border_title = "登记中心 Registry · now"
        local.update(_local_side(conflict))
        remote.update(_remote_side(conflict))

    # -- actions ---------------------------------------------------------------------------------------

    def action_sync_now(self) -> None:
        self._sync_now()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync.now")
    def _sync_now(self) -> None:
        self._desk.sync.sync_now()
        self.post_message(self.Nudged(None))

    def action_retry(self) -> None:
        key = _cursor_key(self.query_one("#sync-quarantined", DataTable))
        item = self._quarantined.get(key) if key is not None else None
        if item is not None:
            self._retry(item["op_id"], int(item["seq"]))

    def action_settle(self) -> None:
        key = _cursor_key(self.query_one("#sync-conflicts", DataTable))
        item = self._conflicts.get(key) if key is not None else None
        if item is None:
            return

        def noted(note: str | None) -> None:
            if note:
                self._settle(item["op_id"], int(item["seq"]), note)

        self.app.push_screen(
            PromptScreen(
                f"冲突处理 Conflict on {item.get('number') or 'op ' + str(item['seq'])} settled: how?",
                placeholder="e.g. 已与中心核对，以中心为准 / claimed again and decided anew",
                note="被拒的变更连同说明留档，不发送。"
                "The refused change stays on record with this note; nothing is sent.",
            ),
            noted,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync.settle")
    def _settle(self, op_id: str, seq: int, note: str) -> None:
        self._desk.sync.settle(self._actor, op_id, note)
        self.app.call_from_thread(self.notify, f"冲突已处理 conflict of op {seq} settled", title="sync", markup=False)
        self.post_message(self.Nudged(None))

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync.retry")
    def _retry(self, op_id: str, seq: int) -> None:
        self._desk.sync.retry(self._actor, op_id)  # re-queues the op and wakes the agent
        self._desk.sync.sync_now()
        self.post_message(self.Nudged(seq))

    @on(Nudged)
    def _nudged(self, message: Nudged) -> None:
        if message.seq is not None:
            self.notify(f"已重新入队 op {message.seq} queued again; syncing", title="sync", markup=False)
        self.poll()
        for header in self.query(AppHeader):
            header.refresh_now()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "sync.poll":
            self.set_timer(POLL_SECONDS * 5, self.poll)  # the database is busy or gone: ask again later
        self.notify(error_line(event.worker.error), title="sync", severity="error", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            tables = self.query("#sync-quarantined")
            return bool(tables) and self.query_one("#sync-quarantined", DataTable).row_count > 0
        if action == "settle":
            tables = self.query("#sync-conflicts")
            return bool(tables) and self.query_one("#sync-conflicts", DataTable).row_count > 0
        if action == "sync_now":
            return self._desk.sync.registry is not None
        return True


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _quarantine_cells(item: dict[str, Any]) -> tuple[str, ...]:
    parked = _parse(item.get("created_at"))
    return (
        str(item["seq"]),
        str(item["kind"]),
        item.get("number") or "—",
        local_time(parked) if parked else "—",
        str(item.get("reason") or ""),
    )


def _conflict_cells(item: dict[str, Any]) -> tuple[str, ...]:
    reason = str(item.get("reason") or "")
    return (str(item["seq"]), str(item["kind"]), item.get("number") or "—", reason.split(":", 1)[0])


def _local_side(item: dict[str, Any]) -> str:
    """This desk's change, line for line beside the registry's side: number, version, stage and status."""
    local = item.get("local") or {}
    lines = [
        f"{item.get('number') or '—'}",
        f"版本 version {item.get('base_version') or '—'} → {local.get('version') or '—'}",
        f"环节 stage {local.get('stage') or '—'}",
        f"状态 status {local.get('status') or '—'}",
        f"op {item['kind']}" + (f" ({local['decision']})" if local.get("decision") else ""),
    ]
    return "\n".join(lines)


def _remote_side(item: dict[str, Any]) -> str:
    remote = item.get("remote") or {}
    reason = str(item.get("reason") or "").split(":", 1)[0]
    return "\n".join(
        [
            f"{remote.get('number') or item.get('number') or '—'}",
            f"版本 version {remote.get('version') or '— (known after the next sync)'}",
            f"环节 stage {remote.get('stage') or '—'}",
            f"状态 status {remote.get('status') or '—'}",
            f"被拒 refused: {reason}",
        ]
    )


def _diff_rows(table: DataTable[str], rows: list[tuple[str, tuple[str, ...]]]) -> None:
    """Bring the table to `rows` by removing, updating and adding only what changed (the cursor stays put)."""
    wanted = dict(rows)
    for row_key in list(table.rows):
        if row_key.value not in wanted:
            table.remove_row(row_key)
    columns = list(table.columns)
    for key, cells in rows:
        if key in table.rows:
            current = table.get_row(key)
            for column, old, new in zip(columns, current, cells, strict=True):
                if old != new:
                    table.update_cell(key, column, new)
        else:
            table.add_row(*cells, key=key)


def _cursor_key(table: DataTable[str]) -> str | None:
    if not table.row_count:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return row_key.value
