"""The searchable dossier PDF (`workstation dossier export NUMBER --pdf OUT`): every page of the dossier under its
OCR text, bookmarked by material, with the dossier's metadata; a corrupt blob writes nothing."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdf
import pytest
from sqlalchemy import select

from ocr.engines import unavailable_reason
from workstation.config import load_settings
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor
from workstation.errors import BlobError, NotFound, UsageError
from workstation.services.desk import Desk, open_desk
from workstation.services.export import OTHER, export_pdf
from workstation.services.views import NewParty
from workstation.store.models import Page

ROOT = Path(__file__).resolve().parents[2]
SCANS = ROOT / "samples" / "scans"
LICENCE, CONTRACT = "case-01-M05-licence-buyer.jpg", "case-01-M11-contract.pdf"
BUYER = "济南海岱餐饮管理有限公司"
CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
CJK_GAP = re.compile(rf"{CJK}[ \t\u3000]+{CJK}")

# Known readings written straight into the store: (text, box in the prepared page's pixels).
LICENCE_LINES = [
    ("营业执照", (1000, 420, 1480, 540)),
    ("统一社会信用代码 91370102MA15LK9R0X", (300, 800, 1900, 870)),
    (f"名称：{BUYER}", (300, 900, 1500, 970)),
    ("法定代表人：方勇", (300, 1000, 900, 1070)),
]
CONTRACT_LINES = [
    ("存量房买卖合同", (560, 180, 1100, 260)),
    ("出卖人（甲方）：徐玉成", (150, 400, 900, 450)),
]


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package poppler-utils)")


def pdftotext(path: Path, page: int) -> str:
    needs("pdftotext")
    args = ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def text_lines(path: Path, page: int) -> list[str]:
    return [line.strip() for line in pdftotext(path, page).splitlines() if line.strip("\f \n")]


def outline(reader: pypdf.PdfReader) -> list[tuple[str, int | None]]:
    """The top-level bookmarks as (title, 0-based page index)."""
    return [
        (str(item.title), reader.get_destination_page_number(item))
        for item in reader.outline
        if isinstance(item, pypdf.generic.Destination)
    ]


def make_dossier(desk: Desk, clerk: Actor, tmp: Path) -> str:
    """A buyer's dossier with the buyer's licence (1 page) and the contract (2 pages), not read yet."""
    number = desk.dossiers.new(
        clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise", applicant_name=BUYER
    ).number
    inbox = tmp / "inbox"
    inbox.mkdir(exist_ok=True)
    for name in (LICENCE, CONTRACT):
        path = Path(shutil.copy(SCANS / name, inbox / name))
        assert desk.intake.ingest(clerk, path, number=number, source=name).outcome == "attached"
    return number


def write_readings(desk: Desk, clerk: Actor, number: str) -> None:
    """Page 1 (licence) and page 2 (contract p1) read with known lines; page 3 (contract p2) left unread."""
    pages = desk.dossiers.show(number).pages
    assert [p.position for p in pages] == [1, 2, 3]
    with desk.db.transaction() as session:
        rows = {p.id: p for p in session.execute(select(Page).where(Page.id.in_([p.id for p in pages]))).scalars()}
        for view, lines in ((pages[0], LICENCE_LINES), (pages[1], CONTRACT_LINES)):
            row = rows[view.id]
            row.ocr_status = "done"
            row.ocr_lines = [[text, list(box), 0.99] for text, box in lines]
            row.ocr_text = "\n".join(text for text, _box in lines)
    desk.dossiers.move_page(clerk, number, pages[0].id, material="M05", party_key="p1")
    desk.dossiers.move_page(clerk, number, pages[1].id, material="M11")


@pytest.fixture
def number(desk: Desk, clerk: Actor, tmp_path: Path) -> str:
    made = make_dossier(desk, clerk, tmp_path)
    write_readings(desk, clerk, made)
    return made


def test_the_pdf_has_every_page_its_text_bookmarks_and_metadata(
    desk: Desk, clerk: Actor, number: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out" / "dossier.pdf"
    out.parent.mkdir()
    with caplog.at_level(logging.INFO, logger="workstation.export"):
        report = export_pdf(desk, clerk, number, out)

    assert (report.pages, report.with_text, report.without_text, report.unread) == (3, 2, 1, (3,))
    assert report.path == str(out) and report.size == out.stat().st_size
    assert [r.getMessage() for r in caplog.records if r.name == "workstation.export" and number in r.getMessage()]

    # Checklist order: the contract (a material of the dossier) before the buyer's licence, then the page of no
    # material. The Chinese lines come out whole, in order, with no space put between the characters.
    assert text_lines(out, 1) == [text for text, _box in CONTRACT_LINES]
    assert text_lines(out, 2) == [text for text, _box in LICENCE_LINES]
    assert text_lines(out, 3) == []  # not read yet: the image only
    everything = "".join(pdftotext(out, page) for page in (1, 2, 3))
    assert BUYER in everything and not CJK_GAP.search(everything)

    reader = pypdf.PdfReader(out, strict=True)
    assert len(reader.pages) == 3
    marks = outline(reader)
    assert marks == [("M11 存量房买卖合同", 0), (f"M05 营业执照 — 买受人 {BUYER}", 1), (OTHER, 2)]
    assert [(t, p - 1) for t, p in report.bookmarks] == marks
    meta = reader.metadata
    assert meta is not None
    assert meta.title == f"不动产登记案卷 {number}" and number in meta.title
    assert meta.subject == "企业购买非住宅"
    assert meta.author == f"{desk.settings.station_name} ({desk.settings.station_id})"
    assert meta["/Keywords"] == f"{number}, ENT_NONRES_TRANSFER"
    # Page sizes follow the scans: the contract rendered at 200 dpi, the licence at 300 dpi A4.
    assert float(reader.pages[0].mediabox.width) == pytest.approx(1654 * 72 / 200)
    assert float(reader.pages[1].mediabox.width) == pytest.approx(2480 * 72 / 300)


def test_the_text_sits_where_the_stored_box_says(desk: Desk, clerk: Actor, number: str, tmp_path: Path) -> None:
    needs("pdftotext")
    out = export_pdf(desk, clerk, number, tmp_path / "d.pdf").path
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", "2", "-l", "2", out, "-"], capture_output=True, text=True, check=True
    ).stdout
    x0, y0, x1, y1 = next(
        m.groups()[:4]
        for m in re.finditer(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)<', bbox)
        if m.group(5) == "营业执照"
    )
    left, top, right, bottom = (v * 72 / 300 for v in LICENCE_LINES[0][1])
    assert (float(x0), float(y0), float(x1), float(y1)) == pytest.approx((left, top, right, bottom), abs=0.5)


def test_deleted_pages_stay_out(desk: Desk, clerk: Actor, number: str, tmp_path: Path) -> None:
    pages = desk.dossiers.show(number).pages
    desk.dossiers.delete_page(clerk, number, pages[2].id, reason="重复")
    report = export_pdf(desk, clerk, number, tmp_path / "d.pdf")
    assert (report.pages, report.with_text, report.without_text) == (2, 2, 0)
    assert len(pypdf.PdfReader(tmp_path / "d.pdf").pages) == 2


def test_a_corrupt_blob_stops_the_export_and_writes_nothing(
    desk: Desk, clerk: Actor, number: str, tmp_path: Path
) -> None:
    contract = desk.dossiers.show(number).pages[1]
    blob = desk.blobs.path_for(contract.sha256)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(BlobError) as failed:
        export_pdf(desk, clerk, number, folder / "d.pdf")
    message = str(failed.value)
    assert "\n" not in message and "corrupt" in message and CONTRACT in message and number in message
    assert list(folder.iterdir()) == []


def test_a_missing_blob_is_one_line_too(desk: Desk, clerk: Actor, number: str, tmp_path: Path) -> None:
    licence = desk.dossiers.show(number).pages[0]
    desk.blobs.path_for(licence.sha256).unlink()
    with pytest.raises(BlobError, match="missing"):
        export_pdf(desk, clerk, number, tmp_path / "d.pdf")
    assert not (tmp_path / "d.pdf").exists()


def test_who_may_export(desk: Desk, clerk: Actor, number: str, tmp_path: Path) -> None:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="qc1", password="qc-pass-001", roles=["qc"])
    assert export_pdf(desk, desk.users.actor("qc1"), number, tmp_path / "qc.pdf").pages == 3
    nobody = Actor(user_id="x", username="nobody", roles=frozenset())
    with pytest.raises(PermissionDenied, match="dossier_view"):
        export_pdf(desk, nobody, number, tmp_path / "nobody.pdf")
    assert not (tmp_path / "nobody.pdf").exists()


def test_bad_numbers_and_targets(desk: Desk, clerk: Actor, number: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        export_pdf(desk, clerk, "local-2020-999999", tmp_path / "x.pdf")
    with pytest.raises(UsageError, match="does not exist"):
        export_pdf(desk, clerk, number, tmp_path / "no" / "such" / "x.pdf")
    with pytest.raises(UsageError, match="directory"):
        export_pdf(desk, clerk, number, tmp_path)
    empty = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    with pytest.raises(UsageError, match="no pages"):
        export_pdf(desk, clerk, empty, tmp_path / "empty.pdf")
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "empty.pdf").exists()


def test_the_cli_writes_the_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("WS_"):
            monkeypatch.delenv(key)
    data = tmp_path / "desk"
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    try:
        admin = desk.users.actor("admin")
        desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
        clerk = desk.users.actor("clerk1")
        number = make_dossier(desk, clerk, tmp_path)
        write_readings(desk, clerk, number)
    finally:
        desk.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}

    def ws(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "workstation", "--data-dir", str(data), *args]
        password = "clerk-pass-1" if "--as" in args else "admin-pass-1"
        return subprocess.run(
            command, capture_output=True, text=True, env={**env, "WS_PASSWORD": password}, timeout=120, cwd=ROOT
        )

    out = tmp_path / "案卷.pdf"
    proc = ws("dossier", "export", number, "--pdf", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"已写出 wrote {out}: 3 pages (2 with text)"
    assert len(pypdf.PdfReader(out).pages) == 3

    proc = ws("--as", "clerk1", "dossier", "export", number, "--pdf", str(tmp_path / "b.pdf"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["pages"], report["with_text"], report["without_text"], report["unread"]) == (3, 2, 1, [3])
    assert report["bookmarks"][:2] == [
        {"title": "M11 存量房买卖合同", "page": 1},
        {"title": f"M05 营业执照 — 买受人 {BUYER}", "page": 2},
    ]
    log = (data / "logs" / "workstation.log").read_text("utf-8")
    assert f"INFO workstation.export dossier {number} exported by clerk1" in log

    for args, code in (
        (("dossier", "export", "local-2020-999999", "--pdf", str(tmp_path / "c.pdf")), 2),
        (("dossier", "export", number), 2),  # --pdf is required
    ):
        proc = ws(*args)
        assert proc.returncode == code, (proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "c.pdf").exists()

    blob = next((data / "blobs").glob("??/??/*"))
    blob.write_bytes(blob.read_bytes() + b"tampered")
    proc = ws("dossier", "export", number, "--pdf", str(tmp_path / "d.pdf"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "nothing was written" in proc.stderr
    assert not (tmp_path / "d.pdf").exists()


def page_image(reader: pypdf.PdfReader, index: int) -> pypdf.generic.StreamObject:
    """The one image XObject drawn on page `index`."""
    xobjects = reader.pages[index]["/Resources"]["/XObject"]
    (image,) = (ref.get_object() for ref in xobjects.values())
    assert image["/Subtype"] == "/Image"
    return image


def test_a_colour_scan_is_stored_as_received_and_exported_in_colour_gray_and_bilevel_ones_stay_so(
    desk: Desk, clerk: Actor, tmp_path: Path
) -> None:
    from tests.unit.test_colour import sealed_page

    number = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    colour, _text, _seal = sealed_page()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = {
        "licence.jpg": (colour, {"quality": 85}),
        "contract.png": (colour.convert("L"), {}),
        "notice.tif": (
            colour.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1"),
            {"compression": "group4"},
        ),
    }
    for name, (image, params) in files.items():
        image.save(inbox / name, dpi=(150, 150), **params)
        assert desk.intake.ingest(clerk, inbox / name, number=number, source=name).outcome == "attached"
    pages = desk.dossiers.show(number).pages
    received = (inbox / "licence.jpg").read_bytes()
    assert desk.blobs.read(pages[0].sha256) == received  # the file as received, colour and all

    out = tmp_path / "d.pdf"
    export_pdf(desk, clerk, number, out)
    reader = pypdf.PdfReader(out, strict=True)
    first, second, third = (page_image(reader, index) for index in range(3))
    assert (first["/ColorSpace"], first["/Filter"]) == ("/DeviceRGB", "/DCTDecode")
    assert first.get_data() == received  # a straight page goes in as the JPEG it was stored as
    assert (second["/ColorSpace"], second["/BitsPerComponent"]) == ("/DeviceGray", 8)
    assert (third["/ColorSpace"], third["/BitsPerComponent"]) == ("/DeviceGray", 1)
    shown = reader.pages[0].images[0].image
    assert shown is not None and shown.mode == "RGB"


def test_a_skewed_colour_scan_is_straightened_in_colour_at_a_reasonable_size(
    desk: Desk, clerk: Actor, number: str, tmp_path: Path
) -> None:
    out = tmp_path / "d.pdf"
    export_pdf(desk, clerk, number, out)
    reader = pypdf.PdfReader(out, strict=True)
    contract, licence = page_image(reader, 0), page_image(reader, 1)
    assert (licence["/ColorSpace"], licence["/Filter"]) == ("/DeviceRGB", "/DCTDecode")
    assert (licence["/Width"], licence["/Height"]) == (2480, 3508)
    assert len(licence.get_data()) < 1.5 * (SCANS / LICENCE).stat().st_size
    assert contract["/ColorSpace"] == "/DeviceGray"


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason("rapidocr") is not None, reason="rapidocr is not installed")
def test_real_ocr_then_export(desk: Desk, clerk: Actor, tmp_path: Path) -> None:
    number = make_dossier(desk, clerk, tmp_path)
    runner = desk.ocr_runner("rapidocr")
    try:
        runner.run_until_idle(timeout=900)
    finally:
        runner.stop()
    assert [p.ocr_status for p in desk.dossiers.show(number).pages] == ["done"] * 3
    out = tmp_path / "d.pdf"
    report = export_pdf(desk, clerk, number, out)
    assert (report.pages, report.with_text, report.without_text) == (3, 3, 0)

    reader = pypdf.PdfReader(out, strict=True)
    marks = outline(reader)
    first = {title.split()[0]: page for title, page in reversed(marks) if page is not None}
    assert {"M05", "M11"} <= first.keys() and first["M11"] < first["M05"]  # checklist order
    licence, contract = pdftotext(out, first["M05"] + 1), pdftotext(out, first["M11"] + 1)
    assert "营业执照" in licence and BUYER in licence
    assert "存量房买卖合同" in contract
    # The boxes fit the exported image: the licence's title sits in the top fifth of its page.
    needs("pdftotext")
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(first["M05"] + 1), "-l", str(first["M05"] + 1), str(out), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    top = next(float(m.group(1)) for m in re.finditer(r'yMin="([\d.]+)"[^>]*>营业执照<', bbox))
    assert top < float(reader.pages[first["M05"]].mediabox.height) / 5


def test_pages_come_in_checklist_order_then_the_rest_each_in_its_colour(
    desk: Desk, clerk: Actor, tmp_path: Path
) -> None:
    """Scanned in the order the applicant handed them over; exported in the dossier's checklist order (the
    dossier's own materials, then each party's), a slot's pages in scan order, pages of no slot last."""
    from tests.unit.test_colour import sealed_page

    detail = desk.dossiers.new(
        clerk,
        business="ENT_NONRES_TRANSFER",
        applicant_kind="enterprise",
        applicant_name=BUYER,
        parties=[NewParty(role="seller", kind="individual", name="徐玉成", id_value="370102198701055097")],
    )
    buyer, seller = (p.key for p in detail.parties)
    colour, _text, _seal = sealed_page()

    def scan(width: int, mode: str, fmt: str) -> bytes:
        image = colour.resize((width, 600))
        buffer = io.BytesIO()
        (image if mode == "RGB" else image.convert("L")).save(buffer, fmt, dpi=(150, 150))
        return buffer.getvalue()

    # (width that tells the page apart, mode, format, material, party) in the order they were scanned
    scanned = [
        (810, "RGB", "JPEG", "M03", seller),
        (820, "RGB", "PNG", "M05", buyer),
        (830, "L", "PNG", None, None),
        (840, "RGB", "TIFF", "M11", None),
        (850, "L", "JPEG", "M01", None),
        (860, "RGB", "JPEG", "M11", None),
    ]
    media = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}
    for width, mode, fmt, material, party in scanned:
        desk.dossiers.attach_page(
            clerk,
            detail.number,
            data=scan(width, mode, fmt),
            source_name=f"{width}.{fmt.lower()}",
            media_type=media[fmt],
            material=material,
            party_key=party,
        )

    out = tmp_path / "d.pdf"
    report = export_pdf(desk, clerk, detail.number, out)
    reader = pypdf.PdfReader(out, strict=True)
    shown = []
    for page in reader.pages:
        (picture,) = page.images
        assert picture.image is not None
        shown.append((picture.image.width, picture.image.mode))
    assert shown == [(850, "L"), (840, "RGB"), (860, "RGB"), (820, "RGB"), (810, "RGB"), (830, "L")]
    # The red seal is still red on a colour page that was not stored as JPEG.
    licence = reader.pages[3].images[0].image
    assert licence is not None
    red, green, blue = (channel.astype(int) for channel in np.asarray(licence.convert("RGB")).transpose(2, 0, 1))
    assert ((red > 150) & (green < 110) & (blue < 110)).mean() > 0.01
    assert [title for title, _page in report.bookmarks] == [
        "M01 不动产登记申请书",
        "M11 存量房买卖合同",
        f"M05 营业执照 — 买受人 {BUYER}",
        "M03 居民身份证 — 出卖人 徐玉成",
        OTHER,
    ]
    assert [page for _title, page in report.bookmarks] == [1, 2, 4, 5, 6]
    assert outline(reader) == [(title, page - 1) for title, page in report.bookmarks]
