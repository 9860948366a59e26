"""Page images for display: read from the blob store, turned upright, downscaled, cached; bad scans named."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy import select, update

from ocr.preprocess import rotate_quadrant
from tests.review_helpers import submitted
from tests.tui_helpers import add_user, make_desk
from workstation.domain.permissions import Actor
from workstation.errors import BlobError, NotFound
from workstation.services.desk import Desk
from workstation.services.pages import PageImages
from workstation.store.models import Dossier, Field, Finding, Page

LINES = [
    ("营业执照", 0.99),
    ("统一社会信用代码 91350100M000100Y43", 0.98),
    ("名称 济南泉城商贸有限公司", 0.97),
    ("法定代表人 张建华", 0.6),
]


def scan(size: tuple[int, int] = (600, 300)) -> Image.Image:
    """A wide page with a black block in its top-left corner, so its orientation can be told."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((10, 10, 110, 60), fill=0)
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def real_page(
    desk: Desk,
    number: str,
    image: Image.Image | None = None,
    *,
    rotation: int = 0,
    lines: list[tuple[str, float]] = LINES,
    problems: bool = False,
) -> str:
    """Give the dossier's first page a real scan and OCR lines (the page `submitted` made holds only text).

    `problems` adds an invalid field and an error finding, so a 补正 list is suggested.
    Returns the page's id.
    """
    sha = desk.blobs.put_bytes(png(image or scan()))
    with desk.db.transaction() as session:
        dossier_id = session.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
        page_id = session.execute(
            select(Page.id).where(Page.dossier_id == dossier_id).order_by(Page.position).limit(1)
        ).scalar_one()
        session.execute(
            update(Page)
            .where(Page.id == page_id)
            .values(
                sha256=sha,
                rotation=rotation,
                ocr_status="done",
                ocr_lines=[[text, [10, 10 + 40 * i, 500, 40 + 40 * i], c] for i, (text, c) in enumerate(lines)],
                ocr_text="\n".join(text for text, _c in lines),
            )
        )
        session.add(
            Field(dossier_id=dossier_id, page_id=page_id, key="org_name", value="济南泉城商贸有限公司", valid=True)
        )
        if problems:
            session.add(
                Field(dossier_id=dossier_id, page_id=page_id, key="uscc", value="91350100M000100Y4X", valid=False)
            )
            session.add(
                Finding(
                    dossier_id=dossier_id,
                    rule="name_matches",
                    severity="error",
                    message="申请人名称与营业执照不一致",
                    page_ids=[page_id],
                )
            )
    return page_id


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return make_desk(tmp_path, monkeypatch)


@pytest.fixture
def clerk(desk: Desk) -> Actor:
    return add_user(desk, "clerk1", ["clerk"])


def test_a_page_is_shown_upright_by_its_stored_rotation(desk: Desk, clerk: Actor) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number, rotation=90)
    shown = PageImages(desk).image(number, page_id)
    assert shown.size == (300, 600)
    assert ImageChops.difference(shown.convert("L"), rotate_quadrant(scan(), -90)).getbbox() is None


def test_a_colour_page_is_shown_in_colour_and_a_gray_one_in_gray(desk: Desk, clerk: Actor) -> None:
    from tests.unit.test_colour import sealed_page

    colour = sealed_page()[0]
    number = submitted(desk, clerk).number
    shown = PageImages(desk).image(number, real_page(desk, number, colour))
    assert shown.mode == "RGB"
    assert ImageChops.difference(shown, colour).getbbox() is None  # the red seal as scanned
    other = submitted(desk, clerk).number
    assert PageImages(desk).image(other, real_page(desk, other, colour.convert("L"))).mode == "L"


def test_a_large_scan_is_downscaled_to_the_display_size_keeping_its_shape(desk: Desk, clerk: Actor) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number, scan((2480, 3508)))
    shown = PageImages(desk, max_side=800).image(number, page_id)
    assert max(shown.size) == 800
    assert shown.size[0] == round(2480 * 800 / 3508)


def test_the_selected_page_is_decoded_once_then_served_from_the_cache(desk: Desk, clerk: Actor) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number)
    pages = PageImages(desk)
    first = pages.image(number, page_id)
    assert pages.image(number, page_id) is first
    assert pages.decoded == 1


def test_a_rotated_page_is_decoded_afresh(desk: Desk, clerk: Actor) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number)
    pages = PageImages(desk)
    assert pages.image(number, page_id).size == (600, 300)
    with desk.db.transaction() as session:
        session.execute(update(Page).where(Page.id == page_id).values(rotation=270))
    assert pages.image(number, page_id).size == (300, 600)
    assert pages.decoded == 2


def test_the_cache_keeps_only_the_last_few_pages(desk: Desk, clerk: Actor) -> None:
    pages = PageImages(desk, cache_size=2)
    shown = []
    for width in (600, 610, 620):  # three different scans
        number = submitted(desk, clerk).number
        shown.append((number, real_page(desk, number, scan((width, 300)))))
    for number, page_id in shown:
        pages.image(number, page_id)
    pages.image(*shown[0])  # evicted by the third: decoded again
    assert pages.decoded == 4


def test_a_stored_file_that_is_not_an_image_is_named_not_raised_raw(desk: Desk, clerk: Actor) -> None:
    detail = submitted(desk, clerk)  # its pages hold text, not scans
    with pytest.raises(BlobError, match=f"dossier {detail.number}, page 1: the stored scan cannot be shown"):
        PageImages(desk).image(detail.number, detail.pages[0].id)


def test_a_missing_blob_and_an_unknown_page_are_errors_for_the_user(desk: Desk, clerk: Actor) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number)
    with pytest.raises(NotFound):
        PageImages(desk).image(number, "not-a-page")
    sha = desk.dossiers.show(number).pages[0].sha256
    desk.blobs.delete(sha)
    with pytest.raises(BlobError):
        PageImages(desk).image(number, page_id)


def test_full_resolution_is_a_png_copy_for_the_system_viewer(desk: Desk, clerk: Actor, tmp_path: Path) -> None:
    number = submitted(desk, clerk).number
    page_id = real_page(desk, number, rotation=180)
    path = PageImages(desk).full_resolution(number, page_id, tmp_path)
    assert path.parent == tmp_path and path.suffix == ".png" and path.name.startswith(f"{number}-p1-")
    with Image.open(path) as copy:
        assert copy.size == (600, 300)
        assert ImageChops.difference(copy.convert("L"), rotate_quadrant(scan(), 180)).getbbox() is None


def test_full_size_copies_live_in_the_data_dir_and_old_ones_are_removed(desk: Desk, clerk: Actor) -> None:
    import os
    import time

    from workstation.services.pages import FULL_SIZE_DIR, FULL_SIZE_KEEP_SECONDS

    number = submitted(desk, clerk).number
    page_id = real_page(desk, number)
    first = PageImages(desk).full_resolution(number, page_id)
    assert first.parent == Path(desk.settings.data_dir) / FULL_SIZE_DIR
    old = time.time() - FULL_SIZE_KEEP_SECONDS - 60
    os.utime(first, (old, old))  # viewed more than an hour ago
    second = PageImages(desk).full_resolution(number, page_id)
    assert second.is_file() and not first.exists()
