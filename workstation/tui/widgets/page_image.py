"""A scanned page on screen with textual-image: Sixel or Kitty graphics where the terminal has them, half-cell
blocks otherwise.

textual-image finds out what the terminal can do when it is first imported, by writing escape sequences and
reading the answer from stdin; once Textual runs, its input thread would take that answer as key presses. So:
- `WS_TUI_IMAGE` (or `pin_renderer()`) picks the renderer: `auto` (default), `halfcell`, `unicode`, `sixel`,
  `tgp`. Tests and screen snapshots pin `halfcell`.
- `probe_terminal()` runs the detection; call it before the app starts to get Sixel/Kitty. If the first image
  is shown while an app runs and nobody probed, nothing is asked: the terminal gets half-cell blocks.
The picture itself is decoded and downscaled by the screen in a thread worker; this widget only draws it.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import get_current_worker

from workstation.errors import BlobError, NotFound

if TYPE_CHECKING:
    from workstation.services.desk import Desk
    from workstation.services.pages import PageImages

RENDERER_ENV = "WS_TUI_IMAGE"
RENDERERS = ("auto", "halfcell", "unicode", "sixel", "tgp")

_pinned: str | None = None
_probed = False


def pin_renderer(name: str | None) -> None:
    """Use this renderer from now on (None: back to `WS_TUI_IMAGE`, then auto)."""
    global _pinned
    if name is not None and name not in RENDERERS:
        raise ValueError(f"unknown image renderer '{name}'; one of {', '.join(RENDERERS)}")
    _pinned = name


def renderer_name() -> str:
    name = _pinned or os.environ.get(RENDERER_ENV, "auto").strip().lower() or "auto"
    return name if name in RENDERERS else "auto"


def probe_terminal() -> None:
    """Ask the terminal for Sixel/Kitty support and its cell size. Only before Textual starts reading stdin."""
    global _probed
    import textual_image.widget  # noqa: F401  (the import is the probe)

    _probed = True


@contextmanager
def _no_terminal_queries() -> Iterator[None]:
    # textual-image probes only a tty; for the length of the import it sees none and falls back quietly.
    saved = sys.__stdout__
    sys.__stdout__ = io.StringIO()  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        sys.__stdout__ = saved  # type: ignore[misc]


def image_widget_class() -> type[Widget]:
    """The textual-image widget class for the chosen renderer, imported without disturbing a running app."""
    name = renderer_name()
    if name == "auto" and not _probed and "textual_image.widget" not in sys.modules:
        name = "halfcell"
    if "textual_image.widget" in sys.modules:
        import textual_image.widget as ti
    else:
        with _no_terminal_queries():
            import textual_image.widget as ti
    classes: dict[str, Any] = {
        "auto": ti.Image,
        "halfcell": ti.HalfcellImage,
        "unicode": ti.UnicodeImage,
        "sixel": ti.SixelImage,
        "tgp": ti.TGPImage,
    }
    widget_class: type[Widget] = classes[name]
    return widget_class


class PageImage(Container):
    """The selected page's picture; a one-line note instead while it loads or when it cannot be shown."""

    HELP = """
## 页面图像 Page image

扫描页面的图像；`o` 以原始分辨率打开。

The selected page, upright, as scanned. `o` opens it at full resolution in the system's image viewer.

Graphics terminals (Sixel, Kitty) show the scan itself; others show coloured half-cell blocks.
"""

    DEFAULT_CSS = """
    PageImage { height: 1fr; width: 1fr; }
    PageImage > #page-image-note { color: $text-muted; padding: 0 1; height: auto; }
    PageImage > .page-picture { width: auto; height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("无页面 no page", id="page-image-note", markup=False)

    def show_note(self, text: str) -> None:
        """A line instead of a picture: loading…, no pages, or why the scan cannot be shown."""
        self._remove_picture()
        note = self.query_one("#page-image-note", Static)
        note.update(text)
        note.display = True

    def show_image(self, image: PILImage.Image, caption: str) -> None:
        self._remove_picture()
        note = self.query_one("#page-image-note", Static)
        note.update(caption)
        widget_class: Any = image_widget_class()
        widget = widget_class(image, classes="page-picture")
        self.mount(widget)

    @property
    def has_picture(self) -> bool:
        return bool(self.query(".page-picture"))

    def _remove_picture(self) -> None:
        for old in self.query(".page-picture"):
            old.remove()


class PageLoaded(Message):
    """One page read off the UI thread: its picture (None, with `note` saying why, when it cannot be shown) and
    the lines OCR read on it."""

    def __init__(
        self, page_id: str, image: PILImage.Image | None, note: str, lines: Sequence[tuple[str, float]]
    ) -> None:
        super().__init__()
        self.page_id = page_id
        self.image = image
        self.note = note
        self.lines = lines


def read_page(desk: Desk, images: PageImages, number: str, page_id: str) -> PageLoaded | None:
    """In a thread worker: the page's OCR lines and picture; None once the worker is cancelled (moved on)."""
    lines: list[tuple[str, float]] = []
    image: PILImage.Image | None = None
    note = ""
    try:
        lines = [(text, confidence) for text, _box, confidence in desk.dossiers.page_lines(number, page_id)]
        if get_current_worker().is_cancelled:  # do not decode a page nobody is looking at any more
            return None
        image = images.image(number, page_id)
    except (BlobError, NotFound) as exc:
        note = f"无法显示此页 cannot show this page: {exc}"
    return None if get_current_worker().is_cancelled else PageLoaded(page_id, image, note, lines)
