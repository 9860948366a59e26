"""The searchable dossier PDF: every page of a dossier as its scan under an invisible OCR text layer.

Pages come in the dossier's checklist order (its slots: the dossier's own materials in catalogue order, then each
party's), a slot's pages in the order they were scanned, and last the pages no slot holds, in scan order; so each
material is one run of pages under one bookmark, in the order the checklist names them.

Each page image is laid out the way OCR read it (the file's page, turned upright by the rotation OCR found, then
straightened by the skew `ocr.preprocess.prepare` measures, which is deterministic), so the stored line boxes fall
on the printed text. A page goes in as it was scanned: a colour page in colour (its red seals too: lifting them
is for the OCR engine only), a gray page gray with the contrast OCR read it at, a bilevel page bilevel. A JPEG
page that needed no turning, straightening or stretching goes in as the stored file's own bytes. A page not read
yet goes in as an image without text and is counted in the report.

Blobs are verified before use: a missing or corrupt one stops the export with one line, and nothing is written
(`build_searchable_pdf` writes atomically, and it is only called once every page is ready). The export is a
read: no audit event, no outbox op; it is logged at INFO on "workstation.export".
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import select

from ocr.classify import UNKNOWN
from ocr.errors import OcrError
from ocr.loading import PageImage, iter_pages, sniff
from ocr.pdf import JPEG_QUALITY, PdfPage, build_searchable_pdf
from ocr.preprocess import prepare, rotate_quadrant, straighten
from workstation.domain.errors import DomainError
from workstation.domain.permissions import Actor, Permission, require
from workstation.errors import BlobError, UsageError, WorkstationError
from workstation.services.views import DossierDetail, PageView
from workstation.store.models import Page

if TYPE_CHECKING:
    from workstation.services.desk import Desk

log = logging.getLogger("workstation.export")

OTHER = "其他 other"
TITLE_PREFIX = "不动产登记案卷"

Line = tuple[str, tuple[int, int, int, int]]


@dataclass(frozen=True)
class ExportReport:
    number: str
    path: str
    pages: int
    with_text: int  # pages with at least one OCR line in the text layer
    without_text: int  # pages not read yet, read as blank, or read without any text
    unread: tuple[int, ...]  # dossier positions of the pages OCR has not (successfully) read
    bookmarks: tuple[tuple[str, int], ...]  # (title, 1-based page number in the PDF)
    size: int  # bytes written

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "path": self.path,
            "pages": self.pages,
            "with_text": self.with_text,
            "without_text": self.without_text,
            "unread": list(self.unread),
            "bookmarks": [{"title": title, "page": page} for title, page in self.bookmarks],
            "size": self.size,
        }


@dataclass(frozen=True)
class _Stored:
    """What the export needs of a page row beyond its view."""

    file_page: int
    rotation: int
    ocr_status: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class _Rendered:
    data: bytes  # encoded: JPEG for gray and colour pages, PNG for bilevel ones
    dpi: int


def export_pdf(desk: Desk, actor: Actor, number: str, out: Path) -> ExportReport:
    """Write dossier `number` as a searchable PDF to `out`; see the module docstring."""
    require(actor, Permission.DOSSIER_VIEW)
    out = Path(out)
    detail = desk.dossiers.show(number)  # NotFound / UsageError for a bad number
    _check_target(out)
    if not detail.pages:
        raise UsageError(f"dossier {detail.number} has no pages to export; scan its materials first")
    stored = _stored_pages(desk, detail)
    rendered = _render(desk, detail, stored)

    pdf_pages: list[PdfPage] = []
    unread: list[int] = []
    with_text = 0
    for view in checklist_order(detail):
        row = stored[view.id]
        image = rendered[view.id]
        if row.ocr_status != "done":
            unread.append(view.position)
        if any(text.strip() for text, _box in row.lines):
            with_text += 1
        pdf_pages.append(
            PdfPage(image=image.data, dpi=image.dpi, lines=row.lines, label=_group_title(desk, detail, view))
        )
    bookmarks = _bookmarks(pdf_pages)
    business = detail.business_name or detail.business
    try:
        build_searchable_pdf(
            pdf_pages,
            out,
            title=f"{TITLE_PREFIX} {detail.number}",
            author=_station(desk),
            subject=business,
            keywords=[detail.number, detail.business],
            bookmarks=bookmarks,
        )
    except ValueError as exc:  # bad input to the writer: not expected from stored pages, still one line
        raise WorkstationError(f"dossier {detail.number}: cannot build the PDF ({exc}); nothing was written") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise WorkstationError(f"cannot write {out} ({reason}); nothing was written") from None
    size = out.stat().st_size
    report = ExportReport(
        number=detail.number,
        path=str(out),
        pages=len(pdf_pages),
        with_text=with_text,
        without_text=len(pdf_pages) - with_text,
        unread=tuple(sorted(unread)),
        bookmarks=tuple((title, index + 1) for title, index in bookmarks),
        size=size,
    )
    log.info(
        "dossier %s exported by %s to %s: %d pages (%d with text, %d not read), %d bytes",
        detail.number,
        actor.username,
        out,
        report.pages,
        report.with_text,
        len(report.unread),
        size,
    )
    return report


# --- helpers ------------------------------------------------------------------------------------------------


def _check_target(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give the PDF's file name, e.g. {out / 'dossier.pdf'}")
    if not out.parent.is_dir():
        raise UsageError(f"the folder {out.parent} does not exist; create it or choose another --pdf path")


def _station(desk: Desk) -> str:
    name, station_id = desk.settings.station_name, desk.settings.station_id
    return name if not station_id or name == station_id else f"{name} ({station_id})"


def checklist_order(detail: DossierDetail) -> list[PageView]:
    """The dossier's pages in checklist order, then the pages of no slot; scan order within each."""
    slots: dict[tuple[str | None, str | None], int] = {
        (slot.material, slot.party_key): index for index, slot in enumerate(detail.slots)
    }
    rest = len(slots)
    return sorted(detail.pages, key=lambda p: (slots.get((p.material, p.party_key), rest), p.position))


def _stored_pages(desk: Desk, detail: DossierDetail) -> dict[str, _Stored]:
    wanted = {p.id for p in detail.pages}
    with desk.db.read() as session:
        rows = session.execute(
            select(Page.id, Page.file_page, Page.rotation, Page.ocr_status, Page.ocr_lines).where(
                Page.dossier_id == detail.id
            )
        ).all()
    stored = {
        row.id: _Stored(
            file_page=int(row.file_page or 1),
            rotation=int(row.rotation or 0),
            ocr_status=str(row.ocr_status),
            lines=_lines(row.ocr_lines) if row.ocr_status == "done" else (),
        )
        for row in rows
        if row.id in wanted
    }
    missing = wanted - stored.keys()
    if missing:  # pages are only ever soft-deleted; a row gone between two reads means a concurrent purge
        raise WorkstationError(f"dossier {detail.number} changed during the export; try again")
    return stored


def _lines(raw: Sequence[Any] | None) -> tuple[Line, ...]:
    """Stored [[text, [l, t, r, b], confidence], …] as (text, box); malformed entries are skipped."""
    lines: list[Line] = []
    for entry in raw or ():
        try:
            text, box = entry[0], entry[1]
            left, top, right, bottom = (round(float(v)) for v in box)
        except (TypeError, ValueError, IndexError):
            continue
        if isinstance(text, str) and text.strip():
            lines.append((text, (left, top, right, bottom)))
    return tuple(lines)


def _render(desk: Desk, detail: DossierDetail, stored: dict[str, _Stored]) -> dict[str, _Rendered]:
    """Every page's image, upright and straight as OCR saw it, encoded; each file is read once."""
    by_file: dict[str, list[PageView]] = {}
    for view in detail.pages:
        by_file.setdefault(view.sha256, []).append(view)
    rendered: dict[str, _Rendered] = {}
    for sha, views in by_file.items():
        first = views[0]
        where = f"dossier {detail.number}, page {first.position} ({first.source_name or sha[:12]})"
        try:
            data = desk.blobs.read(sha)
        except BlobError as exc:
            raise BlobError(f"{where}: {exc}; nothing was written") from None
        wanted: dict[int, list[PageView]] = {}
        for view in views:
            wanted.setdefault(stored[view.id].file_page, []).append(view)
        last = max(wanted)
        stored_jpeg = data if sniff(data[:1024]) == "jpeg" else None
        try:
            for page in iter_pages(data, name=first.source_name or sha[:12]):
                for view in wanted.get(page.page, ()):
                    rendered[view.id] = _Rendered(_picture(page, stored[view.id].rotation, stored_jpeg), page.dpi)
                if page.page >= last:
                    break
        except OcrError as exc:
            raise BlobError(f"{where}: the stored scan cannot be read ({exc}); nothing was written") from None
        for file_page, pages in wanted.items():
            if pages[0].id not in rendered:
                raise BlobError(
                    f"dossier {detail.number}, page {pages[0].position}: its file has no page {file_page}; "
                    "nothing was written"
                )
    return rendered


def _picture(page: PageImage, rotation: int, stored_jpeg: bytes | None) -> bytes:
    """The page as the PDF shows it, encoded now, so a long dossier is not held as raw pixels."""
    upright = rotate_quadrant(page.image, -rotation)
    gray, done = prepare(upright)
    skew = float(done["skew_deg"])
    stretched = upright.mode == "L" and bool(done["contrast_stretched"])
    if stored_jpeg is not None and page.as_stored and not rotation % 360 and not skew and not stretched:
        return stored_jpeg
    if upright.mode == "L":
        return _encode(gray, "JPEG")
    return _encode(straighten(upright, skew), "PNG" if upright.mode == "1" else "JPEG")


def _encode(image: Image.Image, fmt: str) -> bytes:
    """JPEG as `ocr.pdf` would encode a gray or colour page; PNG keeps a bilevel page's bits for its Flate stream."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _group_title(desk: Desk, detail: DossierDetail, view: PageView) -> str:
    """ "M05 营业执照 — 买受人 济南海岱餐饮管理有限公司"; pages of no material go under "其他 other"."""
    code = view.material
    if not code or code == UNKNOWN:
        return OTHER
    try:
        title = f"{code} {desk.catalogue.material(code).name}"
    except DomainError:
        title = code
    party = next((p for p in detail.parties if p.key == view.party_key), None) if view.party_key else None
    if party is not None:
        who = " ".join(part for part in (party.role_label, party.name) if part)
        title = f"{title} — {who}"
    return title


def _bookmarks(pages: Sequence[PdfPage]) -> list[tuple[str, int]]:
    """One bookmark per run of consecutive pages of the same material group (0-based page index)."""
    marks: list[tuple[str, int]] = []
    previous: str | None = None
    for index, page in enumerate(pages):
        title = page.label or OTHER
        if title != previous:
            marks.append((title, index))
        previous = title
    return marks
