"""An engine that replays recorded readings: for tests that are about what happens around OCR (crash
loops, sync, the job queue), not about OCR. Pages are recognised by the sha256 of their pixels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from PIL import Image

from ocr.engines.base import Engine, Line
from ocr.errors import EngineFailed


def image_key(image: Image.Image) -> str:
    """sha256 of the image's raw pixel bytes (`image.tobytes()`): the same page decoded twice matches."""
    return hashlib.sha256(image.tobytes()).hexdigest()


class ReplayEngine:
    name = "replay"

    def __init__(self, recordings: Mapping[str, list[Line]]) -> None:
        self.recordings = dict(recordings)

    def read(self, image: Image.Image) -> list[Line]:
        key = image_key(image)
        if key not in self.recordings:
            raise EngineFailed(f"no recorded reading for this page (sha256 of its pixels {key[:12]}…)")
        return list(self.recordings[key])

    @classmethod
    def load(cls, path: str | Path) -> ReplayEngine:
        return cls(load(path))


def record(engine: Engine, images: Iterable[Image.Image]) -> dict[str, list[Line]]:
    """Read each image with `engine` once: the recordings a ReplayEngine plays back."""
    return {image_key(image): engine.read(image) for image in images}


def save(recordings: Mapping[str, list[Line]], path: str | Path) -> None:
    data = {
        key: [{"text": ln.text, "box": list(ln.box), "confidence": ln.confidence} for ln in lines]
        for key, lines in recordings.items()
    }
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def load(path: str | Path) -> dict[str, list[Line]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        key: [Line(str(ln["text"]), _box(ln["box"]), float(ln["confidence"])) for ln in lines]
        for key, lines in data.items()
    }


def _box(values: list[int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = (int(v) for v in values)
    return left, top, right, bottom
