"""One page of a dossier at the window: its picture beside what OCR read, the values taken into fields highlighted.

The clerk confirms a field by looking at the page it came from, without leaving the desk: `v` on a page opens
this, `←`/`→` go through the dossier's pages, `escape` comes back. The picture and the text load in a worker;
turning pages quickly only ever shows the last one asked for.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Static

from workstation.services.desk import Desk
from workstation.services.pages import PageImages
from workstation.services.views import DossierDetail, PageView
from workstation.tui.widgets.chrome import KeysFooter
from workstation.tui.widgets.intake import OCR_LABELS
from workstation.tui.widgets.ocr_text import OcrText
from workstation.tui.widgets.page_image import PageImage, PageLoaded, read_page


class PageViewerScreen(ModalScreen[None]):
    HELP = """
## 页面 Page

页面图像与识别文字并排显示。

The page as scanned beside the text OCR read from it; values taken into the dossier's fields are highlighted,
lines read with low confidence dimmed. Check a field against its page before confirming it.

- `→` / `]` next page, `←` / `[` previous page
- `escape` back to the dossier
"""
    DEFAULT_CSS = """
    PageViewerScreen { background: $background; }
    PageViewerScreen > #viewer-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    PageViewerScreen > #viewer-row { height: 1fr; }
    """
    BINDINGS = [
        Binding(
            "right,]",
            "turn(1)",
            "下页 Next",
            id="viewer.next",
            tooltip="下一页 The dossier's next page",
            key_display="→",
        ),
        Binding(
            "left,[",
            "turn(-1)",
            "上页 Previous",
            id="viewer.previous",
            tooltip="上一页 The dossier's previous page",
            key_display="←",
        ),
        Binding("escape,v", "close", "返回 Back", id="viewer.close", tooltip="回到案卷 Back to the dossier"),
    ]

    def __init__(self, desk: Desk, detail: DossierDetail, page_id: str, *, images: PageImages | None = None) -> None:
        super().__init__()
        self._desk = desk
        self._detail = detail
        self._pages: list[PageView] = list(detail.pages)
        self._index = next((i for i, p in enumerate(self._pages) if p.id == page_id), 0)
        self._images = images or PageImages(desk)

    @property
    def page(self) -> PageView:
        return self._pages[self._index]

    def compose(self) -> ComposeResult:
        yield Static("", id="viewer-title", markup=False)
        with Horizontal(id="viewer-row"):
            yield PageImage(id="viewer-image")
            yield OcrText(id="viewer-text")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._show()

    def action_turn(self, step: int) -> None:
        index = self._index + step
        if 0 <= index < len(self._pages):
            self._index = index
            self._show()
        else:
            self.app.bell()

    def action_close(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "turn" and parameters:
            step = parameters[0]
            return isinstance(step, int) and 0 <= self._index + step < len(self._pages)
        return True

    def _show(self) -> None:
        self.query_one("#viewer-title", Static).update(self._title())
        self.query_one(PageImage).show_note("loading…")
        self.query_one(OcrText).show_note("loading…")
        self.refresh_bindings()
        self._load(self.page.id)

    def _title(self) -> str:
        page = self.page
        slot = next(
            (s for s in self._detail.slots if (s.material, s.party_key) == (page.material, page.party_key)), None
        )
        what = f"{page.material} {slot.label}" if slot is not None else (page.material or "未归入 no slot")
        ocr = OCR_LABELS.get(page.ocr_status, page.ocr_status)
        return (
            f"{self._detail.number} · 第 {page.position} 页 ({self._index + 1}/{len(self._pages)}) · {what}"
            f" · OCR {ocr} · {page.source_name}"
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="viewer.load")
    def _load(self, page_id: str) -> None:
        loaded = read_page(self._desk, self._images, self._detail.number, page_id)
        if loaded is not None:
            self.post_message(loaded)

    @on(PageLoaded)
    def _loaded(self, message: PageLoaded) -> None:
        if message.page_id != self.page.id:
            return
        picture = self.query_one(PageImage)
        if message.image is not None:
            picture.show_image(message.image, f"第 {self.page.position} 页 page {self.page.position}")
        else:
            picture.show_note(message.note)
        values = [f.value for f in self._detail.fields if f.page_id == message.page_id]
        self.query_one(OcrText).show_lines(message.lines, values)
