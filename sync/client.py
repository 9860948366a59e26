"""The desk's sync agent: push the outbox (blobs first), pull the registry's changes, keep trying.

Nothing is lost and nothing is done twice, whatever the network does:
- an op leaves the outbox only when the registry answered for it (applied, conflict, or parked); a lost answer
  means the op is sent again and the registry returns its first result;
- the blobs a batch references are uploaded (and verified there) before the batch;
- the change cursor is stored in the same transaction as the changes it covers;
- every pass ends by sending the desk's audit chain head for the registry to witness (`workstation.services.witness`);
  the head the registry acknowledged is kept in the desk's sync state, a head it refuses is shown there;
- network errors, 5xx, 408 and 429 are retried with jittered exponential backoff; an op the registry refuses
  (answered per op, with its code) is parked in a visible quarantine and the queue moves on; an op the registry
  fails on (500) when sent alone, `PARK_AFTER_SERVER_ERRORS` times in a row while the registry is otherwise up, is
  parked too, so one op can never stop a desk's queue. The loop runs on a timer, not only when something new is
  written.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.protocol import MAX_BATCH_BYTES, SCHEMA_VERSION
from workstation.errors import BlobError
from workstation.services.mirror import mirror_state
from workstation.services.syncstate import SyncStatus, put_state, retry_quarantined, sync_status
from workstation.services.witness import Head, event_hash_at, local_head, note_refusal, store_witness
from workstation.store.blobs import BlobStore
from workstation.store.db import Database
from workstation.store.models import Dossier, OutboxOp, SyncCursor
from workstation.store.types import utcnow

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Ops that ask the registry to move a dossier; refused or in conflict, the desk's copy shows the registry's state.
_MOVES = frozenset(
    {"dossier.submit", "dossier.resubmit", "dossier.withdraw", "dossier.issue", "dossier.register", "review.decision"}
)
CURSOR = "changes"
PARK_AFTER_SERVER_ERRORS = 5
BATCH_BYTES = 8 * 1024 * 1024  # a batch's ops, as sent; well below the registry's cap (MAX_BATCH_BYTES)


class Transient(Exception):
    """Try again later: the network or the registry is not answering properly now."""


class ServerError(Transient):
    """The registry failed on a batch (500): retried, and once the op is alone in its batch, counted against it."""


class Refused(Exception):
    """The registry refused the desk itself (token, schema version): no op is at fault; retried on the timer."""


@dataclass
class PushReport:
    applied: int = 0
    conflicts: int = 0
    quarantined: int = 0
    skipped: int = 0
    blobs_sent: int = 0
    bytes_sent: int = 0
    batches: int = 0


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (AWS architecture blog's recommendation)."""
    return rng.uniform(0, min(cap, base * (2 ** min(attempt, 30))))


class SyncAgent:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        station_id: str,
        url: str,
        token: str,
        batch_size: int = 100,
        timeout: float = 30.0,
        interval: float = 5.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 15.0,  # a desk back online should notice within seconds, not a minute
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.db = db
        self.blobs = blobs
        self.station_id = station_id
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.interval = interval
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._rng = random.Random(seed)
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one sync pass at a time (background loop and `sync now`)
        self.failures = 0  # consecutive failed passes
        # After a 500 for a batch: its ops go one per batch, up to its last sequence number, to find the one at fault.
        self._alone_through: int | None = None
        self.on_change: Callable[[], None] | None = None

    # -- one pass ----------------------------------------------------------------------------------------

    def sync_once(self) -> PushReport:
        """Push everything pending, then pull every change; raises Transient or Refused on failure."""
        with self._lock:
            try:
                report = self.push()
                self.pull()
                self.witness()
            except (Transient, Refused) as exc:
                self._note(error=str(exc))
                raise
            self._note(error=None)
            return report

    def push(self) -> PushReport:
        report = PushReport()
        while True:
            ops, skipped = self._next_batch()
            if not ops and not skipped:
                return report
            self._send_blobs(ops, report)
            ops, skipped = self._next_batch()  # a corrupt local blob may have parked an op
            if not ops and not skipped:
                return report
            wired = self._fit(ops, report)
            if not wired and ops:
                continue  # the first op was too large to send at all: parked; look again
            body = {
                "schema_version": SCHEMA_VERSION,
                "station_id": self.station_id,
                "ops": wired,
                "skipped": skipped,
            }
            try:
                response = self._request("POST", "/v1/ops", json=body)
            except ServerError:
                self._server_error(wired, report)
                raise
            report.batches += 1
            if wired and self._alone_through is not None:
                self._reset_server_errors(wired[0]["op_id"])
                if wired[0]["seq"] >= self._alone_through:
                    self._alone_through = None
            if response.status_code == 200:
                answer = response.json()
                self._take_results(answer.get("results", []), report)
                self._acknowledge_skips(int(answer.get("last_seq", 0)))
                continue
            data = _json(response)
            self._take_results(data.get("results", []), report)
            code = data.get("code")
            if code == "seq_gap":
                self._resend_from(int(data.get("expected") or 1))
                continue
            if code == "blob_missing":
                # The registry lost a blob it had acknowledged: send them again and retry on the next pass.
                for sha in (data.get("detail") or {}).get("missing", []):
                    try:
                        self._put_blob(sha, report)
                    except BlobError as exc:
                        if data.get("op_id"):
                            self._park_op(str(data["op_id"]), f"local page file unusable: {exc}", report)
                        else:
                            raise Refused(str(exc)) from None
                continue
            if response.status_code in (400, 401, 403, 413) and data.get("seq") is None:
                raise Refused(f"registry refused this desk: {code}: {data.get('message')}")
            if data.get("seq") is not None:
                self._park(int(data["seq"]), f"{code}: {data.get('message')}", report)
                continue
            raise Refused(f"registry answered {response.status_code}: {code}: {data.get('message')}")

    def pull(self) -> int:
        applied = 0
        while True:
            cursor = self.cursor()
            response = self._request("GET", "/v1/changes", params={"after": cursor, "limit": 500})
            if response.status_code != 200:
                data = _json(response)
                raise Refused(f"registry refused the change feed: {data.get('code')}: {data.get('message')}")
            page = response.json()
            with self.db.transaction() as session:
                for change in page["changes"]:
                    applied += self._apply_change(session, change)
                _set_cursor(session, str(page["cursor"]))
            if applied and self.on_change is not None:
                self.on_change()
            if not page.get("more"):
                return applied

    def witness(self) -> Head | None:
        """Send this desk's audit chain head; the head the registry acknowledged (None: it refused this one)."""
        before = self.witnessed()
        with self.db.read() as session:
            head = local_head(session)
            body: dict[str, Any] = {"seq": head.seq, "hash": head.hash}
            if before is not None:  # the event witnessed last, as this chain holds it now
                body["prior"] = {"seq": before.seq, "hash": event_hash_at(session, before.seq)}
        response = self._request("POST", "/v1/audit/head", json=body)
        data = _json(response)
        if response.status_code == 200:
            seen = head_of(data)
            if seen is None:
                raise Refused(f"registry answered the audit chain head with {str(data)[:100]}")
            with self.db.transaction() as session:
                store_witness(session, seen)
            return seen
        if response.status_code == 404:  # a registry of an older version: it witnesses nothing
            log.warning("the registry at %s does not witness audit chain heads", self.url)
            return None
        if response.status_code == 409 and data.get("code") == "chain_rewound":
            message = str(data.get("message"))
            log.error("the registry refused this desk's audit chain head: %s", message)
            with self.db.transaction() as session:
                note_refusal(session, message)
            return None
        raise Refused(f"registry refused the audit chain head: {data.get('code')}: {data.get('message')}")

    def witnessed(self) -> Head | None:
        """The last head the registry witnessed for this station, as it says now (None: nothing yet)."""
        response = self._request("GET", "/v1/audit/head")
        data = _json(response)
        if response.status_code == 404:  # a registry of an older version: it witnesses nothing
            return None
        if response.status_code != 200:
            raise Refused(f"registry refused to say its witnessed head: {data.get('code')}: {data.get('message')}")
        seen = head_of(data)
        if seen is None:
            raise Refused(f"registry answered its witnessed head with {str(data)[:100]}")
        return seen if seen.seq > 0 else None

    # -- the background loop -------------------------------------------------------------------------------

    def start(self) -> SyncAgent:
        self._thread = threading.Thread(target=self._run, name="sync-agent", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
                self.failures = 0
                delay = self.interval
            except (Transient, Refused) as exc:
                self.failures += 1
                delay = max(
                    0.05, backoff_delay(self.failures, base=self.backoff_base, cap=self.backoff_cap, rng=self._rng)
                )
                log.info("sync failed (%s); next try in %.1f s", exc, delay)
            except Exception:  # never let the agent die: log, back off, try again
                self.failures += 1
                log.exception("sync pass failed unexpectedly")
                delay = backoff_delay(self.failures, base=self.backoff_base, cap=self.backoff_cap, rng=self._rng)
            self._wake.wait(delay)
            self._wake.clear()

    # -- status and the quarantine -------------------------------------------------------------------------

    def cursor(self) -> str:
        return read_cursor(self.db)

    def status(self) -> SyncStatus:
        return sync_status(self.db, self.url)

    def retry(self, op_id: str) -> str:
        """Send a parked op again: as a new op (new id and sequence number); the parked one stays on record."""
        return retry_quarantined(self.db, self.station_id, op_id)

    # -- internals -------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Transient(f"registry unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code == 500:
            raise ServerError(f"registry answered {response.status_code}")
        if response.status_code in RETRYABLE_STATUS:
            raise Transient(f"registry answered {response.status_code}")
        return response

    def _fit(self, ops: list[OutboxOp], report: PushReport) -> list[dict[str, Any]]:
        """The ops on the wire, as many as fit in one batch (one alone while finding an op the registry fails on)."""
        wired: list[dict[str, Any]] = []
        size = 0
        for op in ops[:1] if self._alone_through is not None else ops:
            item = _wire(op)
            length = len(json.dumps(item, ensure_ascii=False, default=str).encode("utf-8"))
            if length > MAX_BATCH_BYTES - 4096:
                if not wired:
                    self._park_op(
                        op.op_id,
                        f"too_large: {length} bytes as sent; the registry takes a batch of at most {MAX_BATCH_BYTES}",
                        report,
                    )
                break
            if wired and size + length > BATCH_BYTES:
                break
            wired.append(item)
            size += length
        return wired

    def _server_error(self, wired: list[dict[str, Any]], report: PushReport) -> None:
        """A 500 for this batch: next time its first op goes alone; alone and failing again and again, it is parked
        (only while the registry answers its health check: an outage parks nothing)."""
        if not wired:
            return
        if self._alone_through is None or len(wired) > 1:
            self._alone_through = wired[-1]["seq"]
            return
        op_id = wired[0]["op_id"]
        with self.db.transaction() as session:
            op = session.get(OutboxOp, op_id)
            if op is None or op.state != "pending":
                return
            op.server_errors += 1
            count = op.server_errors
        if count >= PARK_AFTER_SERVER_ERRORS and self._registry_up():
            self._park_op(op_id, f"server_error: the registry failed on this op {count} times (500)", report)
            if wired[0]["seq"] >= self._alone_through:
                self._alone_through = None

    def _reset_server_errors(self, op_id: str) -> None:
        with self.db.transaction() as session:
            session.execute(update(OutboxOp).where(OutboxOp.op_id == op_id).values(server_errors=0))

    def _registry_up(self) -> bool:
        for _attempt in range(2):  # after a 500 the server may have closed the connection this would reuse
            try:
                return self._http.get("/v1/health").status_code == 200
            except httpx.TransportError:
                continue
        return False

    def _next_batch(self) -> tuple[list[OutboxOp], list[int]]:
        with self.db.read() as session:
            ops = list(
                session.execute(
                    select(OutboxOp)
                    .where(OutboxOp.station_id == self.station_id, OutboxOp.state == "pending")
                    .order_by(OutboxOp.seq)
                    .limit(self.batch_size)
                ).scalars()
            )
            skipped = list(
                session.execute(
                    select(OutboxOp.seq)
                    .where(
                        OutboxOp.station_id == self.station_id,
                        OutboxOp.state.in_(("quarantined", "retried")),
                        OutboxOp.sent_at.is_(None),
                    )
                    .order_by(OutboxOp.seq)
                ).scalars()
            )
        return ops, skipped

    def _send_blobs(self, ops: list[OutboxOp], report: PushReport) -> None:
        wanted: dict[str, str] = {}  # sha256 → op_id of the first op needing it
        for op in ops:
            content = op.payload.get("content") if isinstance(op.payload, dict) else None
            for sha in (content or {}).get("blobs", []):
                wanted.setdefault(sha, op.op_id)
        if not wanted:
            return
        response = self._request("POST", "/v1/blobs/missing", json={"sha256": sorted(wanted)})
        if response.status_code != 200:
            data = _json(response)
            raise Refused(f"registry refused the blob check: {data.get('code')}: {data.get('message')}")
        for sha in response.json()["missing"]:
            try:
                self._put_blob(sha, report)
            except BlobError as exc:
                self._park_op(wanted[sha], f"local page file unusable: {exc}", report)

    def _put_blob(self, sha: str, report: PushReport) -> None:
        data = self.blobs.read(sha)  # verifies the hash: a corrupt local file raises BlobError
        for _attempt in range(3):
            response = self._request(
                "PUT", f"/v1/blobs/{sha}", content=data, headers={"Content-Type": "application/octet-stream"}
            )
            if response.status_code in (200, 201):
                report.blobs_sent += 1
                report.bytes_sent += len(data)
                return
            if response.status_code == 400:  # arrived damaged: read again and resend
                data = self.blobs.read(sha)
                continue
            body = _json(response)
            raise BlobError(f"registry refused blob {sha[:12]}: {body.get('code')}: {body.get('message')}")
        raise Transient(f"blob {sha[:12]} kept arriving damaged")

    def _take_results(self, results: list[dict[str, Any]], report: PushReport) -> None:
        if not results:
            return
        now = utcnow()
        with self.db.transaction() as session:
            for result in results:
                status = result.get("status")
                if status == "skipped":
                    session.execute(
                        update(OutboxOp)
                        .where(OutboxOp.station_id == self.station_id, OutboxOp.seq == result["seq"])
                        .values(sent_at=now)
                    )
                    report.skipped += 1
                    continue
                op = session.get(OutboxOp, result.get("op_id"))
                if op is None or op.state not in ("pending",):
                    continue
                op.sent_at = now
                op.attempts += 1
                why = f"{result.get('code')}: {result.get('message')}"[:1000]
                if status == "applied":
                    op.state = "sent"
                    report.applied += 1
                    continue
                if isinstance(result.get("version"), int):  # the registry's version; the feed adds its state
                    op.remote = {**(op.remote or {}), "version": result["version"]}
                if status == "conflict":
                    op.state, op.last_error = "conflict", why
                    report.conflicts += 1
                else:  # refused: it may never be applied as sent; parked, with the registry's reason
                    op.state, op.last_error = "quarantined", why
                    report.quarantined += 1
                    log.warning("op %s (%s) refused by the registry: %s", op.seq, op.kind, why)

    def _acknowledge_skips(self, last_seq: int) -> None:
        """Parked ops at or below the registry's last sequence number are known there as skipped."""
        with self.db.transaction() as session:
            session.execute(
                update(OutboxOp)
                .where(
                    OutboxOp.station_id == self.station_id,
                    OutboxOp.state.in_(("quarantined", "retried")),
                    OutboxOp.sent_at.is_(None),
                    OutboxOp.seq <= last_seq,
                )
                .values(sent_at=utcnow())
            )

    def _park(self, seq: int, reason: str, report: PushReport) -> None:
        with self.db.read() as session:
            op_id = session.execute(
                select(OutboxOp.op_id).where(OutboxOp.station_id == self.station_id, OutboxOp.seq == seq)
            ).scalar_one_or_none()
        if op_id is None:
            raise Refused(f"registry refused op {seq}, which this desk does not have: {reason}")
        self._park_op(op_id, reason, report)

    def _park_op(self, op_id: str, reason: str, report: PushReport) -> None:
        with self.db.transaction() as session:
            op = session.get(OutboxOp, op_id)
            if op is not None and op.state == "pending":
                op.state, op.last_error, op.attempts = "quarantined", reason[:1000], op.attempts + 1
                report.quarantined += 1
                log.warning("op %s (%s) parked: %s", op.seq, op.kind, reason)

    def _resend_from(self, expected: int) -> None:
        """The registry holds fewer ops than this desk thought (restored from a backup): send them again."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(OutboxOp).where(OutboxOp.station_id == self.station_id, OutboxOp.seq >= expected)
            ).scalars()
            for op in rows:
                if op.state in ("sent", "conflict", "settled"):
                    op.state = "pending"
                elif op.state in ("quarantined", "retried"):
                    op.sent_at = None

    def _apply_change(self, session: Session, change: dict[str, Any]) -> int:
        if change.get("kind") in ("sync.conflict", "sync.refused"):
            self._note_conflict(session, change)
            return 0
        if change.get("kind") not in ("dossier.state", "dossier.clock", "dossier.settle"):
            return 0
        payload = change.get("payload")
        dossier = session.get(Dossier, change.get("entity_id"))
        if dossier is None or not isinstance(payload, dict):
            return 0
        if change.get("kind") == "dossier.settle":
            from workstation.services.settle import mirror_settle

            return int(mirror_settle(session, dossier, payload))
        at = change.get("at")
        return int(mirror_state(session, dossier, payload, at if isinstance(at, str) else None))

    def _note_conflict(self, session: Session, change: dict[str, Any]) -> None:
        """Keep the registry's side of one of this desk's conflicts (version, stage, status) on the parked op."""
        payload = change.get("payload") or {}
        current = payload.get("current")
        if change.get("station_id") != self.station_id or not isinstance(current, dict):
            return
        op = session.get(OutboxOp, payload.get("op_id"))
        if op is not None and op.station_id == self.station_id:
            op.remote = {**(op.remote or {}), **current}
            if op.kind in _MOVES:  # a move the registry did not make: the desk's copy goes back to the registry's
                dossier = session.get(Dossier, op.entity_id)
                stage, status, version = current.get("stage"), current.get("status"), current.get("version")
                if dossier is not None and isinstance(stage, str) and isinstance(status, str):
                    dossier.stage, dossier.status = stage, status
                    if isinstance(version, int):
                        dossier.version = version

    def _note(self, *, error: str | None) -> None:
        with self.db.transaction() as session:
            if error is None:
                put_state(session, "last_success", utcnow().isoformat())
                put_state(session, "online", "1")
                put_state(session, "last_error", "")
            else:
                put_state(session, "online", "0")
                put_state(session, "last_error", error[:190])


def _wire(op: OutboxOp) -> dict[str, Any]:
    return {
        "op_id": op.op_id,
        "seq": op.seq,
        "kind": op.kind,
        "entity_id": op.entity_id,
        "base_version": op.base_version,
        "payload": op.payload,
        "created_at": op.created_at.isoformat(),
        "actor": op.actor,
    }


def head_of(data: dict[str, Any]) -> Head | None:
    """A head as the registry's audit head routes answer it (seq 0: nothing witnessed); None for a bad answer."""
    seq, hash_, at = data.get("seq"), data.get("hash"), data.get("witnessed_at")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(hash_, str):
        return None
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    return Head(seq, hash_, when)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"code": f"http_{response.status_code}", "message": response.text[:200]}
    return data if isinstance(data, dict) else {"code": f"http_{response.status_code}", "message": str(data)[:200]}


def _set_cursor(session: Session, cursor: str) -> None:
    row = session.get(SyncCursor, CURSOR)
    if row is None:
        session.add(SyncCursor(name=CURSOR, cursor=cursor, updated_at=utcnow()))
    else:
        row.cursor, row.updated_at = cursor, utcnow()


def read_cursor(db: Database) -> str:
    with db.read() as session:
        row = session.get(SyncCursor, CURSOR)
        return row.cursor if row is not None else "0"
