"""Online applications from partner platforms, at the registry (网上申请, 网上预审; notice rule R13).

A partner (the 一网通办 portal, a bank's 金融联办, a notary, a court) is provisioned at the registry with a token of
its own (shown once, stored as a digest, a prefix no station or person token has). It files applications; it never
acts through a desk.

An application is checked whole before anything is written: the business, its conditions, the parties and their
identifiers by the domain's rules, and every attachment by the desk's own file checks (`IntakeService.inspect`:
the file's kind from its bytes, every page decoded, the input limits), its declared media type against what the
bytes are, and the application's page count. A refusal names what is wrong and leaves nothing behind. Then ONE
transaction writes the dossier (numbered `{partner}-{year}-{seq:06d}`, channel online, its checklist's slots), its
parties, a page and an OCR job per page of each file (the blobs stored just before, as a desk's intake does), the
application's row and the audit event. The same reference with the same body is the same application (a replay
answers it again); with another body it is refused.

The pages are then read by the same OCR queue a desk runs (`OcrRunner`: classification into the slots, field
extraction, consistency findings), in a worker of the registry process; `advance` moves an application from
received to reading to pre-review as its pages are read. A pre-reviewer (a registry person who may decide reviews)
lists what waits, the overdue first, with the checklist's missing items and the findings, and either accepts it
(受理: the stage machine's submit, `accepted_at` set; the dossier joins the review pool as digitised, as a desk's
受理 does), returns it with the complete 补正 list (the checklist's missing items, always, and the pre-reviewer's own
items), or refuses it (不予受理, with a reason of the notice rules).

A returned application is answered by its partner with a supplement (补正): more attachments, checked exactly as
at filing (and never a file the dossier holds already), an optional note and field values. They join the same
dossier (same number, its pages read and placed in the slots as the first ones were) and the application goes back
to reading and then pre-review, due `partner_prereview_hours` later, as a new round; the return it answered stays on
record with it (`PartnerSupplement`), and the partner sees the rounds before as the application's history. A
supplement is known by its body's digest per application: the same one again (a retry) is applied once and answered
as it was the first time.

Each decision is told to the partner once: one `PartnerEvent` per application and pre-review round (a unique key),
written in the decision's transaction, so a second return after a supplement is a new event. Partners read them at
`events(after=…)`; one with a callback also gets each POSTed until it answers 2xx. Delivery is at least once: a
crash between the send and its acknowledgement being stored sends the same event again, with the same `event_id`;
partners drop an event id they have already taken.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workstation.domain.catalogue import Business, Catalogue
from workstation.domain.checklist import (
    MissingItem,
    PartyRef,
    SlotSpec,
    SlotState,
    missing_for_submit,
    slots_for,
    validate_new_dossier,
)
from workstation.domain.errors import DomainError, MissingMaterials
from workstation.domain.notices import load_notice_rules
from workstation.domain.permissions import Actor, Permission, require
from workstation.domain.qc import QcPolicy
from workstation.domain.stages import Action, DossierState, HallMode, Stage, Status, apply, initial_state, stage_plan
from workstation.errors import AuthError, NotFound, UsageError
from workstation.services import audit
from workstation.services.changes import Recorder
from workstation.services.dossiers import check_identifier
from workstation.services.events import EventBus
from workstation.services.intake import IntakeRefused, IntakeService
from workstation.services.receipt import ID_LABELS
from workstation.services.register import RegisterBook
from workstation.services.supplement import open_errors
from workstation.services.users import REGISTRY_ORIGIN, actor_of
from workstation.services.views import OFFICE_TZ, mask_id
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, next_counter
from workstation.store.ids import new_id
from workstation.store.models import (
    Dossier,
    Finding,
    IntakeFile,
    MaterialSlot,
    OcrJob,
    Page,
    PartnerApplication,
    PartnerEvent,
    PartnerSupplement,
    Party,
    RegistryPartner,
    RegistryStation,
    Station,
    User,
)
from workstation.store.types import utcnow

if TYPE_CHECKING:
    from ocr.loading import Limits
    from workstation.config import Settings
    from workstation.services.desk import Desk

PARTNER_KINDS = ("portal", "bank", "notary", "court")
PARTNER_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
TOKEN_PREFIX = "wse_"  # stations' tokens are wst_, people's wsp_: one kind is never taken for another
STATION_KIND = "partner"  # the kind of the Station row a partner's dossiers belong to
CHANNEL = "online"
# users.origin of the registry's record of who files a partner's applications (`online@PARTNER`): as for a desk's
# clerk, a record for R17, never a login
CLERK_ORIGIN = "station"
MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "image/bmp", "image/webp")
MAX_FILE_BYTES = 20 * 1024 * 1024  # one attachment, decoded
MAX_FILE_PAGES = 50  # pages of one attachment
MAX_PAGES = 200  # pages of one application
MAX_ITEM = 500  # characters of a pre-reviewer's 补正 item or note

WAITING = "pre_review"
OPEN = ("received", "reading")
OUTCOMES = ("accepted", "returned", "refused")
NOTICE_OF_OUTCOME = {"accepted": "receipt", "returned": "supplement", "refused": "refuse-intake"}
SUPPLEMENT_BASIS = "《不动产登记暂行条例》第十七条"
_SEVERITY = {"error": 0, "warning": 1, "info": 2}


class PartnerAuthError(AuthError):
    """A partner's token missing, unknown or revoked, or a station's token sent to the partner routes (`reason`)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class BadAttachment(UsageError):
    """An attachment cannot be taken (empty, corrupt, encrypted, wrong type, too large…): one line naming it."""


class DuplicateReference(UsageError):
    """The partner used a reference again for a different application."""


class NotReady(UsageError):
    """The application's pages are still being read: pre-review waits for them."""


class AlreadyDecided(UsageError):
    """The application was decided already, otherwise; the first decision stands."""


class NotReturned(UsageError):
    """A supplement for an application that is not waiting for one: only a returned application takes one."""


# -- what a partner sends (plain values; the wire format is sync.partner_protocol's) -----------------------------


@dataclass(frozen=True)
class PartyIn:
    role: str
    kind: str
    name: str
    id_value: str | None = None


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    data: bytes
    material: str | None = None  # the material the partner says it is (M-code): its pages go to that slot


@dataclass(frozen=True)
class ApplicationIn:
    reference: str
    business: str
    applicant_kind: str
    conditions: tuple[str, ...]
    parties: tuple[PartyIn, ...]
    attachments: tuple[Attachment, ...]
    fields: Mapping[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """sha256 of the application as sent (attachments by their bytes' digest): a replay has the same one."""
        body = {
            "reference": self.reference,
            "business": self.business,
            "applicant_kind": self.applicant_kind,
            "conditions": list(self.conditions),
            "parties": [asdict(p) for p in self.parties],
            "fields": dict(sorted(self.fields.items())),
            "attachments": [_attachment_json(a) for a in self.attachments],
        }
        return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SupplementIn:
    """A partner's answer to a return (补正): the missing materials, and what else it says."""

    attachments: tuple[Attachment, ...]
    note: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """sha256 of the supplement as sent (attachments by their bytes' digest): a retry has the same one."""
        body = {
            "note": self.note,
            "fields": dict(sorted(self.fields.items())),
            "attachments": [_attachment_json(a) for a in self.attachments],
        }
        return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "name": attachment.name,
        "media_type": attachment.media_type,
        "material": attachment.material,
        "sha256": hashlib.sha256(attachment.data).hexdigest(),
    }


def decode_attachment(name: str, data_base64: str) -> bytes:
    """An attachment's bytes from base64; BadAttachment naming it when they are not base64."""
    try:
        return base64.b64decode(data_base64, validate=True)
    except ValueError:
        raise BadAttachment(f"{_label(name)}: data_base64 is not valid base64") from None


# -- what the registry answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerView:
    id: str
    name: str
    kind: str
    callback_url: str | None
    created_at: datetime
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class ApplicationView:
    """An application as its partner sees it: where it stands and, once decided, the outcome."""

    id: str
    partner_id: str
    reference: str
    number: str  # the dossier's number: the 受理号 once accepted
    business: str
    status: str
    received_at: datetime
    due_at: datetime
    outcome: str | None  # accepted | returned | refused, once decided
    items: tuple[dict[str, Any], ...]  # a return's complete 补正 list
    reason: str | None  # a refusal's reason
    note: str
    decided_at: datetime | None
    notice: str | None  # the kind of the outcome's notice
    round: int  # the pre-review round: 1 for the filing, one more for each supplement
    history: tuple[dict[str, Any], ...]  # each return answered by a supplement, oldest first (JSON values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["items"] = [dict(i) for i in self.items]
        data["history"] = [dict(h) for h in self.history]
        for key in ("received_at", "due_at", "decided_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True)
class PrereviewView:
    """What a pre-reviewer sees of a waiting application: the checklist's gaps and the findings, all of them."""

    id: str
    number: str
    partner_id: str
    partner_name: str
    reference: str
    business: str
    business_name: str
    applicant_kind: str
    status: str
    received_at: datetime
    due_at: datetime
    overdue: bool
    pages: int
    pages_unread: int  # pages OCR could not read (failed)
    parties: tuple[dict[str, Any], ...]  # identifiers masked
    missing: tuple[dict[str, Any], ...]  # the checklist's missing items: what a return must list
    findings: tuple[dict[str, Any], ...]
    declared: dict[str, str]
    round: int  # 2 and on: read again after a supplement
    history: tuple[dict[str, Any], ...]  # the returns before and the supplements that answered them

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("parties", "missing", "findings", "history"):
            data[key] = [dict(x) for x in getattr(self, key)]
        data["received_at"], data["due_at"] = self.received_at.isoformat(), self.due_at.isoformat()
        return data


@dataclass(frozen=True)
class EventView:
    seq: int
    event_id: str
    reference: str
    outcome: str
    at: datetime
    application: dict[str, Any]
    round: int  # the pre-review round the outcome decided

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class SupplementView:
    """A supplement as its partner was answered, the first time and for every retry of it."""

    reference: str
    round: int  # the pre-review round it opened
    received_at: datetime
    note: str
    files: tuple[dict[str, Any], ...]  # name, sha256, pages, material
    application: dict[str, Any]  # the application once the supplement was taken (ApplicationView.to_json)


@dataclass(frozen=True)
class Delivery:
    """An event claimed for sending to its partner's callback."""

    event_id: str
    url: str
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class _Checked:
    business: Business
    conditions: tuple[str, ...]
    parties: tuple[tuple[str, str, str, str | None, str | None], ...]  # role, kind, name, id_type, id_value
    files: tuple[tuple[Attachment, int, str], ...]  # the attachment, its page count, its slot's material or ""
    declared: dict[str, str]


class PartnerService:
    """Partners, their applications and pre-review, on the registry's database.

    `recorder` is the registry's (its change feed): 受理 and refusals go through it. `quiet` records and audits what
    no desk mirrors (the draft's creation). `retry_seconds`: the first delay before a callback is sent again; it
    doubles with each failure up to `retry_cap_seconds`."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        catalogue: Catalogue,
        *,
        settings: Settings,
        station_id: str,
        recorder: Recorder,
        quiet: Recorder,
        qc_policy: QcPolicy,
        limits: Limits | None = None,
        max_pages: int = MAX_PAGES,
        retry_seconds: float = 5.0,
        retry_cap_seconds: float = 3600.0,
    ):
        from ocr.loading import Limits

        self._db = db
        self._blobs = blobs
        self._catalogue = catalogue
        self._settings = settings
        self._station = station_id
        self._recorder = recorder
        self._quiet = quiet
        self._qc_policy = qc_policy
        self._limits = limits or Limits(max_bytes=MAX_FILE_BYTES, max_pages=MAX_FILE_PAGES)
        self._max_pages = max_pages
        self._prereview = timedelta(hours=settings.partner_prereview_hours)
        self._retry = max(retry_seconds, 0.0)
        self._retry_cap = max(retry_cap_seconds, self._retry)
        self._notice_desk: Desk | None = None

    # -- partners ----------------------------------------------------------------------------------------

    def add_partner(self, operator: str, partner_id: str, name: str, kind: str, callback_url: str | None = None) -> str:
        """Provision a partner and return its token (shown once; only its digest is kept)."""
        if not PARTNER_ID.match(partner_id):
            raise UsageError(
                "a partner id is 2-32 upper-case letters, digits or '-', starting with a letter or digit "
                "(e.g. BANK-ICBC): it prefixes its dossiers' numbers"
            )
        if kind not in PARTNER_KINDS:
            raise UsageError(f"unknown partner kind '{kind}'; kinds: {', '.join(PARTNER_KINDS)}")
        title = " ".join((name or "").split()) or partner_id
        if len(title) > 200:
            raise UsageError("a partner's name is at most 200 characters")
        if callback_url is not None and not re.match(r"^https?://[^\s/]+\S*$", callback_url):
            raise UsageError("a callback URL starts with http:// or https:// and names a host")
        if callback_url is not None and len(callback_url) > 500:
            raise UsageError("a callback URL is at most 500 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            if session.get(RegistryStation, partner_id) is not None:
                raise UsageError(f"{partner_id} is a station's id; a partner needs an id of its own")
            station = session.get(Station, partner_id)
            if station is not None and station.kind != STATION_KIND:
                raise UsageError(f"{partner_id} is a station's id; a partner needs an id of its own")
            row = session.get(RegistryPartner, partner_id)
            if row is not None and row.revoked_at is None:
                raise DomainError(f"partner {partner_id} already has a token; revoke it first to issue a new one")
            if row is None:
                row = RegistryPartner(id=partner_id, name=title, kind=kind, token_sha256=_digest(token))
                session.add(row)
            else:
                row.token_sha256, row.revoked_at, row.name, row.kind = _digest(token), None, title, kind
            row.callback_url = callback_url
            if station is None:
                session.add(Station(id=partner_id, name=title, kind=STATION_KIND))
            audit.append(
                session,
                station_id=self._station,
                actor=operator,
                action="partner.token_issued",
                entity="partner",
                entity_id=partner_id,
                payload={"name": title, "kind": kind, "callback_url": callback_url},
            )
        return token

    def revoke_partner(self, operator: str, partner_id: str) -> None:
        with self._db.transaction() as session:
            row = session.get(RegistryPartner, partner_id)
            if row is None:
                raise NotFound(f"no partner {partner_id}")
            row.revoked_at = utcnow()
            audit.append(
                session,
                station_id=self._station,
                actor=operator,
                action="partner.token_revoked",
                entity="partner",
                entity_id=partner_id,
                payload={},
            )

    def partners(self) -> list[PartnerView]:
        with self._db.read() as session:
            rows = session.execute(select(RegistryPartner).order_by(RegistryPartner.id)).scalars()
            return [
                PartnerView(r.id, r.name, r.kind, r.callback_url, r.created_at, r.revoked_at is not None) for r in rows
            ]

    def authenticate(self, token: str | None) -> str:
        """The partner a token belongs to; PartnerAuthError (with a reason) otherwise."""
        if not token:
            raise PartnerAuthError("missing", "send the partner's token as 'Authorization: Bearer …'")
        digest = _digest(token)
        with self._db.read() as session:
            row = session.execute(
                select(RegistryPartner).where(RegistryPartner.token_sha256 == digest)
            ).scalar_one_or_none()
            if row is None:
                station = session.execute(
                    select(RegistryStation.id).where(RegistryStation.token_sha256 == digest)
                ).scalar_one_or_none()
                if station is not None:
                    raise PartnerAuthError(
                        "station",
                        f"this is the token of station {station}: the partner routes take a partner's token "
                        "(registry partner add)",
                    )
                raise PartnerAuthError("invalid", "unknown partner token")
            if row.revoked_at is not None:
                raise PartnerAuthError("revoked", f"the token of partner {row.id} was revoked")
            return row.id

    # -- intake ------------------------------------------------------------------------------------------

    def receive(self, partner_id: str, application: ApplicationIn) -> tuple[ApplicationView, bool]:
        """Take an application in (True), or answer a replay of one taken before (False).

        Raises DuplicateReference, BadAttachment, or UsageError/DomainError with the domain's message; a refused
        application leaves nothing behind."""
        digest = application.digest()
        known = self._replay(partner_id, application.reference, digest)
        if known is not None:
            return known, False
        checked = self._check(application)
        # As a desk's intake: blobs first, held from sweeps until the rows that refer to them have committed.
        with self._blobs.writing():
            shas = [self._blobs.put_bytes(a.data) for a, _pages, _slot in checked.files]
            try:
                with self._db.transaction() as session:
                    app = self._create(session, partner_id, application, digest, checked, shas)
                    view = self._view(session, app)
            except IntegrityError:
                # The same reference taken a moment ago by another request: that one counts.
                again = self._replay(partner_id, application.reference, digest)
                if again is None:
                    raise
                return again, False
        return view, True

    def _replay(self, partner_id: str, reference: str, digest: str) -> ApplicationView | None:
        with self._db.read() as session:
            app = session.execute(
                select(PartnerApplication).where(
                    PartnerApplication.partner_id == partner_id, PartnerApplication.reference == reference
                )
            ).scalar_one_or_none()
            if app is None:
                return None
            if app.body_sha256 != digest:
                raise DuplicateReference(
                    f"reference {reference} was used for another application (received "
                    f"{app.received_at.astimezone(OFFICE_TZ):%Y-%m-%d %H:%M}); give a new application a new reference"
                )
            return self._view(session, app)

    def _check(self, application: ApplicationIn) -> _Checked:
        """Everything an application must be before anything is stored; the first problem refuses it."""
        biz = self._catalogue.business(application.business)
        conditions = tuple(dict.fromkeys(application.conditions))
        validate_new_dossier(biz, application.applicant_kind, conditions)
        roles = {r.name: r for r in biz.roles}
        parties = []
        for n, party in enumerate(application.parties, 1):
            where = f"parties[{n}]"
            if party.role not in roles:
                raise UsageError(f"{where}: business {biz.code} has no role '{party.role}'; roles: {', '.join(roles)}")
            if party.kind not in roles[party.role].kinds:
                raise UsageError(f"{where}: a {party.role} of {biz.code} cannot be a {party.kind}")
            name = _printable(party.name, f"{where}: the name")
            if not name or len(name) > 200:
                raise UsageError(f"{where}: a party's name is 1-200 characters")
            id_type, id_value = check_identifier(party.kind, party.id_value, strict=True, where=where)
            parties.append((party.role, party.kind, name, id_type, id_value))
        applicant = biz.applicant_role
        if not any(role == applicant.name and kind == application.applicant_kind for role, kind, *_ in parties):
            raise UsageError(
                f"the application names no {applicant.name} ({applicant.label}) of kind {application.applicant_kind}: "
                "the applicant is one of the parties"
            )
        declared = _declared(application.fields)
        refs = [PartyRef(key=f"p{i}", role=p[0], kind=p[1], name=p[2]) for i, p in enumerate(parties, 1)]
        files = self._attachments(biz, slots_for(biz, refs, conditions), application.attachments)
        return _Checked(biz, conditions, tuple(parties), files, declared)

    def _attachments(
        self,
        biz: Business,
        specs: Sequence[SlotSpec],
        attachments: Sequence[Attachment],
        *,
        held: Mapping[str, str] | None = None,
        pages_held: int = 0,
    ) -> tuple[tuple[Attachment, int, str], ...]:
        """The attachments of a filing or a supplement, each as (attachment, its pages, its slot's material or "");
        BadAttachment naming the first that cannot be taken. `specs` is the application's checklist; `held` the
        files its dossier has already (sha256 → name) and `pages_held` their pages, for a supplement."""
        files = []
        seen = {sha: f"{name}, sent before" for sha, name in (held or {}).items()}
        total = pages_held
        scratch = self._blobs.root.parent / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        # The desk's checks read a file named as the attachment, so their messages name it; written in the
        # registry's own data directory (scans show ID cards), each gone when its check is done.
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            pages_of = [self._inspect(Path(folder), attachment) for attachment in attachments]
        for attachment, pages in zip(attachments, pages_of, strict=True):
            sha = hashlib.sha256(attachment.data).hexdigest()
            name = _label(attachment.name)
            if sha in seen:
                raise BadAttachment(f"{name}: the same file as {seen[sha]}; send each file once")
            seen[sha] = name
            material = attachment.material or ""
            if material and not any(s.satisfied_by(material) for s in specs):
                raise BadAttachment(f"{name}: material {material} is not on the checklist of a {biz.name} application")
            total += pages
            if total > self._max_pages:
                raise BadAttachment(f"{name}: the application is over its limit of {self._max_pages} pages")
            files.append((attachment, pages, material))
        return tuple(files)

    def _inspect(self, folder: Path, attachment: Attachment) -> int:
        """The attachment's page count, by the desk's own file checks; BadAttachment naming it otherwise."""
        name = _label(attachment.name)
        if attachment.media_type not in MEDIA_TYPES:
            taken = ", ".join(MEDIA_TYPES)
            raise BadAttachment(f"{name}: media type {attachment.media_type[:60]} is not taken; send {taken}")
        if len(attachment.data) > self._limits.max_bytes:
            raise BadAttachment(f"{name}: {len(attachment.data)} bytes, over the {self._limits.max_bytes}-byte limit")
        intake = IntakeService(self._db, self._blobs, station_id=self._station, events=EventBus(), limits=self._limits)
        path = folder / name
        path.write_bytes(attachment.data)
        try:
            pages, media_type = intake.inspect(path)
        except IntakeRefused as exc:
            raise BadAttachment(str(exc)) from None
        finally:
            path.unlink()
        if media_type != attachment.media_type:
            raise BadAttachment(f"{name}: sent as {attachment.media_type} but the file is {media_type}")
        return pages

    def _create(
        self,
        session: Session,
        partner_id: str,
        application: ApplicationIn,
        digest: str,
        checked: _Checked,
        shas: list[str],
    ) -> PartnerApplication:
        partner = session.get(RegistryPartner, partner_id)
        if partner is None or partner.revoked_at is not None:
            raise PartnerAuthError("revoked", f"the token of partner {partner_id} was revoked")
        biz = checked.business
        now = utcnow()
        year = now.astimezone(OFFICE_TZ).year
        seq = next_counter(session, f"dossier:{partner_id}:{year}")
        clerk = _clerk(session, partner_id, partner.name)
        state = initial_state()
        dossier = Dossier(
            number=f"{partner_id}-{year}-{seq:06d}",
            station_id=partner_id,
            business_code=biz.code,
            registration_type=biz.registration_type,
            channel=CHANNEL,
            applicant_kind=application.applicant_kind,
            digitized=biz.digitized_through(CHANNEL),
            hall_mode=HallMode.STANDARD.value,
            stage_plan=" ".join(s.value for s in stage_plan(self._catalogue, HallMode.STANDARD, business=biz)),
            conditions=list(checked.conditions),
            stage=state.stage.value,
            status=state.status.value,
            applied_at=now,
            created_by=clerk.id,
            version=1,
        )
        session.add(dossier)
        session.flush()
        refs = []
        for i, (role, kind, name, id_type, id_value) in enumerate(checked.parties, 1):
            key = f"p{i}"
            session.add(
                Party(
                    dossier_id=dossier.id,
                    key=key,
                    position=i,
                    role=role,
                    kind=kind,
                    name=name,
                    id_type=id_type,
                    id_value=id_value,
                )
            )
            refs.append(PartyRef(key=key, role=role, kind=kind, name=name))
        slots = []
        for position, spec in enumerate(slots_for(biz, refs, checked.conditions), 1):
            slot = MaterialSlot(
                dossier_id=dossier.id,
                position=position,
                material=spec.material,
                accepts=list(spec.accepts),
                party_key=spec.party_key,
                label=spec.label,
                required=spec.required,
            )
            session.add(slot)
            slots.append(slot)
        session.flush()
        files = _add_files(session, dossier, slots, checked.files, shas, position=0, now=now)
        app = PartnerApplication(
            partner_id=partner_id,
            reference=application.reference,
            body_sha256=digest,
            dossier_id=dossier.id,
            status="received",
            received_at=now,
            due_at=now + self._prereview,
            declared=checked.declared,
            items=[],
            note="",
        )
        session.add(app)
        session.flush()
        self._quiet.note(
            session,
            clerk.username,
            dossier,
            "dossier.create",
            {
                "business": biz.code,
                "channel": CHANNEL,
                "applicant_kind": application.applicant_kind,
                "partner": partner_id,
                "reference": application.reference,
                "application_id": app.id,
                "files": files,
            },
        )
        return app

    # -- supplements (补正) -------------------------------------------------------------------------------

    def supplement(self, partner_id: str, reference: str, supplement: SupplementIn) -> tuple[SupplementView, bool]:
        """Take a partner's answer to a return (True), or answer a retry of one taken before (False), as it was
        answered then.

        Its attachments join the application's dossier, which is read and pre-reviewed again in a new round; the
        return it answers stays on record. Raises NotFound (no such application of this partner), NotReturned (the
        application is not returned), BadAttachment, or UsageError; a refused supplement changes nothing."""
        digest = supplement.digest()
        with self._db.read() as session:
            app = self._partner_app(session, partner_id, reference)
            known = self._supplement_replay(session, app, digest)
            if known is not None:
                return known, False
            _check_returned(app)
            dossier = self._dossier(session, app, lock=False)
            biz = self._catalogue.business(dossier.business_code)
            specs = slots_for(biz, [_ref(p) for p in dossier.parties], dossier.conditions)
            held = {
                sha: source
                for sha, source in session.execute(
                    select(IntakeFile.sha256, IntakeFile.source).where(IntakeFile.dossier_id == dossier.id)
                )
            }
            pages_held = session.execute(
                select(func.count()).where(Page.dossier_id == dossier.id, Page.deleted.is_(False))
            ).scalar_one()
            app_id = app.id
        note = _text(supplement.note, "note", "the supplement's")
        declared = _declared(supplement.fields)
        checked = self._attachments(biz, specs, supplement.attachments, held=held, pages_held=pages_held)
        with self._blobs.writing():  # as at filing: blobs first, held from sweeps until their rows have committed
            shas = [self._blobs.put_bytes(a.data) for a, _pages, _slot in checked]
            try:
                with self._db.transaction() as session:
                    app = session.execute(
                        select(PartnerApplication).where(PartnerApplication.id == app_id).with_for_update()
                    ).scalar_one()
                    known = self._supplement_replay(session, app, digest)
                    if known is not None:  # the same supplement, taken a moment ago by another request
                        return known, False
                    _check_returned(app)
                    view = self._take_supplement(session, app, digest, note, declared, checked, shas)
            except IntegrityError:
                with self._db.read() as session:
                    again = self._supplement_replay(session, session.get(PartnerApplication, app_id), digest)
                if again is None:
                    raise
                return again, False
        return view, True

    def _take_supplement(
        self,
        session: Session,
        app: PartnerApplication,
        digest: str,
        note: str,
        declared: dict[str, str],
        checked: Sequence[tuple[Attachment, int, str]],
        shas: Sequence[str],
    ) -> SupplementView:
        """The supplement's files on the dossier, the return it answers on record, and the application read again."""
        partner = session.get(RegistryPartner, app.partner_id)
        if partner is None or partner.revoked_at is not None:
            raise PartnerAuthError("revoked", f"the token of partner {app.partner_id} was revoked")
        now = utcnow()
        dossier = self._dossier(session, app)
        last = session.execute(select(func.max(Page.position)).where(Page.dossier_id == dossier.id)).scalar_one()
        slots = sorted(dossier.slots, key=lambda s: s.position)
        files = _add_files(session, dossier, slots, checked, shas, position=last or 0, now=now)
        row = PartnerSupplement(
            application_id=app.id,
            round=len(_supplements(session, app.id)) + 2,
            body_sha256=digest,
            received_at=now,
            note=note,
            fields=declared,
            files=files,
            items=list(app.items or ()),
            return_note=app.note or "",
            returned_by=app.decided_by,
            returned_at=app.decided_at,
            notice_sha256=app.notice_sha256,
            answer={},
        )
        session.add(row)
        # Back to reading, due again in full; what the return said now lives on the supplement's row.
        app.status, app.due_at = "reading", now + self._prereview
        app.items, app.note, app.decided_by, app.decided_at, app.notice_sha256 = [], "", None, None, None
        app.declared = {**(app.declared or {}), **declared}
        session.flush()
        self._quiet.change(
            session,
            _clerk(session, app.partner_id, partner.name).username,
            dossier,
            "dossier.supplement",
            {
                "channel": CHANNEL,
                "partner": app.partner_id,
                "reference": app.reference,
                "application_id": app.id,
                "round": row.round,
                "files": files,
                "fields": declared,
                "note": note,
            },
        )
        row.answer = self._view(session, app).to_json()
        return _supplement_view(app.reference, row)

    @staticmethod
    def _supplement_replay(session: Session, app: PartnerApplication | None, digest: str) -> SupplementView | None:
        if app is None:
            return None
        row = session.execute(
            select(PartnerSupplement).where(
                PartnerSupplement.application_id == app.id, PartnerSupplement.body_sha256 == digest
            )
        ).scalar_one_or_none()
        return _supplement_view(app.reference, row) if row is not None else None

    # -- reading ---------------------------------------------------------------------------------------------

    def reading(self) -> bool:
        """Whether some application's pages are still being read."""
        with self._db.read() as session:
            found = session.execute(
                select(PartnerApplication.id).where(PartnerApplication.status.in_(OPEN)).limit(1)
            ).first()
        return found is not None

    def pages_waiting(self) -> bool:
        with self._db.read() as session:
            return session.execute(select(OcrJob.id).where(OcrJob.state == "queued").limit(1)).first() is not None

    def advance(self) -> int:
        """Move applications on as their pages are read: received → reading → pre_review. Returns how many moved.

        Looked at in a read; a write only when some application moves (the OCR queue writes meanwhile)."""
        with self._db.read() as session:
            targets = self._targets(session)
        if not targets:
            return 0
        moved = 0
        with self._db.transaction() as session:
            for app_id, (target, failed) in self._targets(session, lock=True).items():
                app = session.get(PartnerApplication, app_id)
                if app is None or app.status == target:
                    continue
                app.status = target
                moved += 1
                audit.append(
                    session,
                    station_id=self._station,
                    actor="ocr",
                    action=f"partner.{target}",
                    entity="partner_application",
                    entity_id=app.id,
                    payload={"reference": app.reference, "partner": app.partner_id, "pages_failed": failed},
                )
        return moved

    def _targets(self, session: Session, *, lock: bool = False) -> dict[str, tuple[str, int]]:
        """The open applications whose status their pages' reading changes: id → (new status, pages failed)."""
        query = select(PartnerApplication.id, PartnerApplication.dossier_id, PartnerApplication.status).where(
            PartnerApplication.status.in_(OPEN)
        )
        apps = session.execute(query.with_for_update() if lock else query).all()
        if not apps:
            return {}
        counts: dict[str, dict[str, int]] = {}
        for dossier_id, state, count in session.execute(
            select(Page.dossier_id, OcrJob.state, func.count())
            .join(OcrJob, OcrJob.page_id == Page.id)
            .where(Page.dossier_id.in_([a.dossier_id for a in apps]))
            .group_by(Page.dossier_id, OcrJob.state)
        ):
            counts.setdefault(dossier_id, {})[state] = int(count)
        out = {}
        for app_id, dossier_id, status in apps:
            states = counts.get(dossier_id, {})
            waiting = states.get("queued", 0) + states.get("reading", 0)
            begun = sum(states.values()) - states.get("queued", 0)
            target = WAITING if not waiting else "reading" if begun else status
            if target != status:
                out[app_id] = (target, states.get("failed", 0))
        return out

    # -- pre-review (网上预审) ------------------------------------------------------------------------------

    def waiting(self, actor: Actor, *, limit: int = 500) -> list[PrereviewView]:
        """Applications read and waiting for pre-review: the most overdue first (by due time)."""
        require(actor, Permission.REVIEW_DECIDE)
        with self._db.read() as session:
            apps = session.execute(
                select(PartnerApplication)
                .where(PartnerApplication.status == WAITING)
                .order_by(PartnerApplication.due_at, PartnerApplication.received_at, PartnerApplication.id)
                .limit(max(1, min(limit, 1000)))
            ).scalars()
            return [self._prereview_view(session, app) for app in apps]

    def accept(self, actor: Actor, ref: str, note: str = "") -> ApplicationView:
        """受理: the dossier goes to submitted by the stage machine and joins the review pool. Refused with every
        missing item when the checklist is not complete (MissingMaterials): return it instead."""
        require(actor, Permission.REVIEW_DECIDE)
        note = _text(note, "note")
        with self._db.transaction() as session:
            app = self._app(session, ref, lock=True)
            if app.status == "accepted":
                return self._view(session, app)  # the same request again (its answer was lost)
            self._check_open(app)
            dossier = self._dossier(session, app)
            biz = self._catalogue.business(dossier.business_code)
            missing = _missing(biz, dossier)
            if missing:
                raise MissingMaterials(missing)
            after = _move(dossier, Action.SUBMIT)
            now = utcnow()
            dossier.accepted_at = now  # 受理: the time-limit clock starts (R19)
            before = (dossier.stage, dossier.status)
            dossier.stage, dossier.status = after.stage.value, after.status.value
            RegisterBook(self._db).refresh_findings(session, dossier)  # restrictions on the unit, as at a window
            overridden = open_errors(session, dossier.id)
            self._recorder.change(
                session,
                actor.username,
                dossier,
                "dossier.submit",
                {
                    "from": {"stage": before[0], "status": before[1]},
                    "to": {"stage": dossier.stage, "status": dossier.status},
                    "channel": CHANNEL,
                    "partner": app.partner_id,
                    "reference": app.reference,
                    "accepted_at": now.isoformat(),
                    **({"overridden_findings": overridden} if overridden else {}),
                },
            )
            self._decide(session, app, dossier, actor, "accepted", note)
            return self._view(session, app)

    def send_back(self, actor: Actor, ref: str, items: Sequence[str], note: str = "") -> ApplicationView:
        """补正 (一次性告知): the application goes back to its partner with the complete list, the checklist's missing
        items (always, whether named or not) and then the pre-reviewer's own. The dossier stays a draft."""
        require(actor, Permission.REVIEW_DECIDE)
        note = _text(note, "note")
        own = list(dict.fromkeys(_text(i, "item") for i in items if i.strip()))
        with self._db.transaction() as session:
            app = self._app(session, ref, lock=True)
            if app.status == "returned":
                if [i["text"] for i in app.items if i.get("source") == "prereview"] == own:
                    return self._view(session, app)  # the same request again
                raise AlreadyDecided(f"{ref} was returned already, with {len(app.items)} item(s); that notice stands")
            self._check_open(app)
            dossier = self._dossier(session, app)
            missing = _missing(self._catalogue.business(dossier.business_code), dossier)
            listed = [_missing_json(m) for m in missing]
            listed += [{"material": None, "party": None, "text": text, "source": "prereview"} for text in own]
            if not listed:
                raise UsageError(
                    f"{dossier.number}: the checklist is complete, so a return must say what is wrong "
                    "(give the items: 一次性告知)"
                )
            app.items = listed
            self._quiet.note(
                session,
                actor.username,
                dossier,
                "prereview.return",
                {"reference": app.reference, "partner": app.partner_id, "items": listed, "note": note},
            )
            self._decide(session, app, dossier, actor, "returned", note)
            return self._view(session, app)

    def refuse(self, actor: Actor, ref: str, reason_code: str, note: str = "") -> ApplicationView:
        """不予受理, with a reason of the notice rules (its written notice follows)."""
        require(actor, Permission.REVIEW_DECIDE)
        note = _text(note, "note")
        reason = load_notice_rules().intake_reason(reason_code)
        with self._db.transaction() as session:
            app = self._app(session, ref, lock=True)
            if app.status == "refused" and app.reason_code == reason_code:
                return self._view(session, app)
            self._check_open(app)
            dossier = self._dossier(session, app)
            after = _move(dossier, Action.REFUSE_INTAKE)
            dossier.stage, dossier.status = after.stage.value, after.status.value
            self._recorder.change(
                session,
                actor.username,
                dossier,
                "dossier.refuse_intake",
                {"reason_code": reason.code, "reason": reason.text, "basis": reason.basis, "note": note},
            )
            app.reason_code = reason.code
            self._decide(session, app, dossier, actor, "refused", note)
            return self._view(session, app)

    def _check_open(self, app: PartnerApplication) -> None:
        if app.status in OUTCOMES:
            raise AlreadyDecided(f"application {app.reference} was {app.status} already; that decision stands")
        if app.status != WAITING:
            raise NotReady(f"application {app.reference} is still being read ({app.status}); pre-review waits for it")

    def _decide(
        self, session: Session, app: PartnerApplication, dossier: Dossier, actor: Actor, outcome: str, note: str
    ) -> None:
        """The outcome on the application, and the one event that tells it to the partner, in the same transaction."""
        now = utcnow()
        app.status, app.note, app.decided_by, app.decided_at = outcome, note, actor.username, now
        session.flush()
        partner = session.get(RegistryPartner, app.partner_id)
        callback = partner.callback_url if partner is not None and partner.revoked_at is None else None
        event_id = new_id()
        seq = next_counter(session, "partner_events")
        view = self._view(session, app).to_json()
        session.add(
            PartnerEvent(
                id=event_id,
                seq=seq,
                partner_id=app.partner_id,
                application_id=app.id,
                reference=app.reference,
                outcome=outcome,
                round=view["round"],
                payload={
                    "event_id": event_id,
                    "seq": seq,
                    "reference": app.reference,
                    "outcome": outcome,
                    "round": view["round"],
                    "at": now.isoformat(),
                    "application": view,
                },
                created_at=now,
                delivery="pending" if callback else "none",
                attempts=0,
                next_attempt_at=now if callback else None,
            )
        )
        audit.append(
            session,
            station_id=self._station,
            actor=actor.username,
            action=f"partner.{outcome}",
            entity="partner_application",
            entity_id=app.id,
            payload={
                "reference": app.reference,
                "partner": app.partner_id,
                "number": dossier.number,
                "round": view["round"],
                "event": event_id,
            },
        )

    # -- what partners read ------------------------------------------------------------------------------

    def application(self, partner_id: str, reference: str) -> ApplicationView:
        with self._db.read() as session:
            return self._view(session, self._partner_app(session, partner_id, reference))

    def events(self, partner_id: str, after: int, limit: int = 500) -> tuple[list[EventView], int, bool]:
        """The partner's outcome events after `after` (its cursor), oldest first; (events, cursor, more)."""
        limit = max(1, min(limit, 1000))
        with self._db.read() as session:
            rows = list(
                session.execute(
                    select(PartnerEvent)
                    .where(PartnerEvent.partner_id == partner_id, PartnerEvent.seq > min(after, 2**31 - 1))
                    .order_by(PartnerEvent.seq)
                    .limit(limit + 1)
                ).scalars()
            )
        more = len(rows) > limit
        rows = rows[:limit]
        views = [
            EventView(
                r.seq, r.id, r.reference, r.outcome, r.created_at, dict(r.payload.get("application") or {}), r.round
            )
            for r in rows
        ]
        return views, (rows[-1].seq if rows else after), more

    def notice(self, partner_id: str, reference: str, kind: str) -> bytes:
        """The outcome's notice as a PDF (受理凭证, 补正材料通知书 or 不予受理告知书), rendered once and kept."""
        with self._db.read() as session:
            app = self._partner_app(session, partner_id, reference)
            expected = NOTICE_OF_OUTCOME.get(app.status)
            if expected is None or kind != expected:
                has = f"its notice is '{expected}'" if expected else "it has no notice until it is decided"
                raise NotFound(f"application {reference} has no '{kind}' notice; {has}")
            kept, app_id = app.notice_sha256, app.id
        if kept is not None and self._blobs.exists(kept):
            return self._blobs.read(kept)
        pdf = self._render(app_id, kind)
        with self._blobs.writing():
            sha = self._blobs.put_bytes(pdf)
            with self._db.transaction() as session:
                row = session.execute(
                    select(PartnerApplication).where(PartnerApplication.id == app_id).with_for_update()
                ).scalar_one()
                if row.notice_sha256 is None or not self._blobs.exists(row.notice_sha256):
                    row.notice_sha256 = sha
                elif row.notice_sha256 != sha:  # rendered meanwhile by another request: that one is the notice
                    return self._blobs.read(row.notice_sha256)
        return pdf

    def _render(self, app_id: str, kind: str) -> bytes:
        from workstation.services.documents import notice_of, office_of
        from workstation.services.paper import Line, Notice, notice_pdf

        desk = self._desk()
        with self._db.read() as session:
            app = session.get(PartnerApplication, app_id)
            assert app is not None
            dossier = self._dossier(session, app, lock=False)
            person = session.execute(
                select(User).where(User.username == app.decided_by, User.origin == REGISTRY_ORIGIN)
            ).scalar_one_or_none()
            if person is None:
                raise NotFound(f"the pre-reviewer of {app.reference} is not known here")
            actor = actor_of(person)
            number, items, note = dossier.number, list(app.items), app.note
            biz = self._catalogue.business(dossier.business_code)
            applicants = tuple(
                Line(
                    biz.role(p.role).label,
                    f"{p.name or ''}  {ID_LABELS.get(p.id_type or '', '')} {mask_id(p.id_value) or ''}".strip(),
                )
                for p in sorted(dossier.parties, key=lambda p: p.position)
            )
            partner = session.get(RegistryPartner, app.partner_id)
            reference, received, business = app.reference, app.received_at, biz.name
        if kind != "supplement":
            return notice_pdf(notice_of(desk, actor, number, kind), office_of(desk))
        rows = (
            Line("业务类型", business),
            Line("申请方式", f"网上申请（{partner.name if partner is not None else app.partner_id}）"),
            Line("申请编号", reference),
            Line("收件时间", received.astimezone(OFFICE_TZ).strftime("%Y年%m月%d日 %H:%M")),
        )
        lines = tuple(
            Line(
                _item_label(self._catalogue, item),
                "缺少该材料，请补充提交" if item.get("source") == "checklist" else str(item.get("text") or ""),
            )
            for item in items
        )
        notice = Notice(
            "supplement",
            number,
            business,
            applicants,
            rows,
            lines,
            reason=note,
            legal_basis=SUPPLEMENT_BASIS,
            issued_on=utcnow().astimezone(OFFICE_TZ).date(),
            clerk=(person.display_name or person.username),
        )
        return notice_pdf(notice, office_of(desk))

    def _desk(self) -> Desk:
        """The registry's database as a desk's services see it: the project's notice builders read through it."""
        if self._notice_desk is None:
            from workstation.services.changes import Recorder as _Recorder
            from workstation.services.desk import Desk
            from workstation.services.users import UserService

            settings = self._settings.model_copy(
                update={"station_id": self._station, "station_name": self._settings.office_name}
            )
            self._notice_desk = Desk(
                settings=settings,
                db=self._db,
                blobs=self._blobs,
                catalogue=self._catalogue,
                stages=stage_plan(self._catalogue, HallMode.STANDARD),
                users=UserService(self._db, self._station),
                events=EventBus(),
                recorder=_Recorder(self._station),  # the notice builders only read
                qc_policy=self._qc_policy,
            )
        return self._notice_desk

    # -- callbacks ---------------------------------------------------------------------------------------

    def due_deliveries(self, limit: int = 20, claim_seconds: float = 60.0) -> list[Delivery]:
        """Claim the events due for sending now (each for `claim_seconds`, so another registry process leaves it)."""
        now = utcnow()
        with self._db.read() as session:  # most looks find nothing: no write lock for them
            rows = list(
                session.execute(
                    select(PartnerEvent.id)
                    .where(
                        PartnerEvent.delivery == "pending",
                        PartnerEvent.next_attempt_at <= now,
                        or_(PartnerEvent.claimed_until.is_(None), PartnerEvent.claimed_until <= now),
                    )
                    .order_by(PartnerEvent.next_attempt_at, PartnerEvent.seq)
                    .limit(limit)
                ).scalars()
            )
        out: list[Delivery] = []
        if not rows:
            return out
        with self._db.transaction() as session:
            for event_id in rows:
                claimed = session.execute(
                    update(PartnerEvent)
                    .where(
                        PartnerEvent.id == event_id,
                        PartnerEvent.delivery == "pending",
                        or_(PartnerEvent.claimed_until.is_(None), PartnerEvent.claimed_until <= now),
                    )
                    .values(claimed_until=now + timedelta(seconds=claim_seconds))
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = session.get(PartnerEvent, event_id)
                partner = session.get(RegistryPartner, row.partner_id) if row is not None else None
                if row is None or partner is None or not partner.callback_url or partner.revoked_at is not None:
                    if row is not None:  # nowhere to send it any more: partners still read it from the feed
                        row.delivery, row.claimed_until = "none", None
                    continue
                out.append(Delivery(row.id, partner.callback_url, dict(row.payload), row.attempts))
        return out

    def delivered(self, event_id: str) -> None:
        with self._db.transaction() as session:
            row = session.get(PartnerEvent, event_id)
            if row is None or row.delivery != "pending":
                return
            row.delivery, row.delivered_at, row.claimed_until = "delivered", utcnow(), None
            row.attempts += 1
            row.last_error = None

    def failed(self, event_id: str, error: str) -> None:
        """Send it again later: the delay doubles with each failure, up to the cap, with some jitter."""
        with self._db.transaction() as session:
            row = session.get(PartnerEvent, event_id)
            if row is None or row.delivery != "pending":
                return
            row.attempts += 1
            delay = min(self._retry * 2 ** min(row.attempts - 1, 30), self._retry_cap)
            delay *= 0.75 + secrets.randbelow(500) / 1000
            row.next_attempt_at, row.claimed_until = utcnow() + timedelta(seconds=delay), None
            row.last_error = " ".join(error.split())[:500]

    def next_delivery_at(self) -> datetime | None:
        with self._db.read() as session:
            return session.execute(
                select(func.min(PartnerEvent.next_attempt_at)).where(PartnerEvent.delivery == "pending")
            ).scalar_one_or_none()

    # -- helpers -----------------------------------------------------------------------------------------

    def _app(self, session: Session, ref: str, *, lock: bool = False) -> PartnerApplication:
        """An application by its id or its dossier's number."""
        query = select(PartnerApplication).where(
            or_(
                PartnerApplication.id == ref,
                PartnerApplication.dossier_id.in_(select(Dossier.id).where(Dossier.number == ref)),
            )
        )
        app = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
        if app is None:
            raise NotFound(f"no online application {ref[:80]}")
        return app

    @staticmethod
    def _partner_app(session: Session, partner_id: str, reference: str) -> PartnerApplication:
        app = session.execute(
            select(PartnerApplication).where(
                PartnerApplication.partner_id == partner_id, PartnerApplication.reference == reference
            )
        ).scalar_one_or_none()
        if app is None:
            raise NotFound(f"no application {reference[:80]} from partner {partner_id}")
        return app

    @staticmethod
    def _dossier(session: Session, app: PartnerApplication, *, lock: bool = True) -> Dossier:
        query = select(Dossier).where(Dossier.id == app.dossier_id)
        return session.execute(query.with_for_update() if lock else query).scalar_one()

    def _view(self, session: Session, app: PartnerApplication) -> ApplicationView:
        number, business = session.execute(
            select(Dossier.number, Dossier.business_code).where(Dossier.id == app.dossier_id)
        ).one()
        outcome = app.status if app.status in OUTCOMES else None
        reason = None
        if app.status == "refused" and app.reason_code:
            reason = load_notice_rules().refuse_intake[app.reason_code].text
        history = _supplements(session, app.id)
        return ApplicationView(
            id=app.id,
            partner_id=app.partner_id,
            reference=app.reference,
            number=number,
            business=business,
            status=app.status,
            received_at=app.received_at,
            due_at=app.due_at,
            outcome=outcome,
            items=tuple(dict(i) for i in app.items or ()),
            reason=reason,
            note=app.note or "",
            decided_at=app.decided_at,
            notice=NOTICE_OF_OUTCOME.get(outcome or ""),
            round=len(history) + 1,
            history=tuple(_round_json(s) for s in history),
        )

    def _prereview_view(self, session: Session, app: PartnerApplication) -> PrereviewView:
        dossier = session.execute(select(Dossier).where(Dossier.id == app.dossier_id)).scalar_one()
        biz = self._catalogue.business(dossier.business_code)
        partner = session.get(RegistryPartner, app.partner_id)
        states = dict(
            session.execute(
                select(OcrJob.state, func.count())
                .join(Page, Page.id == OcrJob.page_id)
                .where(Page.dossier_id == dossier.id)
                .group_by(OcrJob.state)
            ).all()
        )
        findings = sorted(
            session.execute(
                select(Finding).where(Finding.dossier_id == dossier.id, Finding.resolved.is_(False))
            ).scalars(),
            key=lambda f: (_SEVERITY.get(f.severity, 3), f.rule, f.message),
        )
        parties = sorted(dossier.parties, key=lambda p: p.position)
        history = _supplements(session, app.id)
        return PrereviewView(
            id=app.id,
            number=dossier.number,
            partner_id=app.partner_id,
            partner_name=partner.name if partner is not None else app.partner_id,
            reference=app.reference,
            business=biz.code,
            business_name=biz.name,
            applicant_kind=dossier.applicant_kind,
            status=app.status,
            received_at=app.received_at,
            due_at=app.due_at,
            overdue=app.due_at < utcnow(),
            pages=sum(int(v) for v in states.values()),
            pages_unread=int(states.get("failed", 0)),
            parties=tuple(
                {"key": p.key, "role": p.role, "kind": p.kind, "name": p.name, "id_value": mask_id(p.id_value)}
                for p in parties
            ),
            missing=tuple(_missing_json(m) for m in _missing(biz, dossier)),
            findings=tuple({"rule": f.rule, "severity": f.severity, "message": f.message} for f in findings),
            declared=dict(app.declared or {}),
            round=len(history) + 1,
            history=tuple(_round_json(s) for s in history),
        )


def _check_returned(app: PartnerApplication) -> None:
    if app.status != "returned":
        raise NotReturned(
            f"application {app.reference} is {app.status}, not returned: only a returned application (补正) takes a "
            "supplement"
        )


def _supplements(session: Session, app_id: str) -> list[PartnerSupplement]:
    """The application's supplements, oldest first: one per return answered."""
    return list(
        session.execute(
            select(PartnerSupplement)
            .where(PartnerSupplement.application_id == app_id)
            .order_by(PartnerSupplement.round)
        ).scalars()
    )


def _files_json(files: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: f.get(k) for k in ("name", "sha256", "pages", "material")} for f in files]


def _round_json(row: PartnerSupplement) -> dict[str, Any]:
    """A round that ended in a return, and the supplement that answered it (JSON values)."""
    return {
        "round": row.round - 1,
        "items": [dict(i) for i in row.items or ()],
        "note": row.return_note,
        "returned_at": row.returned_at.isoformat() if row.returned_at is not None else None,
        "supplemented_at": row.received_at.isoformat(),
        "supplement_note": row.note,
        "files": _files_json(row.files or ()),
    }


def _supplement_view(reference: str, row: PartnerSupplement) -> SupplementView:
    return SupplementView(
        reference=reference,
        round=row.round,
        received_at=row.received_at,
        note=row.note,
        files=tuple(_files_json(row.files or ())),
        application=dict(row.answer),
    )


def _missing(biz: Business, dossier: Dossier) -> list[MissingItem]:
    """What the checklist still lacks, counted as the registry counts a desk's submission."""
    return missing_for_submit(
        biz,
        [_ref(p) for p in dossier.parties],
        dossier.conditions,
        [
            SlotState(
                material=s.material,
                party_key=s.party_key,
                required=s.required,
                satisfied=s.satisfied,
                waived=s.waived and bool((s.waiver_reason or "").strip()),
            )
            for s in dossier.slots
        ],
    )


def _missing_json(item: MissingItem) -> dict[str, Any]:
    return {"material": item.material or None, "party": item.party_label, "text": str(item), "source": "checklist"}


def _item_label(catalogue: Catalogue, item: Mapping[str, Any]) -> str:
    code = item.get("material")
    if code and item.get("source") == "checklist":
        material = catalogue.materials.get(str(code))
        name = material.name if material is not None else str(code)
        return f"{name}（{item['party']}）" if item.get("party") else name
    return "其他"


def _declared(fields: Mapping[str, str]) -> dict[str, str]:
    """Field values the applicant typed, keys checked and values as sent (white space collapsed, bounded)."""
    declared = {}
    for key, value in fields.items():
        if not re.match(r"^[a-z][a-z0-9_]{0,39}$", key):
            raise UsageError(f"fields: '{key[:40]}' is not a field key (lower-case letters, digits and '_')")
        declared[key] = _printable(value, f"fields: {key}")[:500]
    return declared


def _ref(party: Party) -> PartyRef:
    return PartyRef(key=party.key, role=party.role, kind=party.kind, name=party.name)


def _move(dossier: Dossier, action: Action) -> DossierState:
    """The stage machine's answer for `action` (IllegalTransition otherwise): nothing else moves a dossier."""
    return apply(
        DossierState(Stage(dossier.stage), Status(dossier.status)),
        action,
        tuple(Stage(s) for s in dossier.stage_plan.split()),
    )


def _add_files(
    session: Session,
    dossier: Dossier,
    slots: list[MaterialSlot],
    checked: Sequence[tuple[Attachment, int, str]],
    shas: Sequence[str],
    *,
    position: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The checked attachments as the dossier's files, with a page and an OCR job per page after `position`; each
    file as the audit records it."""
    files = []
    for (attachment, pages, material), sha in zip(checked, shas, strict=True):
        name = _label(attachment.name)
        placed = _declared_slot(slots, material) if material else None
        record = IntakeFile(
            dossier_id=dossier.id,
            sha256=sha,
            source=name,
            size=len(attachment.data),
            page_count=pages,
            media_type=attachment.media_type,
            moved_at=now,  # nothing to move out of an inbox
        )
        session.add(record)
        session.flush()
        for file_page in range(1, pages + 1):
            position += 1
            # A page placed where the partner said: OCR still reads, classifies and extracts it, but leaves it
            # in that slot (as a page a clerk placed by hand).
            page = Page(
                dossier_id=dossier.id,
                file_id=record.id,
                file_page=file_page,
                position=position,
                sha256=sha,
                source_name=name,
                media_type=attachment.media_type,
                size=len(attachment.data),
                ocr_status="queued",
                slot_id=placed.id if placed is not None else None,
                slot_by_clerk=placed is not None,
            )
            session.add(page)
            session.flush()
            session.add(OcrJob(page_id=page.id))
        if placed is not None:
            placed.satisfied = True
        files.append({"name": name, "sha256": sha, "pages": pages, "material": material or None})
    return files


def _declared_slot(slots: list[MaterialSlot], material: str) -> MaterialSlot | None:
    matching = [s for s in slots if s.material == material or material in (s.accepts or [])]
    open_slots = [s for s in matching if not s.satisfied]
    chosen = open_slots or matching
    return chosen[0] if chosen else None


def _clerk(session: Session, partner_id: str, name: str) -> User:
    """The registry's record of who files a partner's applications (created_by, R17): a record, never a login."""
    username = f"online@{partner_id}"
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        user = User(username=username, display_name=name, password_hash="!", roles="", origin=CLERK_ORIGIN)
        session.add(user)
        session.flush()
    return user


def _label(name: str) -> str:
    """An attachment's name as messages and file names may carry it: its last path part, printable, bounded."""
    last = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in last).strip().lstrip(".")[:120]
    while len(cleaned.encode("utf-8")) > 200:  # a file name the filesystem takes (255 bytes at most)
        cleaned = cleaned[:-1]
    return cleaned or "attachment"


def _printable(value: str, where: str) -> str:
    """Text as sent, white space collapsed; refused with a control character in it (no database keeps a NUL)."""
    text = " ".join(value.split())
    if not text.isprintable():
        raise UsageError(f"{where} has a control character")
    return text


def _text(value: str, what: str, whose: str = "the pre-reviewer's") -> str:
    text = _printable(value, f"{whose} {what}")
    if len(text) > MAX_ITEM:
        raise UsageError(f"{whose} {what} is at most {MAX_ITEM} characters")
    return text


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
