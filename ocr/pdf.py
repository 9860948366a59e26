"""Searchable dossier PDFs: the scans as page images under an invisible OCR text layer.

Pillow + stdlib only (pypdf reads our output in the tests; nothing here needs it).

Layout of a page: the scan is drawn full-page (page size = image size / dpi); each OCR
line is shown in text render mode 3 (invisible) with its font size set to the box height
and its horizontal scaling (Tz) set so the line spans the box width. Viewers can then
search, select and copy the text over the right place of the image, and ``pdftotext``
prints each OCR line on its own line with no spaces inserted between Chinese characters.

The text font is a "glyph-less" font in the manner of Tesseract's and OCRmyPDF's
GlyphLessFont, but built here: a Type0 font (Identity-H, two-byte codes) over a
CIDFontType2 whose embedded TrueType program holds only empty glyphs (``_glyphless_ttf``,
about 700 bytes, generated at import). A CIDToGIDMap stream sends every CID to the one
empty glyph, every CID is one em wide (/DW 1000), and a ToUnicode CMap listing the
characters the document uses gives the real text back to copy, search and extraction.
CIDs are the Unicode code points of BMP characters. Characters outside the BMP (rare
CJK extension characters in names, e.g. 𠀀) get a private-use CID (U+E000 upward, skipping
any private-use character the text itself uses) whose ToUnicode entry is the real
character as a UTF-16 surrogate pair, so they too extract correctly. Control characters
and lone surrogates are dropped.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

__all__ = ["PdfPage", "build_searchable_pdf"]

PRODUCER = "workstation ocr.pdf"
JPEG_QUALITY = 80
_FONT_NAME = "GlyphLessFont"
_EM = 1000
_PUA_FIRST, _PUA_LAST = 0xE000, 0xF8FF
_CMAP_CHUNK = 100  # a CMap's begin/end bfchar block may hold at most 100 entries


@dataclass
class PdfPage:
    """One scan and its OCR lines.

    ``image`` is a Pillow image or the bytes of an encoded image: a JPEG is embedded
    exactly as given (DCTDecode; its EXIF orientation is not applied, so hand over the
    pixels the boxes refer to), any other format Pillow reads is re-encoded like a Pillow
    image. ``lines`` are (text, (left, top, right, bottom)) in image pixels, in reading
    order. ``label`` (e.g. "M05 营业执照") names the bookmark of the page's material.
    """

    image: Image.Image | bytes
    dpi: int
    lines: Sequence[tuple[str, tuple[int, int, int, int]]]
    label: str | None = None


def build_searchable_pdf(
    pages: Sequence[PdfPage],
    out: Path | str | BinaryIO,
    *,
    title: str,
    author: str = "",
    subject: str = "",
    keywords: Sequence[str] = (),
    creator: str = "workstation",
    bookmarks: Sequence[tuple[str, int]] | None = None,
) -> None:
    """Write a searchable PDF with one page per scan.

    ``bookmarks`` are (title, 0-based page index); by default consecutive pages with the
    same ``label`` get one bookmark pointing at the first of them (unlabelled pages get
    none). A path is written atomically (temporary file in the same directory, then
    rename; nothing is left behind on error); a binary stream is written as is.
    Raises ValueError with a one-line reason for bad input.
    """
    if not pages:
        raise ValueError("no pages: a PDF needs at least one scanned page")
    for number, page in enumerate(pages, start=1):
        if not isinstance(page.dpi, int) or isinstance(page.dpi, bool) or page.dpi <= 0:
            raise ValueError(f"page {number}: dpi must be a positive integer, got {page.dpi!r}")
    outline = _default_bookmarks(pages) if bookmarks is None else list(bookmarks)
    for name, index in outline:
        if not 0 <= index < len(pages):
            raise ValueError(f"bookmark {name!r} points at page index {index}, but there are {len(pages)} pages")
    info = {
        "Title": title,
        "Author": author,
        "Subject": subject,
        "Keywords": ", ".join(keywords),
        "Creator": creator,
        "Producer": PRODUCER,
    }
    if isinstance(out, (str, os.PathLike)):
        _write_atomically(Path(out), pages, info, outline)
    else:
        _write_pdf(out, pages, info, outline)


def _default_bookmarks(pages: Sequence[PdfPage]) -> list[tuple[str, int]]:
    marks: list[tuple[str, int]] = []
    previous: str | None = None
    for index, page in enumerate(pages):
        if page.label and page.label != previous:
            marks.append((page.label, index))
        previous = page.label
    return marks


def _write_atomically(
    path: Path, pages: Sequence[PdfPage], info: dict[str, str], outline: list[tuple[str, int]]
) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            _write_pdf(stream, pages, info, outline)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# --- PDF serialisation ------------------------------------------------------------------


class _Writer:
    """Numbered objects written in any order, with the byte offsets for the xref table."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.position = 0
        self.offsets: dict[int, int] = {}
        self.count = 0

    def reserve(self) -> int:
        self.count += 1
        return self.count

    def raw(self, data: bytes) -> None:
        self.stream.write(data)
        self.position += len(data)

    def obj(self, number: int, body: str | bytes) -> None:
        self.offsets[number] = self.position
        data = body.encode("latin-1") if isinstance(body, str) else body
        self.raw(b"%d 0 obj\n" % number + data + b"\nendobj\n")

    def stream_obj(self, number: int, entries: str, data: bytes) -> None:
        self.offsets[number] = self.position
        self.raw(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, entries.encode("latin-1"), len(data)))
        self.raw(data)
        self.raw(b"\nendstream\nendobj\n")

    def finish(self, root: int, info: int, file_id: bytes) -> None:
        xref = self.position
        lines = [b"xref\n0 %d\n" % (self.count + 1), b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, self.count + 1)]
        self.raw(b"".join(lines))
        hex_id = file_id.hex().encode()
        self.raw(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (self.count + 1, root, info, hex_id, hex_id, xref)
        )


def _num(value: float) -> str:
    """A PDF number: at most 4 decimals, no exponent, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_string(value: str) -> str:
    """A PDF text string: literal when printable ASCII, else UTF-16BE with a BOM, in hex."""
    if all(" " <= ch <= "~" for ch in value):
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})"
    return "<FEFF" + value.encode("utf-16-be", "surrogatepass").hex().upper() + ">"


def _pdf_date(moment: datetime) -> str:
    offset = moment.strftime("%z") or "+0000"
    sign = "Z" if offset in ("+0000", "-0000") else offset[0]
    tz = "Z" if sign == "Z" else f"{sign}{offset[1:3]}'{offset[3:5]}'"
    return f"(D:{moment:%Y%m%d%H%M%S}{tz})"


# --- text encoding ------------------------------------------------------------------------


class _Encoding:
    """Character → 2-byte CID, and the ToUnicode CMap for every character used."""

    def __init__(self, texts: Iterable[str]) -> None:
        used = {ord(ch) for text in texts for ch in text}
        self._free_pua = (cp for cp in range(_PUA_FIRST, _PUA_LAST + 1) if cp not in used)
        self.to_unicode: dict[int, str] = {}
        self._cids: dict[str, int | None] = {}

    def cid(self, ch: str) -> int | None:
        if ch in self._cids:
            return self._cids[ch]
        cp = ord(ch)
        cid: int | None
        if unicodedata.category(ch) in ("Cc", "Cs"):
            cid = None  # control characters and lone surrogates have no place in a text layer
        elif cp <= 0xFFFF:
            cid = cp
        else:
            cid = next(self._free_pua, None)  # None only after 6400 distinct non-BMP characters
        if cid is not None:
            self.to_unicode[cid] = ch
        self._cids[ch] = cid
        return cid

    def encode(self, text: str) -> bytes:
        return b"".join(struct.pack(">H", cid) for ch in text if (cid := self.cid(ch)) is not None)

    def cmap(self) -> bytes:
        entries = sorted(self.to_unicode.items())
        blocks = []
        for start in range(0, len(entries), _CMAP_CHUNK):
            chunk = entries[start : start + _CMAP_CHUNK]
            body = "\n".join(f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for cid, ch in chunk)
            blocks.append(f"{len(chunk)} beginbfchar\n{body}\nendbfchar\n")
        return (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            + "".join(blocks)
            + "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        ).encode("ascii")


# --- images -------------------------------------------------------------------------------


@dataclass
class _Image:
    width: int
    height: int
    entries: str  # /ColorSpace, /BitsPerComponent, /Filter ...
    data: bytes


def _image(page: PdfPage, number: int) -> _Image:
    source = page.image
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        try:
            image = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"page {number}: the image bytes are not an image Pillow can read ({exc})") from None
        if image.format == "JPEG":
            return _jpeg_as_is(image, data, number)
        try:
            image.load()
        except (OSError, ValueError) as exc:
            raise ValueError(f"page {number}: the image cannot be decoded ({exc})") from None
        source = image
    if not isinstance(source, Image.Image):
        raise ValueError(f"page {number}: image must be a Pillow image or encoded bytes, not {type(source).__name__}")
    if source.width <= 0 or source.height <= 0:
        raise ValueError(f"page {number}: the image is empty ({source.width}×{source.height})")
    return _encode(source)


def _jpeg_as_is(image: Image.Image, data: bytes, number: int) -> _Image:
    spaces = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}
    if image.mode not in spaces:
        raise ValueError(f"page {number}: JPEG in colour mode {image.mode} cannot be embedded")
    entries = f"/ColorSpace {spaces[image.mode]} /BitsPerComponent 8 /Filter /DCTDecode"
    if image.mode == "CMYK" and "adobe" in image.info:
        entries += " /Decode [1 0 1 0 1 0 1 0]"  # Adobe writes CMYK JPEGs inverted
    return _Image(image.width, image.height, entries, data)


def _encode(image: Image.Image) -> _Image:
    if image.mode == "1":
        # Bilevel: 1 bit per pixel, rows padded to a byte, 0 = black; the same layout in PDF.
        entries = "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode"
        return _Image(image.width, image.height, entries, zlib.compress(image.tobytes(), 9))
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        image = flat
    gray = image.mode in ("L", "I", "I;16", "F") or (image.mode == "RGBA" and _is_gray(image))
    image = image.convert("L" if gray else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    space = "/DeviceGray" if gray else "/DeviceRGB"
    return _Image(
        image.width, image.height, f"/ColorSpace {space} /BitsPerComponent 8 /Filter /DCTDecode", buffer.getvalue()
    )


def _is_gray(image: Image.Image) -> bool:
    r, g, b, _a = image.split()
    return r.tobytes() == g.tobytes() == b.tobytes()


# --- the glyph-less font --------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


@cache
def _glyphless_ttf() -> bytes:
    """A TrueType font with two empty glyphs (.notdef and one space-like glyph), 1 em wide."""
    glyphs = 2
    head = struct.pack(
        ">IIIIHHqqhhhhHHhhh",
        0x00010000, 0x00010000, 0, 0x5F0F3CF5,  # version, revision, checkSumAdjustment, magic
        0b1011, _EM, 0, 0,  # flags (baseline at y=0, integer ppem, lsb at x=0), unitsPerEm, dates
        0, 0, _EM, _EM,  # bounding box
        0, 3, 2, 0, 0,  # macStyle, lowestRecPPEM, fontDirectionHint, short loca, glyf format
    )  # fmt: skip
    hhea = struct.pack(
        ">IhhhHhhhhhhhhhhhH",
        0x00010000, _EM, 0, 0, _EM,  # version, ascender, descender, lineGap, advanceWidthMax
        0, 0, _EM, 1, 0, 0,  # min lsb/rsb, xMaxExtent, caret slope rise/run, caret offset
        0, 0, 0, 0, 0, glyphs,  # reserved, metricDataFormat, numberOfHMetrics
    )  # fmt: skip
    maxp = struct.pack(">IHHHHHHHHHHHHHH", 0x00010000, glyphs, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)
    hmtx = struct.pack(">HhHh", _EM, 0, _EM, 0)
    loca = struct.pack(">HHH", 0, 0, 0)  # every glyph empty
    glyf = b""
    # cmap: one format-4 subtable (Windows, Unicode BMP) mapping nothing but the end marker;
    # the PDF's CIDToGIDMap does the mapping.
    subtable = struct.pack(">HHHHHHHHHHHH", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0)
    cmap = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + subtable
    names = {1: _FONT_NAME, 2: "Regular", 3: _FONT_NAME, 4: _FONT_NAME, 5: "Version 1.0", 6: _FONT_NAME}
    records, strings = b"", b""
    for name_id, text in names.items():
        encoded = text.encode("utf-16-be")
        records += struct.pack(">HHHHHH", 3, 1, 0x409, name_id, len(encoded), len(strings))
        strings += encoded
    name = struct.pack(">HHH", 0, len(names), 6 + len(records)) + records + strings
    os2 = (
        struct.pack(">HhHHH", 4, _EM, 400, 5, 0)  # version, avg width, weight, width class, fsType 0
        + struct.pack(">11h", 650, 700, 0, 140, 650, 700, 0, 480, 50, 250, 0)  # sub/superscript, strikeout, class
        + bytes(10)  # panose
        + struct.pack(">IIII", 1, 0, 0, 0)  # Unicode ranges (Basic Latin)
        + b"NONE"
        + struct.pack(">HHHhhhHH", 0x40, 0x20, 0xFFFF, _EM, 0, 0, _EM, 0)  # fsSelection REGULAR ... win metrics
        + struct.pack(">II", 1, 0)  # code page ranges
        + struct.pack(">hhHHH", 500, 700, 0, 0x20, 1)  # x-height, cap height, default/break char, context
    )
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, -100, 50, 1, 0, 0, 0, 0)
    tables = {
        b"OS/2": os2,
        b"cmap": cmap,
        b"glyf": glyf,
        b"head": head,
        b"hhea": hhea,
        b"hmtx": hmtx,
        b"loca": loca,
        b"maxp": maxp,
        b"name": name,
        b"post": post,
    }
    count = len(tables)
    power = 1 << (count.bit_length() - 1)
    directory = struct.pack(">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, count * 16 - power * 16)
    offset = len(directory) + 16 * count
    body = b""
    where = {}
    for tag, data in sorted(tables.items()):
        where[tag] = offset + len(body)
        directory += struct.pack(">4sIII", tag, _checksum(data), where[tag], len(data))
        body += data + b"\0" * (-len(data) % 4)
    font = bytearray(directory + body)
    # head.checkSumAdjustment makes the whole file sum to 0xB1B0AFBA.
    struct.pack_into(">I", font, where[b"head"] + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


@cache
def _cid_to_gid_map() -> bytes:
    return zlib.compress(b"\x00\x01" * 65536, 9)  # every CID → glyph 1


# --- pages ------------------------------------------------------------------------------------


def _text_ops(page: PdfPage, encoding: _Encoding, page_height: float) -> list[str]:
    scale = 72 / page.dpi
    ops = []
    for text, box in page.lines:
        left, top, right, bottom = box
        width, height = (right - left) * scale, (bottom - top) * scale
        codes = encoding.encode(text.strip())
        if not codes or width <= 0 or height <= 0:
            continue
        chars = len(codes) // 2
        size = height
        stretch = 100 * width / (chars * size)  # each character is one em wide at Tz 100
        x, y = left * scale, page_height - bottom * scale
        ops.append(f"/F1 {_num(size)} Tf {_num(stretch)} Tz 1 0 0 1 {_num(x)} {_num(y)} Tm <{codes.hex().upper()}> Tj")
    return ops


def _write_pdf(
    stream: BinaryIO, pages: Sequence[PdfPage], info: dict[str, str], outline: list[tuple[str, int]]
) -> None:
    w = _Writer(stream)
    w.raw(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    catalog, page_tree, info_ref, font = w.reserve(), w.reserve(), w.reserve(), w.reserve()
    cid_font, descriptor, font_file, gid_map, to_unicode = (w.reserve() for _ in range(5))
    encoding = _Encoding(text for page in pages for text, _box in page.lines)

    page_refs = []
    for number, page in enumerate(pages, start=1):
        image = _image(page, number)
        page_w, page_h = image.width * 72 / page.dpi, image.height * 72 / page.dpi
        page_ref, contents_ref, image_ref = w.reserve(), w.reserve(), w.reserve()
        w.stream_obj(
            image_ref,
            f"/Type /XObject /Subtype /Image /Width {image.width} /Height {image.height} {image.entries}",
            image.data,
        )
        ops = [f"q {_num(page_w)} 0 0 {_num(page_h)} 0 0 cm /Im0 Do Q"]
        text_ops = _text_ops(page, encoding, page_h)
        if text_ops:
            ops += ["BT 3 Tr", *text_ops, "ET"]
        w.stream_obj(contents_ref, "/Filter /FlateDecode", zlib.compress("\n".join(ops).encode("ascii"), 9))
        fonts = f"/Font << /F1 {font} 0 R >> " if text_ops else ""
        w.obj(
            page_ref,
            f"<< /Type /Page /Parent {page_tree} 0 R /MediaBox [0 0 {_num(page_w)} {_num(page_h)}] "
            f"/Resources << {fonts}/XObject << /Im0 {image_ref} 0 R >> /ProcSet [/PDF /Text /ImageB /ImageC] >> "
            f"/Contents {contents_ref} 0 R >>",
        )
        page_refs.append(page_ref)

    # The font, shared by all pages.
    w.obj(
        font,
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{_FONT_NAME} /Encoding /Identity-H "
        f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>",
    )
    w.obj(
        cid_font,
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{_FONT_NAME} "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {descriptor} 0 R /DW {_EM} /CIDToGIDMap {gid_map} 0 R >>",
    )
    w.obj(
        descriptor,
        f"<< /Type /FontDescriptor /FontName /{_FONT_NAME} /Flags 5 /FontBBox [0 0 {_EM} {_EM}] /ItalicAngle 0 "
        f"/Ascent {_EM} /Descent -1 /CapHeight {_EM} /StemV 80 /FontFile2 {font_file} 0 R >>",
    )
    # Descent -1, not 0: poppler ignores a zero descent and assumes -0.35 em, which would
    # push the selection box of every line a third of its height below the printed text.
    ttf = _glyphless_ttf()
    w.stream_obj(font_file, f"/Length1 {len(ttf)} /Filter /FlateDecode", zlib.compress(ttf, 9))
    w.stream_obj(gid_map, "/Filter /FlateDecode", _cid_to_gid_map())
    w.stream_obj(to_unicode, "/Filter /FlateDecode", zlib.compress(encoding.cmap(), 9))

    w.obj(page_tree, f"<< /Type /Pages /Kids [{' '.join(f'{r} 0 R' for r in page_refs)}] /Count {len(page_refs)} >>")
    outlines = _write_outline(w, outline, page_refs)
    extra = f"/Outlines {outlines} 0 R /PageMode /UseOutlines " if outlines else ""
    w.obj(
        catalog,
        f"<< /Type /Catalog /Pages {page_tree} 0 R {extra}/Lang (zh-CN) "
        "/ViewerPreferences << /DisplayDocTitle true >> >>",
    )
    now = _pdf_date(datetime.now().astimezone())
    fields = " ".join(f"/{key} {_text_string(value)}" for key, value in info.items() if value)
    w.obj(info_ref, f"<< {fields} /CreationDate {now} /ModDate {now} >>")
    file_id = hashlib.md5(f"{info['Title']}|{now}|{secrets.token_hex(8)}".encode(), usedforsecurity=False).digest()
    w.finish(catalog, info_ref, file_id)


def _write_outline(w: _Writer, outline: list[tuple[str, int]], page_refs: list[int]) -> int | None:
    if not outline:
        return None
    root = w.reserve()
    items = [w.reserve() for _ in outline]
    for i, ((title, index), ref) in enumerate(zip(outline, items, strict=True)):
        links = f"/Parent {root} 0 R"
        if i > 0:
            links += f" /Prev {items[i - 1]} 0 R"
        if i + 1 < len(items):
            links += f" /Next {items[i + 1]} 0 R"
        w.obj(ref, f"<< /Title {_text_string(title)} {links} /Dest [{page_refs[index]} 0 R /Fit] >>")
    w.obj(root, f"<< /Type /Outlines /First {items[0]} 0 R /Last {items[-1]} 0 R /Count {len(items)} >>")
    return root
