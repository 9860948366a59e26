"""The registry's use cases behind the HTTP API: the city's authority over dossiers, people and review.

Desks send typed ops (`sync.protocol`); the registry decides what each may do (`AUTHORITY` in the protocol):
- a dossier belongs to the station that created it; only that station changes its draft or asks for its
  submission, resubmission, withdrawal or issue, and every lookup after the create is by the dossier's id;
- every stage or status change is the stage machine's (`workstation.domain.stages.apply`), from the kind of
  request, never from a stage or status in a payload; a change needs the version it was made on and raises the
  version by exactly one;
- people are the registry's: a claim, heartbeat or release carries a personal token, a decision counts only under
  the live lease its person holds at the sending station, 登簿 only for a registrar logged in there.

Ops from a station are applied in its sequence, each in its own transaction: the op's effect, its AppliedOp row (a
replay returns it), the station's last sequence number, one audit event (station and person) and the change-feed
entries commit together or not at all. What the registry cannot apply is answered per op and recorded: a stale
version or fence is a conflict, anything else a refusal with its code; the station's queue moves on. Nothing a
station sends makes the registry answer 500.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import BigInteger, Table, bindparam, insert, literal_column, or_, select, text, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from sync.protocol import (
    GENESIS_HASH,
    MAX_BLOB_BYTES,
    MAX_CHANGES_PER_PAGE,
    ROW_ID,
    SCHEMA_VERSION,
    Change,
    ChangesResponse,
    ClaimResponse,
    ClockPauseOp,
    ClockResumeOp,
    ConditionsOp,
    Content,
    CreateOp,
    DecisionOp,
    DeliveryOp,
    ErrorCode,
    EvaluateOp,
    HeartbeatResponse,
    IssueOp,
    Lease,
    LoginResponse,
    LostLease,
    OpHead,
    OpRefusal,
    OpResult,
    OpsBatch,
    OpsResponse,
    PayOp,
    Person,
    RefuseIntakeOp,
    RegisterOp,
    ReleaseResponse,
    ResubmitOp,
    SigningOp,
    SubmitOp,
    WithdrawOp,
    WitnessedHeadResponse,
    _Op,
    parse_op,
)
from workstation.domain.catalogue import Catalogue
from workstation.domain.channels import ChannelError, channel_for, check_signed, check_signing, signing_from_json
from workstation.domain.checklist import PartyRef, SlotState, missing_for_submit, validate_new_dossier
from workstation.domain.errors import DomainError, IllegalTransition
from workstation.domain.notices import load_notice_rules
from workstation.domain.permissions import Actor, Permission, has_permission
from workstation.domain.qc import QcPolicy
from workstation.domain.review import DecisionKind, ReturnItem
from workstation.domain.stages import Action, DossierState, HallMode, Stage, Status, apply, initial_state, stage_plan
from workstation.errors import BlobError, UsageError
from workstation.services import audit
from workstation.services.changes import Change as RecordedChange
from workstation.services.changes import Recorder
from workstation.services.clocks import ClockService, clock_facts, end_supplement_pause
from workstation.services.manifest import dossier_manifest, replace_content
from workstation.services.people import PeopleService, PersonAuthError, actor_of
from workstation.services.records import RecordsService
from workstation.services.register import entry_json
from workstation.services.review import LeaseView, ReviewService, lease_view
from workstation.services.settle import SettleService, settle_json
from workstation.services.supplement import (
    check_addressed,
    latest_return,
    prefer_returning_reviewer,
    record_answers,
)
from workstation.store.blobs import BlobStore, Upload
from workstation.store.db import Database, _insert_ignore, next_counter
from workstation.store.models import (
    AppliedOp,
    Assignment,
    ChangeRecord,
    Dossier,
    Page,
    Party,
    RegisterEntry,
    RegistryStation,
    Station,
    StationSeq,
    SyncConflict,
    User,
    WitnessedHead,
)
from workstation.store.types import utcnow

log = logging.getLogger(__name__)

REGISTRY = "registry"
OPERATOR = "registry-admin"  # who runs the registry's own commands (stations, people) on its host
STATION_ORIGIN = "station"  # the registry's record of a desk's clerk: `name@STATION`, never a login
_TOKEN_PREFIX = "wst_"
_CLOCK_SKEW = timedelta(minutes=5)  # a window's clock may run this far ahead of the registry's


class ApiError(Exception):
    """A refusal with an HTTP status and a code the desk acts on."""

    def __init__(self, status: int, code: ErrorCode, message: str, **detail: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail or None


class BlobBackend(Protocol):
    """Where the registry keeps page images: a filesystem store here; an S3-compatible store can do the same."""

    def exists(self, sha256: str) -> bool: ...
    def open_upload(self, *, expected: str | None = None, max_bytes: int | None = None) -> Upload: ...
    def read(self, sha256: str) -> bytes: ...


class _Conflict(Exception):
    """The registry had moved on (stale version or fence): recorded as a conflict, never applied."""

    def __init__(self, code: ErrorCode, message: str, current_version: int | None = None):
        super().__init__(message)
        self.code, self.message, self.current_version = code, message, current_version


class _Refuse(Exception):
    """The op may never be applied as sent: recorded as refused with its code; the station parks it."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class _Stop(Exception):
    """The op cannot be taken yet (a page not uploaded, a gap): the batch stops before it; nothing of it is stored."""

    def __init__(self, status: int, code: ErrorCode, message: str, **detail: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _append_change(
    session: Session,
    kind: str,
    entity_id: str,
    station_id: str,
    payload: dict[str, Any],
    audience: Iterable[str | None],
) -> None:
    """One entry of the change feed, readable by up to two stations (a dossier's own and its lease holder's)."""
    readers: list[str | None] = [*dict.fromkeys(s for s in audience if s and s != REGISTRY), None, None]
    values = {
        "kind": kind,
        "entity_id": entity_id,
        "station_id": station_id,
        "payload": payload,
        "at": utcnow(),
        "audience": readers[0],
        "audience2": readers[1],
    }
    if session.get_bind().dialect.name == "postgresql":
        # No row every writer locks: the position is this transaction's id, shifted, plus the entry's place in the
        # transaction (a reader serves only positions below the oldest transaction still running: `changes`).
        values["ordinal"] = feed_ordinal(session)
        session.execute(_FEED_INSERT_PG, values)
    else:  # SQLite: one writer at a time; a gap-free counter
        values["seq"] = next_counter(session, "change_feed")
        session.execute(_FEED_INSERT, values)


_FEED_INSERT = insert(cast(Table, ChangeRecord.__table__))
# The statements of every op and claim, built once.
_DOSSIER_LOCKED = select(Dossier).where(Dossier.id == bindparam("id")).with_for_update()
_LEASE = select(Assignment).where(Assignment.lease_id == bindparam("lease"))
_SEQ_LOCKED = select(StationSeq).where(StationSeq.station_id == bindparam("station")).with_for_update()
_STATION_BY_TOKEN = select(RegistryStation).where(RegistryStation.token_sha256 == bindparam("digest"))

# A change's feed position on PostgreSQL: the writing transaction's id (64-bit, never wraps) shifted left by
# FEED_SHIFT bits, plus the change's place in the transaction; a position below the oldest running transaction's
# shifted id can no longer be taken by anyone.
FEED_SHIFT = 20
FEED_ORDINALS = 1 << FEED_SHIFT
_FEED_XID = literal_column(f"(pg_current_xact_id()::text::bigint << {FEED_SHIFT})", BigInteger)
_FEED_INSERT_PG = _FEED_INSERT.values(seq=_FEED_XID + bindparam("ordinal", type_=BigInteger))
# The oldest transaction id still running in this database (transactions of other databases on the server never
# write this feed), else the next id to be given. pg_stat_activity shows a running transaction's 32-bit id: it is
# widened to 64 bits against the snapshot's next id, which no running id exceeds.
_FEED_HORIZON = text(
    """
    WITH s AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next)
    SELECT LEAST(s.next, COALESCE((
        SELECT min(CASE WHEN w.x > s.next THEN w.x - 4294967296 ELSE w.x END)
        FROM (
            SELECT (s.next & -4294967296) | a.backend_xid::text::bigint AS x
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
        ) w
    ), s.next)) FROM s
    """
)
_ORDINAL = "change_feed.ordinal"


def feed_ordinal(session: Session) -> int:
    """The next place in this transaction's span of feed positions (0, 1, …)."""
    root = session.get_transaction()
    held = session.info.get(_ORDINAL)
    n = held[1] + 1 if held is not None and held[0] is root else 0
    if n >= FEED_ORDINALS:
        raise UsageError(f"one transaction may write at most {FEED_ORDINALS} changes to the feed")
    session.info[_ORDINAL] = (root, n)
    return n


MAX_FEED = 2**63 - 1  # the change feed's positions are 64-bit
# How long a reader of the feed waits for older transactions still running to end before it answers with the
# changes they cannot precede (the rest come at its next pull).
FEED_WAIT_SECONDS = 1.0
# A station's "last seen" is written at most this often by each registry process.
TOUCH_SECONDS = 30.0

_DECISIONS = ("review.approve", "review.return", "review.reject")


def feed_sink(session: Session, change: RecordedChange) -> str | None:
    """The registry's sink: each new version of a dossier goes into the feed for its station and the sender's,
    with the registry's clock (R19) and, for a decision, what was decided (the 补正 list reaches the window)."""
    dossier = change.dossier
    audience = (dossier.station_id, change.station_id)
    if change.base_version is None:
        if change.action.startswith("clock."):  # a pause begun or ended: the desks' clocks follow
            _append_change(
                session,
                "dossier.clock",
                dossier.id,
                change.station_id,
                {"number": dossier.number, "clock": clock_facts(session, dossier)},
                audience,
            )
        if change.action == "fee.pay" or change.action.startswith("delivery."):  # the 票据 number, the way home
            _append_change(
                session,
                "dossier.settle",
                dossier.id,
                change.station_id,
                {"number": dossier.number, **settle_json(session, dossier)},
                audience,
            )
        return None  # any other note: no new state for desks to mirror
    payload: dict[str, Any] = {
        "number": dossier.number,
        "stage": dossier.stage,
        "status": dossier.status,
        "version": dossier.version,
        "cause": change.action,
        "clock": clock_facts(session, dossier),
    }
    if change.action in _DECISIONS:
        told = change.payload
        payload["decision"] = {
            "id": told.get("decision_id"),
            "op_id": told.get("op_id"),
            "kind": told.get("kind"),
            "items": told.get("items") or [],
            "reason_code": told.get("reason_code"),
            "note": told.get("note") or "",
            "reviewer": change.actor,
            "decided_at": told.get("decided_at"),
        }
    if change.action == "dossier.register":
        payload["registered"] = {"by": change.actor, "at": _iso(dossier.registered_at)}
        # The register as this 登簿 left it: the entries it opened (numbers allocated here) and those it closed.
        touched = session.execute(
            select(RegisterEntry).where(
                or_(RegisterEntry.dossier_id == dossier.id, RegisterEntry.closed_by == dossier.number)
            )
        ).scalars()
        payload["entries"] = [entry_json(row) for row in touched]
    _append_change(session, "dossier.state", dossier.id, change.station_id, payload, audience)
    return None


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
        person_token_minutes: float = 10 * 60,
        same_reviewer_seconds: float = 4 * 3600,
    ):
        self.db = db
        self.blobs = blobs
        self.catalogue = catalogue
        self.qc_policy = qc_policy
        self.max_blob_bytes = max_blob_bytes
        self.recorder = Recorder(REGISTRY, feed_sink)
        # Draft edits are the station's own business: recorded and versioned here, but not fed back to it.
        self._quiet = Recorder(REGISTRY)
        self.review = ReviewService(
            db,
            catalogue,
            station_id=REGISTRY,
            qc_policy=qc_policy,
            lease_seconds=lease_seconds,
            queue_size=queue_size,
            recorder=self.recorder,
            same_reviewer_seconds=same_reviewer_seconds,
            presence_by_login=True,
        )
        self.people = PeopleService(db, station_id=REGISTRY, token_minutes=person_token_minutes)
        self._clocks = ClockService(db, catalogue, station_id=REGISTRY, recorder=self.recorder)
        self.settle = SettleService(db, catalogue, recorder=self.recorder)
        self._records = RecordsService(db, station_id=REGISTRY, recorder=self._quiet)
        self._touched: dict[str, float] = {}  # station → when this process last wrote its last_seen_at

    # -- stations --------------------------------------------------------------------------------------

    def add_station(self, station_id: str, name: str = "", kind: str | None = None, unit: str | None = None) -> str:
        """Register a desk and return its token (shown once; only its digest is stored); `unit`: the district
        office it belongs to (its clerks' records roll up there, R17)."""
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as session:
            row = session.get(RegistryStation, station_id)
            if row is not None and row.revoked_at is None:
                raise DomainError(f"station {station_id} already has a token; revoke it first to issue a new one")
            if row is None:
                session.add(RegistryStation(id=station_id, name=name or station_id, token_sha256=hash_token(token)))
            else:
                row.token_sha256, row.revoked_at, row.name = hash_token(token), None, name or row.name
            station = session.get(Station, station_id)
            if station is None:
                session.add(Station(id=station_id, name=name or station_id, kind=kind or "hall", unit=unit))
            else:
                if kind is not None:  # re-provisioned: where it stands now decides its channel
                    station.kind = kind
                if unit is not None:
                    station.unit = unit
            audit.append(
                session,
                station_id=REGISTRY,
                actor=OPERATOR,
                action="station.token_issued",
                entity="station",
                entity_id=station_id,
                payload={"name": name or station_id, "kind": kind},
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
                actor=OPERATOR,
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
        with self.db.read() as session:
            return self._station_of(session, token)

    def station_person(self, token: str | None, person_token: str | None) -> tuple[str, Actor]:
        """The station a token belongs to and the person logged in there a personal token stands for, read in one
        transaction; ApiError (401/403) otherwise."""
        with self.db.read() as session:
            station_id = self._station_of(session, token)
            return station_id, self._person_in(session, station_id, person_token)

    def _station_of(self, session: Session, token: str | None) -> str:
        if not token:
            raise ApiError(401, ErrorCode.AUTH_MISSING, "send the station token as 'Authorization: Bearer …'")
        digest = hash_token(token)
        row = session.execute(_STATION_BY_TOKEN, {"digest": digest}).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            raise ApiError(401, ErrorCode.AUTH_INVALID, "unknown station token")
        if row.revoked_at is not None:
            raise ApiError(401, ErrorCode.AUTH_REVOKED, f"the token of station {row.id} was revoked")
        return row.id

    # -- the desks' audit chain heads ----------------------------------------------------------------------

    def witness_head(
        self, station_id: str, seq: int, hash_: str, prior: tuple[int, str | None] | None = None
    ) -> WitnessedHeadResponse:
        """Take a desk's audit chain head into its station's head history; the last witnessed head after it.

        A head behind the last one witnessed, or at the same event with another hash, is refused (409) and kept
        as `refused`, with an audit event here: what the desk's chain held once is no longer there. So is a head
        whose `prior` (the desk's event at a seq witnessed before: seq, hash or None) differs from what was
        witnessed at that seq."""
        refusal: str | None = None
        witnessed: dict[str, Any] = {}
        again: WitnessedHead | None = None
        with self.db.transaction() as session:
            # One head at a time per station (two desks' syncs never wait on each other).
            session.execute(select(RegistryStation.id).where(RegistryStation.id == station_id).with_for_update())
            last = _last_witnessed(session, station_id)
            now = utcnow()
            if last is not None and seq < last.seq:
                refusal = (
                    f"station {station_id} sent audit chain head event {seq}; the registry witnessed event {last.seq} "
                    f"on {_iso(last.at)}: events after {seq} were removed or the chain was replaced"
                )
            elif last is not None and seq == last.seq and hash_ != last.hash:
                refusal = (
                    f"station {station_id} sent event {seq} of its audit chain with hash {hash_[:16]}…; the registry "
                    f"witnessed {last.hash[:16]}… for it on {_iso(last.at)}: the chain was rewritten"
                )
            if refusal is None and last is not None and prior is not None:
                refusal = _prior_problem(session, station_id, prior)
            if refusal is not None and last is not None:
                witnessed = {"witnessed_seq": last.seq, "witnessed_hash": last.hash}
                again = session.execute(
                    select(WitnessedHead)
                    .where(
                        WitnessedHead.station_id == station_id,
                        WitnessedHead.status == "refused",
                        WitnessedHead.seq == seq,
                        WitnessedHead.hash == hash_,
                        WitnessedHead.at >= last.at,
                    )
                    .limit(1)
                ).scalar_one_or_none()
            if refusal is not None and again is not None:  # the same refused head, sent at the next sync again
                again.last_seen_at = now
            elif refusal is not None and last is not None:
                session.add(
                    WitnessedHead(station_id=station_id, seq=seq, hash=hash_, status="refused", message=refusal, at=now)
                )
                audit.append(
                    session,
                    station_id=station_id,
                    actor=f"station:{station_id}",
                    action="witness.refused",
                    entity="station",
                    entity_id=station_id,
                    payload={"seq": seq, "hash": hash_, "witnessed_seq": last.seq, "witnessed_hash": last.hash},
                )
            elif last is not None and seq == last.seq:
                last.last_seen_at = now
            else:
                last = WitnessedHead(
                    station_id=station_id, seq=seq, hash=hash_, status="witnessed", at=now, last_seen_at=now
                )
                session.add(last)
            answer = _head_response(last)
        if refusal is not None:
            raise ApiError(409, ErrorCode.CHAIN_REWOUND, refusal, **witnessed)
        return answer

    def head_history(self, station_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """The stations' audit chain heads as received at sync, newest first: witnessed ones and refused ones (with
        why), the registry's times."""
        with self.db.read() as session:
            query = select(WitnessedHead).order_by(WitnessedHead.at.desc(), WitnessedHead.seq.desc()).limit(limit)
            if station_id:
                query = query.where(WitnessedHead.station_id == station_id)
            return [
                {
                    "station_id": h.station_id,
                    "seq": h.seq,
                    "hash": h.hash,
                    "status": h.status,
                    "message": h.message,
                    "at": h.at.isoformat(),
                    "last_seen_at": h.last_seen_at.isoformat(),
                }
                for h in session.execute(query).scalars()
            ]

    def verify_audit(self, deep: bool = False) -> audit.ChainReport:
        """The registry's own chain checked as a desk's is: keyed links, and with `deep` every audited row
        against its last event."""
        with self.db.read() as session:
            return audit.verify(session, deep=deep)

    def witnessed_head(self, station_id: str) -> WitnessedHeadResponse:
        """The last head the registry witnessed for this station (seq 0: none yet)."""
        with self.db.read() as session:
            return _head_response(_last_witnessed(session, station_id))

    # -- people ----------------------------------------------------------------------------------------

    def login(self, station_id: str, username: str, password: str) -> LoginResponse:
        try:
            login = self.people.login(station_id, username, password)
        except PersonAuthError as exc:
            raise ApiError(401, ErrorCode.PERSON_INVALID, str(exc)) from None
        p = login.person
        return LoginResponse(
            token=login.token,
            expires_at=login.expires_at,
            person=Person(
                username=p.username,
                display_name=p.display_name,
                roles=list(p.roles),
                can_review_online=p.can_review_online,
                can_review_offline=p.can_review_offline,
                unit=p.unit,
            ),
        )

    def logout(self, station_id: str, token: str | None) -> None:
        if token:
            self.people.logout(station_id, token)

    def _person_in(self, session: Session, station_id: str, token: str | None) -> Actor:
        """The person a personal token stands for at this station; ApiError (401/403) otherwise."""
        try:
            return self.people.verify_in(session, station_id, token)
        except PersonAuthError as exc:
            code = {
                "missing": ErrorCode.PERSON_MISSING,
                "expired": ErrorCode.PERSON_EXPIRED,
                "station": ErrorCode.STATION_MISMATCH,
            }.get(exc.reason, ErrorCode.PERSON_INVALID)
            raise ApiError(403 if exc.reason == "station" else 401, code, str(exc)) from None

    # -- blobs -----------------------------------------------------------------------------------------

    def missing_blobs(self, digests: Iterable[str]) -> list[str]:
        out = []
        for sha in dict.fromkeys(digests):
            if not _is_sha(sha):
                raise ApiError(422, ErrorCode.INVALID, f"'{sha[:80]}' is not a sha256 digest")
            if not self.blobs.exists(sha):
                out.append(sha)
        return out

    def open_upload(self, sha256: str) -> Upload | None:
        """Where an upload's bytes go as they arrive: a new blob, or None when the registry has it already (the
        body is still hashed, so damaged bytes are refused the same way)."""
        if not _is_sha(sha256):
            raise ApiError(422, ErrorCode.INVALID, "the blob name must be its lower-case sha256")
        if self.blobs.exists(sha256):
            return None
        return self.blobs.open_upload(expected=sha256, max_bytes=self.max_blob_bytes)

    def read_blob(self, station_id: str, sha256: str) -> bytes:
        """A page's bytes, for a station that owns a dossier with that page or holds a live lease on one."""
        if not _is_sha(sha256):
            raise ApiError(422, ErrorCode.INVALID, "the blob name must be its lower-case sha256")
        with self.db.read() as session:
            allowed = session.execute(
                select(Page.id)
                .join(Dossier, Dossier.id == Page.dossier_id)
                .outerjoin(Assignment, (Assignment.dossier_id == Dossier.id) & (Assignment.state == "active"))
                .where(
                    Page.sha256 == sha256, or_(Dossier.station_id == station_id, Assignment.station_id == station_id)
                )
                .limit(1)
            ).first()
        if allowed is None or not self.blobs.exists(sha256):
            raise ApiError(404, ErrorCode.NOT_FOUND, f"no blob {sha256} for station {station_id}")
        try:
            return self.blobs.read(sha256)
        except BlobError as exc:  # damaged on the registry's disk: never served, never a 500
            log.error("blob %s cannot be served: %s", sha256, exc)
            raise ApiError(404, ErrorCode.NOT_FOUND, f"blob {sha256} is damaged here; it cannot be served") from None

    # -- ops -------------------------------------------------------------------------------------------

    def apply_batch(self, station_id: str, batch: OpsBatch) -> OpsResponse:
        """Apply the batch's ops in order; raises ApiError at the first op that cannot be taken yet."""
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
        last_seq: int | None = None
        for head in batch.ops:
            try:
                applied, last_seq = self._apply_one(station_id, head, skipped)
                results.extend(applied)
            except _Stop as stop:
                raise ApiError(
                    stop.status,
                    stop.code,
                    stop.message,
                    seq=head.seq,
                    op_id=head.op_id,
                    results=results,
                    **stop.detail,
                ) from None
        if not batch.ops and skipped:
            results.extend(self._skip_through(station_id, max(skipped), skipped))
        return OpsResponse(results=results, last_seq=self.last_seq(station_id) if last_seq is None else last_seq)

    def last_seq(self, station_id: str) -> int:
        with self.db.read() as session:
            row = session.get(StationSeq, station_id)
            return row.last_seq if row else 0

    def _touch(self, station_id: str) -> None:
        """Note when the station last pushed: written at most once every TOUCH_SECONDS by each process (a desk
        pushing every second does not rewrite its station's row every second)."""
        now = time.monotonic()
        if now - self._touched.get(station_id, -TOUCH_SECONDS) < TOUCH_SECONDS:
            return
        with self.db.transaction() as session:
            session.execute(
                update(RegistryStation).where(RegistryStation.id == station_id).values(last_seen_at=utcnow())
            )
        self._touched[station_id] = now

    def _lock_seq(self, session: Session, station_id: str) -> StationSeq:
        row = session.execute(_SEQ_LOCKED, {"station": station_id}).scalar_one_or_none()
        if row is None:  # the station's first op: its row is made (by whichever of two first pushes comes first)
            session.execute(_insert_ignore(session, StationSeq, station_id=station_id, last_seq=0))
            row = session.execute(_SEQ_LOCKED, {"station": station_id}).scalar_one()
        return row

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

    def _apply_one(self, station_id: str, head: OpHead, skipped: set[int]) -> tuple[list[OpResult], int]:
        """The op's result (after those of the ops skipped before it) and the station's last sequence number."""
        out: list[OpResult] = []
        with self.db.transaction() as session:
            seq_row = self._lock_seq(session, station_id)
            known = session.get(AppliedOp, head.op_id)
            if known is not None:
                if known.station_id != station_id or known.seq != head.seq:
                    raise _Stop(
                        422, ErrorCode.BAD_OP, f"op {head.op_id} was received before with another sequence number"
                    )
                return [_result(known, replayed=True)], seq_row.last_seq
            while seq_row.last_seq + 1 < head.seq and seq_row.last_seq + 1 in skipped:
                seq_row.last_seq += 1
                out.append(self._record_skip(session, station_id, seq_row.last_seq))
            if head.seq <= seq_row.last_seq:
                raise _Stop(422, ErrorCode.BAD_OP, f"sequence number {head.seq} of op {head.op_id} was already used")
            if head.seq != seq_row.last_seq + 1:
                raise _Stop(
                    409,
                    ErrorCode.SEQ_GAP,
                    f"op {head.seq} skips ahead; the registry holds up to {seq_row.last_seq}",
                    expected=seq_row.last_seq + 1,
                )
            entity = (head.model_extra or {}).get("entity_id")
            record = AppliedOp(
                op_id=head.op_id,
                station_id=station_id,
                seq=head.seq,
                kind=_storable(head.kind),
                entity_id=entity if isinstance(entity, str) and _ROW_ID.match(entity) else "-",
                status="applied",
            )
            actor = f"station:{station_id}"
            outcome: int | _Conflict | _Refuse
            op: _Op | None = None
            try:
                op = parse_op(head)
            except OpRefusal as refusal:
                outcome = _Refuse(refusal.code, refusal.message)
            else:
                record.desk_at = op.created_at
                actor = op.actor or actor
                outcome = self._apply_typed(session, station_id, op)
            if isinstance(outcome, int):
                record.version = outcome
            else:
                self._refused(session, station_id, head, op, record, outcome)
            session.add(record)
            seq_row.last_seq = head.seq
            audit.append(
                session,
                station_id=station_id,
                actor=actor,
                action=f"sync.{record.status}",
                entity="op",
                entity_id=head.op_id,
                payload={"kind": record.kind, "entity_id": record.entity_id, "seq": head.seq, "code": record.code},
            )
            session.flush()
            out.append(_result(record))
            last_seq = seq_row.last_seq
        return out, last_seq

    def _apply_typed(self, session: Session, station_id: str, op: _Op) -> int | _Conflict | _Refuse:
        """The op's effect inside a savepoint: a version, or why not (what a conflict wrote is kept)."""
        try:
            with session.begin_nested():
                return self._apply(session, station_id, op)
        except (_Refuse, _Conflict) as outcome:
            return outcome
        except _Stop:
            raise
        except (IntegrityError, DataError, OverflowError) as exc:
            # What the op carries breaks the registry's constraints: refused and parked at the desk, never a 500
            # retried for ever.
            cause = getattr(exc, "orig", None) or exc
            why = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
            return _Refuse(ErrorCode.BAD_OP, f"{op.kind} cannot be stored here: {why}")
        except OperationalError:
            raise  # the database itself is unavailable: 503, the desk retries
        except IllegalTransition as exc:  # the stage machine has no such move from where the dossier is
            return _Refuse(ErrorCode.ILLEGAL_TRANSITION, f"{op.kind}: {exc}")
        except (DomainError, UsageError) as exc:
            return _Refuse(ErrorCode.BAD_OP, f"{op.kind} cannot be applied: {exc}")
        except Exception as exc:  # a case the registry did not foresee: refused for this op alone, and logged
            log.exception("op %s (%s) from %s could not be applied", op.op_id, op.kind, station_id)
            return _Refuse(ErrorCode.BAD_OP, f"{op.kind} could not be applied here ({type(exc).__name__}); logged")

    def _refused(
        self,
        session: Session,
        station_id: str,
        head: OpHead,
        op: _Op | None,
        record: AppliedOp,
        outcome: _Conflict | _Refuse,
    ) -> None:
        current = _current_state(session, record.entity_id, station_id)
        record.code, record.message = outcome.code.value, _storable(outcome.message)
        # A result carries the version the registry holds, so the desk can show both sides.
        record.version = current["version"] if current else None
        if isinstance(outcome, _Refuse):
            record.status = "refused"
        else:
            record.status = "conflict"
            session.add(
                SyncConflict(
                    station_id=station_id,
                    op_id=head.op_id,
                    kind=record.kind,
                    entity_id=record.entity_id,
                    code=outcome.code.value,
                    message=outcome.message,
                    base_version=op.base_version if op else None,
                    current_version=current["version"] if current else None,
                    payload=op.model_dump(mode="json")["payload"] if op else {},
                )
            )
        # The sender's desk shows its op beside the dossier as the registry holds it (for no one else to read).
        _append_change(
            session,
            f"sync.{record.status}",
            record.entity_id,
            station_id,
            {
                "op_id": head.op_id,
                "kind": record.kind,
                "code": outcome.code.value,
                "message": record.message,
                "current": current,
            },
            (station_id,),
        )

    # -- what each kind of op may do ------------------------------------------------------------------------

    def _apply(self, session: Session, station_id: str, op: _Op) -> int | _Conflict:
        if isinstance(op, CreateOp):
            return self._create(session, station_id, op)
        if op.authority == "registry":
            raise _Refuse(ErrorCode.NOT_ALLOWED, f"{op.kind} is the registry's own to decide; desks do not send it")
        dossier = session.execute(_DOSSIER_LOCKED, {"id": op.entity_id}).scalar_one_or_none()
        if dossier is None:
            raise _Refuse(ErrorCode.NOT_FOUND, f"no dossier {op.entity_id} at the registry")
        if op.versioned and op.base_version is None:
            raise _Refuse(ErrorCode.BAD_OP, f"{op.kind} changes the dossier: it must carry the base_version")
        if not op.versioned and op.base_version is not None:
            raise _Refuse(ErrorCode.BAD_OP, f"{op.kind} changes no version: it carries no base_version")
        if isinstance(op, DecisionOp):
            return self._decision(session, station_id, op, dossier)
        if isinstance(op, RegisterOp):
            return self._register(session, station_id, op, dossier)
        if op.authority == "note":
            return self._note(session, station_id, op, dossier)
        if dossier.station_id != station_id:
            raise _Refuse(
                ErrorCode.NOT_OWNER,
                f"dossier {dossier.id} is another station's; only the station that created it may change or ask this",
            )
        if isinstance(op, PayOp | DeliveryOp):
            return self._settle(session, station_id, op, dossier)
        self._check_version(op, dossier)
        actor = op.actor or f"station:{station_id}"
        if op.authority == "draft":
            if dossier.status not in (Status.DRAFT.value, Status.RETURNED.value):
                raise _Refuse(
                    ErrorCode.NOT_EDITABLE,
                    f"dossier {dossier.number} is {dossier.status}: only a draft or a returned dossier is changed "
                    "at its window",
                )
            # The draft's content arrives whole with 受理; each edit is versioned and audited here.
            payload = op.model_dump(mode="json")["payload"]
            if isinstance(op, ConditionsOp):
                try:
                    biz = self.catalogue.business(dossier.business_code)
                    validate_new_dossier(biz, dossier.applicant_kind, tuple(op.payload.conditions))
                except DomainError as exc:
                    raise _Refuse(ErrorCode.BAD_OP, f"{op.kind}: {exc}") from None
                dossier.conditions = list(dict.fromkeys(op.payload.conditions))
            elif isinstance(op, SigningOp):
                sg = op.payload
                try:  # the domain's rule for a signing record, as the desk applied it
                    check_signing(sg.witness, sg.method, sg.result, sg.reference)
                except DomainError as exc:
                    raise _Refuse(ErrorCode.BAD_OP, f"{op.kind}: {exc}") from None
                dossier.signing = payload
            self._quiet.change(session, actor, dossier, op.kind, payload, station_id=station_id)
            return dossier.version
        if isinstance(op, SubmitOp | ResubmitOp):
            return self._submit(session, station_id, op, dossier)
        if isinstance(op, WithdrawOp):
            return self._withdraw(session, station_id, op, dossier)
        if isinstance(op, RefuseIntakeOp):
            return self._refuse_intake(session, station_id, op, dossier)
        if isinstance(op, IssueOp):
            self.review.issue_in(session, self._clerk(session, station_id, op.actor), dossier, station_id=station_id)
            return dossier.version
        raise _Refuse(ErrorCode.UNKNOWN_KIND, f"the registry does not apply {op.kind}")

    @staticmethod
    def _station_kind(session: Session, station_id: str) -> str:
        station = session.get(Station, station_id)
        return station.kind if station is not None else "hall"

    @staticmethod
    def _check_version(op: _Op, dossier: Dossier) -> None:
        if op.base_version != dossier.version:
            raise _Conflict(
                ErrorCode.STALE_VERSION,
                f"dossier {dossier.number} is at version {dossier.version} here; the change was made on "
                f"version {op.base_version}",
                dossier.version,
            )

    @staticmethod
    def _move(dossier: Dossier, action: Action) -> DossierState:
        """The state the stage machine gives for `action`, or a refusal: nothing else moves a dossier."""
        try:
            return apply(
                DossierState(Stage(dossier.stage), Status(dossier.status)),
                action,
                tuple(Stage(s) for s in dossier.stage_plan.split()),
            )
        except DomainError as exc:
            raise _Refuse(ErrorCode.ILLEGAL_TRANSITION, f"dossier {dossier.number}: {exc}") from None

    def _create(self, session: Session, station_id: str, op: CreateOp) -> int:
        p = op.payload
        if not p.number.startswith(f"{station_id}-"):
            raise _Refuse(
                ErrorCode.NOT_OWNER, f"受理号 {p.number} does not carry this station's prefix '{station_id}-'"
            )
        if session.get(Dossier, op.entity_id) is not None:
            raise _Refuse(ErrorCode.DUPLICATE, f"dossier {op.entity_id} exists already")
        if session.execute(select(Dossier.id).where(Dossier.number == p.number)).first() is not None:
            raise _Refuse(ErrorCode.DUPLICATE, f"受理号 {p.number} is taken already")
        try:
            biz = self.catalogue.business(p.business)
            validate_new_dossier(biz, p.applicant_kind, tuple(p.conditions))
            plan = stage_plan(self.catalogue, HallMode(p.hall_mode), business=biz)
            roles = {r.name for r in biz.roles}
            for party in p.parties:
                if party.role not in roles:
                    raise DomainError(f"business {biz.code} has no role '{party.role}'")
        except DomainError as exc:
            raise _Refuse(ErrorCode.BAD_OP, f"dossier.create: {exc}") from None
        if p.applied_at > utcnow() + _CLOCK_SKEW:
            raise _Refuse(ErrorCode.BAD_OP, "dossier.create: the application time is in the future")
        try:  # the channel is the station's as the registry provisioned it, not what the desk says it is
            if channel_for(self._station_kind(session, station_id), p.channel) != p.channel:
                raise ChannelError(f"the station's channel is not {p.channel}")
        except DomainError as exc:
            raise _Refuse(ErrorCode.BAD_OP, f"dossier.create: {exc}") from None
        state = initial_state()  # a create is a draft: the stage machine starts every dossier there
        dossier = Dossier(
            id=op.entity_id,
            number=p.number,
            station_id=station_id,
            business_code=biz.code,
            registration_type=biz.registration_type,
            channel=p.channel,
            applicant_kind=p.applicant_kind,
            digitized=biz.digitized_through(p.channel),
            hall_mode=p.hall_mode,
            stage_plan=" ".join(s.value for s in plan),
            conditions=list(dict.fromkeys(p.conditions)),
            stage=state.stage.value,
            status=state.status.value,
            applied_at=p.applied_at,
            created_by=self._clerk(session, station_id, op.actor).user_id,
            version=1,
        )
        session.add(dossier)
        session.flush()
        for party in p.parties:
            session.add(
                Party(
                    id=party.id or None,
                    dossier_id=dossier.id,
                    key=party.key,
                    position=party.position,
                    role=party.role,
                    kind=party.kind,
                    name=party.name,
                    id_type=party.id_type,
                    id_value=None,  # the create carries it masked; the full number arrives with 受理
                )
            )
        session.flush()
        self._quiet.note(
            session,
            op.actor or f"station:{station_id}",
            dossier,
            "dossier.create",
            {"business": biz.code, "channel": p.channel, "applicant_kind": p.applicant_kind},
            station_id=station_id,
        )
        return dossier.version

    def _submit(self, session: Session, station_id: str, op: SubmitOp | ResubmitOp, dossier: Dossier) -> int:
        resubmit = isinstance(op, ResubmitOp)
        after = self._move(dossier, Action.RESUBMIT if resubmit else Action.SUBMIT)
        content = op.payload.content
        filled = self._check_content(dossier, content)
        try:
            check_signed(self._station_kind(session, station_id), signing_from_json(dossier.signing))
        except DomainError as exc:
            raise _Refuse(ErrorCode.INCOMPLETE, f"{op.kind}: {exc}") from None
        missing = [sha for sha in dict.fromkeys(content.blobs) if not self.blobs.exists(sha)]
        if missing:
            # Reviewers never see half a dossier: the op waits until every page is here.
            raise _Stop(409, ErrorCode.BLOB_MISSING, f"{len(missing)} page blob(s) not uploaded yet", missing=missing)
        now = utcnow()
        rows = content.model_dump(mode="python")
        for slot in rows["slots"]:  # satisfied as the registry counts it, whatever the desk said
            slot["satisfied"] = slot["id"] in filled
        replace_content(session, dossier, rows)
        session.flush()
        self.review.book.refresh_findings(session, dossier)  # restrictions on the unit, as the city's register has them
        dossier.stage, dossier.status = after.stage.value, after.status.value
        if isinstance(op, ResubmitOp):
            who = op.actor or f"station:{station_id}"
            returned = latest_return(session, dossier.id)
            count = len(returned.items or []) if returned is not None else 0
            answers = {a.item: a.note.strip() for a in op.payload.answers if a.note.strip() and a.item <= count}
            try:  # every item of the notice answered, as the registry holds the notice and the content now
                check_addressed(session, dossier, answers)
            except DomainError as exc:
                raise _Refuse(ErrorCode.INCOMPLETE, str(exc)) from None
            if returned is not None and answers:
                record_answers(session, dossier, returned.id, answers, who)
            end_supplement_pause(session, dossier.id, now, who)
            prefer_returning_reviewer(session, dossier, now, self.review.same_reviewer)
        else:
            accepted = op.payload.accepted_at
            # The window's clock is recorded but bounded: never ahead of the registry's, never before the application.
            if accepted is None or accepted > now + _CLOCK_SKEW or accepted < dossier.applied_at:
                accepted = now
            dossier.accepted_at = min(accepted, now)
        self.recorder.change(
            session,
            op.actor or f"station:{station_id}",
            dossier,
            op.kind,
            {"pages": sum(1 for p in content.pages if not p.deleted), "accepted_at": _iso(dossier.accepted_at)},
            station_id=station_id,
        )
        return dossier.version

    def _check_content(self, dossier: Dossier, content: Content) -> set[str]:
        """A submission's content must hold together and be complete by the checklist (the registry's own count).

        Returns the ids of the slots a page fills."""
        try:
            biz = self.catalogue.business(dossier.business_code)
        except DomainError as exc:
            raise _Refuse(ErrorCode.BAD_OP, str(exc)) from None
        party_keys = [p.key for p in content.parties]
        slot_ids = {s.id for s in content.slots}
        page_ids = {p.id for p in content.pages}
        problems = []
        for ids, what in ((party_keys, "party key"), ([p.id for p in content.parties], "party id")):
            if len(set(ids)) != len(ids):
                problems.append(f"a {what} is listed twice")
        for ids, what in (
            ([s.id for s in content.slots], "slot"),
            ([p.id for p in content.pages], "page"),
            ([f.id for f in content.fields], "field"),
            ([f.id for f in content.findings], "finding"),
        ):
            if len(set(ids)) != len(ids):
                problems.append(f"a {what} id is listed twice")
        if any(s.party_key is not None and s.party_key not in party_keys for s in content.slots):
            problems.append("a slot names a party the content does not have")
        if any(p.slot_id is not None and p.slot_id not in slot_ids for p in content.pages):
            problems.append("a page names a slot the content does not have")
        if any(f.page_id is not None and f.page_id not in page_ids for f in content.fields):
            problems.append("a field names a page the content does not have")
        if {p.sha256 for p in content.pages if not p.deleted} - set(content.blobs):
            problems.append("a page's blob is missing from the blob list")
        roles = {r.name for r in biz.roles}
        if any(p.role not in roles for p in content.parties):
            problems.append(f"a party has a role business {biz.code} does not have")
        if problems:
            raise _Refuse(ErrorCode.BAD_OP, f"the content of {dossier.number} does not hold together: {problems[0]}")
        filled = {p.slot_id for p in content.pages if not p.deleted and p.slot_id is not None}
        try:
            missing = missing_for_submit(
                biz,
                [PartyRef(key=p.key, role=p.role, kind=p.kind, name=p.name) for p in content.parties],
                dossier.conditions,
                [
                    SlotState(
                        material=s.material,
                        party_key=s.party_key,
                        required=s.required,
                        satisfied=s.id in filled,
                        waived=s.waived and bool((s.waiver_reason or "").strip()),
                    )
                    for s in content.slots
                ],
            )
        except DomainError as exc:
            raise _Refuse(ErrorCode.BAD_OP, f"the content of {dossier.number}: {exc}") from None
        if missing:
            listed = "; ".join(str(m) for m in missing[:10])
            raise _Refuse(ErrorCode.INCOMPLETE, f"{dossier.number} is missing {len(missing)} item(s): {listed}")
        return filled

    def _settle(self, session: Session, station_id: str, op: PayOp | DeliveryOp, dossier: Dossier) -> int:
        """A payment or a delivery step from the dossier's own station, applied by the same rules as at a window."""
        clerk = self._clerk(session, station_id, op.actor)
        if isinstance(op, PayOp):
            p = op.payload
            self.settle.pay_in(
                session,
                clerk,
                dossier,
                method=p.method,
                amount_fen=p.amount_fen,
                reference=p.reference,
                exemptions=list(p.exemptions),
                station_id=station_id,
            )
        else:
            details = op.payload.model_dump(exclude={"action"}, exclude_none=True)
            self.settle.deliver_in(
                session,
                clerk,
                dossier,
                op.payload.action,
                {k: str(v) for k, v in details.items() if v},
                station_id=station_id,
            )
        return dossier.version

    def _refuse_intake(self, session: Session, station_id: str, op: RefuseIntakeOp, dossier: Dossier) -> int:
        try:
            reason = load_notice_rules().intake_reason(op.payload.reason_code)
        except DomainError as exc:
            raise _Refuse(ErrorCode.BAD_OP, str(exc)) from None
        after = self._move(dossier, Action.REFUSE_INTAKE)
        dossier.stage, dossier.status = after.stage.value, after.status.value
        self.recorder.change(
            session,
            op.actor or f"station:{station_id}",
            dossier,
            op.kind,
            {"reason_code": reason.code, "reason": reason.text, "basis": reason.basis, "note": op.payload.note},
            station_id=station_id,
        )
        return dossier.version

    def _withdraw(self, session: Session, station_id: str, op: WithdrawOp, dossier: Dossier) -> int:
        after = self._move(dossier, Action.WITHDRAW)
        ended = []
        for lease in session.execute(
            select(Assignment).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
        ).scalars():
            # A reviewer's decision under this lease will now be refused as a conflict.
            lease.state, lease.ended_at = "ended", utcnow()
            ended.append(lease.lease_id)
        dossier.stage, dossier.status, dossier.lease_expires_at = after.stage.value, after.status.value, None
        self.recorder.change(
            session,
            op.actor or f"station:{station_id}",
            dossier,
            op.kind,
            {"reason": op.payload.reason, "leases_ended": ended},
            station_id=station_id,
        )
        return dossier.version

    def _decision(self, session: Session, station_id: str, op: DecisionOp, dossier: Dossier) -> int | _Conflict:
        p = op.payload
        lease = session.execute(_LEASE, {"lease": p.lease_id}).scalar_one_or_none()
        if lease is None or lease.dossier_id != dossier.id or lease.station_id != station_id:
            raise _Refuse(
                ErrorCode.NOT_ALLOWED,
                f"lease {p.lease_id} on dossier {dossier.id} was not granted to station {station_id}",
            )
        person = session.get(User, lease.reviewer_id)
        assert person is not None
        if op.actor != person.username:
            raise _Refuse(
                ErrorCode.NOT_ALLOWED, f"the lease is {person.username}'s; a decision under it is theirs alone"
            )
        if not person.active:
            raise _Refuse(ErrorCode.NOT_ALLOWED, f"{person.username} is disabled at the registry")
        kind = DecisionKind(p.decision)
        try:
            items, reason = self.review.check_decision(
                kind, [ReturnItem.from_json(i.model_dump()) for i in p.items], p.reason_code
            )
        except (DomainError, UsageError) as exc:
            raise _Refuse(ErrorCode.BAD_OP, f"review.decision: {exc}") from None
        live = lease.state == "active" and lease.expires_at > utcnow() and lease.fence == dossier.fence
        if live and p.fence == lease.fence:
            self._check_version(op, dossier)
        view = self.review.decide_in(
            session,
            actor_of(person),
            dossier,
            kind,
            lease_id=p.lease_id,
            fence=p.fence,
            items=items,
            reason_code=reason,
            note=p.note,
            op_id=op.op_id,
            client_at=op.created_at,
            station_id=station_id,
            lease=lease,
        )
        if view.outcome == "conflict":  # the review service recorded the refused decision: keep it
            return _Conflict(ErrorCode.STALE_FENCE, view.conflict or "stale lease", dossier.version)
        return dossier.version

    def _register(self, session: Session, station_id: str, op: RegisterOp, dossier: Dossier) -> int:
        person = self.people.logged_in_at(session, station_id, op.actor or "")
        if person is None or not has_permission(actor_of(person), Permission.REGISTER):
            raise _Refuse(
                ErrorCode.NOT_ALLOWED,
                f"登簿 needs a registrar provisioned at the registry and logged in at station {station_id}; "
                f"'{op.actor or '-'}' is not",
            )
        self._check_version(op, dossier)
        self.review.register_in(session, actor_of(person), dossier, station_id=station_id)
        return dossier.version

    def _note(self, session: Session, station_id: str, op: _Op, dossier: Dossier) -> int:
        holder = session.execute(
            select(Assignment.station_id).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
        ).scalar_one_or_none()
        if station_id not in (dossier.station_id, holder):
            raise _Refuse(
                ErrorCode.NOT_OWNER,
                f"dossier {dossier.id} is another station's; notes on it come from that station or its reviewer's",
            )
        who = op.actor or f"station:{station_id}"
        if isinstance(op, ClockPauseOp):
            self._clocks.pause_in(session, who, dossier, op.payload.reason, op.payload.note, station_id=station_id)
        elif isinstance(op, ClockResumeOp):
            self._clocks.resume_in(session, who, dossier, op.payload.reason, station_id=station_id)
        elif isinstance(op, EvaluateOp):
            if dossier.station_id != station_id:
                raise _Refuse(ErrorCode.NOT_OWNER, f"an evaluation of dossier {dossier.id} is taken at its own window")
            p = op.payload
            self._records.evaluate_in(
                session, dossier, p.score, p.comment, p.channel, evaluation_id=p.evaluation_id, station_id=station_id
            )
        return dossier.version

    def _clerk(self, session: Session, station_id: str, username: str | None) -> Actor:
        """The registry's record of a desk's clerk (`name@STATION`, no roles, no login): created_by, R17."""
        name = f"{username or 'station'}@{station_id}"
        user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if user is None:
            user = User(username=name, display_name=name, password_hash="!", roles="", origin=STATION_ORIGIN)
            session.add(user)
            session.flush()
        return actor_of(user)

    # -- review over the network -----------------------------------------------------------------------

    def claim(self, station_id: str, actor: Actor, held: list[str] | None = None) -> ClaimResponse:
        """Lease the next dossier for a person at this station, with its whole manifest (theirs alone to see), in
        one transaction."""
        with self.db.transaction() as session:
            return self._claim(session, station_id, actor, held)

    def claim_for(self, token: str | None, person_token: str | None, held: list[str] | None = None) -> ClaimResponse:
        """`claim` for the station and person the tokens stand for, checked in the claim's own transaction."""
        with self.db.transaction() as session:
            station_id = self._station_of(session, token)
            return self._claim(session, station_id, self._person_in(session, station_id, person_token), held)

    def _claim(self, session: Session, station_id: str, actor: Actor, held: list[str] | None) -> ClaimResponse:
        live = self.review.live_leases(session, actor.user_id, utcnow())
        claimed: tuple[LeaseView, Dossier] | None = None
        if held is not None:  # a lease of theirs here the desk never heard of: its answer was lost; hand it back
            known = set(held)
            claimed = next(
                ((lease_view(a, d), d) for a, d in live if a.station_id == station_id and a.lease_id not in known),
                None,
            )
        if claimed is None:
            try:
                claimed = self.review.claim_in(session, actor, station_id=station_id, live=live)
            except DomainError as exc:
                raise ApiError(403, ErrorCode.NOT_ALLOWED, str(exc)) from None
            except UsageError as exc:
                raise ApiError(409, ErrorCode.NOT_ALLOWED, str(exc)) from None
        if claimed is None:
            return ClaimResponse(lease=None)
        lease, dossier = claimed
        manifest = dossier_manifest(session, dossier)
        clock = clock_facts(session, dossier)
        return ClaimResponse(lease=_wire_lease(lease), dossier=manifest, clock=clock)

    def release(self, station_id: str, actor: Actor, lease_id: str) -> ReleaseResponse:
        """Give a lease back to the pool; one no longer live (or never theirs here) is `released: false`."""
        if lease_id not in self._leases_at(station_id, actor):
            return ReleaseResponse(released=False)
        try:
            self.review.release(actor, lease_id, station_id=station_id)
        except UsageError:  # NotFound included: already over; either way nothing is held
            return ReleaseResponse(released=False)
        return ReleaseResponse(released=True)

    def heartbeat(self, station_id: str, actor: Actor, lease_ids: list[str]) -> HeartbeatResponse:
        mine = self._leases_at(station_id, actor)
        here = [x for x in lease_ids if x in mine]
        beat = self.review.heartbeat(actor, here) if here else None
        lost = [LostLease(lease_id=x, reason="no such lease of this person at this station") for x in lease_ids]
        lost = [x for x in lost if x.lease_id not in mine]
        return HeartbeatResponse(
            renewed=[_wire_lease(x) for x in beat.renewed] if beat else [],
            lost=[*lost, *(LostLease(lease_id=i, reason=why) for i, why in (beat.lost if beat else ()))],
        )

    def _leases_at(self, station_id: str, actor: Actor) -> set[str]:
        with self.db.read() as session:
            return set(
                session.execute(
                    select(Assignment.lease_id).where(
                        Assignment.reviewer_id == actor.user_id, Assignment.station_id == station_id
                    )
                ).scalars()
            )

    # -- the change feed -------------------------------------------------------------------------------

    def changes(self, station_id: str, after: int, limit: int = MAX_CHANGES_PER_PAGE) -> ChangesResponse:
        """What this station may see: its own dossiers, its people's leases, its own conflicts."""
        limit = max(1, min(limit, MAX_CHANGES_PER_PAGE))
        # A cursor past any sequence number the database can hold has nothing after it (and must not overflow
        # the query's integer parameter).
        bound = min(after, MAX_FEED)
        query = (
            select(ChangeRecord)
            .where(
                ChangeRecord.seq > bound,
                or_(ChangeRecord.audience == station_id, ChangeRecord.audience2 == station_id),
            )
            .order_by(ChangeRecord.seq)
            .limit(limit + 1)
        )
        postgres = self.db.engine.dialect.name == "postgresql"
        deadline, pause = time.monotonic() + FEED_WAIT_SECONDS, 0.005
        while True:
            # First the horizon, then (a later snapshot) the rows: every transaction below the horizon had ended
            # before the rows were read, so what it wrote is there to be read.
            horizon = self._feed_horizon() if postgres else None
            with self.db.read() as session:
                found = list(session.execute(query).scalars())
            if horizon is None:  # SQLite: committed in the order of its counter
                rows = found
                break
            # Only what no running transaction can precede: the cursor never passes a change committed later. A
            # change behind an older transaction still running waits for it (writers' transactions are short).
            rows = [r for r in found if r.seq < horizon]
            if len(rows) == len(found) or time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
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

    def _feed_horizon(self) -> int:
        """The lowest feed position a transaction of this database still running may take: its oldest running
        transaction's id (or, with none, the next id to be given), shifted."""
        with self.db.read() as session:
            return int(session.execute(_FEED_HORIZON).scalar_one()) << FEED_SHIFT

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

    # -- partner platforms and 网上预审 (their rules and routes: sync.server.partner) --------------------------

    def add_partner(self, partner_id: str, name: str, kind: str, callback_url: str | None = None) -> str:
        """Provision a partner platform (portal, bank, notary, court); returns its token, shown once."""
        return _partners(self).add_partner(partner_id, name, kind, callback_url)

    def revoke_partner(self, partner_id: str) -> None:
        _partners(self).revoke_partner(partner_id)

    def partners(self) -> list[dict[str, Any]]:
        return [p.to_json() for p in _partners(self).partners()]

    def prereview_list(self, actor: Actor) -> Any:
        """Online applications waiting for pre-review, the overdue first (a PrereviewList)."""
        return _partners(self).prereview_list(actor)

    def prereview_accept(self, actor: Actor, ref: str, note: str = "") -> Any:
        return _partners(self).prereview_accept(actor, ref, note)

    def prereview_return(self, actor: Actor, ref: str, items: list[str], note: str = "") -> Any:
        return _partners(self).prereview_return(actor, ref, items, note)


def _partners(registry: Registry) -> Any:
    from sync.server.partner import partner_desk  # it builds on this module: imported when first used

    return partner_desk(registry)


def _current_state(session: Session, entity_id: str, station_id: str) -> dict[str, Any] | None:
    """The dossier an op was refused for, as the registry holds it now, for a station that may see it (its own
    dossier, or one its people held a lease on): what the desk shows beside its own op."""
    dossier = session.get(Dossier, entity_id) if entity_id != "-" else None
    if dossier is None:
        return None
    if dossier.station_id != station_id:
        leased = session.execute(
            select(Assignment.id)
            .where(Assignment.dossier_id == dossier.id, Assignment.station_id == station_id)
            .limit(1)
        ).first()
        if leased is None:
            return None
    return {"number": dossier.number, "version": dossier.version, "stage": dossier.stage, "status": dossier.status}


def _last_witnessed(session: Session, station_id: str) -> WitnessedHead | None:
    return session.execute(
        select(WitnessedHead)
        .where(WitnessedHead.station_id == station_id, WitnessedHead.status == "witnessed")
        .order_by(WitnessedHead.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def _prior_problem(session: Session, station_id: str, prior: tuple[int, str | None]) -> str | None:
    """Why the desk's event at a seq witnessed before is not the one witnessed (None: it is, or none was)."""
    prior_seq, prior_hash = prior
    row = session.execute(
        select(WitnessedHead)
        .where(
            WitnessedHead.station_id == station_id,
            WitnessedHead.status == "witnessed",
            WitnessedHead.seq == prior_seq,
        )
        .limit(1)
    ).scalar_one_or_none()
    if row is None or row.hash == prior_hash:
        return None
    if prior_hash is None:
        return (
            f"station {station_id} no longer holds event {prior_seq} of its audit chain, which the registry "
            f"witnessed on {_iso(row.at)}: events were removed or the chain was replaced"
        )
    return (
        f"station {station_id} holds event {prior_seq} of its audit chain with hash {prior_hash[:16]}…; the "
        f"registry witnessed {row.hash[:16]}… for it on {_iso(row.at)}: the chain was rewritten"
    )


def _head_response(head: WitnessedHead | None) -> WitnessedHeadResponse:
    if head is None:
        return WitnessedHeadResponse(seq=0, hash=GENESIS_HASH, witnessed_at=None, last_seen_at=None)
    return WitnessedHeadResponse(seq=head.seq, hash=head.hash, witnessed_at=head.at, last_seen_at=head.last_seen_at)


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_ROW_ID = re.compile(ROW_ID)


def _storable(text: str) -> str:
    """Text a station sent, as the registry may store it in its records (PostgreSQL text holds no NUL character)."""
    return text.replace("\x00", "\\0")


def _is_sha(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def open_blob_store(root: Any) -> BlobStore:
    return BlobStore(root)
