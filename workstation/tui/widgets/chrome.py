"""The desk's header line: station, user, the areas (modes) with their keys, online/offline and outbox depth.

The sync facts are read in a thread worker every few seconds; the next read is scheduled only after the previous
one finished, so a slow database never piles up reads (dolphie's polling pattern).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from workstation.domain.permissions import Actor
from workstation.services.syncstate import SyncOverview
from workstation.tui.modes import Mode, modes_for

POLL_SECONDS = 2.0
PALETTE_KEY_FRAME = 2  # the palette key's left border and right padding (Footer's DEFAULT_CSS)


class KeysFooter(Footer):
    """Textual's Footer, rebuilt only when the keys it shows change.

    Footer recomposes on every bindings signal (a focus move, `refresh_bindings`), even when the same keys come
    back; opening a dossier sent eight of those, each rebuilding and restyling every key. Here the signals of
    one refresh collapse into one check, and the keys are rebuilt only when what they show differs.

    Only keys that fit whole are shown, in their order, the palette key always: a key cut at the edge (half a
    Chinese character) reads as a fault, and whatever does not fit is in F1's list and the command palette.
    """

    _shown_keys: tuple[object, ...] | None = None
    _check_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen or self._check_pending:
            return
        self._check_pending = True
        self.call_after_refresh(self._rebuild_if_changed)

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and not self._check_pending:
            self._check_pending = True
            self.call_after_refresh(self._rebuild_if_changed)

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        palette = [key for key in keys if key.has_class("-command-palette")]
        # The keys take the footer's style (not compact); the palette key keeps its own, compact one.
        room = self.size.width - sum(_key_cells(key, compact=True) + PALETTE_KEY_FRAME for key in palette)
        for key in keys:
            if key in palette:
                continue
            cells = _key_cells(key, compact=False)
            if cells <= room:
                room -= cells
                yield key
        yield from palette

    async def _rebuild_if_changed(self) -> None:
        self._check_pending = False
        if not self.is_attached:
            return
        shown = (
            self.size.width,
            *(
                (name, b.binding.key, b.binding.action, b.binding.description, b.binding.show, b.enabled, b.tooltip)
                for name, b in self.screen.active_bindings.items()
            ),
        )
        if shown != self._shown_keys:
            self._shown_keys = shown
            await self.recompose()


def _key_cells(widget: object, *, compact: bool) -> int:
    """The cells a footer key takes (FooterKey's DEFAULT_CSS): the key with a cell either side and the description
    with one after it; compact, the key alone and one cell before the description.

    Read by name: Textual does not export its FooterKey class."""
    key_display, description = str(getattr(widget, "key_display", "")), str(getattr(widget, "description", ""))
    if compact:
        return cell_len(key_display) + (1 + cell_len(description) if description else 0)
    return cell_len(key_display) + 2 + (cell_len(description) + 1 if description else 0)


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
        for mode, text in self._tabs(actor):
            style = "reverse bold" if mode.name == self.current else "$text-muted"
            parts.append(Content.styled(text, style))
        return Content("").join(parts)

    def _tabs(self, actor: Actor) -> list[tuple[Mode, str]]:
        """Each tab's text: key and label in both languages, or only the Chinese one when they would not fit."""
        modes = modes_for(actor)
        full = [(mode, f" {mode.key.upper()} {mode.label} ") for mode in modes]
        if sum(Content(text).cell_length for _mode, text in full) <= self.size.width:
            return full
        return [(mode, f" {mode.key.upper()} {mode.label.split()[0]} ") for mode in modes]

    def on_click(self, event: events.Click) -> None:
        actor = getattr(self.app, "actor", None)
        if actor is None:
            return
        offset = event.x - (self.size.width - self.render().cell_length) // 2
        for mode, text in self._tabs(actor):
            width = Content(text).cell_length
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
            state = Content.styled("● 单机", "$text-muted")
        elif facts.online:
            state = Content.styled("● 在线", "$text-success")
        else:
            state = Content.styled("● 离线", "$text-warning")
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
