"""Page images for display: a stored scan's page, turned upright and downscaled, so screens never read blobs.

A colour scan is shown in colour, red seals and all; a gray one in gray.

A reviewer flips through a dossier's pages and back again; decoding a 300 dpi scan takes far longer than
drawing it, so the last few prepared pages are kept in a small LRU cache. The key holds everything the picture
depends on (file, page of the file, rotation, size), so a page rotated since is decoded afresh.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from sqlalchemy import select

from ocr.errors import OcrError
from ocr.loading import iter_pages
from ocr.preprocess import rotate_quadrant
from workstation.errors import BlobError, NotFound
from workstation.store.models import Dossier, Page

if TYPE_CHECKING:
    from workstation.services.desk import Desk

DISPLAY_MAX_SIDE = 1600  # enough for Sixel/Kitty at 160 columns; half-cell needs far less
CACHE_SIZE = 8
# Pages are read no finer than OCR reads them; a 600 dpi scan is not kept at full size only to be shrunk.
DISPLAY_DPI = 300
# Full-size copies for the system's image viewer: kept in the data dir (they show ID cards), gone after an hour.
FULL_SIZE_DIR = "tmp/full-pages"
FULL_SIZE_KEEP_SECONDS = 3600


@dataclass(frozen=True)
class StoredPage:
    """What the picture of a page depends on."""

    sha256: str
    file_page: int
    rotation: int
    source_name: str
    media_type: str
    position: int


class PageImages:
    """Page pictures of one desk's dossiers, upright and downscaled, with a small LRU cache (thread-safe)."""

    def __init__(self, desk: Desk, *, max_side: int = DISPLAY_MAX_SIDE, cache_size: int = CACHE_SIZE) -> None:
        self._desk = desk
        self._max_side = max_side
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int, int, int], Image.Image] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0  # pages decoded from their blob (cache misses), for tests and the curious

    def stored(self, number: str, page_id: str) -> StoredPage:
        with self._desk.db.read() as session:
            row = session.execute(
                select(Page.sha256, Page.file_page, Page.rotation, Page.source_name, Page.media_type, Page.position)
                .join(Dossier, Dossier.id == Page.dossier_id)
                .where(Dossier.number == number, Page.id == page_id, Page.deleted.is_(False))
            ).one_or_none()
        if row is None:
            raise NotFound(f"dossier {number[:80]} has no such page")
        return StoredPage(
            sha256=row.sha256,
            file_page=int(row.file_page or 1),
            rotation=int(row.rotation or 0),
            source_name=row.source_name or "",
            media_type=row.media_type or "",
            position=int(row.position),
        )

    def image(self, number: str, page_id: str) -> Image.Image:
        """The page upright, no larger than `max_side` on its long side. BlobError when it cannot be shown."""
        stored = self.stored(number, page_id)
        key = (stored.sha256, stored.file_page, stored.rotation, self._max_side)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        image = self._decode(number, stored, target_dpi=DISPLAY_DPI)
        if image.mode == "1":  # a bilevel scan shrunk bit by bit loses its strokes; in gray they stay legible
            image = image.convert("L")
        image.thumbnail((self._max_side, self._max_side), Image.Resampling.LANCZOS)
        with self._lock:
            self._cache[key] = image
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            self.decoded += 1
        return image

    def full_resolution(self, number: str, page_id: str, directory: Path | None = None) -> Path:
        """The page upright at its scanned resolution, as a PNG for the system's image viewer.

        By default in `<data dir>/tmp/full-pages`, where copies older than an hour are removed as new ones come.
        """
        stored = self.stored(number, page_id)
        image = self._decode(number, stored, target_dpi=600)
        folder = Path(directory) if directory is not None else Path(self._desk.settings.data_dir) / FULL_SIZE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        remove_older(folder, FULL_SIZE_KEEP_SECONDS)
        with tempfile.NamedTemporaryFile(
            prefix=f"{number}-p{stored.position}-", suffix=".png", dir=folder, delete=False
        ) as handle:
            image.save(handle, "PNG")
        return Path(handle.name)

    def _decode(self, number: str, stored: StoredPage, *, target_dpi: int) -> Image.Image:
        where = f"dossier {number}, page {stored.position}"
        data = self._desk.blobs.read(stored.sha256)  # BlobError names a missing or corrupt file
        try:
            for page in iter_pages(data, name=stored.source_name or stored.sha256[:12], target_dpi=target_dpi):
                if page.page == stored.file_page:
                    # As the export turns it: the rotation stored is the one OCR (or the clerk) found.
                    return rotate_quadrant(page.image, -stored.rotation)
                if page.page > stored.file_page:
                    break
        except OcrError as exc:
            raise BlobError(f"{where}: the stored scan cannot be shown ({exc})") from None
        raise BlobError(f"{where}: its file has no page {stored.file_page}")


def remove_older(folder: Path, seconds: float) -> int:
    """Remove the PNG copies in `folder` last written more than `seconds` ago; returns how many."""
    cutoff, removed = time.time() - seconds, 0
    for path in folder.glob("*.png"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # gone already, or not ours to remove: leave it
            continue
    return removed
