"""Taking scans into dossiers, crash-safe: hash → blob store → ONE transaction → only then the source moves.

The transaction writes the file's row, a page row and an OCR job per page, the audit event and the outbox op.
A crash before it leaves at most an unreferenced blob (removed by `reconcile`); a crash after it leaves the
source in the inbox with a row whose `moved_at` is empty, which the next pass recognises and only moves.
The same content delivered twice to a dossier is reported as a duplicate, never attached twice (a unique key
on dossier and sha256 guards it even against a race).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ocr.errors import InputError, OcrError
from workstation.domain.permissions import Actor, Permission, require
from workstation.domain.stages import Status
from workstation.errors import NotFound, UsageError
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.events import EventBus, PageEvent
from workstation.store.blobs import BlobStore
from workstation.store.db import Database
from workstation.store.models import DeskState, Dossier, IntakeFile, OcrJob, Page
from workstation.store.types import utcnow

if TYPE_CHECKING:  # ocr.loading brings numpy, Pillow and pypdf: loaded when a file is read, not at start-up
    from ocr.loading import Limits

log = logging.getLogger("workstation.intake")
ACTIVE_KEY = "active_dossier"
_MEDIA = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
    "bmp": "image/bmp",
    "webp": "image/webp",
}


class IntakeRefused(UsageError):
    """The file cannot be taken (bad content, no dossier to put it in): it goes to quarantine with this line."""


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # "attached" | "duplicate" | "already_attached" (a crash remnant: only the move is left)
    dossier_number: str
    file_id: str
    page_ids: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class _Known:
    """What the database already holds of a file's content in a dossier."""

    file_id: str
    dossier_id: str
    source: str
    moved: bool
    page_ids: tuple[str, ...]
    all_deleted: bool


@dataclass(frozen=True)
class ReconcileReport:
    temp_files: int
    orphan_blobs: int
    jobs_requeued: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class IntakeService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        station_id: str,
        events: EventBus,
        limits: Limits | None = None,  # default: ocr.loading.DEFAULT_LIMITS
        recorder: Recorder | None = None,
    ):
        self._db = db
        self._recorder = recorder or desk_recorder(station_id)
        self._blobs = blobs
        self._station = station_id
        self.events = events
        self._limits = limits

    # -- the desk's active dossier ---------------------------------------------------------------

    def set_active(self, actor: Actor, number: str | None) -> None:
        require(actor, Permission.DOSSIER_EDIT)
        with self._db.transaction() as session:
            if number is not None:
                self._dossier(session, number)
            state = session.get(DeskState, ACTIVE_KEY)
            if number is None:
                if state is not None:
                    session.delete(state)
            elif state is None:
                session.add(DeskState(key=ACTIVE_KEY, value=number))
            else:
                state.value = number

    def active_number(self) -> str | None:
        with self._db.read() as session:
            state = session.get(DeskState, ACTIVE_KEY)
            return state.value if state else None

    # -- ingest ----------------------------------------------------------------------------------

    def inspect(self, path: Path) -> tuple[int, str]:
        """Page count and media type, decoding every page: a file that does not parse is refused here."""
        from ocr.loading import DEFAULT_LIMITS, iter_pages, sniff

        try:
            with path.open("rb") as fh:
                kind = sniff(fh.read(1024))
            limits = self._limits or DEFAULT_LIMITS
            count = sum(1 for _ in iter_pages(path, name=path.name, limits=limits))
        except InputError as exc:
            raise IntakeRefused(str(exc)) from None
        except OcrError as exc:
            raise IntakeRefused(f"{path.name}: {exc}") from None
        except OSError as exc:
            raise IntakeRefused(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None
        if count == 0:
            raise IntakeRefused(f"{path.name}: the file has no pages")
        return count, _MEDIA.get(kind or "", "application/octet-stream")

    def ingest(self, actor: Actor, path: Path, *, number: str | None, source: str) -> IngestResult:
        """Take one file into the dossier `number` (or the desk's active one). Raises IntakeRefused."""
        require(actor, Permission.DOSSIER_EDIT)
        number = number or self.active_number()
        if number is None:
            raise IntakeRefused(
                f"{source}: no dossier to put it in: drop it into a sub-folder named by the 受理号, "
                "or choose the desk's active dossier"
            )
        with self._db.read() as session:
            dossier = self._dossier_or_refuse(session, number, source)
            dossier_id = dossier.id
        sha = file_sha256(path)
        known = self._lookup(dossier_id, sha)
        if known is not None:
            return self._known(known, number, source)
        pages, media_type = self.inspect(path)
        # From the blob's write until the row that refers to it has committed, another process's start-up sweep
        # must not take the blob for an orphan.
        with self._blobs.writing():
            stored = self._blobs.put_file(path)
            if stored != sha:
                raise IntakeRefused(f"{source}: the file changed while it was being read; it will be taken again")
            try:
                result = self._attach(actor, dossier_id, number, sha, source, path.stat().st_size, pages, media_type)
            except IntegrityError:
                # Another pass attached the same content a moment ago: that one counts, this is a duplicate.
                again = self._lookup(dossier_id, sha)
                if again is None:
                    raise
                return self._known(again, number, source)
        for page_id in result.page_ids:
            self.events.publish(PageEvent(page_id, number, "queued", source))
        return result

    def _lookup(self, dossier_id: str, sha: str) -> _Known | None:
        with self._db.read() as session:
            known = session.execute(
                select(IntakeFile).where(IntakeFile.dossier_id == dossier_id, IntakeFile.sha256 == sha)
            ).scalar_one_or_none()
            if known is None:
                return None
            pages = session.execute(select(Page.id, Page.deleted).where(Page.file_id == known.id)).all()
            return _Known(
                file_id=known.id,
                dossier_id=known.dossier_id,
                source=known.source,
                moved=known.moved_at is not None,
                page_ids=tuple(p.id for p in pages),
                all_deleted=bool(pages) and all(p.deleted for p in pages),
            )

    def _known(self, known: _Known, number: str, source: str) -> IngestResult:
        if known.all_deleted:
            return self._restore(known, number, source)
        if not known.moved and known.source == source:
            return IngestResult(
                "already_attached", number, known.file_id, known.page_ids, f"{source}: already attached"
            )
        message = f"{source}: duplicate of {known.source}, already in dossier {number}; not attached again"
        self.events.publish(PageEvent(known.page_ids[0] if known.page_ids else "", number, "duplicate", message))
        return IngestResult("duplicate", number, known.file_id, known.page_ids, message)

    def _restore(self, known: _Known, number: str, source: str) -> IngestResult:
        """The clerk removed these pages and scans them again: they come back, with their reading."""
        from workstation.services.ocr_jobs import refresh_dossier

        with self._db.transaction() as session:
            pages = list(session.execute(select(Page).where(Page.file_id == known.file_id)).scalars())
            for page in pages:
                page.deleted = False
            dossier = session.get(Dossier, known.dossier_id)
            assert dossier is not None
            if dossier.status not in (Status.DRAFT.value, Status.RETURNED.value):
                raise IntakeRefused(
                    f"{source}: dossier {number} is {dossier.status}; pages can only be added to a draft"
                )
            refresh_dossier(session, dossier)
            wire = {"file_id": known.file_id, "pages": [p.id for p in pages], "source": source[:500]}
            self._recorder.change(
                session, "intake", dossier, "intake.restore", wire, wire=wire, op_kind="dossier.pages_restore"
            )
            return IngestResult(
                "attached",
                number,
                known.file_id,
                tuple(p.id for p in pages),
                f"{source}: {len(pages)} removed page(s) restored to {number}",
            )

    def _attach(
        self,
        actor: Actor,
        dossier_id: str,
        number: str,
        sha: str,
        source: str,
        size: int,
        pages: int,
        media_type: str,
    ) -> IngestResult:
        with self._db.transaction() as session:
            dossier = session.get(Dossier, dossier_id)
            if dossier is None or dossier.status not in (Status.DRAFT.value, Status.RETURNED.value):
                state = dossier.status if dossier else "gone"
                raise IntakeRefused(f"{source}: dossier {number} is {state}; pages can only be added to a draft")
            record = IntakeFile(
                dossier_id=dossier_id,
                sha256=sha,
                source=source[:500],
                size=size,
                page_count=pages,
                media_type=media_type,
            )
            session.add(record)
            session.flush()
            last = session.execute(select(func.max(Page.position)).where(Page.dossier_id == dossier_id)).scalar()
            page_rows = []
            for i in range(pages):
                page = Page(
                    dossier_id=dossier_id,
                    file_id=record.id,
                    file_page=i + 1,
                    position=(last or 0) + i + 1,
                    sha256=sha,
                    source_name=Path(source).name[:255],
                    media_type=media_type,
                    size=size,
                    ocr_status="queued",
                )
                session.add(page)
                page_rows.append(page)
            session.flush()
            for page in page_rows:
                session.add(OcrJob(page_id=page.id))
            wire = {
                "file_id": record.id,
                "sha256": sha,
                "source": record.source,
                "pages": [{"page_id": p.id, "position": p.position, "file_page": p.file_page} for p in page_rows],
            }
            self._recorder.change(
                session, actor.username, dossier, "intake.file", wire, wire=wire, op_kind="dossier.pages_add"
            )
            return IngestResult(
                "attached",
                number,
                record.id,
                tuple(p.id for p in page_rows),
                f"{source}: {pages} page(s) into {number}",
            )

    def mark_moved(self, file_id: str) -> None:
        with self._db.transaction() as session:
            session.execute(update(IntakeFile).where(IntakeFile.id == file_id).values(moved_at=utcnow()))

    # -- after a crash -----------------------------------------------------------------------------

    def reconcile(self) -> ReconcileReport:
        """Start-up repair: temp files of interrupted blob writes, blobs no row refers to, jobs cut off mid-read.

        Safe while other processes use the same data directory: the sweep of temp files and blobs runs only when no
        process is writing a blob (else it is left for the next start-up), and only jobs whose reader is dead are
        put back in the queue."""
        from workstation.services.ocr_jobs import requeue_cut_off

        temp, orphans = 0, 0
        sweep = self._blobs.try_sweep()
        if sweep is None:
            log.info("another process is writing blobs: temp files and orphan blobs are left for the next start-up")
        else:
            with sweep:
                temp = self._blobs.clean_temp()
                with self._db.read() as session:
                    referenced = set(session.execute(select(Page.sha256)).scalars())
                    referenced |= set(session.execute(select(IntakeFile.sha256)).scalars())
                for sha in [sha for sha in self._blobs if sha not in referenced]:
                    self._blobs.delete(sha)
                    orphans += 1
        requeued = requeue_cut_off(self._db, self._blobs.locks)
        self._blobs.locks.sweep_jobs()
        if temp or orphans or requeued:
            log.info("reconciled: %d temp files, %d orphan blobs, %d OCR jobs requeued", temp, orphans, requeued)
        return ReconcileReport(temp, orphans, requeued)

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _dossier(session: Session, number: str) -> Dossier:
        dossier = session.execute(select(Dossier).where(Dossier.number == number)).scalar_one_or_none()
        if dossier is None:
            raise NotFound(f"no dossier {number}")
        return dossier

    def _dossier_or_refuse(self, session: Session, number: str, source: str) -> Dossier:
        try:
            return self._dossier(session, number)
        except NotFound:
            raise IntakeRefused(f"{source}: no dossier {number}") from None
