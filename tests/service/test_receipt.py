"""受理回执: the receipt's text, its PDF (a text layer in an embedded CJK font), and the CLI that prints or writes
it. A person-facing document names people by name: the clerk by the name on their account, not their login."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from tests.tui_helpers import make_desk
from workstation.cli import main
from workstation.domain.permissions import Actor
from workstation.errors import WorkstationError
from workstation.services.desk import Desk
from workstation.services.receipt import (
    ReceiptParty,
    build_receipt,
    receipt_path,
    receipt_text,
    wrap,
    write_receipt_pdf,
)
from workstation.services.views import NewParty

BUYER = "济南海岱餐饮管理有限公司"
BUYER_USCC = "91370102MA15LK9R0X"
SELLER = "徐玉成"
SELLER_ID = "370102198701055097"
CLERK_NAME = "王小梅"
MASKED = ("913701********9R0X", "370102********5097")


def _clerk(desk: Desk) -> Actor:
    admin = desk.users.actor("admin")
    desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"], display_name=CLERK_NAME)
    return desk.users.actor("clerk1")


def _submitted(desk: Desk) -> str:
    clerk = _clerk(desk)
    detail = desk.dossiers.new(
        clerk,
        business="ENT_NONRES_TRANSFER",
        applicant_kind="enterprise",
        applicant_name=BUYER,
        applicant_id=BUYER_USCC,
        applied_at=datetime(2026, 9, 30, 1, 0, tzinfo=UTC),
        parties=[NewParty(role="seller", kind="individual", name=SELLER, id_value=SELLER_ID)],
    )
    for slot in detail.slots:
        if not slot.required:
            continue
        copies = 2 if slot.material == "M11" else 1
        for copy in range(copies):
            desk.dossiers.attach_page(
                clerk,
                detail.number,
                data=f"{slot.material} {slot.party_key} {copy}".encode(),
                source_name=f"{slot.material}-{copy}.png",
                media_type="image/png",
                material=slot.material,
                party_key=slot.party_key,
            )
    desk.dossiers.submit(clerk, detail.number)
    return detail.number


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    return make_desk(tmp_path, monkeypatch)


def test_receipt_names_dossier_parties_materials_with_page_counts_and_time_limit(desk: Desk) -> None:
    number = _submitted(desk)
    clerk = desk.users.actor("clerk1")
    text = receipt_text(build_receipt(desk, clerk, number))

    assert text.startswith("不动产登记受理回执")
    assert f"受理号 {number}" in text
    assert "业务 企业购买非住宅 (ENT_NONRES_TRANSFER)" in text
    assert f"买受人(企业) {BUYER}  统一社会信用代码 913701********9R0X" in text
    assert f"出卖人(个人) {SELLER}  身份证号 370102********5097" in text
    assert BUYER_USCC not in text and SELLER_ID not in text
    assert "  M11 存量房买卖合同(新建房屋为商品房买卖合同)  2 页" in text
    assert f"  M03 居民身份证 — 出卖人 {SELLER}  1 页" in text
    assert "办理时限 " in text and "个工作日" in text and "前办结" in text
    assert text.endswith(f"经办人 {CLERK_NAME}") and "clerk1" not in text
    accepted = desk.dossiers.show(number).accepted_at
    assert accepted is not None
    assert "受理时间 2" in text  # a time, not "not accepted yet"


def test_a_draft_receipt_says_it_is_not_accepted_yet(desk: Desk) -> None:
    clerk = _clerk(desk)
    number = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    text = receipt_text(build_receipt(desk, clerk, number))
    assert "受理时间 未受理 not accepted yet (draft)" in text
    assert "  (无 none)" in text


def test_receipt_pdf_is_one_a4_page_in_the_data_folder_written_atomically(desk: Desk, tmp_path: Path) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    out = write_receipt_pdf(receipt, receipt_path(tmp_path / "data", number))

    assert out == tmp_path / "data" / "receipts" / f"{number}.pdf"
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert round(float(box.width)) == 595 and round(float(box.height)) == 842  # A4 in points
    assert reader.metadata is not None and reader.metadata.title == f"不动产登记受理回执 {number}"
    assert reader.metadata.author == receipt.station
    assert not list(out.parent.glob(".*.tmp"))


def pdf_lines(path: Path) -> list[str]:
    """The PDF's text, line by line, as a reader's copy or search sees it (poppler; pypdf does not read the
    embedded CMap that maps a CID-keyed font's codes)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (Debian package poppler-utils)")
    args = ["pdftotext", "-enc", "UTF-8", str(path), "-"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in text.splitlines() if line.strip("\f \n")]


def test_receipt_pdf_is_text_in_an_embedded_cjk_font_not_a_picture(desk: Desk, tmp_path: Path) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    out = write_receipt_pdf(receipt, tmp_path / "r.pdf")

    lines = pdf_lines(out)
    assert lines[0] == "不动产登记受理回执"
    assert f"受理号 {number}" in lines
    assert f"买受人(企业){BUYER}统一社会信用代码{MASKED[0]}" in "".join("".join(lines).split())
    assert f"经办人 {CLERK_NAME}" in lines
    assert not any("clerk1" in line for line in lines)
    assert BUYER_USCC not in "".join(lines) and SELLER_ID not in "".join(lines)

    page = PdfReader(out).pages[0]
    resources = cast(DictionaryObject, page["/Resources"].get_object())
    assert "/XObject" not in resources  # no page image: the text is drawn as text
    fonts = [font.get_object() for font in cast(DictionaryObject, resources["/Font"].get_object()).values()]
    assert fonts
    for font in fonts:
        assert font["/Subtype"] == "/Type0" and "/ToUnicode" in font
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor)  # embedded, not left to the viewer
        assert "NotoSansCJK" in str(descriptor["/FontName"])


def test_a_code_is_never_broken_across_lines(desk: Desk, tmp_path: Path) -> None:
    """Whatever the length of the name before it, a masked code stays whole: one party for each length, so that
    the codes reach every place along the line (breaking by characters split several of them)."""
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    parties = tuple(
        ReceiptParty(
            role="买受人",
            kind="企业",
            name=BUYER + "有限" * pad,
            id_label="证件号码",
            id_masked=MASKED[pad % 2],
        )
        for pad in range(24)
    )
    out = write_receipt_pdf(replace(receipt, parties=parties), tmp_path / "r.pdf")

    text = "\n".join(pdf_lines(out))
    assert (text.count(MASKED[0]), text.count(MASKED[1])) == (12, 12), text
    assert f"受理号 {number}" in text and f"经办人 {CLERK_NAME}" in text


def test_wrapping_breaks_between_chinese_characters_and_at_spaces_never_inside_a_code() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert wrap("出卖人 370102********5097 徐玉成", 12, measure) == ["出卖人", "370102********5097", "徐玉成"]
    assert wrap("业务企业购买非住宅", 4, measure) == ["业务企业", "购买非住", "宅"]
    assert wrap("身份证号370102********5097", 10, measure) == ["身份证号", "370102********5097"]
    # A closing mark never starts a line, an opening one never ends one.
    assert wrap("甲乙丙，丁（戊）", 3, measure) == ["甲乙", "丙，丁", "（戊）"]
    # Continuation lines may be narrower (a hanging indent).
    assert wrap("甲乙丙丁戊己", 4, measure, narrower=2) == ["甲乙丙丁", "戊己"]
    assert wrap("甲乙丙丁戊己庚", 4, measure, narrower=2) == ["甲乙丙丁", "戊己", "庚"]
    assert wrap("short line", 40, measure) == ["short line"]


def test_a_character_the_font_cannot_draw_is_marked_not_dropped(
    desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    rare = ReceiptParty(role="出卖人", kind="个人", name="徐\U00020000成", id_label="身份证号", id_masked=MASKED[1])
    with caplog.at_level(logging.WARNING):
        out = write_receipt_pdf(replace(receipt, parties=(rare,)), tmp_path / "r.pdf")
    assert f"出卖人(个人) 徐〓成 身份证号 {MASKED[1]}" in pdf_lines(out)
    (warning,) = (r for r in caplog.records if r.levelno >= logging.WARNING)
    assert warning.name == "workstation.services.receipt" and "U+20000" in warning.getMessage()


def test_a_receipt_too_long_for_one_page_runs_on_to_the_next(desk: Desk, tmp_path: Path) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    many = tuple(
        ReceiptParty(role="共有人", kind="个人", name=f"共有人{n}", id_label="身份证号", id_masked=MASKED[1])
        for n in range(80)
    )
    out = write_receipt_pdf(replace(receipt, parties=many), tmp_path / "r.pdf")
    assert len(PdfReader(out).pages) > 1
    assert pdf_lines(out)[-1] == f"经办人 {CLERK_NAME}"


def test_without_a_cjk_font_the_pdf_is_refused_with_one_line_and_nothing_written(desk: Desk, tmp_path: Path) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    out = tmp_path / "r.pdf"
    with pytest.raises(WorkstationError) as caught:
        write_receipt_pdf(receipt, out, font_dirs=(str(tmp_path / "no-fonts"),))
    assert "install fonts-noto-cjk" in str(caught.value) and "\n" not in str(caught.value)
    assert not out.exists()


def test_cli_prints_the_receipt_and_writes_the_pdf(
    desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    number = _submitted(desk)
    desk.close()
    monkeypatch.setenv("WS_USER", "clerk1")
    monkeypatch.setenv("WS_PASSWORD", "clerk-pass-1")
    data = str(tmp_path)
    out = tmp_path / "out" / "receipt.pdf"
    out.parent.mkdir()
    assert main(["--data-dir", data, "dossier", "receipt", number]) == 0
    printed = capsys.readouterr().out
    assert f"受理号 {number}" in printed and SELLER_ID not in printed

    assert main(["--data-dir", data, "dossier", "receipt", number, "--pdf", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert len(PdfReader(out).pages) == 1

    assert main(["--data-dir", data, "dossier", "receipt", "NOPE-1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
