"""The one interface every OCR engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

# A text line's box in page pixels: (left, top, right, bottom), axis-aligned, of the upright page.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Line:
    text: str  # as read, Chinese without spaces between characters
    box: Box
    confidence: float  # 0..1


@dataclass(frozen=True)
class Detection:
    """A detected text region before recognition (for orientation decisions)."""

    box: Box


class Engine(Protocol):
    name: str

    def read(self, image: Image.Image) -> list[Line]:
        """Recognise the text lines of one upright grayscale page, in reading order."""
        ...


class Orienting(Protocol):
    """An engine that can tell how a page is turned (both built-in engines can)."""

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """The page's clockwise turn from upright, one of 0, 90, 180, 270, and a 0..1 confidence."""
        ...


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """Undo a clockwise turn of `rotation` degrees as reported by `orientation()` (one rotation per page)."""
    turns = {
        90: Image.Transpose.ROTATE_90,  # PIL's ROTATE_* turn counter-clockwise, exactly (no resampling)
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    rotation %= 360
    if rotation == 0:
        return image
    if rotation not in turns:
        raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")
    return image.transpose(turns[rotation])


def reading_order(lines: Sequence[Line]) -> list[Line]:
    """Top to bottom; lines sharing a row (vertical overlap of at least half the smaller height) left to
    right, so a table row's cells come out as separate lines in column order."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        top, bottom = line.box[1], line.box[3]
        if rows:
            row = rows[-1]
            row_top = min(ln.box[1] for ln in row)
            row_bottom = max(ln.box[3] for ln in row)
            shortest = min(bottom - top, min(ln.box[3] - ln.box[1] for ln in row))
            if min(bottom, row_bottom) - max(top, row_top) >= 0.5 * shortest:
                row.append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]
