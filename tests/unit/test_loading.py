"""Loading scans into pages: formats, EXIF, dpi, PDFs, and every way a file can be bad."""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from ocr import loading
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
from ocr.loading import DEFAULT_LIMITS, Limits, PageImage, iter_pages, load_pages, sniff

# Pillow warns about the damaged files these tests feed it on purpose; what matters is what load_pages raises.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

NEEDS_PDFTOPPM = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
A4_150DPI = (1240, 1754)


def text_page(size: tuple[int, int] = A4_150DPI, seed: int = 0, mode: str = "L") -> Image.Image:
    """A white page with rows of black bars where words would be."""
    rnd = random.Random(seed)
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    width, height = size
    line = max(4, height // 60)
    for top in range(height // 10, height * 9 // 10, line * 5 // 2):
        left = width // 10
        while left < width * 9 // 10:
            word = rnd.randint(line * 2, line * 8)
            draw.rectangle((left, top, min(left + word, width * 9 // 10), top + line), fill=0)
            left += word + line
    return page.convert(mode)


def with_marker(size: tuple[int, int], corner: str = "top-left") -> Image.Image:
    """A page with one black square in a corner, to tell which way up it is."""
    page = Image.new("L", size, 255)
    side = min(size) // 8
    x = 0 if "left" in corner else size[0] - side
    y = 0 if "top" in corner else size[1] - side
    ImageDraw.Draw(page).rectangle((x, y, x + side - 1, y + side - 1), fill=0)
    return page


def dark_corner(image: Image.Image) -> str:
    pixels = np.asarray(image.convert("L"))
    h, w = pixels.shape
    corners = {
        "top-left": pixels[: h // 10, : w // 10],
        "top-right": pixels[: h // 10, -w // 10 :],
        "bottom-left": pixels[-h // 10 :, : w // 10],
        "bottom-right": pixels[-h // 10 :, -w // 10 :],
    }
    return min(corners, key=lambda name: float(corners[name].mean()))


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a size in its header but carries almost no data: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(2000))) + chunk(b"IEND", b"")
    )


def text_layer_pdf(text: str = "Purchase contract HT-2024-0117 between Party A and Party B") -> bytes:
    """A one-page vector PDF written by hand: a line of Helvetica text and a rule, no images."""
    content = f"BT /F1 18 Tf 72 760 Td ({text}) Tj ET 4 w 72 700 m 520 700 l S".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def blank_pages_pdf(count: int) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def scanned_pdf(pages: list[Image.Image], dpi: int) -> bytes:
    return encode(pages[0], "PDF", save_all=True, append_images=pages[1:], resolution=dpi)


# --- recognising files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [("JPEG", "jpeg"), ("PNG", "png"), ("TIFF", "tiff"), ("BMP", "bmp"), ("WEBP", "webp"), ("PDF", "pdf")],
)
def test_sniff_tells_each_format_by_its_magic_bytes(fmt: str, kind: str) -> None:
    data = encode(text_page((120, 170), mode="RGB"), fmt)
    assert sniff(data[: loading.SNIFF_BYTES]) == kind


def test_sniff_finds_a_pdf_header_after_leading_junk() -> None:
    assert sniff(b"\r\n  garbage from a mail gateway\n%PDF-1.7\n") == "pdf"


@pytest.mark.parametrize("head", [b"", b"hello", b"BM but not a bitmap header", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_sniff_says_none_for_what_is_not_a_supported_file(head: bytes) -> None:
    assert sniff(head) is None


def test_text_file_renamed_png_is_not_an_image(tmp_path: Path) -> None:
    fake = tmp_path / "scan-0003.png"
    fake.write_text("申请人：张三\n这不是图片\n", encoding="utf-8")
    with pytest.raises(NotAnImage, match=r"^scan-0003\.png: not an image or PDF"):
        load_pages(fake)


def test_a_jpeg_named_png_is_read_as_the_jpeg_it_is(tmp_path: Path) -> None:
    misnamed = tmp_path / "scan.png"
    misnamed.write_bytes(encode(text_page(), "JPEG", dpi=(150, 150)))
    [page] = load_pages(misnamed)
    assert page.image.size == A4_150DPI
    assert page.source == "scan.png"


# --- bad input ------------------------------------------------------------------------------------------------


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "scan-0001.jpg"
    empty.touch()
    with pytest.raises(EmptyFile, match=r"^scan-0001\.jpg: empty file"):
        load_pages(empty)


def test_missing_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^gone\.jpg: cannot read the file"):
        load_pages(tmp_path / "gone.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_scan_is_reported_as_truncated(fmt: str) -> None:
    data = encode(text_page(mode="RGB"), fmt)
    with pytest.raises(TruncatedFile, match=rf"^scan-0007: truncated {fmt} \(file ends before"):
        load_pages(data[: len(data) * 2 // 3], name="scan-0007")


def test_jpeg_cut_inside_its_header_is_truncated_too() -> None:
    data = encode(text_page(), "JPEG")
    with pytest.raises(TruncatedFile):
        load_pages(data[:40], name="cut.jpg")


def test_random_bytes_are_not_an_image() -> None:
    noise = random.Random(7).randbytes(4096)
    with pytest.raises(NotAnImage):
        load_pages(noise, name="noise.bin")


def test_png_with_garbled_image_data_is_corrupt() -> None:
    data = bytearray(encode(text_page(), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start : start + 200] = bytes(200)
    with pytest.raises(CorruptFile, match=r"^bad\.png: corrupt PNG"):
        load_pages(bytes(data), name="bad.png")


def test_file_over_the_byte_limit_is_refused_before_reading() -> None:
    with pytest.raises(TooLarge, match=r"over the .* limit"):
        load_pages(encode(text_page(), "PNG"), name="big.png", limits=Limits(max_bytes=1000))


def test_header_declaring_20000_by_20000_pixels_is_refused_without_decoding() -> None:
    started = time.perf_counter()
    with pytest.raises(TooLarge, match=r"^bomb\.png: "):
        load_pages(png_header(20_000, 20_000), name="bomb.png")
    # Not decoded: the next test measures the memory it takes (the time is only a figure; a busy machine varies it).
    print(f"\nrefused in {(time.perf_counter() - started) * 1000:.1f} ms")


def test_refusing_a_20000_by_20000_png_keeps_memory_small(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20_000, 20_000))
    # A fresh interpreter, so the peak resident size measures this load alone (Pillow allocates outside tracemalloc).
    code = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from ocr.errors import TooLarge\n"
        "from ocr.loading import load_pages\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    load_pages(Path(sys.argv[1]))\n"
        "    kind = 'loaded'\n"
        "except TooLarge:\n"
        "    kind = 'too_large'\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'kind': kind, 'grew_kib': after - before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["kind"] == "too_large"
    assert result["grew_kib"] < 50 * 1024  # the image itself would be 400 MB


@pytest.mark.parametrize(
    ("width", "height", "limits"),
    [
        (12_000, 12_000, DEFAULT_LIMITS),  # 144 Mpx: between Pillow's warning and its hard limit
        (30_001, 100, DEFAULT_LIMITS),  # few pixels, but one side longer than any scanner makes
        (3_000, 3_000, Limits(max_pixels=4_000_000)),  # a caller's own tighter limit
    ],
)
def test_declared_pixel_size_over_a_limit_is_too_large(width: int, height: int, limits: Limits) -> None:
    with pytest.raises(TooLarge):
        load_pages(png_header(width, height), name="big.png", limits=limits)


def test_pdf_with_too_many_pages_is_refused_before_any_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # rendering a page would now fail differently
    with pytest.raises(TooLarge, match=r"^long\.pdf: 6 pages, over the 5-page limit"):
        load_pages(blank_pages_pdf(6), name="long.pdf", limits=Limits(max_pages=5))


def test_tiff_with_too_many_frames_is_refused() -> None:
    frames = [text_page((100, 140), seed=n) for n in range(4)]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooLarge, match="4 pages"):
        load_pages(data, name="stack.tif", limits=Limits(max_pages=3))


def test_pdf_with_a_password_is_encrypted() -> None:
    with pytest.raises(EncryptedFile, match=r"^locked\.pdf: password-protected PDF"):
        load_pages(encrypted_pdf("user-secret"), name="locked.pdf")


def test_pdf_encrypted_with_an_empty_user_password_is_refused_too() -> None:
    with pytest.raises(EncryptedFile, match=r"^restricted\.pdf: encrypted PDF \(it opens without a password"):
        load_pages(encrypted_pdf(""), name="restricted.pdf")


def test_pdf_with_garbage_for_a_body_is_corrupt() -> None:
    garbage = b"%PDF-1.4\n" + random.Random(3).randbytes(3000) + b"\n%%EOF\n"
    with pytest.raises(CorruptFile, match=r"^broken\.pdf: corrupt PDF"):
        load_pages(garbage, name="broken.pdf")


def test_pdf_cut_short_is_truncated() -> None:
    data = scanned_pdf([text_page()], dpi=150)
    with pytest.raises(TruncatedFile, match=r"^half\.pdf: truncated PDF"):
        load_pages(data[: len(data) // 2], name="half.pdf")


def test_messages_stay_on_one_line_whatever_the_file_is_called() -> None:
    with pytest.raises(EmptyFile) as caught:
        load_pages(b"", name="evil\nname.jpg")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("evil?name.jpg: ")


# --- images ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "WEBP", "TIFF"])
def test_each_image_format_loads_a_gray_page_saved_in_colour_mode_as_one_grayscale_page(fmt: str) -> None:
    [page] = load_pages(encode(text_page(mode="RGB"), fmt, dpi=(150, 150)), name=f"scan.{fmt.lower()}")
    assert isinstance(page, PageImage)
    assert (page.image.mode, page.image.size, page.page, page.source) == ("L", A4_150DPI, 1, f"scan.{fmt.lower()}")
    assert page.text_layer is None
    pixels = np.asarray(page.image)
    assert pixels.min() < 64 and pixels.max() > 192


def test_multi_frame_tiff_gives_every_frame_as_a_page_in_order() -> None:
    corners = ["top-left", "top-right", "bottom-right"]
    frames = [with_marker((400, 560), corner) for corner in corners]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = load_pages(data, name="stack.tif")
    assert [page.page for page in pages] == [1, 2, 3]
    assert [dark_corner(page.image) for page in pages] == corners


def test_iter_pages_yields_pages_one_at_a_time() -> None:
    frames = [text_page((200, 280), seed=n) for n in range(3)]
    pages = iter_pages(encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]), name="stack.tif")
    assert isinstance(pages, Iterator)
    assert next(pages).page == 1
    assert [page.page for page in pages] == [2, 3]


def test_jpeg_with_exif_orientation_6_loads_upright() -> None:
    upright = with_marker((600, 840), "top-left")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a phone held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    [page] = load_pages(encode(stored, "JPEG", exif=exif.tobytes(), quality=95), name="phone.jpg")
    assert page.image.size == (600, 840)
    assert dark_corner(page.image) == "top-left"


def test_600_dpi_scan_is_downscaled_to_300() -> None:
    [page] = load_pages(encode(text_page((2480, 3508)), "PNG", dpi=(600, 600)), name="fine.png")
    assert (page.dpi, page.original_dpi) == (300, 600)
    assert page.image.size == (1240, 1754)


def test_scan_below_the_target_dpi_is_kept_as_it_is() -> None:
    [page] = load_pages(encode(text_page(), "PNG", dpi=(150, 150)), name="coarse.png")
    assert (page.dpi, page.original_dpi, page.image.size) == (150, 150, A4_150DPI)


@pytest.mark.parametrize(
    ("size", "dpi"),
    [((2480, 3508), 300), ((1654, 2339), 200), ((3508, 2480), 300), ((1012, 638), 300)],
    ids=["A4-300", "A4-200", "A4-landscape", "id-card"],
)
def test_dpi_missing_from_metadata_is_read_from_the_paper_shape(size: tuple[int, int], dpi: int) -> None:
    [page] = load_pages(encode(Image.new("L", size, 255), "PNG"), name="nodpi.png")
    assert (page.dpi, page.original_dpi) == (dpi, dpi)


def test_dpi_missing_on_an_unknown_shape_assumes_300() -> None:
    [page] = load_pages(encode(Image.new("L", (900, 900), 255), "PNG"), name="square.png")
    assert (page.dpi, page.original_dpi) == (300, None)


@pytest.mark.parametrize("declared", [(10, 10), (5000, 5000), (72, 72)], ids=["absurd-low", "absurd-high", "camera"])
def test_implausible_dpi_is_ignored(declared: tuple[int, int]) -> None:
    # 72 dpi on a 4000 px photo would make a 55-inch sheet: cameras write 72 whatever they shot.
    [page] = load_pages(encode(Image.new("L", (4000, 3000), 255), "JPEG", dpi=declared), name="photo.jpg")
    assert (page.dpi, page.original_dpi, page.image.size) == (300, None, (4000, 3000))


def test_fax_resolution_is_squared_up() -> None:
    [page] = load_pages(encode(Image.new("1", (1728, 1100), 1), "TIFF", dpi=(204, 98)), name="fax.tif")
    assert page.dpi == 204
    assert page.image.size == (1728, round(1100 * 204 / 98))


@pytest.mark.parametrize(
    ("image", "expected_mode", "expected_paper", "expected_ink"),
    [
        (Image.new("1", (60, 60), 1), "1", 255, None),  # bilevel stays bilevel
        (Image.new("RGBA", (60, 60), (0, 0, 0, 0)), "L", 255, None),  # transparent means paper, not black
        (Image.new("LA", (60, 60), (0, 0)), "L", 255, None),
        (Image.new("P", (60, 60), 0).convert("P"), "L", None, 0),
        (Image.new("CMYK", (60, 60), (0, 0, 0, 0)), "L", 255, None),
        (Image.new("CMYK", (60, 60), (0, 0, 0, 255)), "L", None, 0),
        (Image.new("I;16", (60, 60), 65535), "L", 255, None),
        (Image.new("I;16", (60, 60), 0), "L", None, 0),
    ],
    ids=["1-bit", "rgba", "la", "palette", "cmyk-white", "cmyk-black", "16-bit-white", "16-bit-black"],
)
def test_every_mode_of_a_gray_page_loads_gray_or_bilevel_on_white(
    image: Image.Image, expected_mode: str, expected_paper: int | None, expected_ink: int | None
) -> None:
    fmt = "TIFF" if image.mode in ("CMYK", "I;16") else "PNG"
    [page] = load_pages(encode(image, fmt), name=f"mode.{fmt.lower()}")
    assert page.image.mode == expected_mode
    pixels = np.asarray(page.image.convert("L"))
    low, high = int(pixels.min()), int(pixels.max())
    if expected_paper is not None:
        assert low >= expected_paper - 2
    if expected_ink is not None:
        assert high <= expected_ink + 2


def test_sixteen_bit_grey_keeps_its_mid_tones() -> None:
    array = np.full((40, 40), 32896, dtype=np.uint16)  # 128 × 257
    [page] = load_pages(encode(Image.fromarray(array), "PNG"), name="deep.png")
    assert abs(int(np.asarray(page.image).mean()) - 128) <= 1


# --- PDF ------------------------------------------------------------------------------------------------------


def test_scanned_pdf_gives_each_page_image_at_its_dpi() -> None:
    first, second = with_marker(A4_150DPI, "top-left"), with_marker(A4_150DPI, "bottom-right")
    pages = load_pages(scanned_pdf([first, second], dpi=150), name="dossier.pdf")
    assert [(page.page, page.dpi, page.original_dpi, page.image.size) for page in pages] == [
        (1, 150, 150, A4_150DPI),
        (2, 150, 150, A4_150DPI),
    ]
    assert [dark_corner(page.image) for page in pages] == ["top-left", "bottom-right"]
    assert all(page.text_layer is None for page in pages)


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "CMYK", "P"])
def test_scanned_pdf_page_of_any_colour_mode_comes_out_upright_at_its_dpi(mode: str) -> None:
    if mode == "P" and shutil.which("pdftoppm") is None:
        pytest.skip("indexed-colour images are rendered by pdftoppm (poppler-utils), not installed")
    [page] = load_pages(scanned_pdf([with_marker(A4_150DPI, "top-left").convert(mode)], dpi=150), name="scan.pdf")
    assert (page.dpi, page.original_dpi, page.image.size) == (150, 150, A4_150DPI)
    assert dark_corner(page.image) == "top-left"
    low, high = page.image.convert("L").getextrema()
    # pdftoppm draws a CMYK page (this one has a /Decode array) in colour, its black as a press's rich black.
    assert high == 255 and (low <= 40 if mode == "CMYK" else low == 0)


def test_scanned_pdf_with_an_ocr_text_layer_keeps_both() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(scanned_pdf([with_marker(A4_150DPI, "top-left")], dpi=150)))
    writer.pages[0].merge_page(PdfReader(io.BytesIO(text_layer_pdf())).pages[0])
    buffer = io.BytesIO()
    writer.write(buffer)
    [page] = load_pages(buffer.getvalue(), name="searchable.pdf")
    assert (page.dpi, page.original_dpi, page.image.size) == (150, 150, A4_150DPI)
    assert page.text_layer is not None and "HT-2024-0117" in page.text_layer


def test_scanned_pdf_above_the_target_dpi_is_downscaled() -> None:
    [page] = load_pages(scanned_pdf([text_page((2480, 3508))], dpi=600), name="fine.pdf")
    assert (page.dpi, page.original_dpi, page.image.size) == (300, 600, (1240, 1754))


def test_scanned_pdf_page_with_rotate_comes_out_as_displayed() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(scanned_pdf([with_marker(A4_150DPI, "top-left")], dpi=150)))
    writer.pages[0].rotate(90)  # shown turned a quarter clockwise: the marker ends at the top right
    buffer = io.BytesIO()
    writer.write(buffer)
    [page] = load_pages(buffer.getvalue(), name="turned.pdf")
    assert page.image.size == (A4_150DPI[1], A4_150DPI[0])
    assert dark_corner(page.image) == "top-right"


@NEEDS_PDFTOPPM
def test_vector_pdf_page_is_rendered_and_keeps_its_text_layer() -> None:
    [page] = load_pages(text_layer_pdf(), name="contract.pdf")
    assert page.text_layer is not None and "HT-2024-0117" in page.text_layer
    assert (page.dpi, page.original_dpi) == (300, None)
    assert page.image.mode == "L"
    assert abs(page.image.width - 2479) <= 2 and abs(page.image.height - 3508) <= 2
    band = np.asarray(page.image)[300:400, 300:2000]  # the text line sits 82 pt from the top
    assert band.min() < 100


@NEEDS_PDFTOPPM
def test_vector_page_renders_at_a_lower_target_dpi() -> None:
    [page] = load_pages(text_layer_pdf(), name="contract.pdf", target_dpi=150)
    assert page.dpi == 150
    assert abs(page.image.width - 1240) <= 2


def test_vector_page_without_pdftoppm_says_poppler_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(OcrError, match="poppler-utils") as caught:
        load_pages(text_layer_pdf(), name="contract.pdf")
    assert not isinstance(caught.value, InputError)  # the desk's fault, not the file's


def test_blank_pdf_page_has_no_text_layer_but_still_loads_when_rendered() -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    [page] = load_pages(blank_pages_pdf(1), name="blank.pdf")
    assert page.text_layer is None
    assert page.image.getextrema() == (255, 255)


def test_pdf_page_image_declaring_too_many_pixels_is_too_large() -> None:
    data = scanned_pdf([text_page((2000, 2800))], dpi=300)
    with pytest.raises(TooLarge, match=r"^big\.pdf: page 1: "):
        load_pages(data, name="big.pdf", limits=Limits(max_pixels=1_000_000))


def test_pdf_loaded_from_a_path_is_named_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / "-dossier.pdf"  # a leading dash must never reach pdftoppm as an option
    path.write_bytes(scanned_pdf([text_page()], dpi=150) if shutil.which("pdftoppm") is None else text_layer_pdf())
    [page] = load_pages(path)
    assert page.source == "-dossier.pdf"


# --- whatever the bytes: an InputError or pages -----------------------------------------------------------------

FUZZ_LIMITS = Limits(max_pixels=2_000_000, max_side=4_000, max_pages=20)


@cache
def valid_samples() -> tuple[bytes, ...]:
    small = text_page((160, 226), mode="RGB")
    frames = [text_page((160, 226), seed=n) for n in range(2)]
    return (
        encode(small, "JPEG", dpi=(150, 150)),
        encode(small, "PNG"),
        encode(small.convert("1"), "PNG"),
        encode(small, "BMP"),
        encode(small, "WEBP"),
        encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
        encode(frames[0], "TIFF", compression="tiff_lzw"),
        scanned_pdf(frames, dpi=50),
        text_layer_pdf(),
    )


def assert_pages_or_input_error(data: bytes) -> None:
    try:
        pages = load_pages(data, name="fuzz", limits=FUZZ_LIMITS)
    except InputError as error:
        assert "\n" not in str(error) and str(error).startswith("fuzz")
        return
    for page in pages:
        assert page.image.mode in ("L", "RGB", "1") and page.dpi > 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_give_an_input_error_or_pages(data: bytes) -> None:
    assert_pages_or_input_error(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 8), st.floats(0.0, 1.0))
def test_truncated_valid_files_give_an_input_error_or_pages(which: int, keep: float) -> None:
    data = valid_samples()[which]
    assert_pages_or_input_error(data[: int(len(data) * keep)])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 8), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_valid_files_give_an_input_error_or_pages(which: int, flips: list[tuple[float, int]]) -> None:
    data = bytearray(valid_samples()[which])
    for where, value in flips:
        data[min(len(data) - 1, int(len(data) * where))] = value
    assert_pages_or_input_error(bytes(data))
