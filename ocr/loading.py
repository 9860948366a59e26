"""Reading scanned files into upright pages, in colour where the scan is, with limits against decompression bombs.

A page comes out in one of three modes, decoded once: "RGB" for a colour scan, "L" for a gray one (and for a colour
file whose pixels are all neutral), "1" for a bilevel scan kept at its own resolution (resampling one makes it
"L"). Transparency goes on white; 16-bit and float gray are scaled to 8 bits. The OCR pipeline asks for `gray`
pages instead: every page as "L", a colour page through `ocr.preprocess.lift_seals`, which takes its red seal ink off.

Every file is recognised by its magic bytes, never by its name. Checks run cheapest first and before anything is
decoded: the byte size, then the pixel size each page's header declares, then the page count. Whatever the bytes,
the only exceptions that leave this module are `ocr.errors.OcrError` subclasses, each with a one-line message that
names the file.

Encrypted PDFs are refused as `EncryptedFile`, including those that open with an empty user password: such a file
carries an owner password and usage restrictions, and a registry dossier must not archive a document whose use the
issuer restricted. The message tells the two cases apart so the clerk knows what to ask for.

A PDF that does not end with `%%EOF` is refused as truncated before it is parsed: a half-copied file from the hot
folder must not be taken for a complete one.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageOps
from pypdf import PageObject, PdfReader
from pypdf.generic import DictionaryObject, StreamObject

from ocr.errors import (
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    InputError,
    NotAnImage,
    OcrError,
    TooLarge,
    TruncatedFile,
)
from ocr.preprocess import lift_seals

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Input limits against decompression bombs; pixels and sides are per page."""

    max_bytes: int = 200 * MiB
    max_pixels: int = 120_000_000
    max_pages: int = 500
    max_side: int = 30_000


DEFAULT_LIMITS = Limits()

# Pillow's own guard, a backstop behind the header checks here: over this it warns (turned into TooLarge below),
# over twice this it refuses.
Image.MAX_IMAGE_PIXELS = DEFAULT_LIMITS.max_pixels


@dataclass
class PageImage:
    image: Image.Image  # mode "RGB", "L" or "1" (see the module docstring), upright per EXIF, at `dpi`
    page: int  # 1-based within the file
    dpi: int
    source: str  # the file's name
    text_layer: str | None = None  # a PDF page's own text when it has a real one
    # Resolution the page was scanned at, before any downscaling: from the file's metadata, the PDF page geometry
    # or the paper shape. None when nothing told it (300 was assumed) or the page was rendered from vectors.
    original_dpi: int | None = None
    # The pixels are the file's own image as decoded: not turned, resampled or converted. A JPEG page that is
    # as stored can be embedded in a PDF as the file's bytes.
    as_stored: bool = False


FileKind = Literal["jpeg", "png", "tiff", "pdf", "bmp", "webp"]

SNIFF_BYTES = 1024  # `sniff` wants this much of the file's head (a PDF header may sit anywhere in its first KiB)
RENDER_TIMEOUT_S = 60  # per PDF page handed to pdftoppm
ASSUMED_DPI = 300
MIN_DPI, MAX_DPI = 72, 1200
MAX_PAPER_INCHES = 18.0  # longest side a declared dpi may imply (A3 is 16.5 in); beyond it the dpi is not believed
MIN_RENDER_DPI = 72  # an oversized vector page is rendered below the target dpi to fit the limits, but not below this
FULL_PAGE_COVERAGE = 0.85  # share of the page an image must cover for the page to count as a scan
_NEUTRAL_TOLERANCE = 2  # grey levels between the channels of a pixel that still count as gray

# Paper shapes whose pixel size tells the dpi when metadata does not: (short side, long side) in mm. A-series
# shapes are read as A4, the paper of nearly every registration document.
_PAPER_MM = ((210.0, 297.0), (215.9, 279.4), (53.98, 85.6))
_PAPER_RATIO_TOLERANCE = 0.015
_COMMON_DPI = (150, 200, 240, 300, 400, 600, 1200)

_FORMAT_NAMES: dict[FileKind, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "tiff": "TIFF",
    "pdf": "PDF",
    "bmp": "BMP",
    "webp": "WebP",
}
_PIL_FORMATS: dict[FileKind, list[str]] = {
    "jpeg": ["JPEG", "MPO"],
    "png": ["PNG"],
    "tiff": ["TIFF"],
    "bmp": ["BMP"],
    "webp": ["WEBP"],
}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff(data_head: bytes) -> FileKind | None:
    """The file's kind from its first bytes (give at least `SNIFF_BYTES` when the file has them), or None."""
    head = bytes(data_head[:SNIFF_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if b"%PDF-" in head:
        return "pdf"
    return None


def load_pages(
    source: Path | bytes,
    *,
    name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    target_dpi: int = 300,
    gray: bool = False,
) -> list[PageImage]:
    """Every page of an image or PDF file, in order; see `iter_pages`."""
    return list(iter_pages(source, name=name, limits=limits, target_dpi=target_dpi, gray=gray))


def iter_pages(
    source: Path | bytes,
    *,
    name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    target_dpi: int = 300,
    gray: bool = False,
) -> Iterator[PageImage]:
    """Yield the pages of a JPEG, PNG, BMP, WebP, TIFF (every frame) or PDF (every page) one at a time.

    Pages come out in colour, gray or bilevel (see the module docstring), upright, and no finer than `target_dpi`
    (finer pages are downscaled, coarser ones kept). `gray` gives every page as mode "L" the way the OCR engine
    reads it (`ocr.preprocess.lift_seals`: a colour page with its red seals lifted), converted before the page is
    handed out, so a reader of a colour scan holds its gray and not its colour pixels too. `name` labels messages
    and pages; it defaults to the path's file name. Errors are raised when the iteration reaches them: file-level
    ones (size, kind, page count) before the first page.
    """
    if target_dpi <= 0:
        raise ValueError(f"target_dpi must be positive, not {target_dpi}")
    label = _label(source, name)
    with _opened(source, label) as (fp, size):
        if size == 0:
            raise EmptyFile(f"{label}: empty file (0 bytes)")
        if size > limits.max_bytes:
            raise TooLarge(f"{label}: file is {_mib(size)}, over the {_mib(limits.max_bytes)} limit")
        kind = sniff(fp.read(SNIFF_BYTES))
        fp.seek(0)
        if kind is None:
            raise NotAnImage(f"{label}: not an image or PDF (expected JPEG, PNG, TIFF, BMP, WebP or PDF content)")
        if kind == "pdf":
            path = None if isinstance(source, bytes | bytearray | memoryview) else Path(source)
            yield from _pdf_pages(fp, size, path, label, limits, target_dpi, gray)
        else:
            yield from _image_pages(fp, size, kind, label, limits, target_dpi, gray)


# --- sources and messages -------------------------------------------------------------------------------------


def _label(source: Path | bytes, name: str | None) -> str:
    if name is None:
        name = "<bytes>" if isinstance(source, bytes | bytearray | memoryview) else Path(source).name
    # Names come from outside; a newline in one must not break the one-line message.
    return "".join(ch if ch.isprintable() else "?" for ch in name) or "<unnamed>"


@contextmanager
def _opened(source: Path | bytes, label: str) -> Iterator[tuple[IO[bytes], int]]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        yield io.BytesIO(data), len(data)
        return
    with ExitStack() as stack:
        try:
            fp = stack.enter_context(Path(source).open("rb"))
            size = _file_size(fp)
        except OSError as exc:
            raise InputError(f"{label}: cannot read the file ({exc.strerror or type(exc).__name__})") from exc
        yield fp, size


def _file_size(fp: IO[bytes]) -> int:
    fp.seek(0, io.SEEK_END)
    size = fp.tell()
    fp.seek(0)
    return size


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size % MiB else f"{size // MiB} MiB"


def _where(label: str, page: int | None) -> str:
    return label if page is None else f"{label}: page {page}"


def _check_pixels(width: int, height: int, where: str, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptFile(f"{where}: image declares an empty size ({width}×{height} px)")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise TooLarge(
            f"{where}: image is {width}×{height} px ({width * height / 1e6:.0f} Mpx), over the limit of "
            f"{limits.max_pixels / 1e6:.0f} Mpx and {limits.max_side} px a side"
        )


# --- raster files ---------------------------------------------------------------------------------------------


def _image_pages(
    fp: IO[bytes], size: int, kind: FileKind, label: str, limits: Limits, target_dpi: int, gray: bool
) -> Iterator[PageImage]:
    with _decoding(fp, size, kind, label, None, limits):
        image = _open_image(fp, kind, limits)
    with image:
        with _decoding(fp, size, kind, label, None, limits):
            _check_pixels(image.width, image.height, label, limits)
            # Only TIFF holds several pages; other formats' extra frames (MPO previews, animations) are not pages.
            frames = getattr(image, "n_frames", 1) if kind == "tiff" else 1
        if frames > limits.max_pages:
            raise TooLarge(f"{label}: {frames} pages, over the {limits.max_pages}-page limit")
        for index in range(frames):
            page_no = index + 1
            where = label if frames == 1 else _where(label, page_no)
            with _decoding(fp, size, kind, label, page_no if frames > 1 else None, limits):
                if index:
                    image.seek(index)
                _check_pixels(image.width, image.height, where, limits)
                picture, dpi, original_dpi, as_stored = _raster_page(image, where, limits, target_dpi)
            if frames == 1:
                # The page is a copy: let the decoded file go before the page is read, so a reader holds one copy
                # of the pixels, not two (a colour A4 page at 300 dpi is 26 MB).
                image.close()
            if gray:
                picture = lift_seals(picture)
            yield PageImage(
                image=picture, page=page_no, dpi=dpi, source=label, original_dpi=original_dpi, as_stored=as_stored
            )


def _open_image(fp: IO[bytes], kind: FileKind, limits: Limits) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow's warning becomes a refusal, unless the caller allows more than Pillow's guard: then the header
        # check against the caller's limits decides (Pillow still refuses over twice its guard).
        allowed = isinstance(Image.MAX_IMAGE_PIXELS, int) and limits.max_pixels > Image.MAX_IMAGE_PIXELS
        warnings.simplefilter("ignore" if allowed else "error", Image.DecompressionBombWarning)
        return Image.open(fp, formats=_PIL_FORMATS[kind])


@contextmanager
def _decoding(fp: IO[bytes], size: int, kind: FileKind, label: str, page: int | None, limits: Limits) -> Iterator[None]:
    """Turn whatever a decoder raises on bad bytes into the InputError that says what is wrong."""
    where = _where(label, page)
    fmt = _FORMAT_NAMES[kind]
    try:
        yield
    except OcrError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"{where}: image is over the {limits.max_pixels / 1e6:.0f} Mpx limit") from exc
    except MemoryError as exc:
        raise TooLarge(f"{where}: not enough memory to decode this {fmt} image") from exc
    # Decoders raise OSError, SyntaxError, ValueError, struct.error, EOFError and more on hostile bytes; the
    # promise of this module is that none of them escapes, so every one is classified here.
    except Exception as exc:
        if _looks_truncated(fp, size, kind, exc):
            raise TruncatedFile(f"{where}: truncated {fmt} (file ends before the image data is complete)") from exc
        raise CorruptFile(f"{where}: corrupt {fmt} (the image data cannot be decoded)") from exc


def _looks_truncated(fp: IO[bytes], size: int, kind: FileKind, exc: Exception) -> bool:
    try:
        fp.seek(0)
        head = fp.read(32)
        fp.seek(max(0, size - 1024))
        tail = fp.read()
    except (OSError, ValueError):
        return False
    if kind == "jpeg":
        return not tail.rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9")
    if kind == "png":
        return b"IEND" not in tail[-64:]
    if kind == "bmp":
        return len(head) < 6 or int.from_bytes(head[2:6], "little") > size
    if kind == "webp":
        return len(head) < 8 or int.from_bytes(head[4:8], "little") + 8 > size
    return isinstance(exc, EOFError) or "truncated" in str(exc).lower()


def _raster_page(
    image: Image.Image, where: str, limits: Limits, target_dpi: int
) -> tuple[Image.Image, int, int | None, bool]:
    image.load()  # decode errors surface here, not inside the lenient EXIF read below (PNG reads EXIF by decoding)
    declared = _declared_dpi(image.info)
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # damaged EXIF says nothing about the picture itself, which may decode fine
        orientation = None
    turned = orientation in (2, 3, 4, 5, 6, 7, 8)
    if turned:
        image = ImageOps.exif_transpose(image)
        if declared is not None and orientation in (5, 6, 7, 8):
            declared = (declared[1], declared[0])
    decoded_mode = image.mode
    picture = _to_page(image)
    size = picture.size
    picture, dpi, original_dpi = _resolve_dpi(picture, declared, where, limits)
    picture = _downscale(picture, dpi, target_dpi)
    as_stored = not turned and picture.mode == decoded_mode and picture.size == size
    return picture, min(dpi, target_dpi), original_dpi, as_stored


def _to_page(image: Image.Image) -> Image.Image:
    """A copy of any Pillow image in mode "RGB", "L" or "1" (see the module docstring)."""
    mode = image.mode
    if mode in ("L", "1"):
        return image.copy()
    if mode in ("P", "PA"):
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("La", "RGBa"):
        image = image.convert(mode[:-1] + "A")
        mode = image.mode
    if mode == "LA":
        page = Image.new("L", image.size, 255)
        page.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return page
    if mode == "RGBA":
        page = Image.new("RGB", image.size, (255, 255, 255))
        page.paste(image.convert("RGB"), mask=image.getchannel("A"))
        gray = _neutral(page)
        return page if gray is None else gray
    if mode.startswith("I") or mode == "F":
        return _deep_to_gray(image)
    if mode == "LAB":  # Pillow cannot turn Lab into RGB without a colour profile; its lightness is the page
        return image.getchannel("L")
    try:
        rgb = image if mode == "RGB" else image.convert("RGB")
    except ValueError:
        return image.convert("L")
    gray = _neutral(rgb)
    if gray is not None:
        return gray
    return rgb.copy() if rgb is image else rgb


def _neutral(image: Image.Image) -> Image.Image | None:
    """An RGB page whose every pixel is gray as mode "L"; None for a colour page.

    Gray within `_NEUTRAL_TOLERANCE` levels: lossy codecs (WebP) round a gray page's channels apart by one level,
    while tinted paper, seal red and ballpoint blue stay many levels apart.
    """
    red, green, blue = image.split()
    for one, other in ((red, green), (green, blue)):
        _low, high = cast(tuple[int, int], ImageChops.difference(one, other).getextrema())
        if high > _NEUTRAL_TOLERANCE:
            return None
    return image.convert("L")


def _deep_to_gray(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    top = float(values.max()) if values.size else 0.0
    if image.mode.startswith("I;16"):
        values = values / 257.0
    elif image.mode == "F" and top <= 1.0:
        values = values * 255.0
    elif top > 255.0:
        values = values / 257.0 if top <= 65535.0 else values * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _declared_dpi(info: Mapping[Any, Any]) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    if not isinstance(dpi, tuple | list) or len(dpi) != 2:
        return None
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def _resolve_dpi(
    image: Image.Image, declared: tuple[float, float] | None, where: str, limits: Limits
) -> tuple[Image.Image, int, int | None]:
    """The page at square pixels, its dpi, and the dpi as known from the file (None when assumed)."""
    if declared is not None and _plausible_dpi(image.size, declared):
        image, dpi = _square_pixels(image, declared, where, limits)
        return image, dpi, dpi
    estimated = _dpi_from_paper_shape(image.size)
    if estimated is not None:
        return image, estimated, estimated
    return image, ASSUMED_DPI, None


def _square_pixels(image: Image.Image, dpi: tuple[float, float], where: str, limits: Limits) -> tuple[Image.Image, int]:
    """The image with equal horizontal and vertical resolution, and that resolution."""
    x, y = dpi
    finer = max(x, y)
    if abs(x - y) > 0.02 * finer:
        # Non-square pixels (fax modes such as 204×98 dpi): stretch the coarser axis to the finer one.
        size = (round(image.width * finer / x), round(image.height * finer / y))
        _check_pixels(size[0], size[1], where, limits)
        if image.mode == "1":  # Pillow resamples "1" by nearest neighbour only; gray keeps the strokes smooth
            image = image.convert("L")
        image = image.resize(size, Image.Resampling.BICUBIC)
        x = finer
    return image, max(1, round(x))


def _plausible_dpi(size: tuple[int, int], dpi: tuple[float, float]) -> bool:
    x, y = dpi
    if not (MIN_DPI <= x <= MAX_DPI and MIN_DPI <= y <= MAX_DPI):
        return False
    # 72 dpi is what cameras write into any photo; a 4000 px photo "at 72 dpi" would be a 55-inch sheet.
    return max(size[0] / x, size[1] / y) <= MAX_PAPER_INCHES


def _dpi_from_paper_shape(size: tuple[int, int]) -> int | None:
    short, long = sorted(size)
    if short <= 0:
        return None
    for short_mm, long_mm in _PAPER_MM:
        if abs((long / short) / (long_mm / short_mm) - 1.0) > _PAPER_RATIO_TOLERANCE:
            continue
        dpi = long / (long_mm / 25.4)
        nearest = min(_COMMON_DPI, key=lambda common: abs(common - dpi))
        if abs(nearest - dpi) <= 0.04 * nearest:
            dpi = nearest
        if MIN_DPI <= dpi <= MAX_DPI:
            return round(dpi)
    return None


def _downscale(image: Image.Image, dpi: int, target_dpi: int) -> Image.Image:
    if dpi <= target_dpi:
        return image
    if image.mode == "1":  # shrinking black and white needs the grays between (Pillow shrinks "1" by dropping pixels)
        image = image.convert("L")
    scale = target_dpi / dpi
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


# --- PDF ------------------------------------------------------------------------------------------------------

_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _pdf_pages(
    fp: IO[bytes], size: int, path: Path | None, label: str, limits: Limits, target_dpi: int, gray: bool
) -> Iterator[PageImage]:
    fp.seek(max(0, size - 1024))
    if b"%%EOF" not in fp.read():
        raise TruncatedFile(f"{label}: truncated PDF (file ends before its end-of-file marker)")
    fp.seek(0)
    reader = _open_pdf(fp, label)
    try:
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many kinds on a broken page tree
        raise CorruptFile(f"{label}: corrupt PDF (the page tree cannot be read)") from exc
    if count == 0:
        raise CorruptFile(f"{label}: corrupt PDF (it has no pages)")
    if count > limits.max_pages:
        raise TooLarge(f"{label}: {count} pages, over the {limits.max_pages}-page limit")
    with _Renderer(fp, path, label) as renderer:
        for index in range(count):
            page_no = index + 1
            try:
                page = reader.pages[index]
            except Exception as exc:
                raise CorruptFile(f"{label}: page {page_no}: corrupt PDF page (it cannot be read)") from exc
            where = _where(label, page_no)
            text_layer = _text_layer(page)
            scan = _find_scan(page)
            extracted = None
            if scan is not None:
                _check_pixels(*scan.pixels, where, limits)
                extracted = _extract_scan(page, scan, where, limits)
            if extracted is not None:
                (image, dpi), extracted = extracted, None
                original_dpi: int | None = dpi
            else:
                render_dpi = target_dpi if scan is None else min(target_dpi, scan.dpi)
                image, dpi = renderer.render(page, page_no, limits, render_dpi)
                original_dpi = None if scan is None else scan.dpi
            image = _downscale(image, dpi, target_dpi)  # the page held while it is read is the only copy
            if gray:
                image = lift_seals(image)
            yield PageImage(
                image=image,
                page=page_no,
                dpi=min(dpi, target_dpi),
                source=label,
                text_layer=text_layer,
                original_dpi=original_dpi,
            )


def _open_pdf(fp: IO[bytes], label: str) -> PdfReader:
    try:
        reader = PdfReader(fp, strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise CorruptFile(f"{label}: corrupt PDF (its structure cannot be read)") from exc
    if not encrypted:
        return reader
    try:
        opens_without_password = bool(reader.decrypt(""))
    except Exception:  # e.g. AES without the `cryptography` package: still a protected file
        opens_without_password = False
    if opens_without_password:
        raise EncryptedFile(
            f"{label}: encrypted PDF (it opens without a password but restricts use); ask for an unprotected copy"
        )
    raise EncryptedFile(f"{label}: password-protected PDF; ask for an unprotected copy")


def _text_layer(page: PageObject) -> str | None:
    """The page's own text when it is real text, not a few stray glyphs or undecodable codes."""
    try:
        text = page.extract_text()
    except Exception:  # a broken text layer is no text layer; the page is still read as an image
        return None
    text = text.strip()
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return None
    words = sum(ch.isalnum() for ch in visible)
    junk = sum(ch == "\ufffd" or not ch.isprintable() or 0xE000 <= ord(ch) <= 0xF8FF for ch in visible)
    if words < 3 or words < 0.5 * len(visible) or junk > 0.1 * len(visible):
        return None
    return text


@dataclass(frozen=True)
class _Scan:
    """A page's one full-page image as its content stream places it."""

    name: str
    xobj: DictionaryObject
    matrix: _Matrix
    size_pt: tuple[float, float]  # placed width and height on the unrotated page
    pixels: tuple[int, int]  # width and height the image dictionary declares

    @property
    def dpi(self) -> int:
        width, height = self.pixels
        if _swaps_axes(self.matrix):
            width, height = height, width
        return max(1, round(max(width / (self.size_pt[0] / 72.0), height / (self.size_pt[1] / 72.0))))


# What pypdf decodes faithfully; anything else (Indexed, Lab, Separation, JBIG2, JPX, /Decode arrays, 16-bit)
# is rendered by pdftoppm at the image's own resolution instead.
_PYPDF_FILTERS = {"/DCTDecode", "/CCITTFaxDecode", "/FlateDecode", "/LZWDecode", "/RunLengthDecode"}
_PYPDF_COLOUR_SPACES = {"/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/ICCBased", "/CalGray", "/CalRGB"}


def _pypdf_decodes_faithfully(xobj: DictionaryObject) -> bool:
    filters = xobj.get("/Filter")
    names = [str(item) for item in filters] if isinstance(filters, list) else [] if filters is None else [str(filters)]
    if any(name not in _PYPDF_FILTERS for name in names):
        return False
    space = xobj.get("/ColorSpace")
    if isinstance(space, list):
        space = space[0] if space else None
    if space is None:
        if not {"/DCTDecode", "/CCITTFaxDecode"} & set(names):
            return False
    elif str(space) not in _PYPDF_COLOUR_SPACES:
        return False
    return xobj.get("/BitsPerComponent", 8) in (1, 8) and "/Decode" not in xobj


def _extract_scan(page: PageObject, scan: _Scan, where: str, limits: Limits) -> tuple[Image.Image, int] | None:
    """The full-page image upright as displayed, and its dpi; None when pdftoppm should draw the page instead."""
    if not _pypdf_decodes_faithfully(scan.xobj):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            extracted = page.images[scan.name].image
            if extracted is None:
                return None
            extracted.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"{where}: image is over the {limits.max_pixels / 1e6:.0f} Mpx limit") from exc
    except MemoryError as exc:
        raise TooLarge(f"{where}: not enough memory to decode the page image") from exc
    except Exception:  # a stream pypdf cannot decode after all: pdftoppm renders it or says why not
        return None
    if extracted.size != scan.pixels:
        return None
    image = _to_page(extracted)
    transpose = _placement_transpose(scan.matrix)
    if transpose is not None:
        image = image.transpose(transpose)
    dpi_x = image.width / (scan.size_pt[0] / 72.0)
    dpi_y = image.height / (scan.size_pt[1] / 72.0)
    # Measured from the page geometry, so believed whatever it is (a thumbnail stretched over a page is 20 dpi).
    image, dpi = _square_pixels(image, (dpi_x, dpi_y), where, limits)
    rotation = _page_rotation(page)
    if rotation:
        image = image.transpose(_CLOCKWISE[rotation])
    return image, dpi


_CLOCKWISE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def _page_rotation(page: PageObject) -> int:
    try:
        return int(page.rotation) % 360 if int(page.rotation) % 90 == 0 else 0
    except Exception:
        return 0


def _find_scan(page: PageObject) -> _Scan | None:
    """The one image drawn over (nearly) the whole MediaBox by the page's own content stream, if there is one.

    Images inside forms, masked images and pages with more than one large image are left to the renderer, and so
    is any page whose content stream cannot be followed.
    """
    try:
        return _follow_content_stream(page)
    except Exception:
        return None


def _follow_content_stream(page: PageObject) -> _Scan | None:
    contents = page.get_contents()
    if contents is None:
        return None
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return None
    xobjects = xobjects.get_object()
    box = page.mediabox
    left, bottom, right, top = float(box.left), float(box.bottom), float(box.right), float(box.top)
    page_area = (right - left) * (top - bottom)
    if not page_area > 0:
        return None
    drawn: list[tuple[float, str, DictionaryObject, _Matrix, tuple[float, float]]] = []
    ctm, saved = _IDENTITY, []
    for operands, operator in contents.operations:
        if operator == b"q":
            saved.append(ctm)
        elif operator == b"Q":
            ctm = saved.pop() if saved else _IDENTITY
        elif operator == b"cm" and len(operands) == 6:
            a, b, c, d, e, f = (float(value) for value in operands)
            ctm = _multiply((a, b, c, d, e, f), ctm)
        elif operator == b"Do" and operands:
            xobj = xobjects.get(operands[0])
            xobj = xobj.get_object() if xobj is not None else None
            if not isinstance(xobj, StreamObject) or xobj.get("/Subtype") != "/Image":
                continue
            x0, y0, x1, y1 = _bounds(ctm)
            overlap = max(0.0, min(x1, right) - max(x0, left)) * max(0.0, min(y1, top) - max(y0, bottom))
            drawn.append((overlap / page_area, str(operands[0]), xobj, ctm, (x1 - x0, y1 - y0)))
    large = [entry for entry in drawn if entry[0] >= 0.05]
    if len(large) != 1 or large[0][0] < FULL_PAGE_COVERAGE:
        return None
    _, name, xobj, matrix, size_pt = large[0]
    if "/SMask" in xobj or "/Mask" in xobj or xobj.get("/ImageMask", False) or not _axis_aligned(matrix):
        return None
    width, height = xobj.get("/Width"), xobj.get("/Height")
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    return _Scan(name, xobj, matrix, size_pt, (width, height))


def _multiply(m: _Matrix, n: _Matrix) -> _Matrix:
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def _bounds(m: _Matrix) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = m
    xs = (e, a + e, c + e, a + c + e)
    ys = (f, b + f, d + f, b + d + f)
    return min(xs), min(ys), max(xs), max(ys)


def _axis_aligned(m: _Matrix) -> bool:
    a, b, c, d, _, _ = m
    scale = max(abs(a), abs(b), abs(c), abs(d))
    return (abs(b) + abs(c) <= 1e-3 * scale) != (abs(a) + abs(d) <= 1e-3 * scale)


def _swaps_axes(m: _Matrix) -> bool:
    a, b, c, d, _, _ = m
    return abs(b) + abs(c) > abs(a) + abs(d)


def _placement_transpose(m: _Matrix) -> Image.Transpose | None:
    """How to turn the image's stored rows into the page as displayed (None: as stored); `m` is axis-aligned."""
    a, b, c, d, _, _ = m
    # PDF draws an image's first row at the top of its unit square, y pointing up the page.
    if not _swaps_axes(m):
        return {
            (True, True): None,
            (False, True): Image.Transpose.FLIP_LEFT_RIGHT,
            (True, False): Image.Transpose.FLIP_TOP_BOTTOM,
            (False, False): Image.Transpose.ROTATE_180,
        }[(a > 0, d > 0)]
    return {
        (True, False): Image.Transpose.ROTATE_90,
        (False, True): Image.Transpose.ROTATE_270,
        (True, True): Image.Transpose.TRANSVERSE,
        (False, False): Image.Transpose.TRANSPOSE,
    }[(b > 0, c > 0)]


class _Renderer:
    """Renders PDF pages with poppler's pdftoppm in a subprocess, into a private temporary directory."""

    def __init__(self, fp: IO[bytes], path: Path | None, label: str) -> None:
        self._fp, self._path, self._label = fp, path, label
        self._stack = ExitStack()
        self._tmp: Path | None = None
        self._pdf: Path | None = None

    def __enter__(self) -> _Renderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="ocr-render-")))
        return self._tmp

    def _input(self) -> Path:
        if self._pdf is None:
            if self._path is not None:
                self._pdf = self._path.resolve()  # absolute, so a name starting with "-" is never an option
            else:
                self._pdf = self._workdir() / "input.pdf"
                self._fp.seek(0)
                with self._pdf.open("wb") as out:
                    shutil.copyfileobj(self._fp, out)
        return self._pdf

    def render(self, page: PageObject, page_no: int, limits: Limits, target_dpi: int) -> tuple[Image.Image, int]:
        where = _where(self._label, page_no)
        width_pt, height_pt = _page_size_pt(page, where)
        dpi = _render_dpi(width_pt, height_pt, limits, target_dpi)
        if dpi < MIN_RENDER_DPI:
            raise TooLarge(
                f"{where}: page is {width_pt / 72:.0f}×{height_pt / 72:.0f} in, too large to render within the "
                f"{limits.max_pixels / 1e6:.0f} Mpx limit"
            )
        exe = shutil.which("pdftoppm")
        if exe is None:
            raise OcrError(f"{where}: rendering this PDF page needs pdftoppm; install poppler-utils")
        pdf = self._input()
        out = self._workdir() / f"page-{page_no}"
        command = [exe, "-r", str(dpi), "-f", str(page_no), "-l", str(page_no), "-singlefile"]
        try:
            done = subprocess.run(
                [*command, str(pdf), str(out)], capture_output=True, timeout=RENDER_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise TooLarge(f"{where}: page did not render within {RENDER_TIMEOUT_S} s") from exc
        except OSError as exc:
            raise OcrError(f"{where}: pdftoppm could not run ({exc.strerror or type(exc).__name__})") from exc
        result = out.with_suffix(".ppm")
        if done.returncode != 0 or not result.exists():
            raise CorruptFile(f"{where}: corrupt PDF page (pdftoppm cannot render it)")
        try:
            with Image.open(result) as rendered:
                _check_pixels(rendered.width, rendered.height, where, limits)
                image = _to_page(rendered)
        except OcrError:
            raise
        except Exception as exc:
            raise CorruptFile(f"{where}: corrupt PDF page (its rendering cannot be read)") from exc
        finally:
            result.unlink(missing_ok=True)
        return image, dpi


def _page_size_pt(page: PageObject, where: str) -> tuple[float, float]:
    try:
        box = page.mediabox
        width, height = abs(float(box.width)), abs(float(box.height))
    except Exception as exc:
        raise CorruptFile(f"{where}: corrupt PDF page (its size cannot be read)") from exc
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise CorruptFile(f"{where}: corrupt PDF page (it has no size)")
    if _page_rotation(page) in (90, 270):
        width, height = height, width
    return width, height


def _render_dpi(width_pt: float, height_pt: float, limits: Limits, target_dpi: int) -> int:
    """The target dpi, lowered as far as needed for the rendered page to fit the pixel limits."""
    width_in, height_in = width_pt / 72.0, height_pt / 72.0
    by_pixels = math.sqrt(limits.max_pixels / (width_in * height_in))
    by_side = limits.max_side / max(width_in, height_in)
    # pdftoppm rounds sizes up; one dpi of slack keeps the result inside the limit.
    return min(target_dpi, math.floor(min(by_pixels, by_side, target_dpi + 1.0)) - 1)
