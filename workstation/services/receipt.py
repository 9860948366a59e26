"""受理回执: what the applicant takes home from the window, as text (the screen, the CLI) and as a one-page PDF.

The receipt names the dossier, its business, the applicants (identifiers masked), each material received with
its page count, the acceptance time and the time limit (R19), the station and the clerk. Building it is a read:
no audit event, no outbox op. The PDF is the text set in Noto Sans CJK on an A4 page image (150 dpi), written
atomically (temporary file in the same folder, fsync, rename).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from workstation.domain.clock import CalendarError
from workstation.domain.permissions import Actor, Permission, require
from workstation.errors import UsageError, WorkstationError
from workstation.services.views import OFFICE_TZ, DossierDetail, mask_id

if TYPE_CHECKING:
    from workstation.services.desk import Desk

TITLE = "不动产登记受理回执"
KIND_LABELS = {"enterprise": "企业", "individual": "个人"}
ID_LABELS = {"uscc": "统一社会信用代码", "id_number": "身份证号"}
# The Simplified Chinese face inside Debian's fonts-noto-cjk collection (the samples' fonts).
FONT_FILE, FONT_INDEX = "NotoSansCJK-Regular.ttc", 2
FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
A4_150DPI = (1240, 1754)
_MARGIN = 110

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
    return receipt_from(
        detail,
        station=_station(desk.settings.station_name, desk.settings.station_id),
        clerk=actor.username,
        limit_days=limit,
        due=due,
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
    """The receipt as a one-page A4 PDF at `out` (atomic). WorkstationError if no CJK font is installed."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give the PDF's file name, e.g. {out / 'receipt.pdf'}")
    font = _font(font_dirs, 30)
    title_font = _font(font_dirs, 46)
    page = Image.new("L", A4_150DPI, 255)
    draw = ImageDraw.Draw(page)
    y = _MARGIN
    lines = receipt_lines(receipt)
    draw.text((A4_150DPI[0] // 2, y), lines[0], font=title_font, fill=0, anchor="mt")
    y += 90
    for line in lines[1:]:
        for piece in _wrap(draw, line, font, A4_150DPI[0] - 2 * _MARGIN):
            if y > A4_150DPI[1] - _MARGIN:
                raise WorkstationError(f"dossier {receipt.number}: the receipt does not fit on one page")
            draw.text((_MARGIN, y), piece, font=font, fill=0)
            y += 44
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    try:
        with temp.open("wb") as stream:
            page.save(stream, format="PDF", resolution=150.0, title=f"{TITLE} {receipt.number}")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise WorkstationError(f"cannot write {out} ({exc.strerror or type(exc).__name__})") from None
    return out


def receipt_path(data_dir: Path, number: str) -> Path:
    return Path(data_dir) / "receipts" / f"{number}.pdf"


def _font(font_dirs: tuple[str, ...], px: int) -> ImageFont.FreeTypeFont:
    for folder in font_dirs:
        path = Path(folder).expanduser() / FONT_FILE
        if path.is_file():
            # The basic layout engine: the same output whether or not libraqm is installed.
            return ImageFont.truetype(str(path), px, index=FONT_INDEX, layout_engine=ImageFont.Layout.BASIC)
    raise WorkstationError(f"no CJK font for the receipt PDF: install fonts-noto-cjk ({FONT_FILE} not found)")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break a line by characters where it is wider than the page (Chinese has no spaces to break at)."""
    pieces: list[str] = []
    current = ""
    for char in text:
        if current and draw.textlength(current + char, font=font) > width:
            pieces.append(current)
            current = "    " + char
        else:
            current += char
    return [*pieces, current]


def _station(name: str, station_id: str) -> str:
    return name if not station_id or name == station_id else f"{name} ({station_id})"
