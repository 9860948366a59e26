"""受理回执: the receipt's text, its one-page PDF, and the CLI that prints or writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.tui_helpers import add_user, make_desk
from workstation.cli import main
from workstation.errors import WorkstationError
from workstation.services.desk import Desk
from workstation.services.receipt import build_receipt, receipt_path, receipt_text, write_receipt_pdf
from workstation.services.views import NewParty

BUYER = "济南海岱餐饮管理有限公司"
BUYER_USCC = "91370102MA15LK9R0X"
SELLER = "徐玉成"
SELLER_ID = "370102198701055097"


def _submitted(desk: Desk) -> str:
    clerk = add_user(desk, "clerk1", ["clerk"])
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
    assert "经办人 clerk1" in text
    accepted = desk.dossiers.show(number).accepted_at
    assert accepted is not None
    assert "受理时间 2" in text  # a time, not "not accepted yet"


def test_a_draft_receipt_says_it_is_not_accepted_yet(desk: Desk) -> None:
    clerk = add_user(desk, "clerk1", ["clerk"])
    number = desk.dossiers.new(clerk, business="ENT_NONRES_TRANSFER", applicant_kind="enterprise").number
    text = receipt_text(build_receipt(desk, clerk, number))
    assert "受理时间 未受理 not accepted yet (draft)" in text
    assert "  (无 none)" in text


def test_receipt_pdf_is_one_page_with_the_text_searchable_nowhere_but_readable(desk: Desk, tmp_path: Path) -> None:
    number = _submitted(desk)
    receipt = build_receipt(desk, desk.users.actor("clerk1"), number)
    out = write_receipt_pdf(receipt, receipt_path(tmp_path / "data", number))

    assert out == tmp_path / "data" / "receipts" / f"{number}.pdf"
    reader = PdfReader(out)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert round(float(box.width)) == 595 and round(float(box.height)) == 842  # A4 in points
    assert not list(out.parent.glob(".*.tmp"))


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
