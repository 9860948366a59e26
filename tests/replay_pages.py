"""Scans made up for tests that are about what happens around OCR (queues, crashes), with recorded readings."""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from ocr.engines.base import Line
from ocr.engines.replay import image_key, save
from ocr.loading import load_pages
from ocr.preprocess import prepare

LICENCE = [
    "营业执照",
    "统一社会信用代码 91350100M000100Y43",
    "名称 济南泉城商贸有限公司",
    "法定代表人 张建华",
    "2019年5月6日",
]


def make_page(path: Path, seed: int, size: tuple[int, int] = (1240, 1754)) -> Path:
    """A distinct page with text-like bars (150 dpi A4), saved as PNG."""
    rng = random.Random(seed)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for row in range(12):
        y = 150 + row * 110
        x = 120
        while x < size[0] - 200:
            width = rng.randint(30, 160)
            draw.rectangle((x, y, x + width, y + 28), fill=0)
            x += width + rng.randint(15, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, dpi=(150, 150))
    return path


def reading_key(path: Path) -> str:
    """The key a ReplayEngine sees for the first page of `path` (the pipeline's prepared image)."""
    return image_key(prepare(load_pages(path)[0].image)[0])


def record_pages(paths: list[Path], recordings: Path, texts: list[str] = LICENCE) -> Path:
    data = {
        reading_key(p): [Line(t, (100, 100 + 60 * i, 1100, 150 + 60 * i), 0.98) for i, t in enumerate(texts)]
        for p in paths
    }
    save(data, recordings)
    return recordings


def recorded_keys(recordings: Path) -> set[str]:
    return set(json.loads(recordings.read_text("utf-8")))
