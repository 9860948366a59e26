"""The wire format between desks and the registry (version 2), as pydantic models.

Everything a desk sends is checked here before the registry looks at it: sizes, patterns, the schema version,
and for each op its kind's own payload (one model per kind, `extra="forbid"`): an op carries what its sender asks
for, never a stage, a status or a version it would like the dossier to have. The registry decides those.
Errors carry a `code` a desk can act on (see `ErrorCode`); the HTTP status says whether to retry.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
)

SCHEMA_VERSION = 2
SHA256 = r"^[0-9a-f]{64}$"
STATION = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
ROW_ID = r"^[A-Za-z0-9][A-Za-z0-9-]{0,35}$"  # UUIDv7 made on the desk (tests and tools may use shorter ids)
NUMBER = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"  # 受理号: <station>-<year>-<sequence>
PERSON = r"^[a-z][a-z0-9_.-]{1,31}$"  # a user name, as desks and the registry spell them
ACTOR = r"^(?:[a-z][a-z0-9_.-]{1,31}|\(applicant\))$"  # who did it on the desk (a user, "ocr", "(applicant)")
MATERIAL = r"^M[0-9]{2}$"
PARTY_KEY = r"^p[0-9]{1,3}$"
FIELD_KEY = r"^[a-z][a-z0-9_]{0,39}$"
CODE = r"^[A-Za-z][A-Za-z0-9_-]{0,39}$"  # business, role, condition and reason codes
UNIT = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"  # a district office (unit) code
MAX_OPS_PER_BATCH = 500
MAX_BLOB_BYTES = 64 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024  # a batch of ops; desks cut their batches well below it
MAX_JSON_BYTES = 1024 * 1024  # any other request body
MAX_CHANGES_PER_PAGE = 1000
MAX_INT = 2**31 - 1  # sequence numbers, versions and fences are 32-bit integers in the registry's tables
MAX_PAGES = 2000  # pages of one dossier
PERSON_HEADER = "X-Person-Token"


class ErrorCode(StrEnum):
    AUTH_MISSING = "auth_missing"  # 401: no bearer token
    AUTH_INVALID = "auth_invalid"  # 401: unknown token
    AUTH_REVOKED = "auth_revoked"  # 401: the station's token was revoked
    PERSON_MISSING = "person_missing"  # 401: the route acts for a person and no person token was sent
    PERSON_INVALID = "person_invalid"  # 401: unknown person token, wrong name or password, or a disabled person
    PERSON_EXPIRED = "person_expired"  # 401: the person's token ran out; log in again
    STATION_MISMATCH = "station_mismatch"  # 403: a station acting as another (or a person token of another)
    INVALID = "invalid"  # 400/422: malformed body
    TOO_LARGE = "too_large"  # 413: the request body is larger than the route takes
    SCHEMA_VERSION = "schema_version"  # 400: the desk speaks another protocol version
    SEQ_GAP = "seq_gap"  # 409: an op's sequence number skips ahead; resend from `expected`
    UNKNOWN_KIND = "unknown_kind"  # per op: an op kind the registry does not know (parked)
    BAD_OP = "bad_op"  # per op: malformed for its kind, or breaks what the registry can store (parked)
    NOT_OWNER = "not_owner"  # per op: only the station that created a dossier changes its draft (parked)
    NOT_ALLOWED = "not_allowed"  # 403 / per op: the person's role or grants do not allow it, or the registry decides
    NOT_EDITABLE = "not_editable"  # per op: the dossier is past 受理; its content is the registry's now (parked)
    ILLEGAL_TRANSITION = "illegal_transition"  # per op: the stage machine has no such move from here (parked)
    DUPLICATE = "duplicate"  # per op: the dossier id or 受理号 exists already (parked)
    INCOMPLETE = "incomplete"  # per op: a submission missing required materials or parties (parked)
    BLOB_MISSING = "blob_missing"  # 409: an op references a blob not uploaded yet (upload, then resend)
    BLOB_MISMATCH = "blob_mismatch"  # 400: the bytes do not hash to the name (re-read, resend)
    BLOB_TOO_LARGE = "blob_too_large"  # 413
    LENGTH_REQUIRED = "length_required"  # 411
    STALE_VERSION = "stale_version"  # per op (conflict): edited from an old base version; recorded
    STALE_FENCE = "stale_fence"  # per op (conflict): decided under a lease that is no longer live; recorded
    NOT_FOUND = "not_found"  # 404 / per op: no such dossier (or not one this station may see)
    UNAVAILABLE = "unavailable"  # 503: the registry's database cannot be reached now; retry
    ALREADY_DONE = "already_done"  # 409: a QC check or correction was recorded already, otherwise; it stands
    # 409: the audit chain head sent goes back from the last head the registry witnessed for the station, or has
    # another hash at the same event; recorded at the registry as evidence that the desk's chain was cut or rewritten
    CHAIN_REWOUND = "chain_rewound"


class Problem(BaseModel):
    """Every error response: `{"code": …, "message": …}` plus details where useful."""

    code: ErrorCode
    message: str
    detail: dict[str, Any] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Text = Annotated[str, Field(max_length=2000)]
RowId = Annotated[str, Field(pattern=ROW_ID)]
Sha = Annotated[str, Field(pattern=SHA256)]
Material = Annotated[str, Field(pattern=MATERIAL)]
PartyKey = Annotated[str, Field(pattern=PARTY_KEY)]
FieldKey = Annotated[str, Field(pattern=FIELD_KEY)]
Code = Annotated[str, Field(pattern=CODE)]
Position = Annotated[StrictInt, Field(ge=1, le=100_000)]
Channel = Literal["window", "online", "field", "extension", "self_service"]  # domain/channels.py CHANNELS
PartyKind = Literal["enterprise", "individual"]
Fence = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
# Who set a field's value: read by OCR, confirmed as read, typed by a clerk, typed by a reviewer.
FieldSource = Literal["ocr", "confirmed", "clerk", "reviewer"]


# -- blobs ---------------------------------------------------------------------------------------------------


class BlobsMissingRequest(_Strict):
    sha256: list[str] = Field(max_length=10_000)


class BlobsMissingResponse(BaseModel):
    missing: list[str]


class BlobStored(BaseModel):
    sha256: str
    size: int
    created: bool  # False: the registry had it already (idempotent)


# -- a dossier's content (the manifest) ----------------------------------------------------------------------


class PartyRow(_Strict):
    id: RowId
    key: PartyKey
    position: Position
    role: Code
    kind: PartyKind
    name: str | None = Field(default=None, max_length=200)
    id_type: Literal["id_number", "uscc", "other"] | None = None
    id_value: str | None = Field(default=None, max_length=64)


class SlotRow(_Strict):
    id: RowId
    position: Position
    material: Material
    accepts: list[Material] = Field(max_length=30)
    party_key: PartyKey | None = None
    label: str = Field(max_length=200)
    required: StrictBool
    satisfied: StrictBool  # what the desk says; the registry counts the pages in the slot itself
    waived: StrictBool
    waiver_reason: str | None = Field(default=None, max_length=1000)


Box = Annotated[list[Annotated[StrictInt, Field(ge=-100_000, le=100_000)]], Field(min_length=4, max_length=4)]
OcrLine = tuple[Annotated[str, Field(max_length=2000)], Box, Annotated[float, Field(ge=0, le=1)]]


class PageRow(_Strict):
    id: RowId
    slot_id: RowId | None
    position: Position
    sha256: Sha
    file_page: Annotated[StrictInt, Field(ge=1, le=MAX_PAGES)]
    source_name: str = Field(max_length=255)
    media_type: str = Field(max_length=64)
    size: Annotated[StrictInt, Field(ge=0, le=MAX_BLOB_BYTES)]
    rotation: Literal[0, 90, 180, 270]
    ocr_status: Literal["none", "queued", "reading", "done", "failed"]
    ocr_text: str | None = Field(default=None, max_length=200_000)
    material_guess: str | None = Field(default=None, max_length=8)
    material_confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    ocr_lines: list[OcrLine] | None = Field(default=None, max_length=5000)
    material_basis: str | None = Field(default=None, max_length=12)
    slot_by_clerk: StrictBool
    ocr_engine: str | None = Field(default=None, max_length=20)
    deleted: StrictBool


class FieldRow(_Strict):
    id: RowId
    page_id: RowId | None
    key: FieldKey
    value: str = Field(max_length=2000)
    confidence: Annotated[float, Field(ge=0, le=1)]
    valid: StrictBool | None
    box: Box | None = None
    source: FieldSource | None = None  # None: a desk of an older version, which did not say


class FindingRow(_Strict):
    id: RowId
    rule: str = Field(max_length=60)
    severity: Literal["info", "warning", "error"]
    message: str = Field(max_length=2000)
    page_ids: list[RowId] = Field(max_length=MAX_PAGES)
    resolved: StrictBool


class Content(_Strict):
    """What a window sends at 受理 (and again at a 补正 resubmission): the dossier's content, nothing of its state."""

    parties: list[PartyRow] = Field(max_length=50)
    slots: list[SlotRow] = Field(max_length=200)
    pages: list[PageRow] = Field(max_length=MAX_PAGES)
    fields: list[FieldRow] = Field(max_length=20_000)
    findings: list[FindingRow] = Field(max_length=2000)
    blobs: list[Sha] = Field(max_length=MAX_PAGES)


# -- ops: one model per kind -------------------------------------------------------------------------------

Authority = Literal["create", "draft", "request", "lease", "person", "note", "registry"]


class _Op(_Strict):
    """What every op carries. `base_version` is the dossier's version the change was made on (every change)."""

    op_id: str = Field(pattern=ROW_ID)
    seq: StrictInt = Field(ge=1, le=MAX_INT)
    kind: str  # each kind's model narrows it to its own name
    entity_id: RowId
    base_version: Annotated[StrictInt, Field(ge=1, le=MAX_INT)] | None = None
    created_at: AwareDatetime | None = None  # the desk's clock: recorded, never trusted for ordering
    actor: str | None = Field(default=None, pattern=ACTOR)

    # Who may send the kind and what it does to the version (the authority table, see `AUTHORITY`).
    authority: ClassVar[Authority]
    versioned: ClassVar[bool] = True


class PartyIn(_Strict):
    id: RowId | None = None
    key: PartyKey
    position: Position
    role: Code
    kind: PartyKind
    name: str | None = Field(default=None, max_length=200)
    id_type: Literal["id_number", "uscc", "other"] | None = None
    id_value: str | None = Field(default=None, max_length=64)  # masked: the full number arrives with 受理


class CreatePayload(_Strict):
    number: str = Field(pattern=NUMBER)
    business: Code
    applicant_kind: PartyKind
    channel: Channel
    conditions: list[Code] = Field(default_factory=list, max_length=20)
    applied_at: AwareDatetime
    hall_mode: Literal["standard", "professional"] = "standard"
    parties: list[PartyIn] = Field(max_length=50)


class CreateOp(_Op):
    kind: Literal["dossier.create"]
    payload: CreatePayload
    authority = "create"
    versioned = False


class PartyAddPayload(_Strict):
    party: PartyIn


class PartyAddOp(_Op):
    kind: Literal["dossier.party_add"]
    payload: PartyAddPayload
    authority = "draft"


class PageAddPayload(_Strict):
    page_id: RowId
    sha256: Sha
    source_name: str = Field(max_length=255)
    material: Material | None = None
    party_key: PartyKey | None = None
    position: Position


class PageAddOp(_Op):
    kind: Literal["dossier.page_add"]
    payload: PageAddPayload
    authority = "draft"


class FilePage(_Strict):
    page_id: RowId
    position: Position
    file_page: Annotated[StrictInt, Field(ge=1, le=MAX_PAGES)]


class PagesAddPayload(_Strict):
    file_id: RowId
    sha256: Sha
    source: str = Field(max_length=500)
    pages: list[FilePage] = Field(min_length=1, max_length=MAX_PAGES)


class PagesAddOp(_Op):
    kind: Literal["dossier.pages_add"]
    payload: PagesAddPayload
    authority = "draft"


class PagesRestorePayload(_Strict):
    file_id: RowId
    source: str = Field(max_length=500)
    pages: list[RowId] = Field(min_length=1, max_length=MAX_PAGES)


class PagesRestoreOp(_Op):
    kind: Literal["dossier.pages_restore"]
    payload: PagesRestorePayload
    authority = "draft"


class WaivePayload(_Strict):
    material: Material
    party_key: PartyKey | None = None
    reason: str = Field(min_length=1, max_length=1000)


class WaiveOp(_Op):
    kind: Literal["dossier.waive"]
    payload: WaivePayload
    authority = "draft"


class ConditionsPayload(_Strict):
    conditions: list[Code] = Field(max_length=20)


class ConditionsOp(_Op):
    """The dossier's conditions chosen anew at its window (checked against the business by the registry)."""

    kind: Literal["dossier.conditions"]
    payload: ConditionsPayload
    authority = "draft"


class SigningPayload(_Strict):
    witness: str = Field(min_length=1, max_length=200)
    method: Literal["face", "esign", "notary", "in_person", "kiosk"]
    result: Literal["pass", "fail"]
    reference: str = Field(min_length=1, max_length=128)
    at: AwareDatetime
    by: str = Field(pattern=ACTOR)


class SigningOp(_Op):
    """Who witnessed the applicants' signing away from the hall, and how (R8–R12); required there before 受理."""

    kind: Literal["dossier.signing"]
    payload: SigningPayload
    authority = "draft"


class PageMovePayload(_Strict):
    page_id: RowId
    to: Material | None = None
    party_key: PartyKey | None = None


class PageMoveOp(_Op):
    kind: Literal["page.move"]
    payload: PageMovePayload
    authority = "draft"


class PageReorderPayload(_Strict):
    page_id: RowId
    to: Position


class PageReorderOp(_Op):
    kind: Literal["page.reorder"]
    payload: PageReorderPayload
    authority = "draft"


class PageRotatePayload(_Strict):
    page_id: RowId
    rotation: Literal[0, 90, 180, 270]


class PageRotateOp(_Op):
    kind: Literal["page.rotate"]
    payload: PageRotatePayload
    authority = "draft"


class PageDeletePayload(_Strict):
    page_id: RowId
    reason: str = Field(min_length=1, max_length=500)


class PageDeleteOp(_Op):
    kind: Literal["page.delete"]
    payload: PageDeletePayload
    authority = "draft"


class FieldConfirmPayload(_Strict):
    page_id: RowId
    key: FieldKey
    value: str | None = Field(default=None, max_length=2000)  # masked for identity numbers; None: confirmed as read


class FieldConfirmOp(_Op):
    kind: Literal["field.confirm"]
    payload: FieldConfirmPayload
    authority = "draft"


class PageOcrPayload(_Strict):
    page_id: RowId
    material: str | None = Field(default=None, max_length=8)
    confidence: Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)] | None = None
    engine: str | None = Field(default=None, max_length=20)
    fields: list[FieldKey] = Field(default_factory=list, max_length=100)


class PageOcrOp(_Op):
    kind: Literal["page.ocr"]
    payload: PageOcrPayload
    authority = "draft"


class PageOcrFailedPayload(_Strict):
    page_id: RowId
    reason: str = Field(max_length=500)


class PageOcrFailedOp(_Op):
    kind: Literal["page.ocr_failed"]
    payload: PageOcrFailedPayload
    authority = "draft"


class SubmitPayload(_Strict):
    content: Content
    accepted_at: AwareDatetime | None = None  # the window's clock at 受理: recorded, bounded by the registry's


class SubmitOp(_Op):
    kind: Literal["dossier.submit"]
    payload: SubmitPayload
    authority = "request"


class SupplementAnswerWire(_Strict):
    """The clerk's note on one item of the 补正 notice (its position, from 1): how it was addressed."""

    item: int = Field(ge=1, le=500)
    note: str = Field(min_length=1, max_length=1000)


class ResubmitPayload(SubmitPayload):
    answers: list[SupplementAnswerWire] = Field(default_factory=list, max_length=500)


class ResubmitOp(_Op):
    kind: Literal["dossier.resubmit"]
    payload: ResubmitPayload
    authority = "request"


class WithdrawPayload(_Strict):
    reason: str = Field(default="", max_length=1000)


class WithdrawOp(_Op):
    kind: Literal["dossier.withdraw"]
    payload: WithdrawPayload
    authority = "request"


class RefuseIntakePayload(_Strict):
    reason_code: Code
    note: str = Field(default="", max_length=1000)


class RefuseIntakeOp(_Op):
    """不予受理 at the window: the draft ends with a written notice; the registry checks the reason and the move."""

    kind: Literal["dossier.refuse_intake"]
    payload: RefuseIntakePayload
    authority = "request"


class PayPayload(_Strict):
    method: Literal["qr", "online", "cash"]
    amount_fen: Annotated[StrictInt, Field(ge=0, le=10**12)]
    reference: str = Field(min_length=1, max_length=64)
    exemptions: list[Code] = Field(default_factory=list, max_length=10)


class PayOp(_Op):
    """A payment taken at the station's window (R6); the registry checks the amount against its own assessment and
    numbers the 票据."""

    kind: Literal["fee.pay"]
    payload: PayPayload
    authority = "request"
    versioned = False


class DeliveryPayload(_Strict):
    action: Literal["choose", "collect", "ship", "delivered", "returned"]
    method: Literal["window", "community", "ems"] | None = None
    point: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=200)
    recipient: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=20)
    name: str = Field(default="", max_length=50)
    id_number: str = Field(default="", max_length=20)
    waybill: str = Field(default="", max_length=40)


class DeliveryOp(_Op):
    """One step of the certificate's way to the applicant (R10–R11), applied through the delivery rules."""

    kind: Literal["delivery.step"]
    payload: DeliveryPayload
    authority = "request"
    versioned = False


class IssuePayload(_Strict):
    pass


class IssueOp(_Op):
    kind: Literal["dossier.issue"]
    payload: IssuePayload
    authority = "request"


class ReturnItemIn(_Strict):
    problem: Code
    material: Material | None = None
    party_key: PartyKey | None = None
    field: FieldKey | None = None
    note: str = Field(default="", max_length=500)


class DecisionPayload(_Strict):
    decision: Literal["approve", "return", "reject"]
    lease_id: RowId
    fence: Fence
    items: list[ReturnItemIn] = Field(default_factory=list, max_length=200)
    reason_code: Code | None = None
    note: str = Field(default="", max_length=2000)


class DecisionOp(_Op):
    kind: Literal["review.decision"]
    payload: DecisionPayload
    authority = "lease"


class RegisterPayload(_Strict):
    pass


class RegisterOp(_Op):
    kind: Literal["dossier.register"]
    payload: RegisterPayload
    authority = "person"


class ClockPayload(_Strict):
    reason: Literal["announcement", "site_visit"]
    note: str = Field(default="", max_length=500)


class ClockPauseOp(_Op):
    kind: Literal["clock.pause"]
    payload: ClockPayload
    authority = "note"
    versioned = False


class ClockResumeOp(_Op):
    kind: Literal["clock.resume"]
    payload: ClockPayload
    authority = "note"
    versioned = False


class EvaluatePayload(_Strict):
    evaluation_id: RowId
    score: Annotated[StrictInt, Field(ge=1, le=5)]
    comment: str = Field(default="", max_length=1000)
    channel: Channel = "window"


class EvaluateOp(_Op):
    kind: Literal["dossier.evaluate"]
    payload: EvaluatePayload
    authority = "note"
    versioned = False


class RegistryOnlyOp(_Op):
    """Kinds a desk of an older version may still hold: the registry decides these itself and refuses them."""

    kind: Literal[
        "review.claim",
        "review.release",
        "review.approve",
        "review.return",
        "review.reject",
        "review.conflict",
        "qc.open",
        "qc.record",
        "correction.open",
        "correction.resolve",
    ]
    payload: dict[str, Any]
    authority = "registry"
    versioned = False


TypedOp = Annotated[
    CreateOp
    | PartyAddOp
    | PageAddOp
    | PagesAddOp
    | PagesRestoreOp
    | WaiveOp
    | ConditionsOp
    | SigningOp
    | PageMoveOp
    | PageReorderOp
    | PageRotateOp
    | PageDeleteOp
    | FieldConfirmOp
    | PageOcrOp
    | PageOcrFailedOp
    | SubmitOp
    | ResubmitOp
    | WithdrawOp
    | RefuseIntakeOp
    | PayOp
    | DeliveryOp
    | IssueOp
    | DecisionOp
    | RegisterOp
    | ClockPauseOp
    | ClockResumeOp
    | EvaluateOp
    | RegistryOnlyOp,
    Field(discriminator="kind"),
]
_TYPED = TypeAdapter(TypedOp)

AUTHORITY: dict[Authority, str] = {
    "create": "any station; the 受理号 carries its own prefix and is new city-wide; the dossier starts as a draft",
    "draft": "the station that created the dossier, while it is a draft or returned for 补正",
    "request": "the station that created the dossier; the stage machine decides whether the move exists",
    "lease": "the station where the live lease was granted, for the person who holds it (fence checked)",
    "person": "a person provisioned at the registry with the role, logged in at the sending station",
    "note": "the station that created the dossier or the station holding its live lease; no version change",
    "registry": "nobody: the registry does this itself",
}


@functools.cache
def op_kinds() -> Mapping[str, type[_Op]]:
    """Every op kind the registry knows, with its model (the models are all defined when the module is)."""
    out: dict[str, type[_Op]] = {}
    for model in _op_models():
        for kind in get_args(model.model_fields["kind"].annotation):
            out[kind] = model
    return MappingProxyType(out)


def _op_models() -> tuple[type[_Op], ...]:
    return tuple(_Op.__subclasses__())


class OpHead(BaseModel):
    """The part of an op the registry needs to answer for it; the rest is checked per op (`parse_op`)."""

    model_config = ConfigDict(extra="allow")

    op_id: str = Field(pattern=ROW_ID)
    seq: StrictInt = Field(ge=1, le=MAX_INT)
    kind: str = Field(min_length=1, max_length=60)


class OpRefusal(Exception):
    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def parse_op(head: OpHead) -> _Op:
    """The op as its kind's model, or OpRefusal (unknown kind, or a payload its kind does not take)."""
    data = {"op_id": head.op_id, "seq": head.seq, "kind": head.kind, **(head.model_extra or {})}
    if head.kind not in op_kinds():
        raise OpRefusal(ErrorCode.UNKNOWN_KIND, f"unknown op kind '{head.kind[:60]}'")
    try:
        return _TYPED.validate_python(data)
    except ValidationError as exc:
        raise OpRefusal(ErrorCode.BAD_OP, f"{head.kind} is malformed: {first_error(exc)}") from None


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(x) for x in error["loc"] if not (isinstance(x, str) and x.startswith(("function-", "tagged"))))
    return f"{where}: {error['msg']}"[:300] if where else str(error["msg"])[:300]


class OpsBatch(_Strict):
    schema_version: int
    station_id: str = Field(pattern=STATION)
    ops: list[OpHead] = Field(max_length=MAX_OPS_PER_BATCH)
    # Sequence numbers of ops the desk parked before sending and will never send; only those next in its sequence
    # are used.
    skipped: list[int] = Field(default_factory=list, max_length=MAX_OPS_PER_BATCH)


class OpsBatchSchema(_Strict):
    """`OpsBatch` as the schema documents it: each op is one of the typed kinds."""

    schema_version: int
    station_id: str = Field(pattern=STATION)
    ops: list[TypedOp] = Field(max_length=MAX_OPS_PER_BATCH)
    skipped: list[int] = Field(default_factory=list, max_length=MAX_OPS_PER_BATCH)


OpStatus = Literal["applied", "conflict", "refused", "skipped"]


class OpResult(BaseModel):
    op_id: str | None
    seq: int
    # applied; conflict (recorded: the registry had moved on); refused (recorded: the op may never be applied as
    # sent, e.g. not this station's dossier; park it); skipped (the desk parked it before sending)
    status: OpStatus
    code: ErrorCode | None = None
    message: str | None = None
    version: int | None = None  # the dossier's version at the registry after the op
    replayed: bool = False  # the registry had this op already; this is its first result


class OpsResponse(BaseModel):
    results: list[OpResult]
    last_seq: int  # the station's last sequence number the registry holds


class OpsRefused(BaseModel):
    """What stopped a batch (a gap in the sequence, a page not uploaded yet): nothing from that op on was stored."""

    code: ErrorCode
    message: str
    seq: int | None = None
    op_id: str | None = None
    expected: int | None = None  # for seq_gap: the next sequence number the registry wants
    results: list[OpResult] = Field(default_factory=list)  # the ops before it, answered


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


# -- the desk's audit chain head, witnessed at every sync ------------------------------------------------------

GENESIS_HASH = "0" * 64


class PriorEvent(_Strict):
    """The desk's event at the seq of the last head the registry witnessed for it, as its chain holds it now."""

    seq: StrictInt = Field(ge=1, le=MAX_INT)
    hash: str | None = Field(pattern=SHA256)  # None: the chain holds no such event any more


class ChainHead(_Strict):
    """A desk's audit chain head: its last event's sequence number and hash (0 and 64 zeros: no event yet).

    `prior` proves that the chain still holds the head witnessed before: without it, a chain rewritten and then
    grown past that head would send a head further on that the registry could not tell from an honest one."""

    seq: StrictInt = Field(ge=0, le=MAX_INT)
    hash: str = Field(pattern=SHA256)
    prior: PriorEvent | None = None


class WitnessedHeadResponse(BaseModel):
    """The last head the registry witnessed for the asking station (seq 0 and `witnessed_at` None: none yet)."""

    seq: int
    hash: str
    witnessed_at: datetime | None
    last_seen_at: datetime | None


# -- people ----------------------------------------------------------------------------------------------------


class LoginRequest(_Strict):
    username: str = Field(pattern=PERSON)
    password: str = Field(min_length=1, max_length=256)


class Person(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    can_review_online: bool
    can_review_offline: bool
    unit: str | None


class LoginResponse(BaseModel):
    token: str  # send as X-Person-Token with the station's own bearer token; bound to this station
    expires_at: datetime
    person: Person


# -- review --------------------------------------------------------------------------------------------------


class ClaimRequest(_Strict):
    # The leases the desk holds for this person. A live lease of theirs not among them (the answer to an earlier
    # claim was lost on the way) is handed back before a new one is taken, so none is stranded.
    held: list[Annotated[str, Field(pattern=ROW_ID)]] | None = Field(default=None, max_length=200)


class ReleaseRequest(_Strict):
    lease_id: str = Field(pattern=ROW_ID)


class ReleaseResponse(BaseModel):
    released: bool  # False: the lease was no longer live (ended, expired, taken over); nothing to give back


class PoolResponse(BaseModel):
    online: int  # digitised dossiers waiting (网上审核)
    offline: int  # paper dossiers waiting (线下审核)


class HeartbeatRequest(_Strict):
    lease_ids: list[Annotated[str, Field(pattern=ROW_ID)]] = Field(max_length=200)


class Lease(BaseModel):
    lease_id: str
    fence: int
    dossier_id: str
    number: str
    expires_at: datetime


class ClaimResponse(BaseModel):
    lease: Lease | None
    # The manifest (parties with their identity numbers, slots, pages as blob sha256s, fields, findings): only ever
    # sent to the holder of the live lease.
    dossier: dict[str, Any] | None = None
    # The registry's clock of the dossier (R19): the review desk shows it from the claim on, never its own guess.
    clock: dict[str, Any] | None = None


class LostLease(BaseModel):
    lease_id: str
    reason: str


class HeartbeatResponse(BaseModel):
    renewed: list[Lease]
    lost: list[LostLease]


# -- QC (R3–R4) ----------------------------------------------------------------------------------------------
# The registry opens a check at 登簿; inspectors record results and registrars resolve corrections from any desk,
# each request with the station's token and the person's. A check or case is named by its id or by its
# dossier's 受理号 (a dossier has at most one check, and a check opens at most one correction).

QC_REF = NUMBER  # a check's or case's id, or its dossier's 受理号
QC_TEXT = r"^[^\x00]*$"  # what PostgreSQL can store in a text column
QcCheckState = Literal["pending", "done"]
QcResultName = Literal["pass", "minor", "major"]
CorrectionState = Literal["open", "resolved"]


class QcRecordRequest(_Strict):
    """An inspector's finding. The service decides the rest: a finding names a defect or says it in the note, a
    pass names none, the registrar of a dossier may not inspect it, a major result opens a correction."""

    result: QcResultName
    defects: list[Annotated[str, Field(max_length=200, pattern=QC_TEXT)]] = Field(default_factory=list, max_length=50)
    notes: str = Field(default="", max_length=2000, pattern=QC_TEXT)
    assign_to: str | None = Field(default=None, pattern=PERSON)  # who corrects a major error (default: 登簿人)


class QcResolveRequest(_Strict):
    resolution: str = Field(min_length=1, max_length=2000, pattern=QC_TEXT)


class QcCheckOut(BaseModel):
    id: str
    dossier_id: str
    number: str
    business: str
    basis: str  # full | sampled
    state: QcCheckState
    result: QcResultName | None
    defects: list[str]
    notes: str
    created_at: datetime
    registered_at: datetime | None
    registrar: str | None  # 登簿人
    inspector: str | None
    inspected_at: datetime | None
    correction_id: str | None  # the correction a major result opened


class QcChecksResponse(BaseModel):
    checks: list[QcCheckOut]


class QcCountsResponse(BaseModel):
    pending: int
    done: int


class CorrectionOut(BaseModel):
    id: str
    dossier_id: str
    number: str
    business: str
    qc_check_id: str | None
    state: CorrectionState
    description: str
    assigned_to: str
    opened_by: str
    opened_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str


class CorrectionsResponse(BaseModel):
    corrections: list[CorrectionOut]
