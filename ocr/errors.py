"""Typed errors of reading paper. Each carries a one-line reason a clerk can act on."""

from __future__ import annotations


class OcrError(Exception):
    """Base of everything `ocr` raises on purpose; `str()` is one line."""


class InputError(OcrError):
    """The input file cannot be read as pages (the file's fault, not the system's)."""

    kind = "bad_input"


class EmptyFile(InputError):
    kind = "empty"


class NotAnImage(InputError):
    """Not an image or PDF at all (e.g. a text file renamed .png)."""

    kind = "not_an_image"


class TruncatedFile(InputError):
    kind = "truncated"


class CorruptFile(InputError):
    kind = "corrupt"


class EncryptedFile(InputError):
    kind = "encrypted"


class TooLarge(InputError):
    """Over a limit against decompression bombs: bytes, pixels or pages."""

    kind = "too_large"


class EngineUnavailable(OcrError):
    """The OCR engine asked for is not installed or cannot start here."""


class EngineFailed(OcrError):
    """The engine crashed or timed out on a page."""
