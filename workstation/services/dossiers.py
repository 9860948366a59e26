"""Dossier use cases at the window: open (预受理), add parties, attach pages, waive, submit, withdraw.

Each state change writes its rows, then records itself through the desk's `Recorder` (version, audit event and
outbox op) in ONE transaction. The op says what the clerk asked for; the registry applies it by its own rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ocr.codes import CodeError, parse_id_number, parse_uscc
from ocr.corroborate import Reading, corroborate
from workstation.domain.catalogue import Business, Catalogue
from workstation.domain.channels import (
    CHANNELS,
    channel_for,
    check_signed,
    check_signing,
    counter_refusal,
    signing_from_json,
)
from workstation.domain.checklist import (
    PartyRef,
    SlotState,
    check_submit,
    missing_for_submit,
    slots_for,
    validate_new_dossier,
)
from workstation.domain.errors import DomainError
from workstation.domain.notices import load_notice_rules
from workstation.domain.permissions import Actor, Permission, UserRole, require
from workstation.domain.stages import Action, DossierState, HallMode, Stage, Status, apply, initial_state
from workstation.errors import NotFound, UsageError
from workstation.services import audit
from workstation.services.changes import Recorder
from workstation.services.clocks import end_supplement_pause
from workstation.services.receipt import ID_LABELS
from workstation.services.register import RegisterBook
from workstation.services.supplement import (
    answers_of,
    check_addressed,
    latest_return,
    open_errors,
    prefer_returning_reviewer,
    record_answers,
    supplement_view,
)
from workstation.services.views import (
    OFFICE_TZ,
    DossierDetail,
    DossierSummary,
    FieldView,
    FindingView,
    NewParty,
    PageView,
    PartyView,
    SlotView,
    mask_id,
)
from workstation.store.blobs import BlobStore
from workstation.store.db import Database, next_counter
from workstation.store.models import (
    Assignment,
    Dossier,
    Field,
    Finding,
    MaterialSlot,
    OcrJob,
    Page,
    Party,
    User,
)
from workstation.store.types import utcnow

KINDS = ("enterprise", "individual")
_NAME_MAX = 200
_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class _CheckedParty:
    role: str
    kind: str
    name: str | None
    id_type: str | None
    id_value: str | None


class DossierService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        catalogue: Catalogue,
        *,
        station_id: str,
        hall_mode: HallMode,
        stages: tuple[Stage, ...],
        recorder: Recorder,
        same_reviewer_seconds: float = 4 * 3600,
        station_kind: str = "hall",
        counter_refuses: Sequence[str] = (),
        self_service_hint: str = "大厅自助服务区",
    ):
        self._db = db
        self._station_kind = station_kind
        self._counter_refuses = tuple(counter_refuses)
        self._self_service_hint = self_service_hint
        self._same_reviewer = timedelta(seconds=max(same_reviewer_seconds, 0))
        self._recorder = recorder
        self._blobs = blobs
        self._catalogue = catalogue
        self._station = station_id
        self._hall_mode = hall_mode
        self._stages = stages

    # -- reading ---------------------------------------------------------------------------------------

    def list(self, *, status: str | None = None, limit: int = 500, offset: int = 0) -> list[DossierSummary]:
        with self._db.read() as session:
            query = select(Dossier).options(selectinload(Dossier.parties))
            if status is not None:
                if status not in {s.value for s in Status}:
                    raise UsageError(f"unknown status '{status}'; statuses: {', '.join(s.value for s in Status)}")
                query = query.where(Dossier.status == status)
            query = query.order_by(Dossier.applied_at.desc(), Dossier.id.desc()).limit(limit).offset(offset)
            return [self._summary(d) for d in session.execute(query).scalars()]

    def count(self) -> int:
        with self._db.read() as session:
            return int(session.execute(select(func.count(Dossier.id))).scalar_one())

    def show(self, number: str) -> DossierDetail:
        with self._db.read() as session:
            return self._detail(session, self._load(session, number, lock=False))

    # -- changing --------------------------------------------------------------------------------------

    def new(
        self,
        actor: Actor,
        *,
        business: str,
        applicant_kind: str,
        channel: str | None = None,
        conditions: Sequence[str] = (),
        applicant_name: str | None = None,
        applicant_id: str | None = None,
        applied_at: datetime | None = None,
        parties: Sequence[NewParty] = (),
    ) -> DossierDetail:
        """Open a draft dossier (预受理) with its applicant party and the checklist's material slots.

        `parties` (sellers, mortgagees…) are checked before anything is written and added in the same
        transaction, each with its own `dossier.party_add` event: a bad one leaves no dossier behind.
        """
        require(actor, Permission.DOSSIER_CREATE)
        biz = self._catalogue.business(business)
        if channel is not None and channel not in CHANNELS:
            raise UsageError(f"unknown channel '{channel}'; channels: {', '.join(CHANNELS)}")
        refusal = counter_refusal(
            biz.code, biz.name, self._station_kind, self._counter_refuses, self._self_service_hint
        )
        if refusal is not None and channel in (None, "window"):
            raise UsageError(refusal)
        channel = channel_for(self._station_kind, channel)
        if applicant_kind not in KINDS:
            raise UsageError(f"applicant kind must be enterprise or individual, not '{applicant_kind}'")
        conds = tuple(dict.fromkeys(conditions))
        validate_new_dossier(biz, applicant_kind, conds)
        role = next((r for r in biz.roles if r.applicant), biz.roles[0])
        try:
            id_type, id_value = check_identifier(applicant_kind, applicant_id)
        except UsageError as exc:
            raise UsageError(f"applicant: {exc}") from None
        applicant_name = _clean_name(applicant_name)
        others = [
            self._checked_party(biz, party, label=f"party {i} ({party.role})")
            for i, party in enumerate(parties, start=2)
        ]
        if others:
            require(actor, Permission.DOSSIER_EDIT)
        when = applied_at or utcnow()
        if when.tzinfo is None:
            raise UsageError("the application time needs a time zone")
        state = initial_state()
        with self._db.transaction() as session:
            year = when.astimezone(OFFICE_TZ).year
            seq = next_counter(session, f"dossier:{self._station}:{year}")
            dossier = Dossier(
                number=f"{self._station}-{year}-{seq:06d}",
                station_id=self._station,
                business_code=biz.code,
                registration_type=biz.registration_type,
                channel=channel,
                applicant_kind=applicant_kind,
                digitized=biz.digitized_through(channel),
                hall_mode=self._hall_mode.value,
                stage_plan=" ".join(s.value for s in self._stages),
                conditions=list(conds),
                stage=state.stage.value,
                status=state.status.value,
                applied_at=when,
                created_by=actor.user_id,
                version=1,
            )
            session.add(dossier)
            session.flush()
            party = Party(
                dossier_id=dossier.id,
                key="p1",
                position=1,
                role=role.name,
                kind=applicant_kind,
                name=applicant_name,
                id_type=id_type,
                id_value=id_value,
            )
            dossier.parties.append(party)
            self._rebuild_slots(session, dossier, biz)
            created = {
                "number": dossier.number,
                "business": biz.code,
                "applicant_kind": applicant_kind,
                "channel": channel,
                "conditions": list(conds),
                "applied_at": when.isoformat(),
                "parties": [_party_payload(party)],
            }
            # A new dossier starts at version 1: it is recorded, not a change of anything.
            self._recorder.note(
                session,
                actor.username,
                dossier,
                "dossier.create",
                created,
                wire={**created, "hall_mode": self._hall_mode.value},
            )
            for other in others:
                self._add_party_row(session, actor, dossier, biz, other)
            return self._detail(session, dossier)

    def add_party(
        self,
        actor: Actor,
        number: str,
        *,
        role: str,
        kind: str,
        name: str | None = None,
        id_value: str | None = None,
    ) -> DossierDetail:
        require(actor, Permission.DOSSIER_EDIT)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            biz = self._catalogue.business(dossier.business_code)
            checked = self._checked_party(biz, NewParty(role=role, kind=kind, name=name, id_value=id_value))
            self._add_party_row(session, actor, dossier, biz, checked)
            return self._detail(session, dossier)

    @staticmethod
    def _checked_party(biz: Business, party: NewParty, *, label: str = "") -> _CheckedParty:
        prefix = f"{label}: " if label else ""
        if party.kind not in KINDS:
            raise UsageError(f"{prefix}party kind must be enterprise or individual, not '{party.kind}'")
        roles = {r.name: r for r in biz.roles}
        if party.role not in roles:
            raise UsageError(f"{prefix}business {biz.code} has no role '{party.role}'; roles: {', '.join(roles)}")
        if party.kind not in roles[party.role].kinds:
            raise UsageError(f"{prefix}a {party.role} of {biz.code} cannot be a {party.kind}")
        try:
            id_type, value = check_identifier(party.kind, party.id_value)
            name = _clean_name(party.name)
        except UsageError as exc:
            raise UsageError(f"{prefix}{exc}") from None
        return _CheckedParty(role=party.role, kind=party.kind, name=name, id_type=id_type, id_value=value)

    def _add_party_row(
        self, session: Session, actor: Actor, dossier: Dossier, biz: Business, checked: _CheckedParty
    ) -> None:
        position = len(dossier.parties) + 1
        key = f"p{max((int(p.key[1:]) for p in dossier.parties), default=0) + 1}"
        party = Party(
            dossier_id=dossier.id,
            key=key,
            position=position,
            role=checked.role,
            kind=checked.kind,
            name=checked.name,
            id_type=checked.id_type,
            id_value=checked.id_value,
        )
        dossier.parties.append(party)
        self._rebuild_slots(session, dossier, biz)
        self._change(session, actor, dossier, "dossier.party_add", {"party": _party_payload(party)})

    def attach_page(
        self,
        actor: Actor,
        number: str,
        *,
        data: bytes,
        source_name: str,
        media_type: str,
        material: str | None = None,
        party_key: str | None = None,
    ) -> PageView:
        """Store a page's bytes and add it to the dossier, in the slot of `material` when given."""
        require(actor, Permission.DOSSIER_EDIT)
        if not data:
            raise UsageError(f"{source_name}: the file is empty")
        # Held until the page row commits: a sweep in another process never takes the blob meanwhile.
        with self._blobs.writing():
            sha = self._blobs.put_bytes(data)  # before the transaction: a crash leaves at most an unused blob
            with self._db.transaction() as session:
                dossier = self._load(session, number)
                self._require_editable(dossier)
                slot = self._find_slot(dossier, material, party_key) if material else None
                page = Page(
                    dossier_id=dossier.id,
                    slot_id=slot.id if slot else None,
                    slot_by_clerk=slot is not None,
                    material_guess=slot.material if slot else None,
                    material_basis="clerk" if slot else None,
                    position=len(dossier.pages) + 1,
                    sha256=sha,
                    source_name=source_name[:255],
                    media_type=media_type,
                    size=len(data),
                )
                dossier.pages.append(page)
                if slot is not None:
                    slot.satisfied = True
                session.flush()
                self._change(
                    session,
                    actor,
                    dossier,
                    "dossier.page_add",
                    {
                        "page_id": page.id,
                        "sha256": sha,
                        "source_name": page.source_name,
                        "material": slot.material if slot else None,
                        "party_key": slot.party_key if slot else None,
                        "position": page.position,
                    },
                )
                return _page_view(page, slot)

    def waive(
        self, actor: Actor, number: str, *, material: str, reason: str, party_key: str | None = None
    ) -> DossierDetail:
        """A clerk-recorded waiver: the slot no longer blocks submission, and why is on record."""
        require(actor, Permission.DOSSIER_WAIVE)
        reason = (reason or "").strip()
        if not reason:
            raise UsageError("a waiver needs a reason")
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            slot = self._find_slot(dossier, material, party_key)
            slot.waived, slot.waiver_reason, slot.waived_by = True, reason[:1000], actor.user_id
            self._change(
                session,
                actor,
                dossier,
                "dossier.waive",
                {"material": slot.material, "party_key": slot.party_key, "reason": slot.waiver_reason},
            )
            return self._detail(session, dossier)

    def submit(self, actor: Actor, number: str) -> DossierDetail:
        """受理: refused with the complete list of what is missing (一次性告知)."""
        require(actor, Permission.DOSSIER_SUBMIT)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            biz = self._catalogue.business(dossier.business_code)
            action = Action.RESUBMIT if dossier.status == Status.RETURNED.value else Action.SUBMIT
            new_state = apply(self._state(dossier), action, self._plan(dossier))
            check_submit(biz, _party_refs(dossier), dossier.conditions, _slot_states(dossier))
            check_signed(self._station_kind, signing_from_json(dossier.signing))
            now = utcnow()
            answers: dict[int, str] = {}
            if action is Action.SUBMIT:
                dossier.accepted_at = now  # 受理: the time-limit clock starts (R19)
            else:
                check_addressed(session, dossier)  # every item of the 补正 notice, before anything is sent
                returned = latest_return(session, dossier.id)
                answers = answers_of(session, returned.id) if returned is not None else {}
                end_supplement_pause(session, dossier.id, now, actor.username)
                prefer_returning_reviewer(session, dossier, now, self._same_reviewer)
            RegisterBook(self._db).refresh_findings(session, dossier)  # restrictions on the unit (查封, 抵押…)
            overridden = open_errors(session, dossier.id)  # submitted past open errors: who, and which
            extra = {"overridden_findings": overridden} if overridden else {}
            self._move(session, actor, dossier, action, new_state, extra, with_content=True, answers=answers)
            return self._detail(session, dossier)

    def record_signing(
        self, actor: Actor, number: str, *, witness: str, method: str, result: str, reference: str
    ) -> DossierDetail:
        """Who witnessed the applicants' signing and how (R8–R12): an extended window, a field office or a kiosk
        records it before 受理. A later record replaces an earlier one; both stay in the audit trail."""
        require(actor, Permission.DOSSIER_EDIT)
        signing = check_signing(witness, method, result, reference)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            record = {**signing.to_json(), "at": utcnow().isoformat(), "by": actor.username}
            dossier.signing = record
            self._change(session, actor, dossier, "dossier.signing", record)
            return self._detail(session, dossier)

    def set_conditions(self, actor: Actor, number: str, conditions: Sequence[str]) -> DossierDetail:
        """Choose the dossier's conditions anew (夫妻共有, 划拨土地, 变更事项…) before 受理 or at 补正.

        The checklist follows: new slots are added; a slot no condition asks for any more leaves the dossier, and
        its pages go back to the unsorted pile (kept, never deleted)."""
        require(actor, Permission.DOSSIER_EDIT)
        conds = tuple(dict.fromkeys(c.strip() for c in conditions if c.strip()))
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            biz = self._catalogue.business(dossier.business_code)
            validate_new_dossier(biz, dossier.applicant_kind, conds)
            before = list(dossier.conditions or [])
            if list(conds) == before:
                return self._detail(session, dossier)
            dossier.conditions = list(conds)
            self._rebuild_slots(session, dossier, biz)
            dropped = _drop_stale_slots(session, dossier, biz)
            self._change(
                session,
                actor,
                dossier,
                "dossier.conditions",
                {"from": before, "to": list(conds), "dropped_slots": dropped},
                wire={"conditions": list(conds)},
            )
            return self._detail(session, dossier)

    def answer(self, actor: Actor, number: str, item: int, note: str) -> DossierDetail:
        """The clerk's note on one item of the 补正 notice: how it was addressed (kept; sent with the resubmission)."""
        require(actor, Permission.DOSSIER_EDIT)
        note = " ".join(note.split())[:1000]
        if not note:
            raise UsageError("say how the item was addressed (the note is kept with the notice)")
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            if dossier.status != Status.RETURNED.value:
                raise UsageError(f"{number} is {dossier.status}: only a dossier returned for 补正 takes answers")
            returned = latest_return(session, dossier.id)
            count = len(returned.items or []) if returned is not None else 0
            if returned is None or not 1 <= item <= count:
                raise UsageError(f"{number}'s 补正 notice has {count} item(s); there is no item {item}")
            record_answers(session, dossier, returned.id, {item: note}, actor.username)
            audit.append(
                session,
                station_id=self._station,
                actor=actor.username,
                action="dossier.supplement_answer",
                entity="dossier",
                entity_id=dossier.id,
                payload={"number": dossier.number, "decision_id": returned.id, "item": item, "note": note},
            )
            return self._detail(session, dossier)

    def withdraw(self, actor: Actor, number: str, *, reason: str = "") -> DossierDetail:
        """撤回: all applicants may withdraw before 登簿 (细则 §13)."""
        require(actor, Permission.DOSSIER_WITHDRAW)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            new_state = apply(self._state(dossier), Action.WITHDRAW, self._plan(dossier))
            ended = None
            for lease in session.execute(
                select(Assignment).where(Assignment.dossier_id == dossier.id, Assignment.state == "active")
            ).scalars():
                # A reviewer's decision under this lease will now be refused as a conflict.
                lease.state, lease.ended_at, ended = "ended", utcnow(), lease.lease_id
            dossier.lease_expires_at = None
            why = reason.strip()[:1000]
            self._move(
                session, actor, dossier, Action.WITHDRAW, new_state, {"reason": why, "lease": ended}, {"reason": why}
            )
            return self._detail(session, dossier)

    def refuse_intake(self, actor: Actor, number: str, reason_code: str, *, note: str = "") -> DossierDetail:
        """不予受理 at the window (条例 §17): the draft ends, with a written notice naming the reason and its basis."""
        require(actor, Permission.DOSSIER_SUBMIT)
        reason = load_notice_rules().intake_reason(reason_code)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            new_state = apply(self._state(dossier), Action.REFUSE_INTAKE, self._plan(dossier))
            why = note.strip()[:1000]
            extra = {"reason_code": reason.code, "reason": reason.text, "basis": reason.basis, "note": why}
            self._move(
                session,
                actor,
                dossier,
                Action.REFUSE_INTAKE,
                new_state,
                extra,
                {"reason_code": reason.code, "note": why},
            )
            return self._detail(session, dossier)

    # -- the clerk's hand on pages and fields ------------------------------------------------------------

    def move_page(
        self, actor: Actor, number: str, page_id: str, *, material: str | None, party_key: str | None = None
    ) -> DossierDetail:
        """Put a page in the slot of `material` (and party), or take it out of any slot (material None)."""
        from workstation.services.ocr_jobs import refresh_dossier

        require(actor, Permission.DOSSIER_EDIT)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            page = self._page(dossier, page_id)
            slot = self._find_slot(dossier, material, party_key) if material else None
            before = page.material_guess
            page.slot_id = slot.id if slot else None
            page.slot_by_clerk = True
            page.material_guess = slot.material if slot else (material or page.material_guess)
            page.material_basis = "clerk"
            refresh_dossier(session, dossier)
            moved = {"page_id": page.id, "to": page.material_guess, "party_key": slot.party_key if slot else None}
            self._change(session, actor, dossier, "page.move", {**moved, "from": before}, wire=moved)
            return self._detail(session, dossier)

    def reorder_page(self, actor: Actor, number: str, page_id: str, *, position: int) -> DossierDetail:
        """Move a page to `position` (1-based) in the dossier; the others close up around it."""
        require(actor, Permission.DOSSIER_EDIT)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            page = self._page(dossier, page_id)
            pages = sorted(dossier.pages, key=lambda p: p.position)
            if not 1 <= position <= len(pages):
                raise UsageError(f"position must be between 1 and {len(pages)}")
            before = page.position
            pages.remove(page)
            pages.insert(position - 1, page)
            # Two passes keep positions unique if a database ever enforces it.
            for i, p in enumerate(pages, start=1):
                p.position = -i
            session.flush()
            for p in pages:
                p.position = -p.position
            self._change(
                session,
                actor,
                dossier,
                "page.reorder",
                {"page_id": page.id, "from": before, "to": position},
                wire={"page_id": page.id, "to": position},
            )
            return self._detail(session, dossier)

    def rotate_page(self, actor: Actor, number: str, page_id: str, *, degrees: int) -> DossierDetail:
        """Turn a page's image by a quarter turn (clockwise positive), for display and export."""
        require(actor, Permission.DOSSIER_EDIT)
        if degrees % 90:
            raise UsageError("pages turn in quarter turns: 90, 180 or 270 degrees")
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            page = self._page(dossier, page_id)
            page.rotation = (page.rotation + degrees) % 360
            self._change(session, actor, dossier, "page.rotate", {"page_id": page.id, "rotation": page.rotation})
            return self._detail(session, dossier)

    def delete_page(self, actor: Actor, number: str, page_id: str, *, reason: str) -> DossierDetail:
        """Soft delete: the page leaves the dossier's view and its slot, its blob and history stay."""
        from workstation.services.ocr_jobs import refresh_dossier

        require(actor, Permission.DOSSIER_EDIT)
        if not reason.strip():
            raise UsageError("say why the page is removed")
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            page = self._page(dossier, page_id)
            page.deleted, page.slot_id = True, None
            refresh_dossier(session, dossier)
            self._change(session, actor, dossier, "page.delete", {"page_id": page.id, "reason": reason.strip()[:500]})
            return self._detail(session, dossier)

    def confirm_field(
        self, actor: Actor, number: str, page_id: str, key: str, *, value: str | None = None
    ) -> DossierDetail:
        """The clerk confirms a read value, or corrects it (`value`); identifiers are checked again."""
        from workstation.services.ocr_jobs import refresh_dossier

        require(actor, Permission.DOSSIER_EDIT)
        with self._db.transaction() as session:
            dossier = self._load(session, number)
            self._require_editable(dossier)
            page = self._page(dossier, page_id)
            field = session.execute(
                select(Field).where(Field.page_id == page.id, Field.key == key)
            ).scalar_one_or_none()
            if field is None and value is None:
                raise NotFound(f"page {page.position} has no field {key} to confirm")
            if field is None:
                field = Field(dossier_id=dossier.id, page_id=page.id, key=key, value="", confidence=1.0)
                session.add(field)
            before = field.value
            if value is not None:
                field.value, field.valid = _checked_value(key, value)
                field.confidence = 1.0
                field.source = "reviewer" if UserRole.REVIEWER in actor.roles else "clerk"  # typed, not read
            field.confirmed_by, field.confirmed_at = actor.user_id, utcnow()
            refresh_dossier(session, dossier)
            masked = key in ("id_number",)
            shown = mask_id(field.value) if masked else field.value
            self._change(
                session,
                actor,
                dossier,
                "field.confirm",
                {"page_id": page.id, "key": key, "from": mask_id(before) if masked else before, "to": shown},
                wire={"page_id": page.id, "key": key, "value": shown if value is not None else None},
            )
            return self._detail(session, dossier)

    def page_lines(self, number: str, page_id: str) -> Sequence[tuple[str, tuple[int, int, int, int], float]]:
        """A page's OCR lines with their boxes, for the text-beside-the-image view."""
        with self._db.read() as session:
            page = self._page(self._load(session, number), page_id)
            return [
                (str(t), (int(b[0]), int(b[1]), int(b[2]), int(b[3])), float(c)) for t, b, c in page.ocr_lines or []
            ]

    # -- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _page(dossier: Dossier, page_id: str) -> Page:
        page = next((p for p in dossier.pages if p.id == page_id and not p.deleted), None)
        if page is None:
            raise NotFound(f"dossier {dossier.number} has no page {page_id}")
        return page

    def _load(self, session: Session, number: str, *, lock: bool = True) -> Dossier:
        """The dossier with its parties, slots and pages; its row locked (PostgreSQL) unless only read.

        The lock makes a change here and a reviewer's decision on the same dossier take turns, so neither
        writes over the other's stage, status or version.
        """
        if not _NUMBER.match(number or ""):
            raise UsageError(f"'{number[:80]}' is not a dossier number (受理号), e.g. {self._station}-2026-000001")
        query = (
            select(Dossier)
            .where(Dossier.number == number)
            .options(selectinload(Dossier.parties), selectinload(Dossier.slots), selectinload(Dossier.pages))
        )
        if lock:
            query = query.with_for_update(of=Dossier)
        dossier = session.execute(query).scalar_one_or_none()
        if dossier is None:
            raise NotFound(f"no dossier {number}")
        return dossier

    @staticmethod
    def _state(dossier: Dossier) -> DossierState:
        return DossierState(stage=Stage(dossier.stage), status=Status(dossier.status))

    @staticmethod
    def _plan(dossier: Dossier) -> tuple[Stage, ...]:
        return tuple(Stage(s) for s in dossier.stage_plan.split())

    @staticmethod
    def _require_editable(dossier: Dossier) -> None:
        if dossier.status not in (Status.DRAFT.value, Status.RETURNED.value):
            raise UsageError(
                f"dossier {dossier.number} is {dossier.status}; only a draft or a returned dossier can be changed"
            )

    def _find_slot(self, dossier: Dossier, material: str, party_key: str | None) -> MaterialSlot:
        code = material.strip().upper()
        candidates = [
            s
            for s in dossier.slots
            if (s.material == code or code in s.accepts) and (party_key is None or s.party_key == party_key)
        ]
        if not candidates:
            known = ", ".join(sorted({s.material for s in dossier.slots}))
            raise UsageError(f"dossier {dossier.number} has no slot for {code}; its slots: {known}")
        if len({s.party_key for s in candidates}) > 1:
            keys = ", ".join(sorted(str(s.party_key) for s in candidates))
            raise UsageError(f"{code} is needed from several parties ({keys}); say which with the party key")
        # A second copy of a material fills the next open slot for it, if the checklist asks for two.
        return next((s for s in candidates if not s.satisfied), candidates[0])

    def _rebuild_slots(self, session: Session, dossier: Dossier, biz: Business) -> None:
        """Add the slots the checklist now asks for; existing slots keep their state.

        Matched as a multiset of (material, party): a checklist may ask for the same material twice
        (e.g. M25 for a name change and for an ID-number change).
        """
        have = Counter((s.material, s.party_key) for s in dossier.slots)
        position = len(dossier.slots)
        for spec in slots_for(biz, _party_refs(dossier), dossier.conditions):
            key = (spec.material, spec.party_key)
            if have[key]:
                have[key] -= 1
                continue
            position += 1
            dossier.slots.append(
                MaterialSlot(
                    dossier_id=dossier.id,
                    position=position,
                    material=spec.material,
                    accepts=list(spec.accepts),
                    party_key=spec.party_key,
                    label=spec.label,
                    required=spec.required,
                )
            )
        session.flush()

    def _move(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        action: Action,
        new_state: DossierState,
        extra: dict[str, Any],
        wire: dict[str, Any] | None = None,
        *,
        with_content: bool = False,
        answers: dict[int, str] | None = None,
    ) -> None:
        """Move the dossier; `with_content` sends its content to the registry with the request (受理, 补正)."""
        before = self._state(dossier)
        dossier.stage, dossier.status = new_state.stage.value, new_state.status.value
        wire = dict(extra if wire is None else wire)
        if with_content:
            from workstation.services.manifest import dossier_content

            session.flush()
            wire = {
                "content": dossier_content(session, dossier),
                "accepted_at": dossier.accepted_at.isoformat() if dossier.accepted_at else None,
            }
            if action is Action.RESUBMIT:
                wire["answers"] = [{"item": n, "note": note} for n, note in sorted((answers or {}).items())]
        self._change(
            session,
            actor,
            dossier,
            f"dossier.{action.value.lower()}",
            {
                "from": {"stage": before.stage.value, "status": before.status.value},
                "to": {"stage": new_state.stage.value, "status": new_state.status.value},
                **extra,
            },
            wire=wire,
        )

    def _change(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        action: str,
        payload: dict[str, Any],
        *,
        wire: dict[str, Any] | None = None,
    ) -> None:
        """One change by the clerk: audited as `payload`, sent as `wire` (default: the same)."""
        self._recorder.change(session, actor.username, dossier, action, payload, wire=payload if wire is None else wire)

    def _summary(self, dossier: Dossier) -> DossierSummary:
        applicant = next((p.name for p in dossier.parties if p.key == "p1"), None)
        return DossierSummary(
            id=dossier.id,
            number=dossier.number,
            business=dossier.business_code,
            business_name=self._business_name(dossier.business_code),
            applicant_kind=dossier.applicant_kind,
            applicant=applicant,
            channel=dossier.channel,
            stage=dossier.stage,
            status=dossier.status,
            applied_at=dossier.applied_at,
            version=dossier.version,
        )

    def _business_name(self, code: str) -> str:
        try:
            return self._catalogue.business(code).name
        except DomainError:
            return code

    def _detail(self, session: Session, dossier: Dossier) -> DossierDetail:
        biz = self._catalogue.business(dossier.business_code)
        role_labels = {r.name: r.label for r in biz.roles}
        slots_by_id = {s.id: s for s in dossier.slots}
        fields = session.execute(
            select(Field, User.username)
            .outerjoin(User, User.id == Field.confirmed_by)
            .where(Field.dossier_id == dossier.id)
            .order_by(Field.key, Field.id)
        ).all()
        live = {
            p.id: (slots_by_id[p.slot_id].material if p.slot_id in slots_by_id else p.material_guess) or ""
            for p in dossier.pages
            if not p.deleted
        }
        # How sure each value read is once the dossier's other pages are taken into account. A value a person set
        # or confirmed is theirs and keeps what it shows, but it is the surest witness for the other pages.
        sure = corroborate(
            Reading(
                f.page_id,
                f.key,
                f.value,
                1.0 if _by_person(f) else f.confidence,
                f.valid is not False,
                live[f.page_id],
                by_person=_by_person(f),
            )
            for f, _ in fields
            if f.page_id in live
        )
        # Why a page failed or is being read again: one query for the whole dossier, not one per page.
        ocr_errors: dict[str, str] = {
            page_id: str(error)
            for page_id, error in session.execute(
                select(OcrJob.page_id, OcrJob.error)
                .join(Page, Page.id == OcrJob.page_id)
                .where(Page.dossier_id == dossier.id, OcrJob.error.is_not(None))
            )
        }
        findings = session.execute(
            select(Finding).where(Finding.dossier_id == dossier.id).order_by(Finding.created_at, Finding.id)
        ).scalars()
        missing: tuple[str, ...] = ()
        if dossier.status in (Status.DRAFT.value, Status.RETURNED.value):
            missing = tuple(
                str(m) for m in missing_for_submit(biz, _party_refs(dossier), dossier.conditions, _slot_states(dossier))
            )
        return DossierDetail(
            id=dossier.id,
            number=dossier.number,
            station_id=dossier.station_id,
            business=biz.code,
            business_name=biz.name,
            registration_type=dossier.registration_type,
            channel=dossier.channel,
            applicant_kind=dossier.applicant_kind,
            digitized=dossier.digitized,
            hall_mode=dossier.hall_mode,
            stages=tuple(dossier.stage_plan.split()),
            conditions=tuple(dossier.conditions),
            stage=dossier.stage,
            status=dossier.status,
            applied_at=dossier.applied_at,
            created_by=dossier.created_by,
            version=dossier.version,
            parties=tuple(
                PartyView(
                    key=p.key,
                    role=p.role,
                    role_label=role_labels.get(p.role, p.role),
                    kind=p.kind,
                    name=p.name,
                    id_type=p.id_type,
                    id_value=p.id_value,
                )
                for p in dossier.parties
            ),
            slots=tuple(
                SlotView(
                    material=s.material,
                    label=s.label,
                    accepts=tuple(s.accepts),
                    party_key=s.party_key,
                    required=s.required,
                    satisfied=s.satisfied,
                    waived=s.waived,
                    waiver_reason=s.waiver_reason,
                )
                for s in dossier.slots
            ),
            pages=tuple(
                _page_view(p, slots_by_id.get(p.slot_id or ""), ocr_errors.get(p.id))
                for p in sorted(dossier.pages, key=lambda p: p.position)
                if not p.deleted
            ),
            fields=tuple(
                FieldView(
                    key=f.key,
                    value=f.value,
                    confidence=f.confidence if _by_person(f) else sure.get((f.page_id or "", f.key), f.confidence),
                    valid=f.valid,
                    page_id=f.page_id,
                    # From the registry the confirmer's name does not travel: "confirmed" (read by OCR, confirmed as
                    # read at the window) and a typed value ("clerk", "reviewer") were each confirmed by a person.
                    confirmed=_by_person(f),
                    confirmed_by=username if f.confirmed_by is not None else None,
                    source=f.source if f.source in ("clerk", "reviewer") else "ocr",
                )
                for f, username in fields
            ),
            findings=tuple(
                FindingView(rule=f.rule, severity=f.severity, message=f.message, page_ids=tuple(f.page_ids))
                for f in findings
            ),
            missing=missing,
            accepted_at=dossier.accepted_at,
            supplement=supplement_view(session, dossier),
            signing=dict(dossier.signing) if dossier.signing else None,
        )


def _drop_stale_slots(session: Session, dossier: Dossier, biz: Business) -> list[str]:
    """Remove the slots the checklist no longer asks for; their pages stay in the dossier, unsorted."""
    want = Counter((spec.material, spec.party_key) for spec in slots_for(biz, _party_refs(dossier), dossier.conditions))
    keep: list[MaterialSlot] = []
    dropped: list[MaterialSlot] = []
    # Filled slots are kept first, so a page already sorted stays where it is.
    for slot in sorted(dossier.slots, key=lambda s: (not s.satisfied, s.position)):
        key = (slot.material, slot.party_key)
        if want[key]:
            want[key] -= 1
            keep.append(slot)
        else:
            dropped.append(slot)
    if not dropped:
        return []
    gone = {s.id for s in dropped}
    for page in dossier.pages:
        if page.slot_id in gone:
            page.slot_id = None
    for slot in dropped:
        dossier.slots.remove(slot)
    session.flush()
    for position, slot in enumerate(sorted(keep, key=lambda s: s.position), start=1):
        slot.position = -position
    session.flush()
    for slot in keep:
        slot.position = -slot.position
    session.flush()
    return [s.material for s in dropped]


def _party_refs(dossier: Dossier) -> list[PartyRef]:
    return [PartyRef(key=p.key, role=p.role, kind=p.kind, name=p.name) for p in dossier.parties]


def _slot_states(dossier: Dossier) -> list[SlotState]:
    return [
        SlotState(
            material=s.material, party_key=s.party_key, required=s.required, satisfied=s.satisfied, waived=s.waived
        )
        for s in dossier.slots
    ]


def _page_view(page: Page, slot: MaterialSlot | None, ocr_error: str | None = None) -> PageView:
    return PageView(
        id=page.id,
        position=page.position,
        sha256=page.sha256,
        source_name=page.source_name,
        media_type=page.media_type,
        size=page.size,
        material=slot.material if slot else page.material_guess,
        party_key=slot.party_key if slot else None,
        ocr_status=page.ocr_status,
        rotation=page.rotation,
        ocr_error=ocr_error if page.ocr_status in ("failed", "queued") else None,
    )


def _party_payload(party: Party) -> dict[str, Any]:
    return {
        "id": party.id,
        "key": party.key,
        "position": party.position,
        "role": party.role,
        "kind": party.kind,
        "name": party.name,
        "id_type": party.id_type,
        "id_value": mask_id(party.id_value),
    }


def _checked_value(key: str, value: str) -> tuple[str, bool | None]:
    """A clerk's value, normalised; identifiers get their check again (a wrong one stays marked invalid)."""
    from ocr.codes import check_cert_number, check_id_number, check_unit_number, check_uscc

    checks = {
        "uscc": check_uscc,
        "id_number": check_id_number,
        "unit_number": check_unit_number,
        "cert_number": check_cert_number,
    }
    text = " ".join(value.split())
    if not text:
        raise UsageError(f"an empty value for {key}; remove the page or leave the field unconfirmed instead")
    if key in checks:
        result = checks[key](text)
        return result.value, result.valid
    return "".join(text.split()) if key not in ("registration_type",) else text, True


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = "".join(name.split())
    if len(cleaned) > _NAME_MAX:
        raise UsageError(f"a name may have at most {_NAME_MAX} characters")
    return cleaned or None


def check_identifier(
    kind: str, value: str | None, *, strict: bool = False, where: str = ""
) -> tuple[str | None, str | None]:
    """A person's 身份证号 or an enterprise's 统一社会信用代码, checked and normalised: (id_type, value).

    `strict`: a number that fails its check character is refused too (typed by the applicant on a partner's
    platform, with no clerk to look at the card); at a window a warning is enough. `where` prefixes the message."""
    if value is None or not value.strip():
        return None, None
    prefix = f"{where}: " if where else ""
    try:
        check = parse_id_number(value) if kind == "individual" else parse_uscc(value)
    except CodeError as exc:
        raise UsageError(f"{prefix}{exc}") from None
    if strict and not check.valid:
        problems = "; ".join((*check.errors, *check.warnings)) or "not valid"
        raise UsageError(f"{prefix}invalid {ID_LABELS.get(check.kind, check.kind)} '{check.value}': {problems}")
    return check.kind, check.value


def _by_person(field: Field) -> bool:
    """A value a person confirmed or typed (at this desk, or as the registry says: its confirmer's name does not
    travel)."""
    return field.confirmed_by is not None or field.source in ("confirmed", "clerk", "reviewer")
