"""One page from file to fields: load → seals lifted (colour pages) → orientation → contrast/deskew → OCR → classify →
extract.

`read_file` runs in the calling process with a given engine; `read_file_task` is the same for an `OcrPool`
worker (it uses the worker's engine). Bad input never raises out of here: it becomes a `FileError` result
with a one-line reason, so the caller's other files carry on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ocr.classify import UNKNOWN, classify, squash
from ocr.engines.base import Engine, Line
from ocr.errors import InputError, OcrError
from ocr.extract import FieldValue, extract_fields
from ocr.loading import PageImage, iter_pages
from ocr.preprocess import (
    deskew,
    is_blank,
    lift_seals,
    normalize_contrast,
    quadrant_points,
    rotate_quadrant,
)

# A PDF page whose own text layer has at least this many characters is read from it, not OCR'd.
MIN_TEXT_LAYER_CHARS = 20


@dataclass
class PageResult:
    file: str
    page: int
    material: str
    material_confidence: float
    engine: str
    seconds: float
    lines: list[Line]
    fields: dict[str, FieldValue]
    rotation: int = 0  # clockwise rotation the page was found in (and undone)
    skew_deg: float = 0.0
    dpi: int = 300
    source: str = "ocr"  # "ocr" | "text_layer" | "blank"
    evidence: tuple[str, ...] = ()
    size: tuple[int, int] = (0, 0)  # the upright page's pixel size (boxes refer to it)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        """The extract contract's line (architecture.md), plus what the pipeline did to the page."""
        return {
            "file": self.file,
            "page": self.page,
            "material": self.material,
            "material_confidence": round(self.material_confidence, 3),
            "engine": self.engine,
            "seconds": round(self.seconds, 3),
            "text": self.text,
            "fields": {key: value.to_json() for key, value in self.fields.items()},
            "rotation": self.rotation,
            "skew_deg": round(self.skew_deg, 2),
            "source": self.source,
        }


@dataclass
class FileError:
    file: str
    error: str
    kind: str = "bad_input"
    page: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "error": self.error}
        if self.page is not None:
            data["page"] = self.page
        return data


Result = PageResult | FileError


def _text_layer_lines(page: PageImage) -> list[Line] | None:
    text = page.text_layer or ""
    if len(squash(text)) < MIN_TEXT_LAYER_CHARS:
        return None
    width, height = page.image.size
    rows = [row.strip() for row in text.splitlines() if row.strip()]
    step = max(1, height // max(1, len(rows)))
    return [Line(row, (0, i * step, width, (i + 1) * step), 1.0) for i, row in enumerate(rows)]


# A date line with a few stray characters before it: a red seal printed over a signature block's date.
_SEALED_DATE = re.compile(r"^(?P<residue>[\u4e00-\u9fff]{1,6})?(?P<date>\d{1,4}年\d{1,2}月\d{1,2}日)$")
_FULL_DATE = re.compile(r"(?<!\d)[12]\d{3}年\d{1,2}月\d{1,2}日")
_FAINT_CUT = 0.5  # a pixel lighter than halfway from the crop's ink to its paper is seal, not text


def reread_sealed_dates(lines: list[Line], image: Image.Image, engine: Engine) -> list[Line]:
    """Read again, without the seal, the date lines a seal is printed over ("不动产登020年04月06日").

    Only such lines are re-read, on their own crop, where the light is even: the seal's red prints as a grey
    lighter than the text's black, so dropping what is fainter than halfway between ink and paper leaves the date.
    Colour pages come here with their seals already lifted (`lift_seals`); this is for gray scans of sealed pages,
    where the seal's colour is lost (on the samples it still recovers a date lifting cannot: case-05's certificate).
    """
    out = []
    for line in lines:
        match = _SEALED_DATE.match("".join(line.text.split()))
        year = match.group("date").split("年")[0] if match else ""
        # Only a year the seal visibly damaged ("020", "1202") is worth a second reading.
        if match is None or (len(year) == 4 and 1900 <= int(year) <= 2100):
            out.append(line)
            continue
        left, top, right, bottom = line.box
        pad = (bottom - top) // 2
        crop = image.crop((max(0, left - pad), max(0, top - pad), right + pad, bottom + pad)).convert("L")
        pixels = np.asarray(crop)
        ink, paper = np.percentile(pixels, [1, 90])
        cleaned = np.where(pixels > ink + _FAINT_CUT * (paper - ink), 255, pixels).astype(np.uint8)
        again = engine.read(Image.fromarray(cleaned, mode="L"))
        dates = {m.group(0): ln for ln in again for m in _FULL_DATE.finditer("".join(ln.text.split()))}
        if len(dates) == 1:
            ((text, found),) = dates.items()
            out.append(Line(text, line.box, min(line.confidence, found.confidence)))
        else:
            out.append(line)
    return out


def read_page(page: PageImage, engine: Engine, *, continues: str | None = None) -> PageResult:
    started = time.perf_counter()
    rotation, skew, source = 0, 0.0, "ocr"
    lines = _text_layer_lines(page)
    # In gray, a colour page's red seals lifted: once, before anything measures the page.
    image = page.image if lines is not None else lift_seals(page.image)
    if lines is not None:
        source = "text_layer"
    elif is_blank(image):
        lines, source = [], "blank"
    else:
        # What `prepare` does to the upright page, in an order that lets detection run once on most pages: contrast
        # stretch and deskew first (a page upside down has the same skew as upright), so orientation's detection is
        # of the straightened page and the engine reuses it for reading, turned exactly when the page was upside
        # down. A page on its side is measured again once upright (its lines only then lie across the page).
        image = normalize_contrast(image)
        orient = getattr(engine, "orientation", None)
        if orient is None:
            image, skew = deskew(image)
        else:
            straight, skew = deskew(image)
            rotation = int(orient(straight)[0]) % 360
            if rotation in (90, 270):
                image, skew = deskew(rotate_quadrant(image, -rotation))
            elif rotation == 180:
                image = rotate_quadrant(straight, 180)
                carry = getattr(engine, "carry", None)
                if carry is not None:
                    size = straight.size
                    carry(image, lambda points: quadrant_points(points, size, 180))
            else:
                image = straight
        lines = reread_sealed_dates(engine.read(image), image, engine)
    verdict = classify(lines, continues=continues)
    fields = extract_fields(verdict.material, lines) if verdict.material != UNKNOWN else {}
    return PageResult(
        file=page.source,
        page=page.page,
        material=verdict.material,
        material_confidence=verdict.confidence,
        engine=engine.name,
        seconds=time.perf_counter() - started,
        lines=lines,
        fields=fields,
        rotation=rotation,
        skew_deg=skew,
        dpi=page.dpi,
        source=source,
        evidence=verdict.evidence,
        size=image.size,
    )


def read_file(path: str | Path, engine: Engine, *, name: str | None = None) -> Iterator[Result]:
    """Every page of one file, in order; a bad file (or a bad page of it) yields a FileError instead."""
    label = name or Path(path).name
    try:
        continues = None
        for page in iter_pages(Path(path), name=label, gray=True):
            result = read_page(page, engine, continues=continues)
            # The next page may continue this document when this one carried its title.
            titled = bool(result.evidence) and result.evidence[0].startswith("title ")
            continues = (
                result.material
                if titled
                else (continues if result.evidence[:1] == ("continues the previous page",) else None)
            )
            yield result
    except (OcrError, OSError) as exc:
        yield _file_error(label, exc)


def read_file_task(path: str, name: str | None = None) -> list[Result]:
    """`read_file` inside an OcrPool worker (a top-level function, so it pickles)."""
    from ocr.pool import worker_engine

    return list(read_file(path, worker_engine(), name=name))


def read_file_page(path: str | Path, file_page: int, engine: Engine, *, name: str | None = None) -> Result:
    """One page (1-based) of a stored file, e.g. a page of a scanned PDF waiting in the OCR queue."""
    label = name or Path(path).name
    try:
        for page in iter_pages(Path(path), name=label, gray=True):
            if page.page == file_page:
                return read_page(page, engine)
        return FileError(label, f"{label}: has no page {file_page}", kind="missing", page=file_page)
    except (OcrError, OSError) as exc:
        return _file_error(label, exc, page=file_page)


def _file_error(label: str, exc: OcrError | OSError, page: int | None = None) -> FileError:
    """What reading a file failed on, as a result line: bad input, an engine failure or an unreadable file."""
    if isinstance(exc, InputError):
        return FileError(label, str(exc), kind=getattr(exc, "kind", "bad_input"), page=page)
    if isinstance(exc, OcrError):
        return FileError(label, str(exc), kind="failed", page=page)
    return FileError(label, f"{label}: cannot read the file ({exc.strerror or exc})", kind="unreadable", page=page)


def read_file_page_task(path: str, file_page: int, name: str | None = None) -> Result:
    """`read_file_page` inside an OcrPool worker."""
    from ocr.pool import worker_engine

    return read_file_page(path, file_page, worker_engine(), name=name)
