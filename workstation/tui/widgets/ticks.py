"""A list of items to tick that reads without colour: `[x]` ticked, `[ ]` not.

Textual's SelectionList draws the same `X` for both and tells them apart by colour alone, which some terminals
(and some eyes) do not show; its mark is also drawn on every line of a wrapped item. Here the mark is text, on
the item's first line only, and long items wrap whole.
"""

from __future__ import annotations

from typing import TypeVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widgets import OptionList, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

T = TypeVar("T")

TICKED = "[x] "
UNTICKED = "[ ] "


class TickList(SelectionList[T]):
    DEFAULT_CSS = """
    TickList { text-wrap: wrap; text-overflow: fold; }
    """

    def _get_left_gutter_width(self) -> int:
        return len(TICKED)

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)
        try:
            index, offset = self._lines[self.scroll_offset.y + y]
            selection = self.get_option_at_index(index)
        except (IndexError, OptionDoesNotExist):
            return line
        base = next(iter(line)).style or self.rich_style or Style()
        ticked = selection.value in self._selected
        mark = (TICKED if ticked else UNTICKED) if offset == 0 else " " * len(TICKED)
        style = base + Style(bold=ticked, dim=not ticked, meta={"option": index})
        return Strip([Segment(mark, style), *line])
