"""The wire format between desks and the registry (version 1), as pydantic models.

Everything a desk sends is checked here before the registry looks at it: sizes, patterns, the schema version.
Errors carry a `code` a desk can act on (see `ErrorCode`); the HTTP status says whether to retry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

SCHEMA_VERSION = 1
SHA256 = r"^[0-9a-f]{64}$"
STATION = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
MAX_OPS_PER_BATCH = 500
MAX_BLOB_BYTES = 64 * 1024 * 1024
MAX_CHANGES_PER_PAGE = 1000
MAX_INT = 2**31 - 1  # sequence numbers and versions are 32-bit integers in the registry's tables


class ErrorCode(StrEnum):
    AUTH_MISSING = "auth_missing"  # 401: no bearer token
    AUTH_INVALID = "auth_invalid"  # 401: unknown token
    AUTH_REVOKED = "auth_revoked"  # 401: the station's token was revoked
    STATION_MISMATCH = "station_mismatch"  # 403: a station acting as another
    INVALID = "invalid"  # 400/422: malformed body
    SCHEMA_VERSION = "schema_version"  # 400: the desk speaks another protocol version
    SEQ_GAP = "seq_gap"  # 409: an op's sequence number skips ahead; resend from `expected`
    UNKNOWN_KIND = "unknown_kind"  # 422: an op kind the registry does not know (park it)
    BAD_OP = "bad_op"  # 422: an op the registry cannot apply as sent (park it)
    BLOB_MISSING = "blob_missing"  # 409: an op references a blob not uploaded yet (upload, then resend)
    BLOB_MISMATCH = "blob_mismatch"  # 400: the bytes do not hash to the name (re-read, resend)
    BLOB_TOO_LARGE = "blob_too_large"  # 413
    LENGTH_REQUIRED = "length_required"  # 411
    STALE_VERSION = "stale_version"  # 409 (per op): edited from an old base version; recorded as a conflict
    STALE_FENCE = "stale_fence"  # 409 (per op): decided under a lease that is no longer live; recorded
    NOT_FOUND = "not_found"  # 404
    NOT_ALLOWED = "not_allowed"  # 403: the reviewer's grants do not allow it


class Problem(BaseModel):
    """Every error response: `{"code": …, "message": …}` plus details where useful."""

    code: ErrorCode
    message: str
    detail: dict[str, Any] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlobsMissingRequest(_Strict):
    sha256: list[str] = Field(max_length=10_000)


class BlobsMissingResponse(BaseModel):
    missing: list[str]


class BlobStored(BaseModel):
    sha256: str
    size: int
    created: bool  # False: the registry had it already (idempotent)


class Op(_Strict):
    op_id: str = Field(min_length=1, max_length=36)
    seq: int = Field(ge=1, le=MAX_INT)
    kind: str = Field(min_length=1, max_length=60)
    entity_id: str = Field(min_length=1, max_length=64)
    base_version: int | None = Field(default=None, ge=1, le=MAX_INT)
    payload: dict[str, Any]
    created_at: AwareDatetime | None = None  # the desk's clock: recorded, never trusted for ordering
    actor: str = Field(default="", max_length=64)


class OpsBatch(_Strict):
    schema_version: int
    station_id: str = Field(pattern=STATION)
    ops: list[Op] = Field(max_length=MAX_OPS_PER_BATCH)
    # Sequence numbers of ops the desk parked and will never send; only those next in its sequence are used.
    skipped: list[int] = Field(default_factory=list, max_length=MAX_OPS_PER_BATCH)


OpStatus = Literal["applied", "conflict", "skipped"]


class OpResult(BaseModel):
    op_id: str | None
    seq: int
    status: OpStatus
    code: ErrorCode | None = None
    message: str | None = None
    version: int | None = None  # the entity's version at the registry after the op
    replayed: bool = False  # the registry had this op already; this is its first result


class OpsResponse(BaseModel):
    results: list[OpResult]
    last_seq: int  # the station's last sequence number the registry holds


class OpsRefused(BaseModel):
    """An op that stopped the batch: nothing from it onward was stored."""

    code: ErrorCode
    message: str
    seq: int | None = None
    op_id: str | None = None
    expected: int | None = None  # for seq_gap: the next sequence number the registry wants
    results: list[OpResult] = Field(default_factory=list)  # the ops before it, applied


class Change(BaseModel):
    seq: int
    kind: str
    entity_id: str
    station_id: str  # where the change came from (the registry itself: "registry")
    payload: dict[str, Any]
    at: datetime  # the registry's clock


class ChangesResponse(BaseModel):
    changes: list[Change]
    cursor: str  # pass back as `after`; never ahead of what this page holds
    more: bool


class Reviewer(_Strict):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    roles: list[str] = Field(max_length=8)
    can_review_online: StrictBool = False
    can_review_offline: StrictBool = False


class ClaimRequest(_Strict):
    reviewer: Reviewer
    # The leases the desk holds for this reviewer. A live lease of theirs not among them (the answer to an
    # earlier claim was lost on the way) is handed back before a new one is taken, so none is stranded.
    held: list[str] | None = Field(default=None, max_length=200)


class ReleaseRequest(_Strict):
    reviewer: Reviewer
    lease_id: str = Field(min_length=1, max_length=36)


class ReleaseResponse(BaseModel):
    released: bool  # False: the lease was no longer live (ended, expired, taken over); nothing to give back


class PoolResponse(BaseModel):
    online: int  # digitised dossiers waiting (网上审核)
    offline: int  # paper dossiers waiting (线下审核)


class HeartbeatRequest(_Strict):
    reviewer: Reviewer
    lease_ids: list[str] = Field(max_length=200)


class Lease(BaseModel):
    lease_id: str
    fence: int
    dossier_id: str
    number: str
    expires_at: datetime


class ClaimResponse(BaseModel):
    lease: Lease | None
    dossier: dict[str, Any] | None = None  # the manifest: parties, slots, pages (blob sha256s), fields, findings


class HeartbeatResponse(BaseModel):
    renewed: list[Lease]
    lost: list[dict[str, str]]
