"""Searchable dossier PDFs (ocr.pdf): the scan shows, the text layer is invisible but
extracts exactly, bookmarks and metadata are right, and writing is atomic."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.pdf import PdfPage, _glyphless_ttf, build_searchable_pdf

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DPI = 100
PAGE_TEXTS = [
    ["营业执照", "统一社会信用代码 91370102MA3C8Q1X4N", "名称：济南某某科技有限公司"],
    ["住所：济南市历下区经十路12345号", "法定代表人：张三"],
    ["不动产权证书", "鲁(2020)济南市不动产权第0012345号", "权利人：李四"],
]
LABELS = ["M05 营业执照", "M05 营业执照", "M08 不动产权证书"]
CJK_GAP = re.compile(r"[\u4e00-\u9fff\uff01-\uff5e][ \t\u3000]+[\u4e00-\u9fff\uff01-\uff5e]")


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package poppler-utils)")


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def render_page(lines: list[str], label: str | None, size: tuple[int, int] = (827, 1170)) -> PdfPage:
    """A Pillow-rendered 'scan'; the drawn text boxes stand in for the OCR result."""
    if not CJK_FONT.exists():
        pytest.skip(f"{CJK_FONT} missing (Debian package fonts-noto-cjk)")
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 28, index=2)  # index 2: the SC face
    boxes = []
    y = 80
    for text in lines:
        draw.text((75, y), text, font=font, fill=0)
        left, top, right, bottom = draw.textbbox((75, y), text, font=font)
        boxes.append((text, (int(left), int(top), int(right), int(bottom))))
        y += 70
    return PdfPage(image, DPI, boxes, label)


@pytest.fixture(scope="module")
def dossier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "dossier.pdf"
    pages = [render_page(lines, label) for lines, label in zip(PAGE_TEXTS, LABELS, strict=True)]
    build_searchable_pdf(pages, path, title="卷宗 2025-000123", author="窗口 3 张三", keywords=["营业执照", "不动产"])
    return path


def test_pdftotext_gives_each_line_exactly(dossier: Path) -> None:
    needs("pdftotext")
    for page, expected in enumerate(PAGE_TEXTS, start=1):
        plain = run("pdftotext", "-f", str(page), "-l", str(page), str(dossier), "-")
        layout = run("pdftotext", "-layout", "-f", str(page), "-l", str(page), str(dossier), "-")
        for out in (plain, layout):
            assert [line.strip() for line in out.splitlines() if line.strip()] == expected
            assert not CJK_GAP.search(out)


def test_text_sits_over_its_box(dossier: Path) -> None:
    needs("pdftotext")
    words = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)<', run(
        "pdftotext", "-bbox", "-f", "1", "-l", "1", str(dossier), "-"
    ))  # fmt: skip
    first = render_page(PAGE_TEXTS[0], None).lines[0]
    x0, y0, x1, y1, text = words[0]
    assert text == "营业执照"
    left, top, right, bottom = (v * 72 / DPI for v in first[1])
    assert float(x0) == pytest.approx(left, abs=0.5) and float(x1) == pytest.approx(right, abs=0.5)
    assert float(y0) == pytest.approx(top, abs=0.5) and float(y1) == pytest.approx(bottom, abs=0.5)


def test_pages_bookmarks_and_metadata(dossier: Path) -> None:
    reader = pypdf.PdfReader(dossier, strict=True)
    assert len(reader.pages) == 3
    assert [(item.title, reader.get_destination_page_number(item)) for item in reader.outline] == [
        ("M05 营业执照", 0),
        ("M08 不动产权证书", 2),
    ]
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "卷宗 2025-000123" and meta.author == "窗口 3 张三"
    assert meta["/Keywords"] == "营业执照, 不动产" and meta.creator == "workstation"
    assert meta.producer and meta.creation_date is not None
    # Page size = pixels / dpi in points.
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((827 * 72 / DPI, 1170 * 72 / DPI))
    assert reader.pages[2].extract_text().splitlines() == PAGE_TEXTS[2]


def test_font_is_embedded_and_listed(dossier: Path) -> None:
    needs("pdffonts")
    rows = run("pdffonts", str(dossier)).splitlines()[2:]
    assert len(rows) == 1
    assert rows[0].split()[:6] == ["GlyphLessFont", "CID", "TrueType", "Identity-H", "yes", "no"]
    # The font program is a real TrueType font FreeType can load.
    assert ImageFont.truetype(io.BytesIO(_glyphless_ttf()), 20).getlength("中文") == pytest.approx(40)


def test_text_layer_is_invisible(tmp_path: Path) -> None:
    needs("pdftoppm")
    blank = PdfPage(
        Image.new("L", (400, 300), 255), 100, [("看不见的文字", (20, 20, 380, 120)), ("ABC", (20, 150, 200, 280))]
    )
    build_searchable_pdf([blank], tmp_path / "blank.pdf", title="t")
    subprocess.run(
        ["pdftoppm", "-gray", "-png", "-r", "50", str(tmp_path / "blank.pdf"), str(tmp_path / "r")], check=True
    )
    (rendered,) = tmp_path.glob("r*.png")
    assert Image.open(rendered).convert("L").getextrema() == (255, 255)


def test_jpeg_bytes_are_embedded_unchanged(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("L", (300, 200), 200).save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    out = io.BytesIO()
    build_searchable_pdf([PdfPage(jpeg, 150, [("合同", (10, 10, 110, 60))])], out, title="jpeg")
    assert jpeg in out.getvalue()
    page = pypdf.PdfReader(io.BytesIO(out.getvalue())).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx((144, 96))


def test_bilevel_and_colour_images(tmp_path: Path) -> None:
    bilevel = Image.new("1", (203, 101), 1)
    ImageDraw.Draw(bilevel).rectangle((10, 10, 60, 40), fill=0)
    colour = Image.new("RGBA", (120, 80), (255, 0, 0, 128))
    build_searchable_pdf([PdfPage(bilevel, 200, []), PdfPage(colour, 72, [])], tmp_path / "x.pdf", title="x")
    reader = pypdf.PdfReader(tmp_path / "x.pdf")
    first = reader.pages[0].images[0].image
    assert first is not None and first.convert("1").tobytes() == bilevel.tobytes()  # lossless Flate
    second = reader.pages[1].images[0].image
    assert second is not None and second.mode == "RGB"


def test_empty_pages_non_bmp_and_explicit_bookmarks(tmp_path: Path) -> None:
    needs("pdftotext")
    pages = [
        PdfPage(Image.new("L", (200, 100), 255), 100, []),
        PdfPage(Image.new("L", (200, 100), 255), 100, [("  ", (0, 0, 10, 10))]),
        PdfPage(Image.new("L", (200, 100), 255), 100, [("权利人：王𠀀", (10, 10, 190, 40)), ("\x00", (0, 50, 10, 60))]),
    ]
    path = tmp_path / "e.pdf"
    build_searchable_pdf(pages, path, title="e", bookmarks=[("全部", 0), ("第三页", 2)])
    assert run("pdftotext", "-f", "1", "-l", "2", str(path), "-").strip("\f\n ") == ""
    assert run("pdftotext", "-f", "3", "-l", "3", str(path), "-").strip() == "权利人：王𠀀"
    reader = pypdf.PdfReader(path)
    assert [reader.get_destination_page_number(o) for o in reader.outline] == [0, 2]
    assert "/Font" not in reader.pages[0]["/Resources"]


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "dossier.pdf"
    target.write_bytes(b"old")
    pages = [PdfPage(Image.new("L", (50, 50), 255), 100, []), PdfPage(b"not an image at all", 100, [])]
    with pytest.raises(ValueError, match=r"^page 2: "):
        build_searchable_pdf(pages, target, title="t")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dossier.pdf"]
    assert target.read_bytes() == b"old"


def test_bad_input_raises_one_line_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as no_pages:
        build_searchable_pdf([], tmp_path / "none.pdf", title="t")
    assert "\n" not in str(no_pages.value) and "no pages" in str(no_pages.value)
    page = PdfPage(Image.new("L", (50, 50), 255), 0, [])
    with pytest.raises(ValueError, match="dpi"):
        build_searchable_pdf([page], tmp_path / "a.pdf", title="t")
    page = PdfPage(Image.new("L", (50, 50), 255), 100, [])
    with pytest.raises(ValueError, match="page index 3"):
        build_searchable_pdf([page], tmp_path / "a.pdf", title="t", bookmarks=[("x", 3)])
    assert list(tmp_path.iterdir()) == []
