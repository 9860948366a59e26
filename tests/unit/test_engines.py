"""The OCR engines on real renders: Chinese lines drawn with Noto CJK at 300 dpi, read back."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.engines import DEFAULT_ENGINE, ENGINES, available_engines, get_engine
from ocr.engines.base import Line, reading_order, upright
from ocr.engines.replay import ReplayEngine, image_key, load, record, save
from ocr.errors import EngineFailed, EngineUnavailable
from ocr.pool import OcrPool, worker_engine
from ocr.text import normalize_line, strip_cjk_spaces

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
PT12 = 50  # 12 pt at 300 dpi, in px
LINES = [
    "不动产权证书",
    "统一社会信用代码 91370102MA3C8Q1X2K",
    "坐落 济南市历下区泺源大街12号",
    "权利人 山东鲁信置业有限公司",
    "不动产单元号 370102001003GB00012F00010002",
    "面积 89.56平方米 用途 成套住宅",
]

pytestmark = pytest.mark.skipif(
    not Path(FONT).exists(), reason=f"no CJK font at {FONT} (apt-get install fonts-noto-cjk)"
)
TESSERACT_MISSING = available_engines()["tesseract"]
needs_tesseract = pytest.mark.skipif(TESSERACT_MISSING is not None, reason=str(TESSERACT_MISSING))


def render(lines: list[str], width: int = 2480, size: int = PT12) -> tuple[Image.Image, list[tuple[str, tuple]]]:
    """A white 300-dpi page strip with one text line per entry; returns the image and each line's box."""
    font = ImageFont.truetype(FONT, size, index=2)  # Noto Sans CJK SC
    image = Image.new("L", (width, 200 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(image)
    boxes = []
    for i, text in enumerate(lines):
        xy = (200, 120 + i * size * 2)
        draw.text(xy, text, font=font, fill=0)
        boxes.append((text, tuple(round(v) for v in draw.textbbox(xy, text, font=font))))
    return image, boxes


def cer(truth: str, read: str) -> float:
    a, b = "".join(truth.split()), "".join(read.split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(1, len(a))


def has_space_between_cjk(text: str) -> bool:
    return any(
        text[i] == " " and "\u4e00" <= text[i - 1] <= "\u9fff" and "\u4e00" <= text[i + 1] <= "\u9fff"
        for i in range(1, len(text) - 1)
    )


@pytest.fixture(scope="module")
def rapid() -> Iterator[object]:
    yield get_engine("rapidocr")


@pytest.fixture(scope="module")
def page() -> tuple[Image.Image, list[tuple[str, tuple]]]:
    return render(LINES)


# -- text helpers --------------------------------------------------------------------------------


def test_strip_cjk_spaces_joins_chinese_and_keeps_latin_gaps() -> None:
    assert strip_cjk_spaces("不 动 产 权 证 书") == "不动产权证书"
    assert strip_cjk_spaces("面积 ： 89.56") == "面积：89.56"
    assert strip_cjk_spaces("统一社会信用代码 9137 ABC") == "统一社会信用代码 9137 ABC"
    assert strip_cjk_spaces("Room 12 室") == "Room 12 室"


def test_normalize_line_collapses_whitespace_and_narrows_digits_but_keeps_chinese_punctuation() -> None:
    assert normalize_line("  坐落：\t济南市\u3000历下区  １２号（东）\n") == "坐落：济南市历下区 12号（东）"
    assert normalize_line(normalize_line("Ａ 座  ３０１")) == "A 座 301"


# -- RapidOCR --------------------------------------------------------------------------------------


def test_rapidocr_reads_rendered_chinese_lines_in_order(rapid, page) -> None:  # type: ignore[no-untyped-def]
    image, printed = page
    lines = rapid.read(image)
    assert len(lines) == len(printed)
    total_errors = sum(
        cer(text, ln.text) * len(text.replace(" ", "")) for (text, _), ln in zip(printed, lines, strict=True)
    )
    assert total_errors / sum(len(t.replace(" ", "")) for t, _ in printed) <= 0.02
    for (_, box), line in zip(printed, lines, strict=True):
        left, top, right, bottom = line.box
        assert 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
        assert top <= (box[1] + box[3]) / 2 <= bottom  # the line read is where it was printed
        assert 0.0 <= line.confidence <= 1.0
        assert not has_space_between_cjk(line.text)


def test_rapidocr_starts_and_reads_with_the_network_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("RapidOCR tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("rapidocr.utils.download_file.DownloadFile.run", refuse)
    image, _ = render(["不动产登记申请书"])
    assert [ln.text for ln in get_engine("rapidocr").read(image)] == ["不动产登记申请书"]


def test_table_row_cells_are_separate_lines_left_to_right(rapid) -> None:  # type: ignore[no-untyped-def]
    font = ImageFont.truetype(FONT, PT12, index=2)
    image = Image.new("L", (2480, 600), 255)
    draw = ImageDraw.Draw(image)
    for x, text in ((1700, "面积"), (200, "坐落"), (700, "济南市历下区"), (2000, "89.56")):
        draw.text((x, 150), text, font=font, fill=0)
    draw.text((200, 350), "用途 成套住宅", font=font, fill=0)
    assert [ln.text for ln in rapid.read(image)] == ["坐落", "济南市历下区", "面积", "89.56", "用途成套住宅"]


def test_reading_order_puts_a_row_before_the_next_and_cells_left_to_right() -> None:
    lines = [Line("c", (900, 105, 1000, 150), 1), Line("d", (0, 300, 100, 340), 1), Line("a", (0, 100, 100, 140), 1)]
    assert [ln.text for ln in reading_order(lines)] == ["a", "c", "d"]


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_rapidocr_orientation_finds_how_the_page_is_turned(rapid, page, turn: int) -> None:  # type: ignore[no-untyped-def]
    image, _ = page
    turned = image.rotate(-turn, expand=True)  # PIL turns counter-clockwise: this is `turn`° clockwise
    found, confidence = rapid.orientation(turned)
    assert found == turn and 0.5 <= confidence <= 1.0
    assert upright(turned, found).tobytes() == image.tobytes()


def area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def test_an_upside_down_page_is_detected_once_and_reads_as_the_upright_page(page) -> None:  # type: ignore[no-untyped-def]
    from ocr.engines.rapid import RapidEngine
    from ocr.loading import PageImage
    from ocr.pipeline import read_page

    engine = get_engine("rapidocr")
    assert isinstance(engine, RapidEngine)
    image, _printed = page
    detections = []
    detect = engine._detect
    engine._detect = lambda gray: detections.append(gray.shape) or detect(gray)  # type: ignore[method-assign]
    turned = read_page(PageImage(image.rotate(180), 1, 300, "turned.png"), engine)
    assert turned.rotation == 180
    assert len(detections) == 1  # orientation's detection, carried through the turn; not a second one
    detections.clear()
    as_printed = read_page(PageImage(image, 1, 300, "upright.png"), engine)
    assert len(detections) == 1
    assert [ln.text for ln in turned.lines] == [ln.text for ln in as_printed.lines]
    for a, b in zip(turned.lines, as_printed.lines, strict=True):
        # The same line's box: detection encloses the ink, which sits a little lower or higher in a line's height
        # when the page is upside down (measured: 11 px of a 66 px line), and runs at a reduced scale.
        width = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
        height = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
        union = area(a.box) + area(b.box) - max(0, width) * max(0, height)
        assert max(0, width) * max(0, height) >= 0.6 * union, (a.box, b.box)


def test_rapidocr_detect_gives_boxes_only(rapid, page) -> None:  # type: ignore[no-untyped-def]
    image, printed = page
    boxes = rapid.detect(image)
    assert len(boxes) == len(printed)
    assert all(0 <= b[0] < b[2] <= image.width and 0 <= b[1] < b[3] <= image.height for b in boxes)


def test_a_blank_page_reads_as_no_lines(rapid) -> None:  # type: ignore[no-untyped-def]
    assert rapid.read(Image.new("L", (2480, 3508), 255)) == []
    assert rapid.orientation(Image.new("L", (1000, 1000), 255)) == (0, 0.0)


# -- Tesseract -------------------------------------------------------------------------------------


@needs_tesseract
def test_tesseract_reads_rendered_lines_without_spaces_between_chinese(page) -> None:  # type: ignore[no-untyped-def]
    image, printed = page
    lines = get_engine("tesseract").read(image)
    read = "\n".join(ln.text for ln in lines)
    truth = "\n".join(text for text, _ in printed)
    assert cer(truth, read) <= 0.10
    assert all(not has_space_between_cjk(ln.text) for ln in lines)
    assert [ln.box[1] for ln in lines] == sorted(ln.box[1] for ln in lines)
    assert all(0 <= ln.box[0] < ln.box[2] <= image.width and 0 <= ln.box[1] < ln.box[3] <= image.height for ln in lines)
    assert all(0.0 <= ln.confidence <= 1.0 for ln in lines)


@needs_tesseract
@pytest.mark.parametrize("turn", [90, 180])
def test_tesseract_orientation_finds_how_the_page_is_turned(turn: int) -> None:
    image, _ = render(LINES * 2)
    found, _confidence = get_engine("tesseract").orientation(image.rotate(-turn, expand=True))
    assert found == turn


def test_a_missing_tesseract_binary_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/bin/tesseract")
    with pytest.raises(EngineUnavailable) as caught:
        get_engine("tesseract")
    message = str(caught.value)
    assert "\n" not in message and "apt-get install tesseract-ocr" in message
    assert available_engines()["tesseract"] == message


def test_an_unknown_engine_is_reported_in_one_line_naming_the_engines() -> None:
    with pytest.raises(EngineUnavailable) as caught:
        get_engine("nope")
    assert str(caught.value) == "unknown engine 'nope'; engines: rapidocr, tesseract"
    assert DEFAULT_ENGINE == "rapidocr" and ENGINES == ("rapidocr", "tesseract")


# -- replay ----------------------------------------------------------------------------------------


def test_replay_engine_plays_back_recorded_readings(tmp_path: Path) -> None:
    class Fixed:
        name = "fixed"

        def read(self, image: Image.Image) -> list[Line]:
            return [Line(f"第{image.width}页", (1, 2, 3, 4), 0.9)]

    pages = [Image.new("L", (10, 10), 255), Image.new("L", (20, 10), 255)]
    save(record(Fixed(), pages), tmp_path / "readings.json")
    replay = ReplayEngine.load(tmp_path / "readings.json")
    assert replay.read(pages[1].copy()) == [Line("第20页", (1, 2, 3, 4), 0.9)]
    assert load(tmp_path / "readings.json")[image_key(pages[0])][0].text == "第10页"
    with pytest.raises(EngineFailed):
        replay.read(Image.new("L", (30, 10), 0))


# -- the process pool -------------------------------------------------------------------------------


def pid_and_engine(delay: float) -> tuple[int, str, str | None]:
    import time

    time.sleep(delay)
    return os.getpid(), worker_engine().name, os.environ.get("OMP_THREAD_LIMIT")


def die() -> None:
    os._exit(3)


def test_pool_runs_tasks_in_two_worker_processes_each_with_one_engine() -> None:
    with OcrPool(workers=2) as pool:
        results = list(pool.map(pid_and_engine, [0.5] * 4))
        assert {engine for _, engine, _ in results} == {"rapidocr"}
        assert {limit for _, _, limit in results} == {"1"}
        assert len({pid for pid, _, _ in results}) == 2
        stats = pool.peak_rss_mb()
        assert len(stats) == 2 and all(0 < mb < 4000 for mb in stats.values())


def test_pool_reports_a_dead_worker_as_engine_failed_and_starts_anew() -> None:
    with OcrPool(workers=2) as pool:
        first = pool.submit(pid_and_engine, 0).result()[0]
        with pytest.raises(EngineFailed):
            pool.submit(die).result()
        pid, engine, _ = pool.submit(pid_and_engine, 0).result()
        assert engine == "rapidocr" and pid != first and pool.restarts == 1


@needs_tesseract
def test_tesseract_orientation_without_the_osd_model_reads_the_page_every_way(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine("tesseract")
    monkeypatch.setattr(engine, "_has_osd", False)
    image, _ = render(LINES * 2)
    assert engine.orientation(image.rotate(180))[0] == 180
