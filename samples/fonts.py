"""The CJK fonts the pages are set in (Noto CJK from Debian's fonts-noto-cjk)."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

# face -> (file name, index of the Simplified Chinese face inside the .ttc)
FACES = {
    "serif": ("NotoSerifCJK-Regular.ttc", 2),  # stands in for 宋体, the body face of Chinese forms
    "serif-bold": ("NotoSerifCJK-Bold.ttc", 2),
    "sans": ("NotoSansCJK-Regular.ttc", 2),  # stands in for 黑体, labels and headings
    "sans-bold": ("NotoSansCJK-Bold.ttc", 2),
    "mono": ("NotoSansCJK-Regular.ttc", 7),  # Noto Sans Mono CJK SC: values printed by office systems
    "mono-bold": ("NotoSansCJK-Bold.ttc", 7),
}
_SEARCH_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)


class FontsMissing(RuntimeError):
    """The Noto CJK fonts are not installed."""


@cache
def font_path(face: str) -> tuple[str, int]:
    name, index = FACES[face]
    dirs = [os.environ["SAMPLES_FONT_DIR"]] if os.environ.get("SAMPLES_FONT_DIR") else []
    dirs.extend(_SEARCH_DIRS)
    for folder in dirs:
        path = Path(folder).expanduser() / name
        if path.is_file():
            return str(path), index
    raise FontsMissing(f"font {name} not found: install fonts-noto-cjk or set SAMPLES_FONT_DIR")


def fonts_available() -> bool:
    try:
        for face in FACES:
            font_path(face)
    except FontsMissing:
        return False
    return True


@lru_cache(maxsize=512)
def get_font(face: str, px: int) -> ImageFont.FreeTypeFont:
    path, index = font_path(face)
    # The basic layout engine keeps output identical whether or not libraqm is present.
    return ImageFont.truetype(path, max(px, 4), index=index, layout_engine=ImageFont.Layout.BASIC)
