"""A page's OCR text beside its image, with the values extracted from it highlighted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content, Span
from textual.widgets import Static

FIELD_STYLE = "bold reverse $accent"
LOW_CONFIDENCE = 0.8


def highlighted(lines: Sequence[tuple[str, float]], values: Iterable[str]) -> Content:
    """The lines as one text; every occurrence of an extracted value styled; doubtful lines muted."""
    wanted = sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True)
    out: list[Content] = []
    for text, confidence in lines:
        spans: list[Span] = []
        taken = [False] * len(text)
        for value in wanted:
            start = text.find(value)
            while start >= 0:
                end = start + len(value)
                if not any(taken[start:end]):
                    spans.append(Span(start, end, FIELD_STYLE))
                    taken[start:end] = [True] * (end - start)
                start = text.find(value, end)
        line = Content(text, spans=sorted(spans, key=lambda s: s.start))
        if confidence < LOW_CONFIDENCE:
            line = line.stylize_before("$text-muted")
        out.append(line)
    return Content("\n").join(out)


class OcrText(VerticalScroll):
    """What OCR read on the selected page, one line per text line, the extracted field values highlighted."""

    HELP = """
## 识别文字 OCR text

页面的识别文字，提取的字段值高亮，可疑的行变暗。

What OCR read on the selected page, in reading order. Values taken into the dossier's fields are
highlighted; lines read with low confidence are dimmed. Check them against the image.
"""

    DEFAULT_CSS = """
    OcrText { width: 1fr; height: 1fr; padding: 0 1; }
    OcrText > #ocr-lines { width: 1fr; height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="ocr-lines", markup=False)

    def show_lines(self, lines: Sequence[tuple[str, float]], values: Iterable[str]) -> None:
        static = self.query_one("#ocr-lines", Static)
        if not lines:
            empty = "无识别文字 no OCR text for this page (not read yet, or blank)"
            static.update(Content.styled(empty, "$text-muted"))
        else:
            static.update(highlighted(lines, values))
        self.scroll_home(animate=False)

    def show_note(self, text: str) -> None:
        self.query_one("#ocr-lines", Static).update(Content.styled(text, "$text-muted"))

    @property
    def text(self) -> str:
        return str(self.query_one("#ocr-lines", Static).content)
