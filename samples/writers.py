"""Image and document writers with every option pinned, so the same pixels give the same bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image


def write_jpeg(img: Image.Image, path: Path, dpi: int, quality: int) -> None:
    # No EXIF, no ICC profile, baseline Huffman tables optimised: nothing depends on the clock.
    img.save(path, "JPEG", quality=quality, optimize=True, progressive=False, subsampling=2, dpi=(dpi, dpi))


def write_png(img: Image.Image, path: Path, dpi: int, levels: int = 16) -> None:
    """A grey scan reduced to ``levels`` tones (as scanners' "text/grey 4-bit" modes do) and stored 4-bit."""
    grey = img.convert("L")
    step = 256 // levels
    palette_img = grey.point(lambda v: min(v // step, levels - 1)).convert("P")
    palette = []
    for i in range(levels):
        tone = min(255, i * step + step // 2) if i < levels - 1 else 255
        palette.extend([tone, tone, tone])
    palette_img.putpalette(palette + [0, 0, 0] * (256 - levels))
    palette_img.save(path, "PNG", optimize=True, bits=4, dpi=(dpi, dpi))


def write_tiff(frames: list[Image.Image], path: Path, dpi: int, quality: int = 75) -> None:
    """Multi-frame TIFF: CCITT Group 4 for bilevel frames, JPEG-in-TIFF (as scanners write) otherwise."""
    options: dict = {"compression": "jpeg", "quality": quality}
    if all(f.mode == "1" for f in frames):
        options = {"compression": "group4"}
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], dpi=(dpi, dpi), **options)


def write_pdf(frames: list[Image.Image], path: Path, dpi: int, quality: int) -> None:
    """A scanned-image PDF: one JPEG per page, no text layer, no creation or modification date."""
    frames[0].save(
        path,
        "PDF",
        save_all=True,
        append_images=frames[1:],
        resolution=float(dpi),
        quality=quality,
        title=path.stem,
        producer="samples.generate",
        creationDate=None,
        modDate=None,
    )


def write_scan(frames: Sequence[Image.Image], path: Path, fmt: str, dpi: int, quality: int) -> None:
    """A scanned file in `fmt` (jpg and png hold the first frame; tif and pdf every frame)."""
    if fmt == "jpg":
        write_jpeg(frames[0], path, dpi, quality)
    elif fmt == "png":
        write_png(frames[0], path, dpi)
    elif fmt == "tif":
        write_tiff(list(frames), path, dpi, quality)
    elif fmt == "pdf":
        write_pdf(list(frames), path, dpi, quality)
    else:
        raise ValueError(f"unknown format {fmt}")


def write_json(path: Path, data: object) -> None:
    """Ground truth and case files: UTF-8, indented, one trailing newline."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
