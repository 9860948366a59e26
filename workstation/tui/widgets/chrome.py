"""The desk's header line: station, user, the areas (modes) with their keys, online/offline and outbox depth.

The sync facts are read in a thread worker every few seconds; the next read is scheduled only after the previous
one finished, so a slow database never piles up reads (dolphie's polling pattern).
"""

from __future__ import annotations

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.services.syncstate import SyncOverview
from workstation.tui.modes import modes_for

POLL_SECONDS = 2.0


class KeysFooter(Footer):
    """Textual's Footer, rebuilt only when the keys it shows change.

    Footer recomposes on every bindings signal (a focus move, `refresh_bindings`), even when the same keys come
    back; opening a dossier sent eight of those, each rebuilding and restyling every key. Here the signals of
    one refresh collapse into one check, and the keys are rebuilt only when what they show differs.
    """

    _shown_keys: tuple[object, ...] | None = None
    _check_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen or self._check_pending:
            return
        self._check_pending = True
        self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        self._check_pending = False
        if not self.is_attached:
            return
        shown = tuple(
            (name, b.binding.key, b.binding.action, b.binding.description, b.binding.show, b.enabled, b.tooltip)
            for name, b in self.screen.active_bindings.items()
        )
        if shown != self._shown_keys:
            self._shown_keys = shown
            await self.recompose()


class ModeTabs(Static):
    """The areas this user may open; the current one highlighted. Clicking a tab opens it."""

    DEFAULT_CSS = """
    ModeTabs { width: 1fr; height: 1; content-align: center middle; }
    """

    current: reactive[str] = reactive("", layout=True)

    def render(self) -> Content:
        actor = getattr(self.app, "actor", None)
        if actor is None:
            return Content("")
        parts: list[Content] = []
        for mode in modes_for(actor):
            text = f" {mode.key.upper()} {mode.label} "
            style = "reverse bold" if mode.name == self.current else "$text-muted"
            parts.append(Content.styled(text, style))
        return Content("").join(parts)

    def on_click(self, event: events.Click) -> None:
        actor = getattr(self.app, "actor", None)
        if actor is None:
            return
        offset = event.x - (self.size.width - self.render().cell_length) // 2
        for mode in modes_for(actor):
            width = Content(f" {mode.key.upper()} {mode.label} ").cell_length
            if 0 <= offset < width:
                self.app.call_later(self.app.run_action, f"app.open_mode('{mode.name}')")
                return
            offset -= width


class SyncBadge(Static):
    DEFAULT_CSS = """
    SyncBadge { width: auto; height: 1; padding: 0 1 0 0; }
    """

    overview: reactive[SyncOverview | None] = reactive(None, layout=True)

    def render(self) -> Content:
        facts = self.overview
        if facts is None:
            return Content.styled("…", "$text-muted")
        if facts.registry is None:
            state = Content.styled("● local", "$text-muted")
        elif facts.online:
            state = Content.styled("● online", "$text-success")
        else:
            state = Content.styled("● offline", "$text-warning")
        depth = Content(f" 待传 {facts.outbox_depth}")
        parked = Content.styled(f" ⚠{facts.parked}", "$text-error") if facts.parked else Content("")
        return Content.assemble(state, depth, parked)


class AppHeader(Horizontal):
    """One line on top of every desk screen."""

    DEFAULT_CSS = """
    AppHeader { height: 1; dock: top; background: $panel; }
    AppHeader #header-who { width: auto; padding: 0 1; text-style: bold; }
    """

    class Polled(Message):
        def __init__(self, overview: SyncOverview) -> None:
            super().__init__()
            self.overview = overview

    def compose(self) -> ComposeResult:
        yield Static(self._who(), id="header-who", markup=False)
        yield ModeTabs(id="header-modes")
        yield SyncBadge(id="header-sync")

    def on_mount(self) -> None:
        self.query_one(ModeTabs).current = getattr(self.app, "current_mode", "")
        self._poll()

    def _who(self) -> str:
        desk = getattr(self.app, "desk", None)
        actor = getattr(self.app, "actor", None)
        station = desk.settings.station_id if desk is not None else "—"
        return f"{station} · {actor.username if actor is not None else '—'}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="header.poll")
    def _poll(self) -> None:
        desk = getattr(self.app, "desk", None)
        if desk is None:
            return
        overview = desk.sync.overview()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Polled(overview))

    def on_app_header_polled(self, message: Polled) -> None:
        self.query_one(SyncBadge).overview = message.overview
        self.set_timer(POLL_SECONDS, self._poll)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "header.poll" and event.state == WorkerState.ERROR:
            self.query_one(SyncBadge).overview = None
            self.set_timer(POLL_SECONDS * 5, self._poll)  # the database is busy or gone: ask again later
        event.stop()

    def refresh_now(self) -> None:
        self._poll()
