"""The registry's use cases behind the HTTP API: stations, blobs, ops applied exactly once, the change feed, review.

Ops from a station are applied in its sequence, each in its own transaction: the op's effect, its AppliedOp row
(a replay returns it), the station's last sequence number, one audit event and the change-feed entries commit
together or not at all. A stale `base_version` or lease fence is a conflict: recorded (SyncConflict), answered
with 409 for that op, and the station's queue moves on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from sync.protocol import (
    MAX_BLOB_BYTES,
    MAX_CHANGES_PER_PAGE,
    SCHEMA_VERSION,
    Change,
    ChangesResponse,
    ClaimResponse,
    ErrorCode,
    HeartbeatResponse,
    Lease,
    Op,
    OpResult,
    OpsBatch,
    OpsResponse,
    ReleaseResponse,
    Reviewer,
)
from workstation.domain.catalogue import Catalogue
from workstation.domain.errors import DomainError
from workstation.domain.permissions import Actor, UserRole
from workstation.domain.qc import QcPolicy, must_inspect
from workstation.domain.review import DecisionKind, ReturnItem, validate_reject, validate_return
from workstation.errors import BlobError, UsageError
from workstation.services import audit
from workstation.services.manifest import dossier_manifest, manifest_blobs, replace_content
from workstation.services.review import LeaseView, ReviewService
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, _insert_ignore, next_counter
from workstation.store.models import (
    AppliedOp,
    Assignment,
    ChangeRecord,
    Dossier,
    Party,
    QcCheck,
    RegistryStation,
    Station,
    StationSeq,
    SyncConflict,
    User,
)
from workstation.store.types import utcnow

log = logging.getLogger(__name__)

REGISTRY = "registry"
KNOWN_PREFIXES = ("dossier.", "page.", "field.", "review.", "clock.", "qc.", "correction.")
_TOKEN_PREFIX = "wst_"
_MAX_INT = 2**31 - 1  # the largest version or sequence number an Integer column holds on every database


class ApiError(Exception):
    """A refusal with an HTTP status and a code the desk acts on."""

    def __init__(self, status: int, code: ErrorCode, message: str, **detail: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail or None


class BlobBackend(Protocol):
    """Where the registry keeps page images: a filesystem store here; an S3-compatible store can do the same."""

    def exists(self, sha256: str) -> bool: ...
    def put_expected(self, chunks: Iterator[bytes], sha256: str, *, max_bytes: int) -> str: ...
    def read(self, sha256: str) -> bytes: ...


class _Conflict(Exception):
    def __init__(self, code: ErrorCode, message: str, current_version: int | None = None):
        super().__init__(message)
        self.code, self.message, self.current_version = code, message, current_version


class _Stop(Exception):
    """The op cannot be applied as sent: the batch stops before it; nothing of it is stored."""

    def __init__(self, status: int, code: ErrorCode, message: str, **detail: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class BatchOutcome:
    response: OpsResponse | None
    refused: ApiError | None
    results: list[OpResult]


class Registry:
    def __init__(
        self,
        db: Database,
        blobs: BlobBackend,
        catalogue: Catalogue,
        *,
        qc_policy: QcPolicy,
        lease_seconds: float = 30 * 60,
        queue_size: int = 3,
        max_blob_bytes: int = MAX_BLOB_BYTES,
    ):
        self.db = db
        self.blobs = blobs
        self.catalogue = catalogue
        self.qc_policy = qc_policy
        self.max_blob_bytes = max_blob_bytes
        self.review = ReviewService(
            db,
            catalogue,
            station_id=REGISTRY,
            qc_policy=qc_policy,
            lease_seconds=lease_seconds,
            queue_size=queue_size,
            use_outbox=False,
        )

    # -- stations --------------------------------------------------------------------------------------

    def add_station(self, station_id: str, name: str = "", kind: str = "hall") -> str:
        """Register a desk and return its token (shown once; only its digest is stored)."""
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as session:
            row = session.get(RegistryStation, station_id)
            if row is not None and row.revoked_at is None:
                raise DomainError(f"station {station_id} already has a token; revoke it first to issue a new one")
            if row is None:
                session.add(RegistryStation(id=station_id, name=name or station_id, token_sha256=hash_token(token)))
            else:
                row.token_sha256, row.revoked_at, row.name = hash_token(token), None, name or row.name
            if session.get(Station, station_id) is None:
                session.add(Station(id=station_id, name=name or station_id, kind=kind))
            audit.append(
                session,
                station_id=REGISTRY,
                actor="registry-admin",
                action="station.token_issued",
                entity="station",
                entity_id=station_id,
                payload={"name": name or station_id},
            )
        return token

    def revoke_station(self, station_id: str) -> None:
        with self.db.transaction() as session:
            row = session.get(RegistryStation, station_id)
            if row is None:
                raise DomainError(f"no station {station_id}")
            row.revoked_at = utcnow()
            audit.append(
                session,
                station_id=REGISTRY,
                actor="registry-admin",
                action="station.token_revoked",
                entity="station",
                entity_id=station_id,
                payload={},
            )

    def stations(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.execute(select(RegistryStation).order_by(RegistryStation.id)).scalars()
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "revoked": r.revoked_at is not None,
                    "created_at": r.created_at.isoformat(),
                    "last_seen_at": r.last_seen_at.isoformat() if r.last_seen_at else None,
                }
                for r in rows
            ]

    def authenticate(self, token: str | None) -> str:
        if not token:
            raise ApiError(401, ErrorCode.AUTH_MISSING, "send the station token as 'Authorization: Bearer …'")
        digest = hash_token(token)
        with self.db.read() as session:
            row = session.execute(
                select(RegistryStation).where(RegistryStation.token_sha256 == digest)
            ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            raise ApiError(401, ErrorCode.AUTH_INVALID, "unknown station token")
        if row.revoked_at is not None:
            raise ApiError(401, ErrorCode.AUTH_REVOKED, f"the token of station {row.id} was revoked")
        return row.id

    # -- blobs -----------------------------------------------------------------------------------------

    def missing_blobs(self, digests: Iterable[str]) -> list[str]:
        out = []
        for sha in dict.fromkeys(digests):
            if not _is_sha(sha):
                raise ApiError(422, ErrorCode.INVALID, f"'{sha[:80]}' is not a sha256 digest")
            if not self.blobs.exists(sha):
                out.append(sha)
        return out

    def put_blob(self, sha256: str, chunks: Iterator[bytes]) -> bool:
        """Store an upload verified against its name; True if new. Idempotent."""
        if not _is_sha(sha256):
            raise ApiError(422, ErrorCode.INVALID, "the blob name must be its lower-case sha256")
        if self.blobs.exists(sha256):
            # The blob is already here; the body is still checked, so damaged bytes are refused the same way.
            digest = hashlib.sha256()
            for chunk in chunks:
                digest.update(chunk)
            if digest.hexdigest() != sha256:
                raise ApiError(
                    400, ErrorCode.BLOB_MISMATCH, f"the bytes sent hash to {digest.hexdigest()}, not {sha256}"
                )
            return False
        try:
            self.blobs.put_expected(chunks, sha256, max_bytes=self.max_blob_bytes)
        except BlobError as exc:
            if "larger than" in str(exc):
                raise ApiError(413, ErrorCode.BLOB_TOO_LARGE, str(exc)) from None
            raise ApiError(400, ErrorCode.BLOB_MISMATCH, str(exc)) from None
        return True

    def read_blob(self, sha256: str) -> bytes:
        if not _is_sha(sha256):
            raise ApiError(422, ErrorCode.INVALID, "the blob name must be its lower-case sha256")
        if not self.blobs.exists(sha256):
            raise ApiError(404, ErrorCode.NOT_FOUND, f"no blob {sha256}")
        try:
            return self.blobs.read(sha256)
        except BlobError as exc:  # damaged on the registry's disk: never served, never a 500
            log.error("blob %s cannot be served: %s", sha256, exc)
            raise ApiError(404, ErrorCode.NOT_FOUND, f"blob {sha256} is damaged here; it cannot be served") from None

    # -- ops -------------------------------------------------------------------------------------------

    def apply_batch(self, station_id: str, batch: OpsBatch) -> OpsResponse:
        """Apply the batch's ops in order; raises ApiError at the first op that cannot be taken."""
        if batch.schema_version != SCHEMA_VERSION:
            raise ApiError(
                400,
                ErrorCode.SCHEMA_VERSION,
                f"schema version {batch.schema_version} is not spoken here; this registry speaks {SCHEMA_VERSION}",
            )
        if batch.station_id != station_id:
            raise ApiError(
                403, ErrorCode.STATION_MISMATCH, f"station {station_id} cannot send ops as {batch.station_id}"
            )
        results: list[OpResult] = []
        skipped = set(batch.skipped)
        self._touch(station_id)
        for op in batch.ops:
            try:
                results.extend(self._apply_one(station_id, op, skipped))
            except _Stop as stop:
                raise ApiError(
                    stop.status, stop.code, stop.message, seq=op.seq, op_id=op.op_id, results=results, **stop.detail
                ) from None
        if not batch.ops and skipped:
            results.extend(self._skip_through(station_id, max(skipped), skipped))
        return OpsResponse(results=results, last_seq=self.last_seq(station_id))

    def last_seq(self, station_id: str) -> int:
        with self.db.read() as session:
            row = session.get(StationSeq, station_id)
            return row.last_seq if row else 0

    def _touch(self, station_id: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(RegistryStation).where(RegistryStation.id == station_id).values(last_seen_at=utcnow())
            )

    def _lock_seq(self, session: Session, station_id: str) -> StationSeq:
        session.execute(_insert_ignore(session, StationSeq, station_id=station_id, last_seq=0))
        return session.execute(
            select(StationSeq).where(StationSeq.station_id == station_id).with_for_update()
        ).scalar_one()

    def _skip_through(self, station_id: str, upto: int, skipped: set[int]) -> list[OpResult]:
        out = []
        with self.db.transaction() as session:
            seq_row = self._lock_seq(session, station_id)
            while seq_row.last_seq < upto and seq_row.last_seq + 1 in skipped:
                seq_row.last_seq += 1
                out.append(self._record_skip(session, station_id, seq_row.last_seq))
        return out

    def _record_skip(self, session: Session, station_id: str, seq: int) -> OpResult:
        session.add(
            AppliedOp(
                op_id=f"skip-{station_id}-{seq}"[:36],
                station_id=station_id,
                seq=seq,
                kind="op.skipped",
                entity_id="-",
                status="skipped",
            )
        )
        return OpResult(op_id=None, seq=seq, status="skipped")

    def _apply_one(self, station_id: str, op: Op, skipped: set[int]) -> list[OpResult]:
        out: list[OpResult] = []
        with self.db.transaction() as session:
            seq_row = self._lock_seq(session, station_id)
            known = session.get(AppliedOp, op.op_id)
            if known is not None:
                if known.station_id != station_id or known.seq != op.seq:
                    raise _Stop(
                        422, ErrorCode.BAD_OP, f"op {op.op_id} was received before with another sequence number"
                    )
                return [_result(known, replayed=True)]
            while seq_row.last_seq + 1 < op.seq and seq_row.last_seq + 1 in skipped:
                seq_row.last_seq += 1
                out.append(self._record_skip(session, station_id, seq_row.last_seq))
            if op.seq <= seq_row.last_seq:
                raise _Stop(422, ErrorCode.BAD_OP, f"sequence number {op.seq} of op {op.op_id} was already used")
            if op.seq != seq_row.last_seq + 1:
                raise _Stop(
                    409,
                    ErrorCode.SEQ_GAP,
                    f"op {op.seq} skips ahead; the registry holds up to {seq_row.last_seq}",
                    expected=seq_row.last_seq + 1,
                )
            if not op.kind.startswith(KNOWN_PREFIXES):
                raise _Stop(422, ErrorCode.UNKNOWN_KIND, f"unknown op kind '{op.kind[:60]}'")
            if op.created_at is not None and op.created_at.tzinfo is None:
                raise _Stop(422, ErrorCode.INVALID, f"op {op.op_id}: created_at must carry its UTC offset")
            if op.base_version is not None and op.base_version > _MAX_INT:
                raise _Stop(422, ErrorCode.INVALID, f"op {op.op_id}: base_version {op.base_version} is out of range")
            record = AppliedOp(
                op_id=op.op_id,
                station_id=station_id,
                seq=op.seq,
                kind=op.kind,
                entity_id=op.entity_id,
                status="applied",
                desk_at=op.created_at,
            )
            conflict: _Conflict | None = None
            try:
                with session.begin_nested():
                    outcome = self._apply(session, station_id, op)
            except _Conflict as refused:
                conflict = refused
            except (IntegrityError, DataError, OverflowError) as exc:
                # What the op carries breaks the registry's constraints (a number taken twice, a page without
                # its position, text too long, a number too large): the op is refused and parked at the desk,
                # never answered 500 and retried for ever.
                cause = getattr(exc, "orig", None) or exc
                why = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
                raise _Stop(422, ErrorCode.BAD_OP, f"op {op.kind} cannot be stored here: {why}") from None
            else:
                if isinstance(outcome, _Conflict):  # refused, but what the refusal wrote is kept
                    conflict = outcome
                else:
                    record.version = outcome
            if conflict is not None:
                current = _current_state(session, op)
                record.status, record.code, record.message = "conflict", conflict.code.value, conflict.message
                # A refused op's result carries the version the registry holds, so the desk can show both.
                record.version = current["version"] if current else conflict.current_version
                session.add(
                    SyncConflict(
                        station_id=station_id,
                        op_id=op.op_id,
                        kind=op.kind,
                        entity_id=op.entity_id,
                        code=conflict.code.value,
                        message=conflict.message,
                        base_version=op.base_version,
                        current_version=conflict.current_version,
                        payload=op.payload,
                    )
                )
                self._change(
                    session,
                    "sync.conflict",
                    op.entity_id,
                    station_id,
                    {
                        "op_id": op.op_id,
                        "kind": op.kind,
                        "code": conflict.code.value,
                        "message": conflict.message,
                        "current": current,
                    },
                )
            session.add(record)
            seq_row.last_seq = op.seq
            audit.append(
                session,
                station_id=station_id,
                actor=op.actor or f"station:{station_id}",
                action=f"sync.{record.status}",
                entity="op",
                entity_id=op.op_id,
                payload={"kind": op.kind, "entity_id": op.entity_id, "seq": op.seq, "code": record.code},
            )
            session.flush()
            out.append(_result(record))
        return out

    def _apply(self, session: Session, station_id: str, op: Op) -> int | _Conflict | None:
        payload = op.payload
        if op.kind == "dossier.create":
            return self._create(session, station_id, op)
        if op.kind == "review.decision":
            return self._decision(session, station_id, op)
        dossier = session.execute(
            select(Dossier).where(Dossier.id == op.entity_id).with_for_update()
        ).scalar_one_or_none()
        if dossier is None:
            raise _Stop(422, ErrorCode.BAD_OP, f"op {op.kind} is for dossier {op.entity_id}, unknown here")
        if op.base_version is not None:
            if dossier.version != op.base_version:
                raise _Conflict(
                    ErrorCode.STALE_VERSION,
                    f"dossier {dossier.number} is at version {dossier.version} here; the change was made on "
                    f"version {op.base_version}",
                    dossier.version,
                )
            version = _version(payload.get("version"))
            dossier.version = version if version is not None and version > dossier.version else dossier.version + 1
        manifest = payload.get("manifest")
        if manifest is not None:
            self._take_manifest(session, dossier, manifest)
        before = dossier.status
        stage, status = payload.get("stage"), payload.get("status")
        if isinstance(stage, str) and isinstance(status, str) and (stage, status) != (dossier.stage, dossier.status):
            dossier.stage, dossier.status = stage, status
            if status == "withdrawn":
                for lease in session.execute(
                    select(Assignment).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
                ).scalars():
                    lease.state, lease.ended_at = "ended", utcnow()
                dossier.lease_expires_at = None
            if status == "registered" and before != "registered":
                self._open_qc(session, dossier)
            self._state_change(session, dossier, station_id, op.kind)
        dossier.updated_at = utcnow()
        return dossier.version

    def _take_manifest(self, session: Session, dossier: Dossier, manifest: Any) -> None:
        if not isinstance(manifest, dict):
            raise _Stop(422, ErrorCode.BAD_OP, "the manifest must be an object")
        try:
            blobs = manifest_blobs(manifest)
        except ValueError as exc:
            raise _Stop(422, ErrorCode.BAD_OP, str(exc)) from None
        named: list[object] = list(blobs)
        pages = manifest.get("pages")
        if isinstance(pages, list):  # a page whose blob the list leaves out must be here all the same
            named += [p.get("sha256") for p in pages if isinstance(p, dict) and not p.get("deleted")]
        digests = [sha for sha in named if isinstance(sha, str) and _is_sha(sha)]
        if len(digests) != len(named):
            bad = next(sha for sha in named if not isinstance(sha, str) or not _is_sha(sha))
            raise _Stop(422, ErrorCode.BAD_OP, f"the manifest names {str(bad)[:80]!r}, not a sha256 digest")
        missing = [sha for sha in dict.fromkeys(digests) if not self.blobs.exists(sha)]
        if missing:
            # Reviewers never see half a dossier: the op waits until every page is here.
            raise _Stop(409, ErrorCode.BLOB_MISSING, f"{len(missing)} page blob(s) not uploaded yet", missing=missing)
        try:
            replace_content(session, dossier, manifest)
        except ValueError as exc:
            raise _Stop(422, ErrorCode.BAD_OP, str(exc)) from None
        accepted = manifest.get("accepted_at")
        if isinstance(accepted, str):
            try:
                accepted_at = datetime.fromisoformat(accepted)
            except ValueError:
                raise _Stop(422, ErrorCode.BAD_OP, "manifest accepted_at is not an ISO time") from None
            if accepted_at.tzinfo is None:
                raise _Stop(422, ErrorCode.BAD_OP, "manifest accepted_at must carry its UTC offset")
            dossier.accepted_at = accepted_at

    def _create(self, session: Session, station_id: str, op: Op) -> int:
        p = op.payload
        if session.get(Dossier, op.entity_id) is not None:
            raise _Conflict(ErrorCode.STALE_VERSION, f"dossier {op.entity_id} exists already")
        try:
            applied_at = datetime.fromisoformat(str(p["applied_at"]))
            if applied_at.tzinfo is None:
                raise ValueError
            dossier = Dossier(
                id=op.entity_id,
                number=str(p["number"])[:64],
                station_id=station_id,
                business_code=str(p["business"]),
                registration_type=str(p["registration_type"]),
                channel=str(p["channel"]),
                applicant_kind=str(p["applicant_kind"]),
                digitized=bool(p["digitized"]),
                hall_mode=str(p["hall_mode"]),
                stage_plan=str(p["stage_plan"]),
                conditions=list(p.get("conditions") or []),
                stage=str(p["stage"]),
                status=str(p["status"]),
                applied_at=applied_at,
                created_by=self._shadow_user(session, station_id, op.actor or "desk").id,
                version=_version(p.get("version")) or 1,
            )
            self.catalogue.business(dossier.business_code)
            parties, parties_full = p.get("parties") or [], p.get("parties_full") or []
            if not isinstance(parties, list) or not isinstance(parties_full, list):
                raise TypeError("parties and parties_full must be lists")
            if not all(isinstance(x, dict) for x in (*parties, *parties_full)):
                raise TypeError("every party must be an object")
        except (KeyError, TypeError, ValueError, DomainError) as exc:
            raise _Stop(422, ErrorCode.BAD_OP, f"dossier.create is missing or has a bad value: {exc}") from None
        session.add(dossier)
        session.flush()
        for i, (party, full) in enumerate(zip(parties, parties_full, strict=False)):
            session.add(
                Party(
                    id=full.get("id"),
                    dossier_id=dossier.id,
                    key=full.get("key", f"p{i + 1}"),
                    position=full.get("position", i + 1),
                    role=party.get("role", ""),
                    kind=party.get("kind", dossier.applicant_kind),
                    name=party.get("name"),
                    id_type=party.get("id_type"),
                    id_value=None,  # the full identifier arrives with the manifest; the create op carries it masked
                )
            )
        self._state_change(session, dossier, station_id, op.kind)
        return dossier.version

    def _decision(self, session: Session, station_id: str, op: Op) -> int | _Conflict | None:
        p = op.payload
        try:
            reviewer = Reviewer.model_validate(p["reviewer"])
            kind = DecisionKind(p["decision"])
            items = tuple(ReturnItem.from_json(i) for i in p.get("items") or [])
            number = str(p["number"])
            lease_id, fence = p.get("lease_id"), p.get("fence")
            if lease_id is not None and not isinstance(lease_id, str):
                raise TypeError("lease_id must be text")
            if fence is not None and (not isinstance(fence, int) or isinstance(fence, bool) or abs(fence) > _MAX_INT):
                raise TypeError("fence must be a lease's fence number")
            if kind is DecisionKind.RETURN:
                items = validate_return(items, self.review.rules)
            reason = validate_reject(p.get("reason_code"), self.review.rules) if kind is DecisionKind.REJECT else None
        except (KeyError, TypeError, ValueError, DomainError) as exc:
            raise _Stop(422, ErrorCode.BAD_OP, f"review.decision is malformed: {exc}") from None
        actor = self.reviewer_actor(session, station_id, reviewer)
        try:
            view = self.review._decide(
                session,
                actor,
                number,
                kind,
                lease_id,
                fence,
                items,
                reason,
                str(p.get("note") or "")[:2000],
                op.op_id,
                op.created_at,
            )
        except DomainError as exc:
            raise _Stop(403, ErrorCode.NOT_ALLOWED, str(exc)) from None
        except UsageError as exc:  # e.g. NotFound: no dossier with that number here
            raise _Stop(422, ErrorCode.BAD_OP, f"review.decision cannot be applied: {exc}") from None
        dossier = session.execute(select(Dossier).where(Dossier.number == number)).scalar_one()
        if view.outcome == "conflict":  # the review service recorded the refused decision: keep it
            return _Conflict(ErrorCode.STALE_FENCE, view.conflict or "stale lease", dossier.version)
        self._change(
            session,
            "review.decision",
            dossier.id,
            station_id,
            {"number": number, "decision": kind.value, "status": dossier.status, "stage": dossier.stage},
        )
        self._state_change(session, dossier, station_id, op.kind)
        return dossier.version

    def _open_qc(self, session: Session, dossier: Dossier) -> None:
        if session.execute(select(QcCheck.id).where(QcCheck.dossier_id == dossier.id)).first():
            return
        inspect, basis = must_inspect(self.catalogue.business(dossier.business_code), dossier.id, self.qc_policy)
        if inspect:
            session.add(QcCheck(dossier_id=dossier.id, basis=basis))
            self._change(session, "qc.open", dossier.id, REGISTRY, {"number": dossier.number, "basis": basis})

    def _shadow_user(self, session: Session, station_id: str, username: str) -> User:
        """The registry's record of a desk's user, named user@station; it cannot log in here."""
        name = f"{username}@{station_id}"[:64]
        user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if user is None:
            user = User(username=name, display_name=name, password_hash="!", roles="", station_id=station_id)
            session.add(user)
            session.flush()
        return user

    def reviewer_actor(self, session: Session, station_id: str, reviewer: Reviewer) -> Actor:
        """The reviewer as the station vouches for them (the station token is the trust boundary)."""
        user = self._shadow_user(session, station_id, reviewer.username)
        roles = [r for r in reviewer.roles if r in {x.value for x in UserRole}]
        user.roles = " ".join(sorted(roles))
        user.can_review_online, user.can_review_offline = reviewer.can_review_online, reviewer.can_review_offline
        return Actor(
            user_id=user.id,
            username=user.username,
            roles=frozenset(UserRole(r) for r in roles),
            can_review_online=reviewer.can_review_online,
            can_review_offline=reviewer.can_review_offline,
        )

    # -- review over the network -----------------------------------------------------------------------

    def claim(self, station_id: str, reviewer: Reviewer, held: list[str] | None = None) -> ClaimResponse:
        with self.db.transaction() as session:
            actor = self.reviewer_actor(session, station_id, reviewer)
        lease: LeaseView | None = None
        if held is not None:  # a lease of theirs the desk never heard of: its answer was lost; hand it back
            known = set(held)
            lease = next((x for x in self.review.queue(actor) if x.lease_id not in known), None)
        fresh = lease is None
        if lease is None:
            try:
                lease = self.review.claim_next(actor)
            except DomainError as exc:
                raise ApiError(403, ErrorCode.NOT_ALLOWED, str(exc)) from None
            except UsageError as exc:
                raise ApiError(409, ErrorCode.NOT_ALLOWED, str(exc)) from None
        if lease is None:
            return ClaimResponse(lease=None)
        with self.db.transaction() as session:
            dossier = session.get(Dossier, lease.dossier_id)
            assert dossier is not None
            manifest = dossier_manifest(session, dossier)
            if fresh:
                self._change(
                    session,
                    "review.lease",
                    dossier.id,
                    station_id,
                    {
                        "number": dossier.number,
                        "reviewer": actor.username,
                        "fence": lease.fence,
                        "lease_id": lease.lease_id,
                    },
                )
        return ClaimResponse(lease=_wire_lease(lease), dossier=manifest)

    def release(self, station_id: str, reviewer: Reviewer, lease_id: str) -> ReleaseResponse:
        """Give a lease back to the pool; one no longer live (or never this reviewer's) is `released: false`."""
        with self.db.transaction() as session:
            actor = self.reviewer_actor(session, station_id, reviewer)
        try:
            self.review.release(actor, lease_id)
        except UsageError:  # NotFound included: not theirs, or already over; either way nothing is held
            return ReleaseResponse(released=False)
        return ReleaseResponse(released=True)

    def heartbeat(self, station_id: str, reviewer: Reviewer, lease_ids: list[str]) -> HeartbeatResponse:
        with self.db.transaction() as session:
            actor = self.reviewer_actor(session, station_id, reviewer)
        beat = self.review.heartbeat(actor, lease_ids)
        return HeartbeatResponse(
            renewed=[_wire_lease(x) for x in beat.renewed],
            lost=[{"lease_id": lid, "reason": why} for lid, why in beat.lost],
        )

    # -- the change feed -------------------------------------------------------------------------------

    def _state_change(self, session: Session, dossier: Dossier, station_id: str, cause: str) -> None:
        self._change(
            session,
            "dossier.state",
            dossier.id,
            station_id,
            {
                "number": dossier.number,
                "stage": dossier.stage,
                "status": dossier.status,
                "version": dossier.version,
                "cause": cause,
            },
        )

    def _change(self, session: Session, kind: str, entity_id: str, station_id: str, payload: dict[str, Any]) -> None:
        # The counter row's lock is held to commit: sequence numbers become visible in order, so a reader's
        # cursor never passes a change that commits later.
        seq = next_counter(session, "change_feed")
        session.add(ChangeRecord(seq=seq, kind=kind, entity_id=entity_id, station_id=station_id, payload=payload))

    def changes(self, after: int, limit: int = MAX_CHANGES_PER_PAGE) -> ChangesResponse:
        limit = max(1, min(limit, MAX_CHANGES_PER_PAGE))
        # A cursor past any sequence number the database can hold has nothing after it (and must not overflow
        # the query's integer parameter: a 500 on SQLite and PostgreSQL alike).
        bound = min(after, _MAX_INT)
        with self.db.read() as session:
            rows = (
                session.execute(
                    select(ChangeRecord).where(ChangeRecord.seq > bound).order_by(ChangeRecord.seq).limit(limit + 1)
                )
                .scalars()
                .all()
            )
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = rows[-1].seq if rows else after
        return ChangesResponse(
            changes=[
                Change(
                    seq=r.seq, kind=r.kind, entity_id=r.entity_id, station_id=r.station_id, payload=r.payload, at=r.at
                )
                for r in rows
            ],
            cursor=str(cursor),
            more=more,
        )

    def conflicts(self, station_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        with self.db.read() as session:
            query = select(SyncConflict).order_by(SyncConflict.at.desc()).limit(limit)
            if station_id:
                query = query.where(SyncConflict.station_id == station_id)
            return [
                {
                    "id": c.id,
                    "station_id": c.station_id,
                    "op_id": c.op_id,
                    "kind": c.kind,
                    "entity_id": c.entity_id,
                    "code": c.code,
                    "message": c.message,
                    "base_version": c.base_version,
                    "current_version": c.current_version,
                    "at": c.at.isoformat(),
                }
                for c in session.execute(query).scalars()
            ]


def _current_state(session: Session, op: Op) -> dict[str, Any] | None:
    """The dossier an op was refused for, as the registry holds it now: what the desk shows beside its own op."""
    dossier = session.get(Dossier, op.entity_id)
    number = op.payload.get("number")
    if dossier is None and isinstance(number, str):
        dossier = session.execute(select(Dossier).where(Dossier.number == number)).scalar_one_or_none()
    if dossier is None:
        return None
    return {"number": dossier.number, "version": dossier.version, "stage": dossier.stage, "status": dossier.status}


def _wire_lease(lease: LeaseView) -> Lease:
    return Lease(
        lease_id=lease.lease_id,
        fence=lease.fence,
        dossier_id=lease.dossier_id,
        number=lease.number,
        expires_at=lease.expires_at,
    )


def _result(row: AppliedOp, *, replayed: bool = False) -> OpResult:
    return OpResult(
        op_id=row.op_id if row.status != "skipped" else None,
        seq=row.seq,
        status=row.status,  # type: ignore[arg-type]
        code=ErrorCode(row.code) if row.code else None,
        message=row.message,
        version=row.version,
        replayed=replayed,
    )


def _version(value: Any) -> int | None:
    """A dossier version an op carries: None when absent; _Stop when it is not a version the registry can hold."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_INT:
        raise _Stop(422, ErrorCode.BAD_OP, f"version {str(value)[:40]!r} is not a dossier version")
    return value


def _is_sha(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def open_blob_store(root: Any) -> BlobStore:
    return BlobStore(root)
