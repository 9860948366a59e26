"""Paper: the registry's written documents as real PDFs. Each one reads back its Chinese text whole (pdftotext, no
spaces between characters), carries its CJK font embedded as a subset (pdffonts), runs long tables on to further
pages, draws its QR as vector squares; a signed one verifies, and any one changed byte, a foreign trust root or no
signature at all makes it not valid, as an answer and never as an exception."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from workstation.errors import UsageError, WorkstationError
from workstation.services.paper import (
    CertificateData,
    Line,
    Notice,
    Office,
    PaymentReceipt,
    SigningKey,
    certificate_pdf,
    notice_pdf,
    payment_receipt_pdf,
    sign_pdf,
    verify_pdf,
    write_atomic,
    yuan_in_words,
)
from workstation.services.paper.render import qr_modules
from workstation.services.receipt import FONT_DIRS, FONT_FILE, _font_file

NUMBER = "JN01-2026-000123"
OFFICE = Office(
    name="济南市不动产登记中心",
    address="济南市历下区龙鼎大道1号",
    phone="0531-12345678",
    seal_text="济南市不动产登记中心 业务专用章",
    status_url="https://bdc.jinan.example.cn/status/{number}",
    verify_url="https://bdc.jinan.example.cn/verify?no={number}",
    appeal=(
        "如对本决定不服，可自收到本告知书之日起六十日内向济南市人民政府申请行政复议，"
        "或者六个月内向人民法院提起行政诉讼。"
    ),
)
APPLICANTS = (
    Line("买受人", "张三 身份证号 370102********5097"),
    Line("出卖人", "济南海岱餐饮管理有限公司 统一社会信用代码 913701********9R0X"),
)
ROWS = (
    Line("坐落", "济南市历下区泉城路188号3单元1202室"),
    Line("不动产单元号", "370102001001GB00001F00010012"),
    Line("受理时间", "2026-03-05 10:21"),
    Line("承诺办结时限", "5个工作日"),
)
REASON = "申请登记的不动产权属存在争议，且已被人民法院依法查封，不符合登记条件。"
BASIS = "《不动产登记暂行条例》第二十二条第（一）项"
SUPPLEMENT_ITEMS = tuple(
    Line(f"补正材料第{i}项", f"请提交第{i}项材料的原件，并由申请人本人签字确认，复印件须加盖单位公章。")
    for i in range(1, 61)
)
CERT_NUMBER = "鲁(2026)济南市不动产权第0000001号"
PROOF_NUMBER = "鲁(2026)济南市不动产证明第0000001号"
CERTIFICATE = CertificateData(
    number=CERT_NUMBER,
    kind="certificate",
    holders=("张三", "李四"),
    rows=(
        Line("共有情况", "共同共有"),
        Line("坐落", "济南市历下区泉城路188号3单元1202室"),
        Line("不动产单元号", "370102001001GB00001F00010012"),
        Line("权利类型", "国有建设用地使用权/房屋所有权"),
        Line("权利性质", "出让/市场化商品房"),
        Line("用途", "城镇住宅用地/住宅"),
        Line("面积", "共有宗地面积12345.67㎡/房屋建筑面积98.76㎡"),
        Line("使用期限", "国有建设用地使用权2006年05月01日起2076年04月30日止"),
        Line("权利其他状况", "专有建筑面积85.12㎡，分摊建筑面积13.64㎡\n房屋结构：钢筋混凝土结构"),
    ),
    registered_on=date(2026, 3, 10),
    note="依申请办理首次登记后转移登记",
)
PROOF = CertificateData(
    number=PROOF_NUMBER,
    kind="proof",
    holders=("中国工商银行股份有限公司济南历下支行",),
    rows=(
        Line("证明权利或事项", "抵押权"),
        Line("义务人", "张三"),
        Line("坐落", "济南市历下区泉城路188号3单元1202室"),
        Line("不动产单元号", "370102001001GB00001F00010012"),
        Line("其他", "被担保主债权数额：1000000.00元"),
    ),
    registered_on=date(2026, 3, 10),
)
PAYMENT = PaymentReceipt(
    number="37010226000123",
    dossier=NUMBER,
    payer="张三",
    items=(Line("住宅类不动产登记费", "80.00"), Line("证书工本费", "10.00")),
    total="90.00",
    method="扫码支付",
    reference="4200001234202603051234567890",
    paid_at=datetime(2026, 3, 5, 2, 30, tzinfo=UTC),
)


def _notice(kind: str, **changes: object) -> Notice:
    fields: dict[str, object] = {
        "kind": kind,
        "number": NUMBER,
        "business": "存量房转移登记",
        "applicants": APPLICANTS,
        "rows": ROWS,
        "issued_on": date(2026, 3, 5),
        "clerk": "王小梅",
        **changes,
    }
    return Notice(**fields)  # type: ignore[arg-type]


# name -> (how to make it, what its text layer must hold, each whole)
DOCUMENTS: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "receipt": (
        lambda: notice_pdf(
            _notice("receipt", items=(Line("不动产权证书", "1 页"), Line("存量房买卖合同", "12 页"))), OFFICE
        ),
        ("不动产登记受理凭证（受理通知书）", NUMBER, "存量房买卖合同", "济南市不动产登记中心", "经办人：王小梅"),
    ),
    "supplement": (
        lambda: notice_pdf(_notice("supplement", items=SUPPLEMENT_ITEMS), OFFICE),
        ("补正材料通知书", "一次性告知需要补正的全部内容（共60项）", "补正材料第60项", "张三"),
    ),
    "refuse-intake": (
        lambda: notice_pdf(_notice("refuse-intake", reason=REASON, legal_basis=BASIS), OFFICE),
        ("不予受理告知书", f"不予受理的理由：{REASON}", BASIS, "申请行政复议"),
    ),
    "refuse-registration": (
        lambda: notice_pdf(_notice("refuse-registration", reason=REASON, legal_basis=BASIS), OFFICE),
        ("不予登记告知书", f"不予登记的理由：{REASON}", f"法律依据：{BASIS}", OFFICE.appeal, "2026年3月5日"),
    ),
    "certificate": (
        lambda: certificate_pdf(CERTIFICATE, OFFICE),
        ("不动产权证书", CERT_NUMBER, "张三、李四", "国有建设用地使用权/房屋所有权", "依申请办理首次登记后转移登记"),
    ),
    "electronic-certificate": (
        lambda: certificate_pdf(CERTIFICATE, OFFICE, electronic=True),
        ("不动产权证书", "电子证照", CERT_NUMBER, "扫码核验电子证照", "张三、李四", "2026年3月10日"),
    ),
    "proof": (
        lambda: certificate_pdf(PROOF, OFFICE, electronic=True),
        ("不动产登记证明", PROOF_NUMBER, "中国工商银行股份有限公司济南历下支行", "抵押权", "义务人"),
    ),
    "payment-receipt": (
        lambda: payment_receipt_pdf(PAYMENT, OFFICE),
        ("不动产登记费缴费凭证", "住宅类不动产登记费", "¥90.00", "玖拾元整", "2026-03-05 10:30", "扫码支付"),
    ),
}


@pytest.fixture(scope="module")
def fonts() -> None:
    if _font_file(FONT_DIRS, FONT_FILE) is None:
        pytest.skip("fonts-noto-cjk is not installed (Noto Sans CJK): no document can be set")


@pytest.fixture(scope="module")
def poppler() -> None:
    if not (shutil.which("pdftotext") and shutil.which("pdffonts")):
        pytest.skip("poppler-utils is not installed (pdftotext, pdffonts): the text layer cannot be read back")


@pytest.fixture(scope="module")
def rendered(fonts: None) -> dict[str, bytes]:
    """Every document, made once for the module (setting CJK type takes about a second each)."""
    return {name: make() for name, (make, _) in DOCUMENTS.items()}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey.load_or_create(tmp_path_factory.mktemp("keys") / "signing", "济南市不动产登记中心")


@pytest.fixture(scope="module")
def signed(rendered: dict[str, bytes], key: SigningKey) -> bytes:
    return sign_pdf(rendered["electronic-certificate"], key, location="济南")


def _text(pdf: bytes, tmp_path: Path, *, layout: bool = False, page: int | None = None) -> str:
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    command = ["pdftotext", *(["-layout"] if layout else []), *pages, str(source), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _joined(text: str) -> str:
    """The text with its line breaks (and the white space around them) taken out: a sentence wrapped over lines
    reads whole, while a space inside a line (a spurious one) stays and fails the match."""
    return re.sub(r"[ \t]*\n\s*", "", text)


# ----------------------------------------------------------------------------------------- the text layer


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_document_reads_back_its_chinese_text_whole(
    name: str, rendered: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    pdf = rendered[name]
    plain, layout = _joined(_text(pdf, tmp_path)), _text(pdf, tmp_path, layout=True)
    for expected in DOCUMENTS[name][1]:
        assert expected in plain, f"{expected!r} not whole in the text layer of {name}"
    # Short runs read whole in the layout mode too (one line each there).
    assert all(expected in layout for expected in DOCUMENTS[name][1] if len(expected) <= 12 and "\n" not in expected)
    assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff] [\u4e00-\u9fff]", layout), "characters spaced apart"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_document_embeds_its_cjk_fonts_as_subsets(
    name: str, rendered: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    source = tmp_path / "document.pdf"
    source.write_bytes(rendered[name])
    listing = subprocess.run(["pdffonts", str(source)], capture_output=True, text=True, check=True).stdout
    fonts = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert fonts, listing
    for font in fonts:
        # name type… encoding emb sub uni object-id generation
        assert "CJK" in font[0] and font[-5:-2] == ["yes", "yes", "yes"], listing
    assert any("NotoSansCJKSC" in font[0] for font in fonts), listing


def test_the_notices_head_their_office_title_and_number(
    rendered: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    layout = _text(rendered["refuse-registration"], tmp_path, layout=True)
    lines = [line.strip() for line in layout.splitlines() if line.strip()]
    assert lines[0] == OFFICE.name  # the letterhead
    assert lines[2] == "不予登记告知书"
    assert lines[3] == f"受理号：{NUMBER}"


def test_a_notice_prints_its_status_url_beside_the_qr(
    rendered: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    plain = _joined(_text(rendered["receipt"], tmp_path))
    assert "扫码查询办理进度" in plain
    assert OFFICE.status_url.format(number=NUMBER) in plain


def test_a_supplement_of_sixty_items_runs_on_to_further_pages_with_every_item(
    rendered: dict[str, bytes], poppler: None, tmp_path: Path
) -> None:
    pdf = rendered["supplement"]
    pages = len(PdfReader(_stream(pdf)).pages)
    assert pages >= 3
    plain = _joined(_text(pdf, tmp_path))
    for item in SUPPLEMENT_ITEMS:
        assert item.label in plain
        assert item.value in plain  # wrapped inside its cell, whole once the lines are joined
    for page in range(1, pages + 1):
        text = _text(pdf, tmp_path, page=page)
        assert "补正要求" in text, f"page {page} repeats the table's header"
        assert f"第{page}页" in text and f"共{pages}页" in text
    last = _text(pdf, tmp_path, page=pages)
    assert "经办人：王小梅" in last and "2026年3月5日" in last  # the sign-off follows the whole table


def test_a_character_the_font_cannot_draw_prints_as_a_geta_mark(
    fonts: None, poppler: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rare = "𪚥"  # U+2A6A5, beyond what Noto Sans CJK draws
    cert = CertificateData(
        number=CERT_NUMBER, kind="certificate", holders=(f"王{rare}明",), rows=(), registered_on=date(2026, 3, 10)
    )
    with caplog.at_level(logging.WARNING):
        pdf = certificate_pdf(cert, OFFICE)
    assert "王〓明" in _text(pdf, tmp_path)
    assert "U+2A6A5" in caplog.text


def test_without_a_cjk_font_the_error_names_fonts_noto_cjk(tmp_path: Path) -> None:
    with pytest.raises(WorkstationError, match="fonts-noto-cjk") as caught:
        notice_pdf(_notice("receipt"), OFFICE, font_dirs=(str(tmp_path),))
    assert "\n" not in str(caught.value)


def test_an_unknown_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="refuse-registration"):
        notice_pdf(_notice("refuse"), OFFICE)
    with pytest.raises(UsageError, match="proof"):
        certificate_pdf(CertificateData(CERT_NUMBER, "deed", (), (), date(2026, 3, 10)), OFFICE)


# --------------------------------------------------------------------------------------------------- the QR


def test_qr_modules_are_a_square_code_with_its_finder_patterns() -> None:
    modules = qr_modules(OFFICE.verify_url.format(number=CERT_NUMBER))
    size = len(modules)
    assert size >= 21 and (size - 21) % 4 == 0 and all(len(row) == size for row in modules)
    finder = [row[:7] for row in modules[:7]]
    assert all(finder[0]) and all(finder[6]) and all(row[0] and row[6] for row in finder)
    assert not any(finder[1][1:6])  # the white ring inside the black one
    assert all(modules[3][2:5])  # the black square at its centre


def test_the_electronic_certificate_draws_its_qr_as_vector_squares(rendered: dict[str, bytes]) -> None:
    electronic, printable = (_page_content(rendered[name]) for name in ("electronic-certificate", "certificate"))
    squares = electronic.count(b" re") - printable.count(b" re")
    assert squares > 100  # a rectangle per run of dark modules
    page = PdfReader(_stream(rendered["electronic-certificate"])).pages[0]
    assert "/XObject" not in page["/Resources"]  # no image


# --------------------------------------------------------------------------------------------- money in words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("90.00", "玖拾元整"),
        ("10.50", "壹拾元伍角"),
        ("0.05", "伍分"),
        ("1005.00", "壹仟零伍元整"),
        ("550.00", "伍佰伍拾元整"),
        ("100000.00", "壹拾万元整"),
        ("10.05", "壹拾元零伍分"),
        ("0.00", "零元整"),
        ("0.50", "伍角"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("100500.00", "壹拾万零伍佰元整"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("100000005", "壹亿零伍元整"),
        ("120000000.00", "壹亿贰仟万元整"),
        ("1,680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("¥80", "捌拾元整"),
    ],
)
def test_yuan_in_words(amount: str, words: str) -> None:
    assert yuan_in_words(amount) == words


@pytest.mark.parametrize("amount", ["", "abc", "-1.00", "1.005", "NaN", "Infinity"])
def test_yuan_in_words_refuses_what_is_no_amount(amount: str) -> None:
    with pytest.raises(UsageError):
        yuan_in_words(amount)


def test_a_receipt_whose_items_do_not_add_up_to_its_total_is_refused() -> None:
    with pytest.raises(UsageError, match=re.escape("add up to 90.00, not the total 100.00")):
        payment_receipt_pdf(replace(PAYMENT, total="100.00"), OFFICE)


# ---------------------------------------------------------------------------------------------- writing out


def test_write_atomic_writes_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = write_atomic(tmp_path / "out" / "notice.pdf", b"%PDF-1.7 test")
    assert out.read_bytes() == b"%PDF-1.7 test"
    assert [path.name for path in out.parent.iterdir()] == ["notice.pdf"]


def test_write_atomic_refuses_a_directory_and_an_unwritable_place_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory") as caught:
        write_atomic(tmp_path, b"x")
    assert "\n" not in str(caught.value)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(WorkstationError, match="cannot write") as caught:
        write_atomic(blocker / "notice.pdf", b"x")
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------- signing key


def test_a_signing_key_is_made_once_private_and_loaded_again_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    first = SigningKey.load_or_create(folder, "济南市不动产登记中心")
    assert stat.S_IMODE((folder / "signing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert b"BEGIN CERTIFICATE" in (folder / "signing.crt").read_bytes()
    assert first.subject == "济南市不动产登记中心"
    again = SigningKey.load_or_create(folder, "济南市不动产登记中心")
    assert again == first
    assert sorted(path.name for path in folder.iterdir()) == ["signing.crt", "signing.key"]
    assert "PRIVATE" not in repr(first)


def test_processes_racing_to_make_the_key_end_with_one(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    keys: list[SigningKey] = []
    start = threading.Barrier(6)

    def make() -> None:
        start.wait()
        keys.append(SigningKey.load_or_create(folder, "济南市不动产登记中心"))

    threads = [threading.Thread(target=make) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 6 and all(key == keys[0] for key in keys)
    assert sorted(path.name for path in folder.iterdir()) == ["signing.crt", "signing.key"]


def test_a_corrupt_key_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    SigningKey.load_or_create(folder, "济南市不动产登记中心")
    (folder / "signing.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(WorkstationError, match="signing key") as caught:
        SigningKey.load_or_create(folder, "济南市不动产登记中心")
    assert "\n" not in str(caught.value)


def test_a_certificate_of_another_key_is_refused(tmp_path: Path) -> None:
    ours = SigningKey.load_or_create(tmp_path / "ours", "济南市不动产登记中心")
    SigningKey.load_or_create(tmp_path / "theirs", "济南市不动产登记中心")
    (tmp_path / "theirs" / "signing.crt").write_bytes(ours.certificate_pem)
    with pytest.raises(WorkstationError, match="is not the certificate of the key"):
        SigningKey.load_or_create(tmp_path / "theirs", "济南市不动产登记中心")


# ------------------------------------------------------------------------------------ signing and verifying


def test_a_signed_pdf_verifies_naming_its_signer_and_time(
    signed: bytes, rendered: dict[str, bytes], key: SigningKey
) -> None:
    assert signed.startswith(rendered["electronic-certificate"])  # an incremental update: the render unchanged
    result = verify_pdf(signed, [key.certificate_pem])
    assert (result.signed, result.intact, result.trusted, result.valid) == (True, True, True, True)
    assert result.signer == "济南市不动产登记中心"
    assert result.signed_at is not None and abs((datetime.now(UTC) - result.signed_at).total_seconds()) < 600
    assert result.problem == ""
    assert b"/SubFilter /ETSI.CAdES.detached" in signed


def test_a_certificate_given_as_der_is_trusted_too(signed: bytes, key: SigningKey) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(key.certificate_pem).public_bytes(Encoding.DER)
    assert verify_pdf(signed, [der]).valid


def _offsets(signed: bytes, original: bytes) -> dict[str, int]:
    contents = re.search(rb"/Contents\s*<", signed)
    startxref = signed.rindex(b"startxref")
    assert contents
    return {
        "page content, mid-file": len(original) // 2,
        "catalog": original.index(b"/Catalog") + 2,
        "signature contents, inside the CMS": contents.end() + 200,
        "signature contents, first digits": contents.end() + 2,
        "xref table": startxref - 40,
        "startxref offset": startxref + len("startxref") + 2,
        "end of file marker": len(signed) - 3,
    }


@pytest.mark.parametrize(
    "where",
    [
        "page content, mid-file",
        "catalog",
        "signature contents, inside the CMS",
        "signature contents, first digits",
        "xref table",
        "startxref offset",
        "end of file marker",
    ],
)
@pytest.mark.parametrize("change", ["hex digit", "other byte"])
def test_changing_one_byte_makes_it_not_valid_and_never_raises(
    where: str, change: str, signed: bytes, rendered: dict[str, bytes], key: SigningKey
) -> None:
    at = _offsets(signed, rendered["electronic-certificate"])[where]
    tampered = bytearray(signed)
    old = tampered[at]
    if change == "hex digit":  # still well-formed where it was a hex digit: only the signature can tell
        tampered[at] = ord("1") if old != ord("1") else ord("2")
    else:
        tampered[at] = old ^ 0x20 if old not in b"0123456789" else ord("x")
    result = verify_pdf(bytes(tampered), [key.certificate_pem])
    assert (result.valid, result.intact) == (False, False)
    assert result.problem and "\n" not in result.problem


def test_no_changed_byte_of_the_signature_contents_goes_unnoticed(signed: bytes, key: SigningKey) -> None:
    """Across the whole /Contents (certificate, signed attributes, signature value, the fields the signature does
    not cover, the zero padding): a digit replaced, its case changed or a space put in, each is not valid."""
    contents = re.search(rb"/Contents\s*<", signed)
    assert contents
    end = signed.index(b">", contents.end())
    for at in range(contents.end(), end, 23):
        for flip in (0x01, 0x10, 0x20):  # another digit or letter, a space or control byte, the other case
            tampered = bytearray(signed)
            tampered[at] ^= flip
            result = verify_pdf(bytes(tampered), [key.certificate_pem])
            assert not result.valid, f"byte {at - contents.end()} of /Contents, xor {flip:#x}"


def test_bytes_added_after_the_signature_make_it_not_valid(signed: bytes, key: SigningKey) -> None:
    result = verify_pdf(signed + b"\n% added\n", [key.certificate_pem])
    assert (result.intact, result.valid) == (True, False)
    assert "changed after signing" in result.problem


def test_a_signer_not_among_the_trusted_is_not_trusted(signed: bytes, tmp_path: Path) -> None:
    stranger = SigningKey.load_or_create(tmp_path / "stranger", "某市不动产登记中心")
    result = verify_pdf(signed, [stranger.certificate_pem])
    assert (result.intact, result.trusted, result.valid) == (True, False, False)
    assert "不受信任" in result.problem and result.signer == "济南市不动产登记中心"
    assert not verify_pdf(signed).trusted  # nobody trusted: not the system's web authorities either


def test_an_unsigned_pdf_is_not_signed(rendered: dict[str, bytes], key: SigningKey) -> None:
    result = verify_pdf(rendered["certificate"], [key.certificate_pem])
    assert (result.signed, result.valid) == (False, False)
    assert result.problem == "没有签名 the PDF carries no signature"


@pytest.mark.parametrize("data", [b"", b"garbage", b"%PDF-1.7\n%%EOF\n"])
def test_what_is_no_pdf_is_an_answer_not_an_exception(data: bytes, key: SigningKey) -> None:
    result = verify_pdf(data, [key.certificate_pem])
    assert not result.valid and result.problem


def test_a_truncated_signed_pdf_is_an_answer(signed: bytes, key: SigningKey) -> None:
    for cut in (len(signed) // 2, len(signed) - 10, len(signed) - 1000):
        result = verify_pdf(signed[:cut], [key.certificate_pem])
        assert not result.valid and result.problem


def test_a_trusted_certificate_that_is_none_is_a_usage_error(signed: bytes) -> None:
    with pytest.raises(UsageError, match="not a certificate"):
        verify_pdf(signed, [b"not a certificate"])


def test_a_signed_pdf_written_out_verifies_from_disk(signed: bytes, key: SigningKey, tmp_path: Path) -> None:
    out = write_atomic(tmp_path / "证书.pdf", signed)
    assert verify_pdf(out.read_bytes(), [key.certificate_pem]).valid
    assert os.path.getsize(out) == len(signed)


# ---------------------------------------------------------------------------------------------------- helpers


def _stream(pdf: bytes) -> io.BytesIO:
    return io.BytesIO(pdf)


def _page_content(pdf: bytes) -> bytes:
    contents = PdfReader(_stream(pdf)).pages[0].get_contents()
    assert contents is not None
    return contents.get_data()
