"""The registry's written documents as A4 PDFs, laid out as Chinese government forms.

Each document is set in Noto CJK (Debian's fonts-noto-cjk), embedded as a subset: Sans for the text, Serif Bold
for the letterhead and title when installed. Every run of text (a cell's line, a paragraph's line) is written as
one string, so the text layer reads back whole: pdftotext gives 不予登记告知书, not 不 予 登 记. Tables have ruled
cells; a long value wraps inside its cell, and a table too long for the page continues on the next one under its
header again. A character the font cannot draw prints as 〓 (and is logged), never dropped. QR codes are vector
squares drawn from the code's module matrix: sharp at any printer's resolution, and no image to decode.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from workstation.errors import UsageError, WorkstationError
from workstation.services.paper.model import (
    CERTIFICATE_KINDS,
    NOTICE_KINDS,
    CertificateData,
    Line,
    Notice,
    Office,
    PaymentReceipt,
)
from workstation.services.receipt import BOLD_FONT_FILE, FONT_DIRS, FONT_FILE, FONT_INDEX, _font_file, wrap
from workstation.services.views import OFFICE_TZ

if TYPE_CHECKING:
    from fpdf import FPDF

log = logging.getLogger(__name__)

MISSING_GLYPH = "〓"
SERIF_BOLD_FILE = "NotoSerifCJK-Bold.ttc"  # same collection order as Sans: index FONT_INDEX is Simplified Chinese
NOTICE_TITLES = {
    "receipt": "不动产登记受理凭证（受理通知书）",
    "supplement": "补正材料通知书",
    "refuse-intake": "不予受理告知书",
    "refuse-registration": "不予登记告知书",
}
CERTIFICATE_TITLES = {"certificate": "不动产权证书", "proof": "不动产登记证明"}
DEFAULT_APPEAL = "如对本决定不服，可以依法申请行政复议或者提起行政诉讼。"

# Points (1/72 inch) on A4. 五号 (10.5 pt) body, 小二 (18 pt) title, as Chinese forms are set.
_MARGIN_X, _TOP, _BOTTOM = 56.0, 48.0, 60.0
_BODY, _SMALL, _TINY, _TITLE, _LETTERHEAD = 10.5, 8.0, 7.0, 18.0, 20.0
_LEADING = 1.5  # line height in ems
_ASCENT = 0.88  # of the Noto CJK faces, in ems: where the baseline sits in a line's box
_PAD_X, _PAD_Y = 5.0, 3.0  # inside a table cell
_INDENT = 2 * _BODY  # a paragraph's first line, two characters in (公文 style)
_RED = (200, 16, 16)
_GREY = (96, 96, 96)
_SHADE = (240, 240, 240)
_SEAL_R = 42.0
_QR_SIZE = 64.0
_QR_QUIET = 2  # modules of white around the code (the page is white already; this keeps text away)

# Font faces as added to fpdf2.
_SANS, _SANS_BOLD, _TITLE_FACE = "sans", "sans-bold", "title"


# ---------------------------------------------------------------------------------------------------- documents


def notice_pdf(notice: Notice, office: Office, *, font_dirs: tuple[str, ...] = FONT_DIRS) -> bytes:
    """受理凭证, 补正材料通知书, 不予受理告知书 or 不予登记告知书 as a PDF."""
    if notice.kind not in NOTICE_KINDS:
        raise UsageError(f"unknown notice kind {notice.kind!r}: one of {', '.join(NOTICE_KINDS)}")
    title = NOTICE_TITLES[notice.kind]
    sheet = _Sheet(f"{title} {notice.number}", office.name, font_dirs)
    sheet.letterhead(office)
    sheet.title(title)
    sheet.head_line(f"受理号：{notice.number}", align="R")
    sheet.facts(_notice_facts(notice))
    _NOTICE_BODIES[notice.kind](sheet, notice, office)
    qr = None
    if office.status_url:
        qr = (_url(office.status_url, notice.number, "status_url"), "扫码查询办理进度")
    sheet.sign_off(office, _day(notice.issued_on), clerk=notice.clerk or "　", qr=qr)
    return sheet.finish(f"受理号 {notice.number}")


def certificate_pdf(
    cert: CertificateData, office: Office, *, electronic: bool = False, font_dirs: tuple[str, ...] = FONT_DIRS
) -> bytes:
    """The 缮证 page of a 不动产权证书 or 不动产登记证明; `electronic`: its 电子证照 form, with the QR to verify it."""
    if cert.kind not in CERTIFICATE_KINDS:
        raise UsageError(f"unknown certificate kind {cert.kind!r}: one of {', '.join(CERTIFICATE_KINDS)}")
    title = CERTIFICATE_TITLES[cert.kind]
    sheet = _Sheet(f"{title} {cert.number}", office.name, font_dirs)
    qr_url = _url(office.verify_url, cert.number, "verify_url") if electronic and office.verify_url else ""
    sheet.certificate_head(title, cert.number, electronic=electronic, qr_url=qr_url)
    sheet.facts(_certificate_rows(cert))
    sheet.facts([("附记", cert.note or "　")], min_height=6 * _BODY * _LEADING)
    sheet.sign_off(office, _day(cert.registered_on), above_name="登记机构（章）")
    return sheet.finish(("电子证照 " if electronic else "") + cert.number)


def payment_receipt_pdf(receipt: PaymentReceipt, office: Office, *, font_dirs: tuple[str, ...] = FONT_DIRS) -> bytes:
    """不动产登记费缴费凭证: the fee items, the total in figures and in 大写, how and when it was paid."""
    _check_total(receipt)
    title = "不动产登记费缴费凭证"
    sheet = _Sheet(f"{title} {receipt.number}", office.name, font_dirs)
    sheet.letterhead(office)
    sheet.title(title)
    sheet.head_line(f"票据号码：{receipt.number}", align="R")
    reference_label = "收据号" if receipt.method == "现金" else "交易流水号"
    sheet.facts(
        [
            ("受理号", receipt.dossier),
            ("缴款人", receipt.payer),
            ("缴费方式", receipt.method),
            (reference_label, receipt.reference),
            ("缴费时间", _moment(receipt.paid_at)),
        ]
    )
    sheet.numbered(receipt.items, header=("序号", "收费项目", "金额（元）"), value_width=110, value_align="R")
    sheet.facts([("合计（小写）", f"¥{receipt.total}"), ("合计（大写）", yuan_in_words(receipt.total))])
    paid_on = receipt.paid_at.astimezone(OFFICE_TZ).date() if receipt.paid_at.tzinfo else receipt.paid_at.date()
    sheet.sign_off(office, _day(paid_on), above_name="收款单位（章）")
    return sheet.finish(f"票据号码 {receipt.number}")


def write_atomic(out: Path, data: bytes) -> Path:
    """`data` at `out`, whole or not at all: a temporary file in the same folder, fsync, rename."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give the PDF's file name, e.g. {out / 'document.pdf'}")
    # A name of its own per writer, so two writers of one file never share a temporary file.
    temp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask decides, as for any file
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the folder may be what failed
            temp.unlink(missing_ok=True)
        raise WorkstationError(f"cannot write {out} ({exc.strerror or type(exc).__name__})") from None
    return out


# ------------------------------------------------------------------------------------------------ the wording


def _notice_facts(notice: Notice) -> list[tuple[str, str]]:
    applicants = [(line.label, line.value) for line in notice.applicants]
    return [("业务名称", notice.business), *applicants, *((line.label, line.value) for line in notice.rows)]


def _receipt_body(sheet: _Sheet, notice: Notice, office: Office) -> None:
    sheet.paragraph(f"经审查，你（单位）提交的{notice.business}申请材料齐全、符合法定形式，本机构已予受理。")
    sheet.heading("收取材料")
    sheet.numbered(notice.items, header=("序号", "材料名称", "数量"), value_width=90, value_align="C")
    sheet.paragraph("请妥善保管本凭证，凭本凭证及身份证件查询办理进度、领取登记结果。")


def _supplement_body(sheet: _Sheet, notice: Notice, office: Office) -> None:
    basis = f"根据{notice.legal_basis}的规定，" if notice.legal_basis else ""
    sheet.paragraph(
        f"经审查，你（单位）提交的{notice.business}申请材料不齐全或者不符合法定形式。"
        f"{basis}现一次性告知需要补正的全部内容（共{len(notice.items)}项）如下："
    )
    sheet.numbered(notice.items, header=("序号", "材料或问题", "补正要求"), value_width=270)
    if notice.reason:
        sheet.paragraph(f"说明：{notice.reason}")
    sheet.paragraph("请按上述要求一次补正全部内容后，重新提交申请。")


def _refusal_body(sheet: _Sheet, notice: Notice, office: Office) -> None:
    decision = "不予受理" if notice.kind == "refuse-intake" else "不予登记"
    sheet.paragraph(f"经审查，你（单位）申请的{notice.business}（受理号：{notice.number}），本机构决定{decision}。")
    sheet.paragraph(f"{decision}的理由：{notice.reason or '—'}")
    if notice.legal_basis:
        sheet.paragraph(f"法律依据：{notice.legal_basis}")
    if notice.items:
        sheet.heading("退回材料")
        sheet.numbered(notice.items, header=("序号", "材料名称", "数量"), value_width=90, value_align="C")
    sheet.paragraph(office.appeal or DEFAULT_APPEAL)


_NOTICE_BODIES: dict[str, Callable[[_Sheet, Notice, Office], None]] = {
    "receipt": _receipt_body,
    "supplement": _supplement_body,
    "refuse-intake": _refusal_body,
    "refuse-registration": _refusal_body,
}


def _certificate_rows(cert: CertificateData) -> list[tuple[str, str]]:
    """The register's order: a certificate names 权利人 first; a proof after 证明权利或事项."""
    rows = [(line.label, line.value) for line in cert.rows]
    holders = ("权利人", "、".join(cert.holders) or "—")
    at = 1 if cert.kind == "proof" and rows and rows[0][0] == "证明权利或事项" else 0
    return [*rows[:at], holders, *rows[at:]]


def _check_total(receipt: PaymentReceipt) -> None:
    # A receipt whose items do not add up to its total is refused rather than printed for the payer to find.
    added = sum(_cents(item.value) for item in receipt.items)
    if added != _cents(receipt.total):
        raise UsageError(
            f"receipt {receipt.number}: the items add up to {added // 100}.{added % 100:02d}, "
            f"not the total {receipt.total}"
        )


def _day(day: date | None) -> str:
    # A date left open is written by hand on the printed page.
    return f"{day.year}年{day.month}月{day.day}日" if day else "　　　　年　　月　　日"


def _moment(moment: datetime) -> str:
    local = moment.astimezone(OFFICE_TZ) if moment.tzinfo else moment
    return local.strftime("%Y-%m-%d %H:%M")


def _url(template: str, number: str, name: str) -> str:
    try:
        return template.format(number=number)
    except (KeyError, IndexError, ValueError):
        raise UsageError(f"the office's {name} {template!r} may hold {{number}} and no other braces") from None


# ---------------------------------------------------------------------------------------------- money in words

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def yuan_in_words(amount: str) -> str:
    """An amount of yuan in 大写 as a receipt writes it: "90.00" → 玖拾元整, "10.05" → 壹拾元零伍分."""
    cents = _cents(amount)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if not jiao and not fen:
        return f"{_integer_words(yuan) if yuan else '零'}元整"
    words = f"{_integer_words(yuan)}元" if yuan else ""
    if jiao:
        words += f"{_DIGITS[jiao]}角"
    elif yuan:
        words += "零"  # 壹拾元零伍分: a zero 角 between 元 and 分 is written
    if fen:
        words += f"{_DIGITS[fen]}分"
    return words


def _cents(amount: str) -> int:
    text = amount.strip().lstrip("¥￥").replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"not an amount of money: {amount!r}") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")) or value >= 10**16:
        raise UsageError(f"not an amount of money in yuan and fen: {amount!r}")
    return int(value * 100)


def _integer_words(number: int) -> str:
    groups = []  # of four digits, lowest first: 万 and 亿 come every four places
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    words, gap = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if not group:
            gap = bool(words)
            continue
        if words and (gap or group < 1000):
            words += "零"  # 壹拾万零伍佰, 壹亿零伍: the zeros between two groups are read as one 零
        words += _group_words(group) + _GROUPS[index]
        gap = False
    return words


def _group_words(group: int) -> str:
    words, gap = "", False
    for place in (3, 2, 1, 0):
        digit = group // 10**place % 10
        if not digit:
            gap = bool(words)
            continue
        if gap:
            words += "零"  # 壹仟零伍: a run of zeros inside the group is one 零
            gap = False
        words += _DIGITS[digit] + _PLACES[place]
    return words


# ------------------------------------------------------------------------------------------------------ the QR


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of `text` as rows of modules (True: dark), without the quiet zone."""
    import qrcode  # only where a QR is drawn
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def _dark_runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules: one rectangle a run keeps the page small."""
    runs, start = [], None
    for index, dark in enumerate([*row, False]):
        if dark and start is None:
            start = index
        elif not dark and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


# --------------------------------------------------------------------------------------------------- the sheet


@dataclass
class _Column:
    width: float
    face: str = _SANS
    align: str = "L"
    shade: bool = False


class _Sheet:
    """One document being laid out: an fpdf2 page in points with the CJK faces, and a cursor that turns the page
    between table rows or paragraph lines, never inside a line."""

    def __init__(self, title: str, author: str, font_dirs: tuple[str, ...]) -> None:
        self.pdf = _new_pdf(title, author, font_dirs)
        self.missing: set[str] = set()
        self.left, self.right = _MARGIN_X, self.pdf.w - _MARGIN_X
        self.width = self.right - self.left
        self.bottom = self.pdf.h - _BOTTOM
        self.y = _TOP
        self.header: Callable[[], None] | None = None  # a continued table's header, drawn atop each new page
        self.pdf.add_page()

    # text

    def printable(self, text: str, face: str) -> str:
        """`text` with what `face` cannot draw as 〓 (a rare character of a name, beyond Noto CJK)."""
        cmap = self.pdf.fonts[face].cmap  # type: ignore[union-attr]  # always a font file here, never a core font
        missing = {char for char in text if not char.isspace() and ord(char) not in cmap}
        if not missing:
            return text
        self.missing |= missing
        return "".join(MISSING_GLYPH if char in missing else char for char in text)

    def measure(self, text: str, face: str, size: float) -> float:
        self.pdf.set_font(face, size=size)
        return self.pdf.get_string_width(text)

    def lines(self, text: str, room: float, face: str = _SANS, size: float = _BODY, indent: float = 0.0) -> list[str]:
        """`text` wrapped to `room` (the first line `indent` narrower), each line to be written as one string."""

        def measure(piece: str) -> float:
            return self.measure(piece, face, size)

        lines: list[str] = []
        for part in self.printable(text, face).splitlines() or [""]:
            # narrower < 0: the lines after the first (indented) one get the indent back
            lines += wrap(part, room - indent, measure, narrower=-indent) if part.strip() else [""]
        return lines

    def put(
        self,
        x: float,
        top: float,
        text: str,
        *,
        room: float,
        face: str = _SANS,
        size: float = _BODY,
        align: str = "L",
        color: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        """One line of text in the box from `x` `room` wide, its top at `top`; a code wider than the box (a long
        unit number, a URL) is set smaller rather than broken."""
        if not text:
            return
        wide = self.measure(text, face, size)
        if wide > room:
            size, wide = size * room / wide, room
            self.pdf.set_font_size(size)
        shift = {"L": 0.0, "C": (room - wide) / 2, "R": room - wide}[align]
        baseline = top + (_LEADING - 1) * size / 2 + _ASCENT * size
        self.pdf.set_text_color(*color)
        self.pdf.text(x + shift, baseline, text)
        self.pdf.set_text_color(0, 0, 0)

    # page turns

    def room_left(self) -> float:
        return self.bottom - self.y

    def need(self, height: float) -> None:
        if height > self.room_left():
            self.turn()

    def turn(self) -> None:
        self.pdf.add_page()
        self.y = _TOP
        if self.header:
            self.header()

    # blocks

    def letterhead(self, office: Office) -> None:
        """The office's name in red over a red rule, as on an office's own paper (红头)."""
        name = self.printable(office.name, _TITLE_FACE)
        self.put(self.left, self.y, name, room=self.width, face=_TITLE_FACE, size=_LETTERHEAD, align="C", color=_RED)
        self.y += _LETTERHEAD * _LEADING + 2
        self.pdf.set_draw_color(*_RED)
        self.pdf.set_line_width(1.5)
        self.pdf.line(self.left, self.y, self.right, self.y)
        self.pdf.set_line_width(0.5)
        self.pdf.line(self.left, self.y + 2.5, self.right, self.y + 2.5)
        self.pdf.set_draw_color(0, 0, 0)
        self.y += 5
        contact = "　".join(
            part for part in (f"地址：{office.address}" if office.address else "", _phone(office.phone)) if part
        )
        if contact:
            self.put(
                self.left, self.y, self.printable(contact, _SANS), room=self.width, size=_SMALL, align="C", color=_GREY
            )
            self.y += _SMALL * _LEADING
        self.y += 10

    def title(self, text: str) -> None:
        text = self.printable(text, _TITLE_FACE)
        self.put(self.left, self.y, text, room=self.width, face=_TITLE_FACE, size=_TITLE, align="C")
        self.y += _TITLE * _LEADING + 4

    def head_line(self, text: str, *, align: str = "L", room: float | None = None) -> None:
        self.put(self.left, self.y, self.printable(text, _SANS), room=room or self.width, align=align)
        self.y += _BODY * _LEADING + 4

    def heading(self, text: str) -> None:
        self.need(_BODY * _LEADING * 3)  # a heading never ends a page alone
        self.put(self.left, self.y, self.printable(text, _SANS_BOLD), room=self.width, face=_SANS_BOLD)
        self.y += _BODY * _LEADING + 2

    def paragraph(self, text: str) -> None:
        """Text over the whole width, each paragraph's first line two characters in."""
        height = _BODY * _LEADING
        for part in text.splitlines():
            for index, line in enumerate(self.lines(part, self.width, indent=_INDENT)):
                self.need(height)
                indent = _INDENT if index == 0 else 0.0
                self.put(self.left + indent, self.y, line, room=self.width - indent)
                self.y += height
        self.y += 6

    def facts(self, rows: Sequence[tuple[str, str]], *, min_height: float = 0.0) -> None:
        """A two-column form table: the label shaded on the left, the value beside it."""
        columns = [_Column(96, _SANS_BOLD, shade=True), _Column(self.width - 96)]
        for label, value in rows:
            self.row(columns, (label, value), min_height=min_height)
        self.y += 10

    def numbered(
        self, items: Sequence[Line], *, header: tuple[str, str, str], value_width: float, value_align: str = "L"
    ) -> None:
        """Items as a numbered table whose header is drawn again on each page the table runs on to."""
        columns = [
            _Column(36, align="C"),
            _Column(self.width - 36 - value_width),
            _Column(value_width, align=value_align),
        ]
        header_columns = [_Column(column.width, _SANS_BOLD, "C", shade=True) for column in columns]

        def draw_header() -> None:
            self.row(header_columns, header)

        self.need(_BODY * _LEADING * 2 + 4 * _PAD_Y)  # the header and a first row together
        draw_header()
        self.header = draw_header
        for number, item in enumerate(items, start=1):
            self.row(columns, (str(number), item.label, item.value))
        if not items:
            self.row(columns, ("", "无", ""))
        self.header = None
        self.y += 10

    def row(self, columns: Sequence[_Column], cells: Sequence[str], *, min_height: float = 0.0) -> None:
        """One table row; a row taller than what is left of the page moves to the next one, and a row taller than
        a whole page is cut between its lines."""
        height = _BODY * _LEADING
        pending = [
            self.lines(text, column.width - 2 * _PAD_X, column.face)
            for column, text in zip(columns, cells, strict=True)
        ]
        while True:
            needed = max(max(len(lines) for lines in pending) * height, min_height - 2 * _PAD_Y)
            fits = int((self.room_left() - 2 * _PAD_Y) // height)
            if needed > fits * height and (self.y > _TOP + 2 * height or fits < 1):
                self.turn()  # a fresh page holds the row, or as much of it as a page can
                fits = int((self.room_left() - 2 * _PAD_Y) // height)
            taken = min(max(len(lines) for lines in pending), fits)
            box = max(taken * height, min(min_height - 2 * _PAD_Y, fits * height)) + 2 * _PAD_Y
            self.cells(columns, [lines[:taken] for lines in pending], box)
            pending = [lines[taken:] for lines in pending]
            if not any(pending):
                return
            self.turn()

    def cells(self, columns: Sequence[_Column], lines: Sequence[Sequence[str]], box: float) -> None:
        x = self.left
        self.pdf.set_line_width(0.6)
        self.pdf.set_fill_color(*_SHADE)
        for column, cell in zip(columns, lines, strict=True):
            self.pdf.rect(x, self.y, column.width, box, style="DF" if column.shade else "D")
            for index, line in enumerate(cell):
                top = self.y + _PAD_Y + index * _BODY * _LEADING
                self.put(x + _PAD_X, top, line, room=column.width - 2 * _PAD_X, face=column.face, align=column.align)
            x += column.width
        self.y += box

    def certificate_head(self, title: str, number: str, *, electronic: bool, qr_url: str) -> None:
        """The title, and the number under it; the 电子证照 form is marked so in the head, with the QR (to the
        registry's verification page) top right and the number beside it."""
        top = self.y
        if electronic:
            self.tag("电子证照", self.left, top)
        self.put(
            self.left, top, self.printable(title, _TITLE_FACE), room=self.width, face=_TITLE_FACE, size=22, align="C"
        )
        self.y = top + 22 * _LEADING + 8
        room = self.width - (_QR_SIZE + 8 if qr_url else 0)
        self.put(self.left, self.y, self.printable(number, _SANS), room=room, size=12)
        if qr_url:
            self.qr(qr_url, self.right - _QR_SIZE, top)
            for index, caption in enumerate(("扫码核验电子证照", number)):
                line_top = top + _QR_SIZE - (2 - index) * _TINY * _LEADING
                text = self.printable(caption, _SANS)
                self.put(self.left, line_top, text, room=room, size=_TINY, align="R", color=_GREY)
        self.y = max(self.y + 12 * _LEADING, top + _QR_SIZE) + 12

    def tag(self, text: str, x: float, top: float) -> None:
        """A small red box with `text`, as a stamp in the head."""
        text = self.printable(text, _SANS_BOLD)
        wide = self.measure(text, _SANS_BOLD, 11) + 2 * _PAD_X
        self.pdf.set_draw_color(*_RED)
        self.pdf.set_line_width(1.0)
        self.pdf.rect(x, top, wide, 11 * _LEADING + 2)
        self.pdf.set_draw_color(0, 0, 0)
        self.put(x + _PAD_X, top + 1, text, room=wide, face=_SANS_BOLD, size=11, color=_RED)

    def sign_off(
        self,
        office: Office,
        day: str,
        *,
        above_name: str = "",
        clerk: str = "",
        qr: tuple[str, str] | None = None,
    ) -> None:
        """The foot of a document: 经办人 and the QR on the left; the issuing office and the date right, beside
        the seal area. The seal stands clear of the text so the text layer reads in order."""
        line = _BODY * _LEADING
        self.need(2 * _SEAL_R + 2 * line)
        top = self.y + 8
        seal_x = self.right - _SEAL_R
        issuer_right = seal_x - _SEAL_R - 12
        issuer = [self.printable(text, _SANS) for text in (above_name, office.name, day) if text]
        issuer_width = min(max(self.measure(text, _SANS, _BODY) for text in issuer), 210.0)
        first = top + _SEAL_R - len(issuer) * line / 2
        for index, text in enumerate(issuer):
            self.put(issuer_right - issuer_width, first + index * line, text, room=issuer_width, align="R")
        self.seal(seal_x, top + _SEAL_R, office.seal_text or office.name)
        left_top = top
        if clerk:
            self.put(self.left, left_top, self.printable(f"经办人：{clerk}", _SANS), room=180)
            left_top += line + 4
        if qr:
            self.qr(qr[0], self.left, left_top)
            self.qr_caption(qr[1], qr[0], self.left + _QR_SIZE + 6, left_top, issuer_right - issuer_width - 16)
            left_top += _QR_SIZE
        self.y = max(top + 2 * _SEAL_R, left_top) + 8

    def qr_caption(self, caption: str, url: str, x: float, top: float, right: float) -> None:
        room = max(right - x, 60.0)
        self.put(x, top, self.printable(caption, _SANS), room=room, size=_SMALL, color=_GREY)
        top += _SMALL * _LEADING
        for piece in _char_lines(self.printable(url, _SANS), room, lambda text: self.measure(text, _SANS, _TINY)):
            self.put(x, top, piece, room=room, size=_TINY, color=_GREY)
            top += _TINY * _LEADING

    def seal(self, cx: float, cy: float, text: str) -> None:
        """The seal area: a red ring, a star, the office's name above it and the seal's purpose below, each line
        one string set small enough to fit its chord of the circle."""
        pdf = self.pdf
        pdf.set_draw_color(*_RED)
        pdf.set_fill_color(*_RED)
        pdf.set_line_width(1.8)
        pdf.circle(cx, cy, _SEAL_R)
        pdf.star(cx, cy, _SEAL_R * 0.08, _SEAL_R * 0.2, 5, rotate_degrees=180, style="F")
        pdf.set_draw_color(0, 0, 0)
        name, _, purpose = text.strip().partition(" ")
        above = _halves(name.strip()) if len(name.strip()) > 6 else [name.strip()]
        offsets = [-0.66, -0.4] if len(above) == 2 else [-0.52]
        for offset, part in zip(offsets, above, strict=True):
            self.seal_line(cx, cy, cy + offset * _SEAL_R, part, 9.0)
        if purpose.strip():
            self.seal_line(cx, cy, cy + 0.45 * _SEAL_R, purpose.strip(), 8.0)

    def seal_line(self, cx: float, cy: float, middle: float, text: str, size: float) -> None:
        """One line of the seal's text centred on `middle`, as wide as the circle's chord at its far edge."""
        far = abs(middle - cy) + size / 2
        chord = 2 * math.sqrt(max((_SEAL_R - 4) ** 2 - far**2, 1.0))
        top = middle - size * _LEADING / 2
        self.put(
            cx - chord / 2,
            top,
            self.printable(text, _SANS_BOLD),
            room=chord,
            face=_SANS_BOLD,
            size=size,
            align="C",
            color=_RED,
        )

    def qr(self, url: str, x: float, top: float) -> None:
        """The QR of `url`, _QR_SIZE square with its quiet zone, as one filled rectangle per run of dark modules."""
        modules = qr_modules(url)
        unit = _QR_SIZE / (len(modules) + 2 * _QR_QUIET)
        origin_x, origin_y = x + _QR_QUIET * unit, top + _QR_QUIET * unit
        self.pdf.set_fill_color(0, 0, 0)
        for row_index, row in enumerate(modules):
            for start, length in _dark_runs(row):
                # a hair taller than a module, so no seam shows between rows on screen
                self.pdf.rect(origin_x + start * unit, origin_y + row_index * unit, length * unit, unit * 1.02, "F")

    def finish(self, footer: str) -> bytes:
        """Page footers (the number, 第 i 页 共 n 页), then the PDF."""
        total = self.pdf.pages_count
        for page in range(1, total + 1):
            self.pdf.page = page
            text = self.printable(f"{footer}　第{page}页　共{total}页", _SANS)
            self.put(self.left, self.pdf.h - _BOTTOM + 20, text, room=self.width, size=_SMALL, align="C", color=_GREY)
        if self.missing:
            log.warning(
                "%s: the font has no glyph for %s; printed as %s",
                self.pdf.title,
                " ".join(f"{char} (U+{ord(char):04X})" for char in sorted(self.missing)),
                MISSING_GLYPH,
            )
        return bytes(self.pdf.output())


def _new_pdf(title: str, author: str, font_dirs: tuple[str, ...]) -> FPDF:
    from fpdf import FPDF  # only where a PDF is made: the CLI and the screens start without it

    regular = _font_file(font_dirs, FONT_FILE)
    if regular is None:
        raise WorkstationError(f"no CJK font for the PDF: install fonts-noto-cjk ({FONT_FILE} not found)")
    bold = _font_file(font_dirs, BOLD_FONT_FILE) or regular
    pdf = FPDF(orientation="portrait", unit="pt", format="A4")
    pdf.set_margins(_MARGIN_X, _TOP, _MARGIN_X)
    pdf.set_auto_page_break(False)  # pages are turned by the layout, between whole lines and rows
    pdf.add_font(_SANS, fname=regular, collection_font_number=FONT_INDEX)
    pdf.add_font(_SANS_BOLD, fname=bold, collection_font_number=FONT_INDEX)
    pdf.add_font(_TITLE_FACE, fname=_font_file(font_dirs, SERIF_BOLD_FILE) or bold, collection_font_number=FONT_INDEX)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("workstation")
    pdf.set_producer("workstation")
    pdf.set_lang("zh-CN")
    return pdf


def _phone(phone: str) -> str:
    return f"电话：{phone}" if phone else ""


def _halves(text: str) -> list[str]:
    middle = (len(text) + 1) // 2
    return [text[:middle], text[middle:]]


def _char_lines(text: str, room: float, measure: Callable[[str], float]) -> list[str]:
    """`text` (a URL: no spaces to break at) cut between any two characters to fit `room`."""
    lines, current = [], ""
    for char in text:
        if current and measure(current + char) > room:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines
