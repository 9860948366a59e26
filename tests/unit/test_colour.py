"""Colour scans: loaded in colour, and read in gray with the red seal ink lifted off the text it is printed over."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ocr.engines.base import Line
from ocr.loading import PageImage, load_pages
from ocr.pipeline import read_page
from ocr.preprocess import lift_seals, prepare, rotate_quadrant

PAPER = (250, 249, 244)
BLACK = (24, 24, 24)
SEAL_RED = (212, 36, 40)  # the samples' seal ink
MAROON = (110, 22, 30)  # dark red-brown print, still text
BLUE_INK = (30, 42, 112)


def stamp(page: Image.Image, mask: Image.Image, colour: tuple[int, int, int], opacity: float = 0.85) -> Image.Image:
    """Multiply `colour` into the page through `mask`, as seal ink does: ink over ink stays dark."""
    pixels = np.asarray(page, dtype=np.float32)
    alpha = (np.asarray(mask, dtype=np.float32) / 255.0 * opacity)[..., None]
    tint = np.array(colour, dtype=np.float32) / 255.0
    out = pixels * (1.0 - alpha * (1.0 - tint))
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def text_mask(size: tuple[int, int], top: int = 60, step: int = 50) -> Image.Image:
    """Rows of word-like bars where lines of print would be."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for y in range(top, size[1] - 40, step):
        x = 40
        while x < size[0] - 80:
            width = 30 + (x * 7 + y) % 70
            draw.rectangle((x, y, x + width, y + 18), fill=255)
            x += width + 14
    return mask


def seal_mask(size: tuple[int, int], centre: tuple[int, int], radius: int) -> Image.Image:
    """A round seal: a thick rim, rim characters as blocks, a filled star-like centre."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = centre
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=255, width=radius // 10)
    for angle in range(200, 341, 20):
        x = cx + 0.72 * radius * np.cos(np.radians(angle))
        y = cy + 0.72 * radius * np.sin(np.radians(angle))
        draw.rectangle((x - 9, y - 9, x + 9, y + 9), fill=255)
    draw.regular_polygon((cx, cy + radius // 8, radius // 4), 5, fill=255)
    return mask


@cache
def sealed_page() -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A colour page of black print with a red seal over part of it; and where the text and the seal are."""
    size = (800, 600)
    text = text_mask(size)
    seal = seal_mask(size, (430, 300), 170)
    page = Image.new("RGB", size, PAPER)
    page.paste(Image.new("RGB", size, BLACK), mask=text)
    page = stamp(page, seal, SEAL_RED)
    return page, np.asarray(text) > 250, np.asarray(seal) > 250


def a4_colour_page() -> Image.Image:
    size = (2480, 3508)
    page = Image.new("RGB", size, PAPER)
    page.paste(Image.new("RGB", size, BLACK), mask=text_mask(size, top=300, step=90))
    return stamp(page, seal_mask(size, (1700, 2900), 330), SEAL_RED)


# --- lifting seals ----------------------------------------------------------------------------------------------


def test_a_red_seal_lifts_to_paper_and_the_black_text_under_it_stays_black() -> None:
    page, text, seal = sealed_page()
    lifted = lift_seals(page)
    assert lifted.mode == "L" and lifted.size == page.size
    gray = np.asarray(lifted)
    seal_only = seal & ~text
    # Without lifting the seal is a mid grey an engine reads as strokes.
    assert np.median(np.asarray(page.convert("L"))[seal_only]) < 130
    assert np.median(gray[seal_only]) >= 240 and np.percentile(gray[seal_only], 5) >= 215
    assert np.median(gray[text & seal]) <= 40 and np.percentile(gray[text & seal], 95) <= 70
    assert np.median(gray[text & ~seal]) <= 40
    assert np.median(gray[~text & ~seal]) >= 240


def test_a_gray_page_passes_through_unchanged() -> None:
    page, _text, _seal = sealed_page()
    gray = page.convert("L")
    assert lift_seals(gray).tobytes() == gray.tobytes()


def test_a_colour_page_without_red_ink_reads_as_its_plain_luminance() -> None:
    size = (400, 300)
    page = Image.new("RGB", size, PAPER)
    page.paste(Image.new("RGB", size, BLACK), mask=text_mask(size))
    ImageDraw.Draw(page).line((40, 250, 300, 230), fill=BLUE_INK, width=5)  # a ballpoint signature
    assert lift_seals(page).tobytes() == page.convert("L").tobytes()


def test_dark_maroon_print_is_text_not_seal_and_stays_dark() -> None:
    size = (400, 300)
    text = text_mask(size)
    page = Image.new("RGB", size, PAPER)
    page.paste(Image.new("RGB", size, MAROON), mask=text)
    gray = np.asarray(lift_seals(page))
    assert np.percentile(gray[np.asarray(text) > 250], 95) <= 70


def test_a_seal_on_a_dim_phone_photo_lifts_too() -> None:
    page, text, seal = sealed_page()
    dim = page.point(lambda v: v * 205 // 255)  # paper at 200, as a phone photo under room light
    gray = np.asarray(lift_seals(dim))
    assert np.median(gray[seal & ~text]) >= 190
    assert np.median(gray[text & seal]) <= 40


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_lifting_and_quarter_turns_commute_so_the_export_lines_up_with_what_ocr_read(degrees: int) -> None:
    page, _text, _seal = sealed_page()
    assert rotate_quadrant(lift_seals(page), degrees).tobytes() == lift_seals(rotate_quadrant(page, degrees)).tobytes()


def test_prepare_lifts_seals_so_a_colour_page_prepares_as_its_lifted_gray() -> None:
    page, _text, _seal = sealed_page()
    prepared, _done = prepare(page)
    assert prepared.mode == "L"
    assert prepared.tobytes() == prepare(lift_seals(page))[0].tobytes()


def test_a_whole_300_dpi_a4_colour_page_is_lifted_strip_by_strip_without_seams() -> None:
    page = a4_colour_page()
    lifted = np.asarray(lift_seals(page))
    seal = np.asarray(seal_mask(page.size, (1700, 2900), 330)) > 250
    text = np.asarray(text_mask(page.size, top=300, step=90)) > 250
    assert np.percentile(lifted[seal & ~text], 5) >= 215  # the seal is paper, across every strip it spans
    assert np.median(lifted[text & ~seal]) < 60  # the text stays black


# --- the pipeline reads colour pages lifted ---------------------------------------------------------------------


class _Recorder:
    """An engine stand-in that keeps the page images it is given."""

    name = "recorder"

    def __init__(self) -> None:
        self.images: list[Image.Image] = []

    def read(self, image: Image.Image) -> list[Line]:
        self.images.append(image)
        return [Line("营业执照", (40, 60, 400, 80), 0.99)]


def test_the_engine_reads_a_colour_page_in_gray_with_the_seal_lifted() -> None:
    page, text, seal = sealed_page()
    engine = _Recorder()
    read_page(PageImage(image=page, page=1, dpi=300, source="licence.jpg"), engine)
    (seen,) = engine.images
    assert seen.mode == "L"
    gray = np.asarray(seen)
    assert np.median(gray[seal & ~text]) >= 240 and np.median(gray[text & seal]) <= 40


def test_pages_loaded_for_ocr_come_in_gray_with_the_seals_lifted() -> None:
    page, _text, _seal = sealed_page()
    data = encode(page, "PNG", dpi=(300, 300))
    [colour] = load_pages(data, name="licence.png")
    [gray] = load_pages(data, name="licence.png", gray=True)
    assert gray.image.mode == "L" and gray.image.tobytes() == lift_seals(colour.image).tobytes()
    bilevel = text_mask((400, 300)).convert("1")
    [read] = load_pages(encode(bilevel, "TIFF", dpi=(300, 300)), name="fax.tif", gray=True)
    assert read.image.mode == "L" and read.image.tobytes() == bilevel.convert("L").tobytes()


def test_the_engine_reads_a_gray_page_as_before() -> None:
    page, _text, _seal = sealed_page()
    gray = page.convert("L")
    engine = _Recorder()
    read_page(PageImage(image=gray, page=1, dpi=300, source="scan.png"), engine)
    assert engine.images[0].tobytes() == prepare(gray)[0].tobytes()


# --- loading keeps colour ---------------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def test_a_colour_jpeg_loads_in_colour_as_stored() -> None:
    page, _text, _seal = sealed_page()
    [loaded] = load_pages(encode(page, "JPEG", quality=90, dpi=(300, 300)), name="licence.jpg")
    assert (loaded.image.mode, loaded.image.size, loaded.as_stored) == ("RGB", page.size, True)
    red = np.asarray(loaded.image).astype(int)
    assert (red[..., 0] - red[..., 1]).max() > 100  # the seal is still red


def test_a_gray_jpeg_loads_gray_as_stored() -> None:
    page, _text, _seal = sealed_page()
    [loaded] = load_pages(encode(page.convert("L"), "JPEG", dpi=(300, 300)), name="scan.jpg")
    assert (loaded.image.mode, loaded.as_stored) == ("L", True)


def test_a_colour_file_of_gray_content_loads_gray() -> None:
    page, _text, _seal = sealed_page()
    [loaded] = load_pages(encode(page.convert("L").convert("RGB"), "PNG", dpi=(300, 300)), name="grey-as-rgb.png")
    assert loaded.image.mode == "L"


def test_a_bilevel_scan_stays_bilevel_at_its_own_resolution_and_turns_gray_when_downscaled() -> None:
    bilevel = text_mask((1240, 1754)).convert("1")
    [kept] = load_pages(encode(bilevel, "TIFF", compression="group4", dpi=(300, 300)), name="fax.tif")
    assert (kept.image.mode, kept.image.size) == ("1", bilevel.size)
    [fine] = load_pages(encode(bilevel, "TIFF", compression="group4", dpi=(600, 600)), name="fine.tif")
    assert (fine.image.mode, fine.image.size, fine.dpi) == ("L", (620, 877), 300)


def test_a_turned_or_downscaled_jpeg_is_not_as_stored() -> None:
    page, _text, _seal = sealed_page()
    exif = Image.Exif()
    exif[0x0112] = 6
    [turned] = load_pages(encode(page, "JPEG", exif=exif.tobytes(), dpi=(300, 300)), name="phone.jpg")
    assert (turned.image.mode, turned.image.size, turned.as_stored) == ("RGB", (600, 800), False)
    [fine] = load_pages(encode(page, "JPEG", dpi=(600, 600)), name="fine.jpg")
    assert (fine.image.mode, fine.as_stored) == ("RGB", False)


@pytest.mark.parametrize(
    ("image", "mode"),
    [
        (Image.new("P", (60, 60), 0), "L"),  # the default palette's first entry: black
        (Image.new("RGB", (60, 60), SEAL_RED).convert("P", palette=Image.Palette.ADAPTIVE), "RGB"),
        (Image.new("RGBA", (60, 60), (212, 36, 40, 255)), "RGB"),
        (Image.new("CMYK", (60, 60), (0, 200, 200, 0)), "RGB"),
    ],
    ids=["gray-palette", "colour-palette", "rgba", "cmyk"],
)
def test_colour_modes_load_as_rgb_and_gray_ones_as_l(image: Image.Image, mode: str) -> None:
    fmt = "TIFF" if image.mode == "CMYK" else "PNG"
    [page] = load_pages(encode(image, fmt), name=f"mode.{fmt.lower()}")
    assert page.image.mode == mode


def test_a_colour_page_of_a_scanned_pdf_loads_in_colour() -> None:
    page, _text, _seal = sealed_page()
    [loaded] = load_pages(encode(page, "PDF", resolution=150), name="scan.pdf")
    assert (loaded.image.mode, loaded.image.size, loaded.dpi) == ("RGB", page.size, 150)
