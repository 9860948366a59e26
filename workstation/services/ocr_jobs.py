"""The persistent OCR queue: claim queued pages, read them on the process pool, file the results.

Each result is applied in ONE transaction: the page's text, lines and material, its fields, its material slot
(unless the clerk placed it by hand), the dossier's consistency findings, an audit event and an outbox op.
A job whose engine failed is retried a few times, a page that cannot be read is marked failed with its reason.

Several processes may run jobs on one data directory (`intake watch`, `intake add`, the terminal UI). A process
takes a job's lock (`DataLocks.try_job`) before it marks the job `reading` and holds it until the result has
committed, so a job is read by one process at a time, and a job left `reading` whose lock can be taken belongs to
a process that died: `requeue_cut_off` puts such jobs back in the queue, and every runner calls it when it starts
(and now and then while it runs), as does `IntakeService.reconcile`. A job being read by a live process is left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ocr.classify import UNKNOWN, classify
from ocr.engines.base import Engine, Line
from ocr.extract import extract_fields
from ocr.pipeline import FileError, PageResult, Result, read_file_page, read_file_page_task
from workstation.domain.consistency import DocFields, PartyFacts, check_dossier
from workstation.domain.stages import Status
from workstation.services.changes import Recorder, desk_recorder
from workstation.services.events import EventBus, PageEvent
from workstation.services.views import OFFICE_TZ
from workstation.store.blobs import BlobStore
from workstation.store.db import Database
from workstation.store.locks import DataLocks, HeldLock
from workstation.store.models import Dossier, Field, Finding, MaterialSlot, OcrJob, Page, Party
from workstation.store.types import utcnow

log = logging.getLogger("workstation.ocr")
OCR_ACTOR = "ocr"  # who reads pages, in the audit trail
MAX_ATTEMPTS = 3
REQUEUE_EVERY = 30.0  # seconds between looks for jobs cut off by a process that died while this one runs

Submit = Callable[[str, int, str], "Future[Result]"]


def inline_submitter(engine: Engine) -> tuple[Submit, Callable[[], None]]:
    """Read pages in a thread of this process with `engine` (tests, the replay engine, one-off runs)."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")

    def submit(path: str, file_page: int, name: str) -> Future[Result]:
        return executor.submit(read_file_page, path, file_page, engine, name=name)

    return submit, lambda: executor.shutdown(wait=True, cancel_futures=True)


def pool_submitter(engine: str, workers: int | None = None) -> tuple[Submit, Callable[[], None]]:
    """Read pages on an OcrPool: one single-threaded engine per core."""
    from ocr.pool import OcrPool

    pool = OcrPool(engine, workers=workers)
    # Start every worker now, engine loaded: the first page is not slowed by start-up, and no process is
    # started later from under a running terminal UI.
    pool.worker_stats()

    def submit(path: str, file_page: int, name: str) -> Future[Result]:
        return pool.submit(read_file_page_task, path, file_page, name)

    return submit, pool.close


@dataclass(frozen=True)
class _Claimed:
    job_id: str
    page_id: str
    path: str
    file_page: int
    name: str
    number: str


class OcrRunner:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        station_id: str,
        events: EventBus,
        submit: Submit,
        close: Callable[[], None],
        capacity: int = 4,
        recorder: Recorder | None = None,
    ):
        self._db = db
        self._recorder = recorder or desk_recorder(station_id)
        self._blobs = blobs
        self._station = station_id
        self._events = events
        self._submit = submit
        self._close = close
        self._capacity = capacity
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[Future[Result], _Claimed] = {}
        self._held: dict[str, HeldLock] = {}  # job id -> its lock, from the claim until the result is filed
        self._next_requeue = 0.0

    @property
    def locks(self) -> DataLocks:
        return self._blobs.locks

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ocr-runner", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """New jobs were queued: look now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._close()
        if thread is None or not thread.is_alive():
            self._give_back()

    def run_until_idle(self, timeout: float = 600.0) -> int:
        """Work in this thread until no job is queued or being read here; returns how many results were filed.
        Jobs another live process is reading are left to it."""
        deadline = time.monotonic() + timeout
        filed = 0
        self.requeue_cut_off()
        while time.monotonic() < deadline:
            self._fill()
            if not self._pending:
                return filed
            filed += self._collect(timeout=0.5)
        raise TimeoutError(f"OCR queue not idle after {timeout:.0f} s")

    def requeue_cut_off(self) -> int:
        """Put back in the queue the jobs left `reading` by processes that died (this one's own are not touched)."""
        self._next_requeue = time.monotonic() + REQUEUE_EVERY
        requeued = requeue_cut_off(self._db, self.locks)
        if requeued:
            log.info("%d OCR job(s) cut off by a process that ended were put back in the queue", requeued)
        return requeued

    def _give_back(self) -> None:
        """On stop: the jobs claimed here and not filed go back to the queue, then their locks are let go."""
        held, self._held = self._held, {}
        self._pending.clear()
        for job_id, lock in held.items():
            try:
                _requeue(self._db, job_id)
            except Exception:
                log.exception("could not put OCR job %s back in the queue; the next start-up will", job_id)
            finally:
                lock.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() >= self._next_requeue:
                    self.requeue_cut_off()
                self._fill()
                if self._pending:
                    # With room for more, look again soon: a page queued meanwhile should not wait for this one.
                    room = len(self._pending) < self._capacity
                    self._collect(timeout=0.1 if room else 0.5)
                else:
                    self._wake.wait(1.0)
                    self._wake.clear()
            except Exception:
                log.exception("OCR runner pass failed; retrying")
                self._stop.wait(2.0)

    def _fill(self) -> None:
        room = self._capacity - len(self._pending)
        if room <= 0:
            return
        claims = self._claim(room)
        for i, claimed in enumerate(claims):
            try:
                self._events.publish(PageEvent(claimed.page_id, claimed.number, "reading", claimed.name))
                future = self._submit(claimed.path, claimed.file_page, claimed.name)
            except BaseException:
                for unsent in claims[i:]:  # back to the queue now, not when this process ends
                    lock = self._held.pop(unsent.job_id, None)
                    if lock is not None:
                        with lock:
                            _requeue(self._db, unsent.job_id)
                raise
            self._pending[future] = claimed

    def _collect(self, timeout: float) -> int:
        done, _ = wait(list(self._pending), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            claimed = self._pending.pop(future)
            try:
                result: Result = future.result()
            except Exception as exc:  # the worker died or the engine failed: a retryable failure
                result = FileError(claimed.name, f"{claimed.name}: reading failed ({_one_line(exc)})", "failed")
            try:
                self.apply(claimed.job_id, result)
            finally:
                # Filed, or left `reading` by an error here: with its lock let go, a later look puts it back.
                lock = self._held.pop(claimed.job_id, None)
                if lock is not None:
                    lock.release()
        return len(done)

    def _claim(self, limit: int) -> list[_Claimed]:
        with self._db.read() as session:
            candidates = list(
                session.execute(
                    select(OcrJob.id)
                    .join(Page, Page.id == OcrJob.page_id)
                    .where(OcrJob.state == "queued")
                    .order_by(OcrJob.created_at, Page.position)
                    .limit(limit * 4)
                ).scalars()
            )
        locked: dict[str, HeldLock] = {}
        for job_id in candidates:
            if len(locked) >= limit:
                break
            if job_id in self._held:
                continue
            lock = self.locks.try_job(job_id)
            if lock is not None:  # else another process is claiming it this moment
                locked[job_id] = lock
        if not locked:
            return []
        try:
            claimed = self._mark_reading(locked)
        except BaseException:
            for lock in locked.values():
                lock.release()
            raise
        for job_id, lock in locked.items():
            if any(c.job_id == job_id for c in claimed):
                self._held[job_id] = lock
            else:  # read and filed by another process since the candidates were listed
                lock.release()
        return claimed

    def _mark_reading(self, locked: dict[str, HeldLock]) -> list[_Claimed]:
        with self._db.transaction() as session:
            rows = session.execute(
                select(OcrJob, Page, Dossier.number)
                .join(Page, Page.id == OcrJob.page_id)
                .join(Dossier, Dossier.id == Page.dossier_id)
                .where(OcrJob.state == "queued", OcrJob.id.in_(list(locked)))
                .order_by(OcrJob.created_at, Page.position)
            ).all()
            claimed = []
            for job, page, number in rows:
                job.state, job.attempts, job.updated_at = "reading", job.attempts + 1, utcnow()
                page.ocr_status = "reading"
                claimed.append(
                    _Claimed(
                        job.id,
                        page.id,
                        str(self._blobs.path_for(page.sha256)),
                        page.file_page,
                        page.source_name or page.id,
                        number,
                    )
                )
            return claimed

    # -- filing a result -------------------------------------------------------------------------

    def apply(self, job_id: str, result: Result) -> None:
        event: PageEvent | None = None
        with self._db.transaction() as session:
            job = session.get(OcrJob, job_id)
            if job is None:
                return
            page = session.get(Page, job.page_id)
            if page is None:
                return
            dossier = session.get(Dossier, page.dossier_id)
            assert dossier is not None
            if isinstance(result, FileError):
                event = self._failed(session, job, page, dossier, result)
            else:
                event = self._done(session, job, page, dossier, result)
        if event is not None:
            self._events.publish(event)

    def _failed(self, session: Session, job: OcrJob, page: Page, dossier: Dossier, result: FileError) -> PageEvent:
        retry = result.kind == "failed" and job.attempts < MAX_ATTEMPTS
        job.state, job.error, job.updated_at = ("queued" if retry else "failed"), result.error, utcnow()
        page.ocr_status = "queued" if retry else "failed"
        if not retry:
            self._record(session, dossier, "page.ocr_failed", {"page_id": page.id, "reason": result.error[:500]})
        return PageEvent(page.id, dossier.number, "queued" if retry else "failed", result.error)

    def _done(self, session: Session, job: OcrJob, page: Page, dossier: Dossier, result: PageResult) -> PageEvent:
        job.state, job.error, job.updated_at = "done", None, utcnow()
        page.ocr_status = "done"
        page.ocr_text = result.text
        page.ocr_lines = [[ln.text, list(ln.box), round(ln.confidence, 4)] for ln in result.lines]
        page.ocr_engine = result.engine
        page.ocr_seconds = round(result.seconds, 3)
        page.rotation = result.rotation
        classify_stored(session, page)
        follower = session.execute(
            select(Page).where(Page.file_id == page.file_id, Page.file_page == page.file_page + 1)
        ).scalar_one_or_none()
        if page.file_id is not None and follower is not None and follower.ocr_status == "done":
            classify_stored(session, follower)  # it may continue this page's document
        refresh_dossier(session, dossier)
        fields = session.execute(select(Field).where(Field.page_id == page.id)).scalars().all()
        self._record(
            session,
            dossier,
            "page.ocr",
            {
                "page_id": page.id,
                "material": page.material_guess,
                "confidence": page.material_confidence,
                "engine": result.engine,
                "fields": sorted(f.key for f in fields),
            },
        )
        return PageEvent(
            page.id,
            dossier.number,
            "done",
            page.material_guess or UNKNOWN,
            {"seconds": result.seconds, "fields": len(fields)},
        )

    def _record(self, session: Session, dossier: Dossier, action: str, payload: dict[str, Any]) -> None:
        """A reading changes a draft (its pages, slots and fields): a new version, told to the registry. After
        受理 the dossier's content is the registry's: the reading is kept here for this desk, audited, not sent."""
        if dossier.status in (Status.DRAFT.value, Status.RETURNED.value):
            self._recorder.change(session, OCR_ACTOR, dossier, action, payload)
        else:
            self._recorder.note(session, OCR_ACTOR, dossier, action, payload)


def requeue_cut_off(db: Database, locks: DataLocks) -> int:
    """Put back in the queue every job left `reading` by a process that died; returns how many.

    A job's lock is held by the process reading it: a lock that can be taken here means that process has ended
    (or let the job go on an error). Holding the lock while the job is put back keeps any other process from
    claiming or filing it meanwhile."""
    with db.read() as session:
        reading = list(session.execute(select(OcrJob.id).where(OcrJob.state == "reading")).scalars())
    requeued = 0
    for job_id in reading:
        lock = locks.try_job(job_id)
        if lock is None:  # a live process is reading it
            continue
        with lock:
            requeued += _requeue(db, job_id)
    return requeued


def _requeue(db: Database, job_id: str) -> int:
    with db.transaction() as session:
        job = session.get(OcrJob, job_id)
        if job is None or job.state != "reading":
            return 0
        job.state, job.updated_at = "queued", utcnow()
        page = session.get(Page, job.page_id)
        if page is not None and page.ocr_status == "reading":
            page.ocr_status = "queued"
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _lines(page: Page) -> list[Line]:
    return [Line(str(t), (int(b[0]), int(b[1]), int(b[2]), int(b[3])), float(c)) for t, b, c in page.ocr_lines or []]


def classify_stored(session: Session, page: Page) -> None:
    """Classify a read page from its stored lines and re-extract its fields (clerk-confirmed fields are kept).

    A page without a title of its own continues the previous page of its file when that one was titled or
    itself a continuation (a contract's later pages).
    """
    if page.material_basis == "clerk":
        return
    continues = None
    if page.file_id is not None and page.file_page > 1:
        prev = session.execute(
            select(Page).where(Page.file_id == page.file_id, Page.file_page == page.file_page - 1)
        ).scalar_one_or_none()
        if prev is not None and prev.material_basis in ("title", "continued", "clerk"):
            continues = prev.material_guess
    verdict = classify(_lines(page), continues=continues)
    page.material_guess = verdict.material
    page.material_confidence = verdict.confidence
    if verdict.evidence[:1] == ("continues the previous page",):
        page.material_basis = "continued"
    elif verdict.evidence and verdict.evidence[0].startswith("title "):
        page.material_basis = "title"
    else:
        page.material_basis = "keywords" if verdict.material != UNKNOWN else None
    _store_fields(session, page)


def _store_fields(session: Session, page: Page) -> None:
    confirmed = {
        f.key for f in session.execute(select(Field).where(Field.page_id == page.id)).scalars() if f.confirmed_by
    }
    session.execute(delete(Field).where(Field.page_id == page.id, Field.confirmed_by.is_(None)))
    if page.material_guess in (None, UNKNOWN):
        return
    for key, value in extract_fields(page.material_guess, _lines(page)).items():
        if key in confirmed:
            continue
        session.add(
            Field(
                dossier_id=page.dossier_id,
                page_id=page.id,
                key=key,
                value=value.value,
                confidence=round(value.confidence, 4),
                valid=value.valid,
                box=list(value.box) if value.box else None,
            )
        )
    session.flush()


def refresh_dossier(session: Session, dossier: Dossier) -> None:
    """Slots follow the pages (auto-placed pages re-placed), then the findings are recomputed."""
    session.flush()
    pages = list(session.execute(select(Page).where(Page.dossier_id == dossier.id).order_by(Page.position)).scalars())
    slots = list(
        session.execute(
            select(MaterialSlot).where(MaterialSlot.dossier_id == dossier.id).order_by(MaterialSlot.position)
        ).scalars()
    )
    parties = list(session.execute(select(Party).where(Party.dossier_id == dossier.id)).scalars())
    fields_by_page: dict[str, dict[str, Field]] = {}
    for f in session.execute(select(Field).where(Field.dossier_id == dossier.id)).scalars():
        if f.page_id:
            fields_by_page.setdefault(f.page_id, {})[f.key] = f
    taken: dict[str, int] = {}
    for page in pages:
        if page.slot_by_clerk and page.slot_id and not page.deleted:
            taken[page.slot_id] = taken.get(page.slot_id, 0) + 1
    for page in pages:
        if page.deleted or page.slot_by_clerk:
            continue
        page.slot_id = _choose_slot(page, slots, parties, fields_by_page.get(page.id, {}), taken)
        if page.slot_id:
            taken[page.slot_id] = taken.get(page.slot_id, 0) + 1
    for slot in slots:
        slot.satisfied = taken.get(slot.id, 0) > 0
    _refresh_findings(session, dossier, pages, parties, fields_by_page)


def _choose_slot(
    page: Page,
    slots: list[MaterialSlot],
    parties: list[Party],
    fields: dict[str, Field],
    taken: dict[str, int],
) -> str | None:
    material = page.material_guess
    if not material or material == UNKNOWN:
        return None
    candidates = [s for s in slots if s.material == material or material in (s.accepts or [])]
    if not candidates:
        return None
    ids = {f.value for k, f in fields.items() if k in ("uscc", "id_number") and f.valid}
    names = {f.value for k, f in fields.items() if k in ("name", "org_name")}
    owner = next((p.key for p in parties if p.id_value and p.id_value in ids), None)
    owner = owner or next((p.key for p in parties if p.name and p.name in names), None)
    if owner is not None:
        mine = [s for s in candidates if s.party_key == owner]
        if mine:
            candidates = mine
    # A party's slot is only guessed when nothing ties the page to another party.
    elif any(s.party_key for s in candidates):
        unclaimed = {p.key for p in parties if not p.id_value}
        open_party_slots = [s for s in candidates if s.party_key in unclaimed and not taken.get(s.id)]
        dossier_level = [s for s in candidates if s.party_key is None]
        candidates = dossier_level or open_party_slots[:1]
    open_slots = [s for s in candidates if not taken.get(s.id)]
    chosen = open_slots or candidates
    return chosen[0].id if chosen else None


def _refresh_findings(
    session: Session,
    dossier: Dossier,
    pages: list[Page],
    parties: list[Party],
    fields_by_page: dict[str, dict[str, Field]],
) -> None:
    docs = [
        DocFields(
            page_id=page.id,
            material=page.material_guess or UNKNOWN,
            fields={k: f.value for k, f in fields_by_page.get(page.id, {}).items()},
            valid={k: bool(f.valid) for k, f in fields_by_page.get(page.id, {}).items() if f.valid is not None},
        )
        for page in pages
        if not page.deleted and page.ocr_status == "done"
    ]
    facts = [PartyFacts(key=p.key, role=p.role, kind=p.kind, name=p.name, id_value=p.id_value) for p in parties]
    today = utcnow().astimezone(OFFICE_TZ).date()
    found = check_dossier(dossier.business_code, facts, docs, today=today)
    session.execute(delete(Finding).where(Finding.dossier_id == dossier.id, Finding.resolved.is_(False)))
    for spec in found:
        session.add(
            Finding(
                dossier_id=dossier.id,
                rule=spec.rule,
                severity=spec.severity,
                message=spec.message,
                page_ids=list(spec.page_ids),
            )
        )
