"""The review desk's queue: the dossiers this reviewer holds under lease, their time left, and the pool.

The queue is the desk's own (leases in the desk database), so a reviewer keeps working through a network drop.
Leases are renewed by a heartbeat worker every third of the lease; the countdown is redrawn every second from
each lease's expiry and the screen's clock, without asking the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor, Permission, has_permission
from workstation.errors import NotFound, Offline, UsageError
from workstation.services.desk import Desk
from workstation.services.review import Heartbeat, LeaseView
from workstation.tui.screens import error_line, local_time
from workstation.tui.screens.review_decide import RegisterModal
from workstation.tui.widgets.chrome import AppHeader, KeysFooter

KIND_LABELS = {"enterprise": "企业", "individual": "个人"}
# The countdown next to the number, so an 80-column terminal shows it; the business code is the widest.
COLUMNS = ("受理号", "剩余 left", "申请人 kind", "形式 form", "申请 applied (UTC+8)", "业务 business")
LEFT_COLUMN = "剩余 left"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def time_left(lease: LeaseView, now: datetime) -> str:
    """mm:ss until the lease runs out (hours roll into minutes: a 30-minute lease reads 30:00)."""
    seconds = int(lease.seconds_left(now))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def queue_order(leases: Sequence[LeaseView]) -> list[LeaseView]:
    """R15 within my queue too: enterprise first, then application time, then number."""
    return sorted(leases, key=lambda lease: (lease.applicant_kind != "enterprise", lease.applied_at, lease.number))


def form_label(digitized: bool) -> str:
    return "电子" if digitized else "纸质"


class ReviewScreen(Screen[None]):
    CSS_PATH = "review.tcss"
    AUTO_FOCUS = "#review-queue"
    BINDINGS = [
        Binding(
            "n", "next", "下一件 Next", id="review.next", tooltip="领取并打开下一件 Claim the next dossier and open it"
        ),
        Binding(
            "f",
            "fill",
            "领满 Fill",
            id="review.fill",
            tooltip="领取至队列满 K 件 Claim dossiers until my queue holds K",
        ),
        Binding(
            "enter",
            "open",
            "打开 Open",
            id="review.open",
            tooltip="审核所选案卷 Review the selected dossier",
            priority=True,
        ),
        Binding(
            "l",
            "release",
            "释放 Release",
            id="review.release",
            tooltip="交还案卷池 Give the selected dossier back to the pool",
        ),
        Binding(
            "r",
            "refresh",
            "刷新 Refresh",
            id="review.refresh",
            tooltip="重新载入队列 Reload my queue and the pool",
            show=False,
        ),
        Binding(
            "g",
            "register",
            "登簿 Register",
            id="review.register",
            tooltip="已通过的案卷登簿 Register an approved dossier",
        ),
    ]

    HELP = """
## 审核队列 Review queue

我租用的案卷（企业优先），`left` 为租约剩余时间；`n` 领取下一件，`enter` 打开。

The dossiers you hold under lease, enterprise first (R15); `left` counts down to the lease's end.
Leases are renewed while this desk runs; a lease that is lost is named under the table.

- `n` claims the next dossier the system assigns (online work first, R16) and opens it.
- `f` fills your queue to K dossiers, so a network drop does not stop you.
- `enter` opens the selected dossier; `l` gives it back to the pool.
- `g` (registrars): 登簿 of an approved dossier, confirmed under your name; the registry applies it.
"""

    class Loaded(Message):
        def __init__(
            self, leases: list[LeaseView], pool: dict[str, int] | str, opened: LeaseView | None = None
        ) -> None:
            super().__init__()
            self.leases = leases
            self.pool = pool
            self.opened = opened

    class Beat(Message):
        def __init__(self, beat: Heartbeat) -> None:
            super().__init__()
            self.beat = beat

    def __init__(self, desk: Desk, actor: Actor, *, clock: Clock | None = None) -> None:
        super().__init__()
        self._desk = desk
        self._actor = actor
        self.clock: Clock = clock or utc_now
        self._leases: list[LeaseView] = []
        self._pool: dict[str, int] | str | None = None  # str: why the pool cannot be counted now
        self._lost: dict[str, str] = {}  # 受理号 → why its lease was lost
        self._heartbeat_timer: Timer | None = None

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(self._summary(), id="review-summary", markup=False)
        yield DataTable(id="review-queue", cursor_type="row", zebra_stripes=True)
        yield Static("", id="review-lost", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#review-queue", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.set_interval(1.0, self.tick)
        interval = max(self._desk.review.lease.total_seconds() / 3, 1.0)
        self._heartbeat_timer = self.set_interval(interval, self.heartbeat)

    def on_screen_resume(self) -> None:
        # Also when a dossier screen closes: it may have decided or claimed.
        self.load()

    # -- actions ---------------------------------------------------------------------------------------

    def action_next(self) -> None:
        self.claim_next()

    def action_fill(self) -> None:
        self.fill()

    def action_refresh(self) -> None:
        self.load()

    def action_open(self) -> None:
        lease = self._selected()
        if lease is not None:
            self._open(lease)

    def action_release(self) -> None:
        lease = self._selected()
        if lease is not None:
            self.release(lease)

    @on(DataTable.RowSelected, "#review-queue")
    def _row_selected(self) -> None:
        self.action_open()

    def action_register(self) -> None:
        self._awaiting_register()

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.register")
    def _awaiting_register(self) -> None:
        waiting = [(n, b, local_time(at)) for n, b, at in self._desk.review.awaiting_register()]
        self.app.call_from_thread(self._choose_register, waiting)

    def _choose_register(self, waiting: list[tuple[str, str, str]]) -> None:
        if not waiting:
            self.notify("暂无待登簿 nothing approved waits for 登簿 here", title="登簿", markup=False)
            return

        def chosen(number: str | None) -> None:
            if number:
                self._register(number)

        self.app.push_screen(RegisterModal(waiting, self._actor.username), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.register")
    def _register(self, number: str) -> None:
        done = self._desk.review.register(self._actor, number)
        qc = f"; QC {done['qc']}" if done.get("qc") else ""
        self.app.call_from_thread(
            self.notify,
            f"{number}: 已登簿 recorded ({done['status']} @ {done['stage']}){qc}",
            title="登簿",
            markup=False,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "register":
            return has_permission(self._actor, Permission.REGISTER)
        if action in ("open", "release"):
            return self._selected() is not None
        if action in ("next", "fill"):
            return len(self._leases) < self._desk.review.queue_size
        return True

    # -- workers (every service call off the UI thread) ------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.load")
    def load(self) -> None:
        leases = self._desk.review.queue(self._actor)
        pool = self._pool_counts()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(leases, pool))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.claim")
    def claim_next(self) -> None:
        lease = self._desk.review.claim_next(self._actor)
        leases = self._desk.review.queue(self._actor)
        pool = self._pool_counts()
        if lease is None:
            self.app.call_from_thread(
                self.notify, "暂无可审案卷 nothing to review: the pool has no dossier you may take", markup=False
            )
        self.post_message(self.Loaded(leases, pool, opened=lease))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.fill")
    def fill(self) -> None:
        leases = self._desk.review.fill_queue(self._actor)
        pool = self._pool_counts()
        self.post_message(self.Loaded(leases, pool))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.release")
    def release(self, lease: LeaseView) -> None:
        try:
            self._desk.review.release(self._actor, lease.lease_id)
        except NotFound:  # its message names the lease's id, which means nothing to a reviewer
            raise UsageError(f"{lease.number} is no longer in my queue; nothing to release") from None
        leases = self._desk.review.queue(self._actor)
        pool = self._pool_counts()
        self.post_message(self.Loaded(leases, pool))

    def _pool_counts(self) -> dict[str, int] | str:
        """The pool's counts; with a registry out of reach, a line saying so (the local queue still works)."""
        try:
            return self._desk.review.pool_counts()
        except Offline:
            return "中心案卷池 registry pool: unreachable now (my queue can still be decided)"

    def heartbeat(self) -> None:
        """Renew the leases this screen shows; one taken over or run out since comes back as lost."""
        if self._leases:
            self._renew([lease.lease_id for lease in self._leases])

    @work(thread=True, exclusive=True, exit_on_error=False, group="review.heartbeat")
    def _renew(self, lease_ids: list[str]) -> None:
        self.post_message(self.Beat(self._desk.review.heartbeat(self._actor, lease_ids)))

    # -- results ---------------------------------------------------------------------------------------

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._leases = queue_order(message.leases)
        self._pool = message.pool
        for lease in self._leases:
            self._lost.pop(lease.number, None)
        self._draw()
        if message.opened is not None:
            self._open(message.opened)

    @on(Beat)
    def _beat(self, message: Beat) -> None:
        renewed = {lease.lease_id: lease for lease in message.beat.renewed}
        by_lease = {lease.lease_id: lease for lease in self._leases}
        for lease_id, why in message.beat.lost:
            lost = by_lease.get(lease_id)
            if lost is not None:
                self._lost[lost.number] = why
        gone = {lease_id for lease_id, _why in message.beat.lost}
        # A lease claimed while the beat was out is kept as it is; the next beat renews it.
        kept = [renewed.get(lease.lease_id, lease) for lease in self._leases if lease.lease_id not in gone]
        self._leases = queue_order(kept)
        self._draw()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(error_line(event.worker.error), title="review", severity="error", markup=False)

    # -- drawing ---------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second, on the UI thread: the countdown from each lease's expiry; a lease run out leaves."""
        now = self.clock()
        table = self.query_one("#review-queue", DataTable)
        expired = [lease for lease in self._leases if lease.seconds_left(now) <= 0]
        if expired:
            for lease in expired:
                self._lost[lease.number] = "the lease ran out"
            self._leases = [lease for lease in self._leases if lease not in expired]
            self._draw()
            return
        for lease in self._leases:
            table.update_cell(lease.number, LEFT_COLUMN, time_left(lease, now))

    def _draw(self) -> None:
        table = self.query_one("#review-queue", DataTable)
        selected = self._selected()
        now = self.clock()
        with self.app.batch_update():
            table.clear()
            for lease in self._leases:
                table.add_row(
                    lease.number,
                    time_left(lease, now),
                    KIND_LABELS.get(lease.applicant_kind, lease.applicant_kind),
                    form_label(lease.digitized),
                    local_time(lease.applied_at),
                    lease.business,
                    key=lease.number,
                )
            numbers = [lease.number for lease in self._leases]
            if selected is not None and selected.number in numbers:
                table.move_cursor(row=numbers.index(selected.number))
        self.query_one("#review-summary", Static).update(self._summary())
        lost = self.query_one("#review-lost", Static)
        lost.update("租约失效 lease lost: " + "; ".join(f"{n} ({why})" for n, why in sorted(self._lost.items())))
        lost.display = bool(self._lost)
        self.refresh_bindings()

    def _summary(self) -> str:
        held = f"我的队列 my queue {len(self._leases)}/{self._desk.review.queue_size}"
        if self._pool is None:
            return f"{self._actor.username} · {held} · 案卷池 pool loading…"
        if isinstance(self._pool, str):
            return f"{self._actor.username} · {held} · {self._pool}"
        where = "中心案卷池 registry pool" if self._desk.has_registry else "案卷池 pool"
        pool = f"{where}: {self._pool.get('online', 0)} 电子 online · {self._pool.get('offline', 0)} 纸质 paper"
        return f"{self._actor.username} · {held} · {pool}"

    def _selected(self) -> LeaseView | None:
        tables = self.query("#review-queue")
        if not tables:
            return None
        table = tables.first(DataTable)
        if not table.row_count or not self._leases:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next((lease for lease in self._leases if lease.number == row_key.value), None)

    def _open(self, lease: LeaseView) -> None:
        from workstation.tui.screens.review_dossier import ReviewDossierScreen

        self.app.push_screen(ReviewDossierScreen(self._desk, self._actor, lease, clock=lambda: self.clock()))

    # -- for the dossier screen ------------------------------------------------------------------------

    @property
    def leases(self) -> list[LeaseView]:
        return list(self._leases)
