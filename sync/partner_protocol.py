"""The partner API's wire format (网上申请: portals, banks, notaries, courts → the registry), as pydantic models.

Strict: every field has its type and its bounds, and nothing else is taken (`extra="forbid"`). An attachment
travels as base64 inside the application; its bytes are checked by the registry (`workstation.services.partner`),
not here. What the domain decides (a business code, a condition, an identifier) is passed on as sent, so its
refusal carries the domain's own message.

A returned application is answered at `…/{reference}/supplement` (补正) with a `SupplementIn`: it opens the
application's next pre-review `round`, and the return it answered moves to the application's `history`. Events are
one per decision (application and round), so each round's outcome is told once.

Errors have the registry's Problem shape, `{"code": …, "message": …}`, with the codes of `ErrorCode` and these.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from workstation.services.partner import MAX_FILE_BYTES, MAX_ITEM

REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # the partner's own id of an application
MAX_ATTACHMENTS = 30
MAX_BASE64 = (MAX_FILE_BYTES + 2) // 3 * 4  # one attachment's bytes, in base64
MAX_APPLICATION_BYTES = 48 * 1024 * 1024  # the body of one application, attachments included
APPLICATIONS_PATH = "/v1/partner/applications"
SUPPLEMENT = "supplement"  # POST {APPLICATIONS_PATH}/{reference}/supplement: a returned application's answer


class PartnerCode(StrEnum):
    """Codes of the partner API beyond the registry's `ErrorCode`."""

    BAD_ATTACHMENT = "bad_attachment"  # 422: an attachment cannot be taken; the message names it
    DUPLICATE_REFERENCE = "duplicate_reference"  # 409: the reference was used for another application
    NOT_READY = "not_ready"  # 409: the application's pages are still being read
    NOT_RETURNED = "not_returned"  # 409: a supplement for an application that is not returned (补正)


class PartnerProblem(BaseModel):
    """Every error of the partner and pre-review routes: a code (`ErrorCode` or `PartnerCode`) and one line."""

    code: str
    message: str
    detail: dict[str, Any] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=MAX_ITEM)]
Fields = dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=500)]]


class PartyIn(_Strict):
    role: Annotated[str, Field(min_length=1, max_length=40)]  # a role of the business (buyer, mortgagee…)
    kind: Literal["enterprise", "individual"]
    name: Name
    id_value: Annotated[str, Field(max_length=64)] | None = None  # 身份证号 or 统一社会信用代码


class AttachmentIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    media_type: Annotated[str, Field(max_length=100)]  # application/pdf, image/jpeg…: what the bytes are
    data_base64: Annotated[str, Field(max_length=MAX_BASE64)]
    material: Annotated[str, Field(pattern=r"^M[0-9]{2}$")] | None = None  # what the partner says it is


class ApplicationIn(_Strict):
    """An online application: who applies for what, with the scanned or born-digital materials."""

    reference: Annotated[str, Field(pattern=REFERENCE)]
    business: Annotated[str, Field(min_length=1, max_length=40)]  # a business of the catalogue (MORT_CANCEL…)
    applicant_kind: Literal["enterprise", "individual"]
    conditions: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default_factory=list, max_length=20)
    parties: list[PartyIn] = Field(min_length=1, max_length=20)
    fields: Fields = Field(default_factory=dict, max_length=50)
    attachments: list[AttachmentIn] = Field(min_length=1, max_length=MAX_ATTACHMENTS)


class SupplementIn(_Strict):
    """A returned application's answer (补正): the materials its return asked for, checked as an application's are.
    The same body sent again is the same supplement (a retry): it is applied once and answered the same."""

    attachments: list[AttachmentIn] = Field(min_length=1, max_length=MAX_ATTACHMENTS)
    note: Note = ""  # for the pre-reviewer
    fields: Fields = Field(default_factory=dict, max_length=50)  # field values to add or correct


class ReturnItemOut(BaseModel):
    material: str | None  # the material missing (M-code), for an item of the checklist
    party: str | None  # whose material it is
    text: str
    source: Literal["checklist", "prereview"]


class NoticeLink(BaseModel):
    kind: Literal["receipt", "supplement", "refuse-intake"]
    url: str  # GET it with the partner's token: the PDF


class FileOut(BaseModel):
    name: str
    sha256: str  # of the attachment's bytes
    pages: int
    material: str | None  # as the partner declared it


class RoundOut(BaseModel):
    """A pre-review round that ended in a return, and the supplement that answered it."""

    round: int
    items: list[ReturnItemOut]  # that return's complete 补正 list
    note: str  # the pre-reviewer's
    returned_at: AwareDatetime | None
    supplemented_at: AwareDatetime
    supplement_note: str  # the partner's
    files: list[FileOut]


class ApplicationOut(BaseModel):
    """An application as its partner sees it. `number` is the dossier's number: its 受理号 once accepted."""

    reference: str
    number: str
    business: str
    status: Literal["received", "reading", "pre_review", "accepted", "returned", "refused"]
    received_at: AwareDatetime
    due_at: AwareDatetime  # pre-review is due by then
    outcome: Literal["accepted", "returned", "refused"] | None
    items: list[ReturnItemOut]  # a return's complete 补正 list (一次性告知)
    reason: str | None  # a refusal's reason
    note: str
    decided_at: AwareDatetime | None
    notices: list[NoticeLink]
    round: int = 1  # the pre-review round: 1 for the filing, one more for each supplement
    history: list[RoundOut] = Field(default_factory=list)  # the returns answered so far, oldest first


class ApplicationReceived(ApplicationOut):
    created: bool  # False: the same application was received before (a replay), nothing new was made


class SupplementOut(BaseModel):
    """A supplement taken: the round it opened, its files, and the application as it stood then (reading again).
    A retry of the same supplement gets this same answer."""

    reference: str
    round: int
    received_at: AwareDatetime
    note: str
    files: list[FileOut]
    application: ApplicationOut


class EventOut(BaseModel):
    """An outcome, as the feed lists it and a callback receives it; `event_id` is the key to drop a repeat by."""

    seq: int
    event_id: str
    reference: str
    outcome: Literal["accepted", "returned", "refused"]
    round: int = 1  # the pre-review round decided: each round's outcome is an event of its own
    at: AwareDatetime
    application: ApplicationOut  # as it stood when decided


class EventsResponse(BaseModel):
    events: list[EventOut]
    cursor: str  # pass as `after` next time
    more: bool


class PartnerOut(BaseModel):
    id: str
    name: str
    kind: str  # portal | bank | notary | court
    callback_url: str | None
    created_at: AwareDatetime
    revoked: bool


# -- pre-review (网上预审), by registry people with a person token ------------------------------------------------


class MissingOut(BaseModel):
    material: str | None
    party: str | None
    text: str
    source: Literal["checklist"]


class FindingOut(BaseModel):
    rule: str
    severity: str
    message: str


class PrereviewOut(BaseModel):
    id: str
    number: str
    partner_id: str
    partner_name: str
    reference: str
    business: str
    business_name: str
    applicant_kind: str
    status: str
    received_at: AwareDatetime
    due_at: AwareDatetime
    overdue: bool
    pages: int
    pages_unread: int
    parties: list[dict[str, Any]]
    missing: list[MissingOut]  # what a return lists whatever else it says; an acceptance needs it empty
    findings: list[FindingOut]
    declared: dict[str, str]
    round: int  # 2 and on: read again after a supplement
    history: list[RoundOut]  # what was asked before, and what the partner sent back


class PrereviewList(BaseModel):
    applications: list[PrereviewOut]


class AcceptRequest(_Strict):
    note: Note = ""


class ReturnRequest(_Strict):
    items: list[Annotated[str, Field(min_length=1, max_length=MAX_ITEM)]] = Field(default_factory=list, max_length=50)
    note: Note = ""


class RefuseRequest(_Strict):
    reason_code: Annotated[str, Field(min_length=1, max_length=40)]  # domain/data/notices.toml [refuse_intake]
    note: Note = ""
