"""OCR engines behind one interface (`ocr.engines.base.Engine`): RapidOCR by default, Tesseract second.

Importing this package is cheap: an engine's heavy imports (numpy, onnxruntime, pytesseract) happen
when `get_engine` builds it, so a process pool can limit threads before they load.
"""

from __future__ import annotations

from typing import Any

from ocr.engines.base import Box, Detection, Engine, Line
from ocr.errors import EngineUnavailable

ENGINES = ("rapidocr", "tesseract")
DEFAULT_ENGINE = "rapidocr"


def _check(name: str) -> None:
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown engine {name!r}; engines: {', '.join(ENGINES)}")


def unavailable_reason(name: str) -> str | None:
    """None when engine `name` can run here, else a one-line reason with what to install."""
    _check(name)
    if name == "rapidocr":
        from ocr.engines import rapid

        return rapid.unavailable_reason()
    from ocr.engines import tesseract

    return tesseract.unavailable_reason()


def available_engines() -> dict[str, str | None]:
    """Each engine's name → None if usable here, else the reason it is not."""
    return {name: unavailable_reason(name) for name in ENGINES}


def get_engine(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """A ready engine; `options` are the engine's settings (`RapidConfig` / `TesseractConfig` fields).

    Raises EngineUnavailable (one line: what is missing and how to install it) for an unknown engine or
    one that cannot start here.
    """
    _check(name)
    reason = unavailable_reason(name)
    if reason:
        raise EngineUnavailable(reason)
    if name == "rapidocr":
        from ocr.engines.rapid import RapidEngine

        return RapidEngine(**options)
    from ocr.engines.tesseract import TesseractEngine

    return TesseractEngine(**options)


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "Box",
    "Detection",
    "Engine",
    "Line",
    "available_engines",
    "get_engine",
    "unavailable_reason",
]
