"""受理回执: what the applicant takes home from the window, as text (the screen, the CLI) and as an A4 PDF.

The receipt names the dossier, its business, the applicants (identifiers masked), each material received with
its page count, the acceptance time and the time limit (R19), the station and the clerk, by the name on their
account (a document a person reads names people, never a login). Building it is a read: no audit event, no
outbox op.

The PDF shows the same lines as text in Noto Sans CJK (Debian's fonts-noto-cjk), embedded as a subset, so it can
be searched, copied and read aloud, and prints the same everywhere. A line too long for the page breaks between
Chinese characters or at a space, never inside a code (a masked identifier, the dossier number), and never puts a
closing mark at a line's start. A character the font cannot draw is printed as 〓 and logged, never dropped. A
receipt too long for one page runs on to the next. It is written atomically (temporary file in the same folder,
fsync, rename).
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from workstation.domain.clock import CalendarError
from workstation.domain.permissions import Actor, Permission, require
from workstation.errors import UsageError, WorkstationError
from workstation.services.views import OFFICE_TZ, DossierDetail, mask_id
from workstation.store.models import User

if TYPE_CHECKING:
    from workstation.services.desk import Desk

TITLE = "不动产登记受理回执"
KIND_LABELS = {"enterprise": "企业", "individual": "个人"}
ID_LABELS = {"uscc": "统一社会信用代码", "id_number": "身份证号"}
# The Simplified Chinese face inside Debian's fonts-noto-cjk collections (the samples' fonts); bold for the title
# when it is installed too.
FONT_FILE, BOLD_FONT_FILE, FONT_INDEX = "NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", 2
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
MISSING_GLYPH = "〓"
# Points (1/72 inch): A4, margins, 五号 body text and 三号 title, as Chinese office documents are set.
_MARGIN = 56.0
_BODY_PT, _TITLE_PT = 10.5, 16.0
_LEADING = 1.6  # line height in ems
_INDENT_PER_SPACE = _BODY_PT / 2  # the text's leading spaces, as an indent
_HANG = 2 * _BODY_PT  # continuation lines of a wrapped line sit this much further in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceiptParty:
    role: str  # e.g. 买受人
    kind: str  # 企业 | 个人
    name: str
    id_label: str
    id_masked: str


@dataclass(frozen=True)
class ReceiptMaterial:
    material: str
    label: str
    party: str  # the party's role and name, or "" for the dossier's own materials
    pages: int
    waived: str | None  # the waiver's reason when the slot was waived rather than received


@dataclass(frozen=True)
class Receipt:
    number: str
    business: str
    business_name: str
    status: str
    parties: tuple[ReceiptParty, ...]
    materials: tuple[ReceiptMaterial, ...]
    unplaced_pages: int  # pages received that no checklist item holds (yet)
    accepted_at: datetime | None
    limit_days: int | None
    due: date | None
    station: str
    clerk: str
    fee: str = ""  # 应缴费用 as assessed now (R6), or why it cannot be yet


def build_receipt(desk: Desk, actor: Actor, number: str) -> Receipt:
    """The receipt of dossier `number` as it stands now."""
    require(actor, Permission.DOSSIER_VIEW)
    detail = desk.dossiers.show(number)
    try:
        clock = desk.clocks.clock(detail.number)
        limit, due = clock.limit_days or None, clock.due
    except CalendarError as exc:
        # The receipt still goes out with the time limit; the due date waits for the holiday calendar.
        log.warning("receipt of %s without a due date: %s", detail.number, exc)
        limit, due = desk.catalogue.business(detail.business).time_limit_days, None
    charge = desk.settle.charge(detail.number)
    fee = f"{charge.due} 元" if charge.due else "待核定 to be assessed (see: fee show)"
    return replace(
        receipt_from(
            detail,
            station=_station(desk.settings.station_name, desk.settings.station_id),
            clerk=person_name(desk, actor),
            limit_days=limit,
            due=due,
        ),
        fee=fee,
    )


def receipt_from(
    detail: DossierDetail, *, station: str, clerk: str, limit_days: int | None, due: date | None
) -> Receipt:
    roles = {p.key: p for p in detail.parties}
    pages = Counter((p.material, p.party_key) for p in detail.pages if p.material)
    placed = 0
    materials = []
    for slot in detail.slots:
        count = pages.pop((slot.material, slot.party_key), 0)
        placed += count
        if not count and not slot.waived:
            continue
        party = roles.get(slot.party_key or "")
        materials.append(
            ReceiptMaterial(
                material=slot.material,
                label=slot.label,
                party=f"{party.role_label} {party.name or ''}".strip() if party else "",
                pages=count,
                waived=(slot.waiver_reason or "waived") if slot.waived and not count else None,
            )
        )
    return Receipt(
        number=detail.number,
        business=detail.business,
        business_name=detail.business_name,
        status=detail.status,
        parties=tuple(
            ReceiptParty(
                role=p.role_label,
                kind=KIND_LABELS.get(p.kind, p.kind),
                name=p.name or "—",
                id_label=ID_LABELS.get(p.id_type or "", "证件号码"),
                id_masked=mask_id(p.id_value) or "—",
            )
            for p in detail.parties
        ),
        materials=tuple(materials),
        unplaced_pages=len(detail.pages) - placed,
        accepted_at=detail.accepted_at,
        limit_days=limit_days,
        due=due,
        station=station,
        clerk=clerk,
    )


def receipt_lines(receipt: Receipt) -> list[str]:
    """The receipt, line by line (the screen, the CLI and the PDF show the same lines)."""
    accepted = (
        receipt.accepted_at.astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M")
        if receipt.accepted_at
        else f"未受理 not accepted yet ({receipt.status})"
    )
    lines = [
        TITLE,
        "",
        f"受理号 {receipt.number}",
        f"业务 {receipt.business_name} ({receipt.business})",
        f"受理时间 {accepted}",
    ]
    if receipt.limit_days:
        due = f"，预计 {receipt.due.isoformat()} 前办结" if receipt.due else ""
        lines.append(f"办理时限 {receipt.limit_days} 个工作日{due}")
    if receipt.fee:
        lines.append(f"应缴费用 {receipt.fee}")
    lines += ["", "申请人 applicants"]
    lines += [f"  {p.role}({p.kind}) {p.name}  {p.id_label} {p.id_masked}" for p in receipt.parties]
    lines += ["", "收取材料 materials received"]
    for item in receipt.materials:
        who = f" — {item.party}" if item.party else ""
        amount = f"免收: {item.waived}" if item.waived is not None else f"{item.pages} 页"
        lines.append(f"  {item.material} {item.label}{who}  {amount}")
    if not receipt.materials:
        lines.append("  (无 none)")
    if receipt.unplaced_pages:
        lines.append(f"  其他页面 other pages  {receipt.unplaced_pages} 页")
    lines += ["", f"受理窗口 {receipt.station}", f"经办人 {receipt.clerk}"]
    return lines


def receipt_text(receipt: Receipt) -> str:
    return "\n".join(receipt_lines(receipt))


def write_receipt_pdf(receipt: Receipt, out: Path, *, font_dirs: tuple[str, ...] = FONT_DIRS) -> Path:
    """The receipt as an A4 PDF at `out` (atomic). WorkstationError if no CJK font is installed."""
    from fpdf import FPDF  # only where a PDF is written: the CLI and the screens start without it
    from fpdf.fonts import TTFFont

    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give the PDF's file name, e.g. {out / 'receipt.pdf'}")
    regular = _font_file(font_dirs, FONT_FILE)
    if regular is None:
        raise WorkstationError(f"no CJK font for the receipt PDF: install fonts-noto-cjk ({FONT_FILE} not found)")
    bold = _font_file(font_dirs, BOLD_FONT_FILE) or regular

    pdf = FPDF(orientation="portrait", unit="pt", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(False)  # pages are turned here, between whole lines
    pdf.add_font("body", fname=regular, collection_font_number=FONT_INDEX)
    pdf.add_font("title", fname=bold, collection_font_number=FONT_INDEX)
    pdf.set_title(f"{TITLE} {receipt.number}")
    pdf.set_subject(receipt.business_name)
    pdf.set_author(receipt.station)
    pdf.set_creator("workstation")
    pdf.set_producer("workstation")
    pdf.set_lang("zh-CN")
    pdf.add_page()

    body = pdf.fonts["body"]
    assert isinstance(body, TTFFont)  # added from a font file above, never one of the PDF core fonts
    lines = _printable(receipt, receipt_lines(receipt), set(body.cmap))
    width = pdf.w - 2 * _MARGIN
    pdf.set_font("title", size=_TITLE_PT)
    pdf.set_xy(_MARGIN, _MARGIN)
    pdf.cell(w=width, h=_TITLE_PT * _LEADING, text=lines[0], align="C")
    y = _MARGIN + _TITLE_PT * _LEADING * 1.5
    pdf.set_font("body", size=_BODY_PT)
    line_height = _BODY_PT * _LEADING
    for line in lines[1:]:
        if not line.strip():
            y += line_height / 2
            continue
        text = line.lstrip(" ")
        indent = (len(line) - len(text)) * _INDENT_PER_SPACE
        for row, piece in enumerate(wrap(text, width - indent, pdf.get_string_width, narrower=_HANG)):
            if y + line_height > pdf.h - _MARGIN:
                pdf.add_page()
                y = _MARGIN
            x = _MARGIN + indent + (_HANG if row else 0)
            room = pdf.w - _MARGIN - x
            # A code wider than the whole line is set smaller rather than broken.
            shown = pdf.get_string_width(piece)
            pdf.set_font_size(_BODY_PT * min(1.0, room / shown) if shown else _BODY_PT)
            pdf.set_xy(x, y)
            pdf.cell(w=room, h=line_height, text=piece)
            pdf.set_font_size(_BODY_PT)
            y += line_height

    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    try:
        with temp.open("wb") as stream:
            stream.write(pdf.output())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise WorkstationError(f"cannot write {out} ({exc.strerror or type(exc).__name__})") from None
    return out


def receipt_path(data_dir: Path, number: str) -> Path:
    return Path(data_dir) / "receipts" / f"{number}.pdf"


def person_name(desk: Desk, actor: Actor) -> str:
    """How a document names the person acting: the name on their account, their login only when it has none."""
    with desk.db.read() as session:
        name = session.execute(select(User.display_name).where(User.id == actor.user_id)).scalar_one_or_none()
    return (name or "").strip() or actor.username


# Chinese text breaks between any two characters; other runs of letters, digits and signs (identifiers, numbers,
# dates, codes) only at spaces. Closing marks never start a line, opening marks never end one (避头尾).
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"  # radicals to ideographs
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"  # compatibility ideographs, vertical and full-width forms
    "\U00020000-\U0003134f"  # ideographs of the extension planes (rare characters in names)
)
_UNITS = re.compile(rf"(\s*)([^\s{_CJK}]+|.)", re.DOTALL)
_NO_START = frozenset("，。、；：！？）》」』】〕〉…·％,.;:!?)]}%")
_NO_END = frozenset("（《「『【〔〈([{")


def wrap(text: str, width: float, measure: Callable[[str], float], *, narrower: float = 0.0) -> list[str]:
    """`text` in lines no wider than `width` (continuation lines: `width - narrower`) as `measure` measures them,
    broken only where a reader expects it; a single code wider than a line gets a line of its own, whole."""
    units: list[tuple[str, str]] = []  # (the spaces before it, an unbreakable piece)
    for space, piece in _UNITS.findall(text.strip()):
        if units and (piece[0] in _NO_START or units[-1][1][-1] in _NO_END):
            before, previous = units[-1]
            units[-1] = (before, previous + space + piece)
        else:
            units.append((space, piece))
    lines: list[str] = []
    current = ""
    for space, piece in units:
        candidate = f"{current}{space}{piece}" if current else piece
        room = width - narrower if lines else width
        if current and measure(candidate) > room:
            lines.append(current)
            current = piece
        else:
            current = candidate
    return [*lines, current]


def _printable(receipt: Receipt, lines: list[str], covered: set[int]) -> list[str]:
    """The lines with each character the font has no glyph for (a rare character of a name, beyond what Noto CJK
    draws) shown as 〓, the typesetter's mark for a missing character, rather than silently left out."""
    missing = sorted({char for line in lines for char in line if not char.isspace() and ord(char) not in covered})
    if not missing:
        return lines
    log.warning(
        "receipt of %s: the font has no glyph for %s; printed as %s",
        receipt.number,
        " ".join(f"{char} (U+{ord(char):04X})" for char in missing),
        MISSING_GLYPH,
    )
    table = str.maketrans(dict.fromkeys(missing, MISSING_GLYPH))
    return [line.translate(table) for line in lines]


def _font_file(font_dirs: tuple[str, ...], name: str) -> str | None:
    for folder in font_dirs:
        path = Path(folder).expanduser() / name
        if path.is_file():
            return str(path)
    return None


def _station(name: str, station_id: str) -> str:
    return name if not station_id or name == station_id else f"{name} ({station_id})"
