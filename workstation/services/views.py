"""What services hand to the CLI and the TUI: plain frozen data, never ORM rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ocr.corroborate import SURE

# The registry's calendar (受理号 years, time limits, times shown): China Standard Time, no daylight saving.
OFFICE_TZ = timezone(timedelta(hours=8))


def mask_id(value: str | None) -> str | None:
    """ID numbers are masked in lists and logs: first 6 and last 4 characters kept."""
    if not value:
        return value
    if len(value) <= 10:
        return value[:2] + "*" * (len(value) - 2)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


@dataclass(frozen=True)
class PartyView:
    key: str
    role: str
    role_label: str
    kind: str
    name: str | None
    id_type: str | None
    id_value: str | None


@dataclass(frozen=True)
class SlotView:
    material: str
    label: str
    accepts: tuple[str, ...]
    party_key: str | None
    required: bool
    satisfied: bool
    waived: bool
    waiver_reason: str | None


@dataclass(frozen=True)
class PageView:
    id: str
    position: int
    sha256: str
    source_name: str
    media_type: str
    size: int
    material: str | None
    party_key: str | None
    ocr_status: str
    rotation: int
    ocr_error: str | None = None  # why OCR failed (or why it is being retried), one line


@dataclass(frozen=True)
class FieldView:
    key: str
    value: str
    confidence: float
    valid: bool | None
    page_id: str | None
    confirmed: bool
    confirmed_by: str | None = None  # the user name of the clerk who confirmed or corrected it
    source: str = "ocr"  # who set the value: "ocr" (read), or typed by a "clerk" or a "reviewer"

    @property
    def to_check(self) -> bool:
        """Read, not yet confirmed, and not sure enough to be shown as read: the clerk checks it on the page."""
        return not self.confirmed and self.valid is not False and self.confidence < SURE


@dataclass(frozen=True)
class FindingView:
    rule: str
    severity: str
    message: str
    page_ids: tuple[str, ...]


@dataclass(frozen=True)
class DossierSummary:
    id: str
    number: str
    business: str
    business_name: str
    applicant_kind: str
    applicant: str | None
    channel: str
    stage: str
    status: str
    applied_at: datetime
    version: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["applied_at"] = self.applied_at.isoformat()
        return data


@dataclass(frozen=True)
class SupplementItem:
    """One item of a 补正 notice, as the window shows it: what, why, and whether the dossier answers it yet."""

    item: int  # position on the notice, from 1
    problem: str
    problem_label: str
    material: str | None
    party_key: str | None
    field: str | None
    note: str
    answer: str | None  # the clerk's note on it
    addressed: bool  # a new page in its slot, a changed field, or the clerk's note


@dataclass(frozen=True)
class SupplementView:
    """The last 补正 notice of a dossier (一次性告知): the reviewer's opinion, the time, every item."""

    decision_id: str
    decided_at: datetime
    reviewer: str | None
    note: str
    open: bool  # the dossier is still returned: the items wait for the applicant
    items: tuple[SupplementItem, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat()
        return data


@dataclass(frozen=True)
class DossierDetail:
    id: str
    number: str
    station_id: str
    business: str
    business_name: str
    registration_type: str
    channel: str
    applicant_kind: str
    digitized: bool
    hall_mode: str
    stages: tuple[str, ...]
    conditions: tuple[str, ...]
    stage: str
    status: str
    applied_at: datetime
    created_by: str
    version: int
    parties: tuple[PartyView, ...]
    slots: tuple[SlotView, ...]
    pages: tuple[PageView, ...]
    fields: tuple[FieldView, ...]
    findings: tuple[FindingView, ...]
    missing: tuple[str, ...] = field(default=())
    accepted_at: datetime | None = None  # 受理: set by the first submission
    supplement: SupplementView | None = None  # the last 补正 notice, if the dossier was ever returned
    signing: dict[str, str] | None = None  # who witnessed the signing and how (extended windows, kiosks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["applied_at"] = self.applied_at.isoformat()
        data["accepted_at"] = self.accepted_at.isoformat() if self.accepted_at else None
        data["supplement"] = self.supplement.to_json() if self.supplement else None
        return data


@dataclass(frozen=True)
class NewParty:
    """A party to add when a dossier is opened (the applicant is given separately)."""

    role: str
    kind: str
    name: str | None = None
    id_value: str | None = None
