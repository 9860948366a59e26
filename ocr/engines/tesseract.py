"""Tesseract 5 through pytesseract, the second engine.

Each call runs the `tesseract` binary once. It is started with OMP_THREAD_LIMIT=1: its OpenMP threads
fighting the other workers over 2 cores made it 4× slower, and one page per core is faster anyway.
Words come back from `image_to_data` and are grouped into lines by Tesseract's own block/paragraph/line
numbers; chi_sim puts a space between every Chinese character, which `normalize_line` removes.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from PIL import Image

from ocr.engines.base import Box, Line, reading_order
from ocr.errors import EngineFailed, EngineUnavailable
from ocr.text import normalize_line

INSTALL = "apt-get install tesseract-ocr tesseract-ocr-chi-sim"


@dataclass(frozen=True)
class TesseractConfig:
    """Defaults chosen with `python -m bench.ocr_engines` (see its table)."""

    lang: str = "chi_sim"  # "+eng" measured no better on Chinese documents with Latin identifiers
    psm: int = 3  # fully automatic page segmentation: forms mix tables, columns and paragraphs
    remove_rules: bool = True  # paint out table rules first: with them Tesseract skips whole tables
    min_confidence: float = 0.0  # drop lines whose mean word confidence (0..1) is below this
    timeout: float = 120.0  # seconds for one page before the call counts as failed

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TesseractConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown Tesseract option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(cls(), **options)


def _pytesseract() -> Any:
    try:
        import pytesseract
    except ImportError as exc:
        raise EngineUnavailable("pytesseract is not installed: pip install pytesseract") from exc
    return pytesseract


def _languages(pytesseract: Any) -> set[str]:
    return set(pytesseract.get_languages(config=""))


def unavailable_reason(lang: str = TesseractConfig.lang) -> str | None:
    """None when Tesseract with `lang` can run here, else a one-line reason with what to install."""
    try:
        pytesseract = _pytesseract()
    except EngineUnavailable as exc:
        return str(exc)
    cmd = pytesseract.pytesseract.tesseract_cmd
    if shutil.which(cmd) is None:
        return f"tesseract is not installed: {INSTALL}"
    try:
        have = _languages(pytesseract)
    except Exception as exc:  # the binary is there but does not run
        return f"tesseract does not run ({' '.join(str(exc).split())[:120]}): {INSTALL}"
    missing = [code for code in lang.split("+") if code not in have]
    if missing:
        packages = " ".join("tesseract-ocr-" + code.replace("_", "-") for code in missing)
        return f"tesseract lacks the {'+'.join(missing)} model: apt-get install {packages}"
    return None


class TesseractEngine:
    name = "tesseract"

    def __init__(self, config: TesseractConfig | None = None, **options: Any) -> None:
        self.config = config or TesseractConfig.from_options(options)
        reason = unavailable_reason(self.config.lang)
        if reason:
            raise EngineUnavailable(reason)
        self._tess = _pytesseract()
        # pytesseract starts the binary with this process's environment.
        os.environ["OMP_THREAD_LIMIT"] = "1"
        self._has_osd = "osd" in _languages(self._tess)

    def _run(self, call: str, image: Image.Image, config: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._tess, call)(image, config=config, timeout=self.config.timeout, **kwargs)
        except self._tess.TesseractNotFoundError as exc:
            raise EngineUnavailable(f"tesseract is not installed: {INSTALL}") from exc
        except RuntimeError as exc:  # pytesseract's timeout
            raise EngineFailed(f"tesseract took longer than {self.config.timeout:g} s on the page") from exc
        except self._tess.TesseractError as exc:
            raise EngineFailed(f"tesseract failed: {' '.join(str(exc.message).split())[:200]}") from exc

    def read(self, image: Image.Image) -> list[Line]:
        """Recognise the text lines of one upright page, in reading order."""
        page = without_rules(image) if self.config.remove_rules else _page(image)
        data = self._run(
            "image_to_data",
            page,
            f"-l {self.config.lang} --psm {self.config.psm}",
            output_type=self._tess.Output.DICT,
        )
        return reading_order(lines_from_data(data, self.config.min_confidence))

    def detect(self, image: Image.Image) -> list[Box]:
        return [line.box for line in self.read(image)]

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """The page's clockwise turn from upright (0/90/180/270) and a 0..1 confidence.

        Tesseract's orientation and script detection (the osd model, Debian tesseract-ocr-osd) when it is
        installed; otherwise the turn whose reading of the page's middle has the highest mean confidence.
        """
        page = _page(image)
        if self._has_osd:
            try:
                osd = self._run("image_to_osd", page, "--psm 0")
            except EngineFailed:
                osd = ""  # too little text for OSD: fall back to reading
            found = re.search(r"Orientation in degrees:\s*(\d+)", osd)
            confidence = re.search(r"Orientation confidence:\s*([\d.]+)", osd)
            if found and confidence:
                # "Orientation in degrees" is the page's clockwise turn (its "Rotate" is the correction).
                return int(found.group(1)) % 360, round(min(1.0, float(confidence.group(1)) / 10), 3)
        return self._orientation_by_reading(page)

    def _orientation_by_reading(self, page: Image.Image) -> tuple[int, float]:
        """Without OSD: sideways when the lines found are mostly taller than wide (Tesseract reads turned
        text too, so its confidence cannot tell 0 from 90); then 0 against 180 by mean confidence."""
        w, h = page.size
        middle = page.crop((w // 8, h // 4, w - w // 8, h - h // 4))
        middle = middle.resize((max(1, middle.width // 2), max(1, middle.height // 2)))
        lines = self._lines(middle)
        wide = sum(ln.box[2] - ln.box[0] for ln in lines if ln.box[2] - ln.box[0] >= ln.box[3] - ln.box[1])
        tall = sum(ln.box[3] - ln.box[1] for ln in lines if ln.box[3] - ln.box[1] > ln.box[2] - ln.box[0])
        base = 90 if tall > wide else 0
        scores = {}
        for turn in (base, base + 180):
            found = self._lines(middle.rotate(turn, expand=True)) if turn else lines
            chars = sum(len(line.text) for line in found)
            scores[turn] = sum(line.confidence * len(line.text) for line in found) / max(1, chars)
        best = max(scores, key=lambda t: scores[t])
        margin = scores[best] - min(scores.values())
        return best, round(min(1.0, 0.5 + margin), 3)

    def _lines(self, image: Image.Image) -> list[Line]:
        data = self._run("image_to_data", image, f"-l {self.config.lang} --psm 3", output_type=self._tess.Output.DICT)
        return lines_from_data(data, 0.0)


def lines_from_data(data: dict[str, list[Any]], min_confidence: float = 0.0) -> list[Line]:
    """Lines from `image_to_data` words: grouped by (block, paragraph, line), in Tesseract's order."""
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    for i, level in enumerate(data["level"]):
        if int(level) != 5 or not str(data["text"][i]).strip():
            continue
        key = (int(data["page_num"][i]), int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        groups.setdefault(key, []).append(i)
    lines = []
    for words in groups.values():
        text = normalize_line(" ".join(str(data["text"][i]) for i in words))
        if not text:
            continue
        confs = [float(data["conf"][i]) for i in words if float(data["conf"][i]) >= 0]
        confidence = sum(confs) / len(confs) / 100 if confs else 0.0
        if confidence < min_confidence:
            continue
        box: Box = (
            min(int(data["left"][i]) for i in words),
            min(int(data["top"][i]) for i in words),
            max(int(data["left"][i]) + int(data["width"][i]) for i in words),
            max(int(data["top"][i]) + int(data["height"][i]) for i in words),
        )
        lines.append(Line(text, box, round(confidence, 4)))
    return lines


def _page(image: Image.Image) -> Image.Image:
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _on_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """The pixels of `mask` that lie on a straight run of at least `length` set pixels along `axis`."""
    m = np.moveaxis(mask, axis, -1)
    n = m.shape[-1]
    if n < length:
        return np.zeros(mask.shape, dtype=bool)
    total = np.zeros((*m.shape[:-1], n + 1), np.int32)
    np.cumsum(m, axis=-1, out=total[..., 1:])
    full = (total[..., length:] - total[..., :-length]) == length  # the window starting here is all set
    starts = np.zeros((*m.shape[:-1], full.shape[-1] + 1), np.int32)
    np.cumsum(full, axis=-1, out=starts[..., 1:])
    index = np.arange(n)
    hi = np.minimum(index + 1, full.shape[-1])
    lo = np.clip(index - length + 1, 0, full.shape[-1])
    return np.moveaxis((starts[..., hi] - starts[..., lo]) > 0, -1, axis)


def without_rules(image: Image.Image, length: int = 100, grow: int = 2) -> Image.Image:
    """The page in grey with table rules and long underlines painted over in the paper's colour.

    A rule is a straight dark run of at least `length` px (a third of an inch at 300 dpi: longer than
    any stroke of a character), horizontal or vertical, grown by `grow` px to take its blurred edges.
    Measured on the bench's forms: CER 22.8% → 1.7% (Tesseract otherwise drops ruled tables).
    """
    gray = np.asarray(image.convert("L"))
    paper = float(np.percentile(gray[::8, ::8], 90))
    dark = gray < paper - 50
    rules = _on_runs(dark, length, 1) | _on_runs(dark, length, 0)
    grown = rules.copy()
    for d in range(1, grow + 1):
        grown[d:, :] |= rules[:-d, :]
        grown[:-d, :] |= rules[d:, :]
        grown[:, d:] |= rules[:, :-d]
        grown[:, :-d] |= rules[:, d:]
    cleaned = gray.copy()
    cleaned[grown] = int(paper)
    return Image.fromarray(cleaned)
