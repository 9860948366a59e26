"""Fees, payment and delivery: what stands between 登簿 and 发证 (R6, R10–R11).

The amount due is assessed from the fee schedule (`domain.fees`, data) by the dossier's business and the use of
its property, as its fields say now, until it is paid; the payment then keeps the assessment it paid. A payment
is taken at the comprehensive window by QR scan, online, or in cash with a receipt number, for exactly what is
due, and gets a 票据 number, gap-free per year. 发证 refuses a dossier that owes anything, or whose certificate
has no way to the applicant yet: collected at the window or a community point by a person whose ID is checked,
or sent by free EMS with a waybill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import workstation.domain.delivery as post
from workstation.domain.catalogue import Catalogue
from workstation.domain.errors import DomainError
from workstation.domain.fees import FeeError, assess, check_payment, classify_use, fen, load_fees, yuan
from workstation.domain.permissions import Actor, Permission, require
from workstation.domain.register import load_register_rules
from workstation.domain.stages import Status
from workstation.errors import UsageError
from workstation.services import audit
from workstation.services.changes import Recorder
from workstation.services.clocks import load_dossier
from workstation.services.register import dossier_values
from workstation.services.views import OFFICE_TZ
from workstation.store.db import Database, next_counter
from workstation.store.models import Charge, DeliveryRow, Dossier, RegisterEntry
from workstation.store.types import parse_instant, utcnow


class Unsettled(DomainError):
    """发证 refused: fees unpaid, or no way chosen for the certificate to reach the applicant."""


@dataclass(frozen=True)
class ChargeView:
    number: str
    due: str  # yuan, e.g. "80.00"; "" when the assessment cannot be made yet
    items: tuple[tuple[str, str], ...]  # (label, yuan)
    use: str
    exemptions: tuple[str, ...]
    free: bool
    paid: bool
    problem: str  # why the amount cannot be assessed yet (the use unknown…)
    method: str | None = None
    reference: str | None = None
    receipt_number: str | None = None
    paid_at: datetime | None = None
    payer_role: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "due_yuan": self.due,
            "items": [{"label": label, "yuan": amount} for label, amount in self.items],
            "use": self.use,
            "exemptions": list(self.exemptions),
            "free": self.free,
            "paid": self.paid,
            "problem": self.problem,
            "method": self.method,
            "reference": self.reference,
            "receipt_number": self.receipt_number,
            "paid_at": self.paid_at.isoformat() if self.paid_at else None,
            "payer_role": self.payer_role,
        }


@dataclass(frozen=True)
class DeliveryView:
    number: str
    state: dict[str, Any]
    history: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "delivery": self.state, "history": list(self.history)}


class SettleService:
    """Where this database decides (a desk alone, the registry) payments get their 票据 number here; a desk with a
    registry (`mirrored`) records them as requests the registry applies, and mirrors its numbers back."""

    def __init__(self, db: Database, catalogue: Catalogue, *, recorder: Recorder | None = None, mirrored: bool = False):
        self._db = db
        self._catalogue = catalogue
        self._fees = load_fees()
        self._recorder = recorder
        self._mirrored = mirrored

    # -- fees -------------------------------------------------------------------------------------------------

    def charge(self, number: str) -> ChargeView:
        with self._db.read() as session:
            dossier = load_dossier(session, number)
            return self._view(session, dossier)

    def assessment_in(self, session: Session, dossier: Dossier) -> tuple[Any, str]:
        """(FeeAssessment or None, problem) for the dossier as it stands, or as it was paid."""
        row = session.get(Charge, dossier.id)
        if row is not None and row.paid_at is not None:
            return row.assessment, ""
        exemptions = tuple(row.exemptions or ()) if row is not None else ()
        values = dossier_values(session, dossier.id)
        biz = self._catalogue.business(dossier.business_code)
        try:
            found = assess(
                self._fees,
                business_code=dossier.business_code,
                registration_type=biz.registration_type,
                use=classify_use(values.get("use")),
                certificates=self._certificates(session, dossier),
                exemptions=exemptions,
            )
        except FeeError as exc:
            return None, str(exc)
        return found.to_json(), ""

    def exempt(self, actor: Actor, number: str, exemptions: list[str]) -> ChargeView:
        """The exemptions (e.g. small_micro 小微企业) the applicant proved; refused once paid."""
        require(actor, Permission.ISSUE)
        with self._db.transaction() as session:
            dossier = load_dossier(session, number, lock=True)
            row = self._row(session, dossier)
            if row.paid_at is not None:
                raise UsageError(f"{number} is paid ({row.receipt_number}); exemptions can no longer change")
            unknown = sorted(set(exemptions) - set(self._fees.exemptions))
            if unknown:
                known = ", ".join(self._fees.exemptions)
                raise UsageError(f"unknown exemption {', '.join(unknown)}; known: {known}")
            row.exemptions = sorted(set(exemptions))
            _note(session, actor, dossier, "fee.exempt", {"exemptions": row.exemptions})
            return self._view(session, dossier)

    def pay(
        self,
        actor: Actor,
        number: str,
        *,
        method: str,
        amount: str,
        reference: str,
    ) -> ChargeView:
        """A payment at the comprehensive window (R6): exactly what is due, by QR, online or cash."""
        require(actor, Permission.ISSUE)
        try:
            paid = fen(amount)
        except FeeError as exc:
            raise UsageError(str(exc)) from None
        with self._db.transaction() as session:
            dossier = load_dossier(session, number, lock=True)
            self.pay_in(session, actor, dossier, method=method, amount_fen=paid, reference=reference)
            return self._view(session, dossier)

    def pay_in(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        *,
        method: str,
        amount_fen: int,
        reference: str,
        exemptions: list[str] | None = None,
        station_id: str | None = None,
    ) -> Charge:
        """The payment of the locked `dossier` in the caller's transaction (who may is the caller's check)."""
        number = dossier.number
        if dossier.status not in (Status.REGISTERED.value, Status.SUBMITTED.value, Status.IN_REVIEW.value):
            raise UsageError(f"{number} is {dossier.status}: fees are paid between 受理 and 发证")
        row = self._row(session, dossier)
        if row.paid_at is not None:
            raise UsageError(f"{number} is already paid (票据 {row.receipt_number or '-'}, {row.reference})")
        if exemptions is not None:
            row.exemptions = sorted(set(exemptions))
        assessment, problem = self.assessment_in(session, dossier)
        if assessment is None:
            raise UsageError(f"{number}: the fee cannot be assessed: {problem}")
        try:
            check_payment(int(assessment["total_fen"]), method=method, amount_fen=amount_fen, reference=reference)
        except FeeError as exc:
            raise UsageError(str(exc)) from None
        now = utcnow()
        row.assessment, row.due_fen, row.paid_fen = assessment, int(assessment["total_fen"]), amount_fen
        row.method, row.reference, row.paid_at = method, reference.strip(), now
        if not self._mirrored:  # the 票据 is numbered where payments are decided
            year = now.astimezone(OFFICE_TZ).year
            row.receipt_number = f"PJ{year}{next_counter(session, f'receipt:fee:{year}'):08d}"
        row.recorded_by, row.updated_at = actor.username, now
        told = {"method": method, "amount_fen": amount_fen, "reference": row.reference, "exemptions": row.exemptions}
        shown = {"amount_yuan": yuan(amount_fen), "method": method, "receipt_number": row.receipt_number}
        self._record(session, actor, dossier, "fee.pay", shown, told, station_id)
        return row

    # -- delivery ---------------------------------------------------------------------------------------------

    def delivery(self, number: str) -> DeliveryView | None:
        with self._db.read() as session:
            dossier = load_dossier(session, number)
            row = session.get(DeliveryRow, dossier.id)
            return None if row is None else DeliveryView(number, dict(row.state), tuple(row.history or ()))

    def deliver(self, actor: Actor, number: str, action: str, **details: str) -> DeliveryView:
        """One step of the certificate's way to the applicant: choose (method…), collect, ship, delivered, returned."""
        require(actor, Permission.ISSUE)
        with self._db.transaction() as session:
            dossier = load_dossier(session, number, lock=True)
            row = self.deliver_in(session, actor, dossier, action, details)
            return DeliveryView(number, dict(row.state), tuple(row.history))

    def deliver_in(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        action: str,
        details: dict[str, str],
        *,
        station_id: str | None = None,
    ) -> DeliveryRow:
        if dossier.status in (Status.WITHDRAWN.value, Status.REJECTED.value, Status.REFUSED.value):
            raise UsageError(f"{dossier.number} is {dossier.status}: nothing is delivered")
        row = session.get(DeliveryRow, dossier.id)
        now = utcnow()
        try:
            state = self._step(session, dossier, row, action, details)
        except post.DeliveryError as exc:
            raise UsageError(str(exc)) from None
        if row is None:
            row = DeliveryRow(dossier_id=dossier.id, state={}, history=[])
            session.add(row)
        row.state = state.to_json()
        shown = {k: v for k, v in details.items() if v and k != "id_number"}
        event = {"at": now.isoformat(), "by": actor.username, "action": action, **shown}
        row.history = [*(row.history or []), event]
        row.updated_at = now
        told = {"action": action, **{k: v for k, v in details.items() if v}}
        self._record(session, actor, dossier, f"delivery.{action}", {"status": state.status, **shown}, told, station_id)
        return row

    def _record(
        self,
        session: Session,
        actor: Actor,
        dossier: Dossier,
        action: str,
        payload: dict[str, Any],
        told: dict[str, Any],
        station_id: str | None,
    ) -> None:
        """The audit event, and (from a desk with a registry) the request the registry applies."""
        if self._recorder is None:
            _note(session, actor, dossier, action, payload)
            return
        wire = told if self._mirrored else None
        kind = "fee.pay" if action == "fee.pay" else "delivery.step"
        self._recorder.note(
            session, actor.username, dossier, action, payload, wire=wire, station_id=station_id, op_kind=kind
        )

    def _step(
        self, session: Session, dossier: Dossier, row: DeliveryRow | None, action: str, details: dict[str, str]
    ) -> post.Delivery:
        if action == "choose":
            method = details.get("method", "")
            address = details.get("address", "")
            if method == "ems" and not address:
                values = dossier_values(session, dossier.id)
                address = values.get("mail_address") or values.get("location") or ""
            options = {
                "point": details.get("point", ""),
                "address": address,
                "recipient": details.get("recipient", ""),
                "phone": details.get("phone", ""),
            }
            if row is None:
                return post.start(method, **options)
            return post.redirect(post.Delivery.from_json(row.state), method, **options)
        if row is None:
            raise UsageError(
                f"{dossier.number}: choose how the certificate reaches the applicant first (delivery choose)"
            )
        current = post.Delivery.from_json(row.state)
        if action == "collect":
            return post.collect(current, name=details.get("name", ""), id_number=details.get("id_number", ""))
        if action == "ship":
            return post.ship(current, waybill=details.get("waybill", ""))
        if action in ("delivered", "returned"):
            return post.mark(current, action)
        raise UsageError(f"unknown delivery step {action!r}; one of choose, collect, ship, delivered, returned")

    # -- the gate of 发证 -------------------------------------------------------------------------------------

    def check_issuable(self, session: Session, dossier: Dossier) -> None:
        assessment, problem = self.assessment_in(session, dossier)
        if assessment is None:
            raise Unsettled(f"未能核定费用 {dossier.number}: {problem}; 发证 refused")
        row = session.get(Charge, dossier.id)
        if int(assessment["total_fen"]) > 0 and (row is None or row.paid_at is None):
            raise Unsettled(
                f"未缴费 {dossier.number} owes {yuan(int(assessment['total_fen']))} 元: record the payment first; "
                "发证 refused"
            )
        if self._certificates(session, dossier) == 0:
            return  # nothing to hand over (a cancellation)
        way = session.get(DeliveryRow, dossier.id)
        state = post.Delivery.from_json(way.state) if way is not None else None
        if state is None or state.status not in ("collected", "shipped", "delivered"):
            raise Unsettled(
                f"{dossier.number}: 证书尚未领取或寄出 the certificate is neither collected nor shipped yet; "
                "record the collection (with the collector's ID) or the EMS waybill first; 发证 refused"
            )

    # -- internals ------------------------------------------------------------------------------------------

    @staticmethod
    def _certificates(session: Session, dossier: Dossier) -> int:
        """Certificates or proofs the dossier's 登簿 issued (one before 登簿 unless the business issues none)."""
        numbers = session.execute(
            select(RegisterEntry.cert_number).where(
                RegisterEntry.dossier_id == dossier.id, RegisterEntry.cert_number.is_not(None)
            )
        ).scalars()
        count = len(list(numbers))
        if count or dossier.registered_at is not None:
            return count
        effect = load_register_rules().businesses.get(dossier.business_code)
        return 0 if effect is None or effect.certificate is None else 1

    def _row(self, session: Session, dossier: Dossier) -> Charge:
        row = session.get(Charge, dossier.id)
        if row is None:
            row = Charge(dossier_id=dossier.id, exemptions=[], assessment={}, due_fen=0, paid_fen=0)
            session.add(row)
            session.flush()
        return row

    def _view(self, session: Session, dossier: Dossier) -> ChargeView:
        row = session.get(Charge, dossier.id)
        assessment, problem = self.assessment_in(session, dossier)
        data = assessment or {}
        items = tuple((str(i.get("label")), yuan(int(i.get("amount_fen", 0)))) for i in data.get("items", ()))
        total = int(data.get("total_fen", 0))
        return ChargeView(
            number=dossier.number,
            due=yuan(total) if assessment is not None else "",
            items=items,
            use=str(data.get("use") or ""),
            exemptions=tuple(row.exemptions or ()) if row is not None else (),
            free=assessment is not None and total == 0,
            paid=row is not None and row.paid_at is not None,
            problem=problem,
            method=row.method if row is not None else None,
            reference=row.reference if row is not None else None,
            receipt_number=row.receipt_number if row is not None else None,
            paid_at=row.paid_at if row is not None else None,
            payer_role=data.get("payer_role"),
        )


def _note(session: Session, actor: Actor, dossier: Dossier, action: str, payload: dict[str, Any]) -> None:
    audit.append_here(
        session,
        actor=actor.username,
        action=action,
        entity="dossier",
        entity_id=dossier.id,
        payload={"number": dossier.number, **payload},
    )


def settle_json(session: Session, dossier: Dossier) -> dict[str, Any]:
    """The payment and delivery of a dossier as the registry's change feed carries them."""
    charge = session.get(Charge, dossier.id)
    way = session.get(DeliveryRow, dossier.id)
    return {
        "charge": None
        if charge is None
        else {
            "receipt_number": charge.receipt_number,
            "paid_fen": charge.paid_fen,
            "due_fen": charge.due_fen,
            "method": charge.method,
            "reference": charge.reference,
            "assessment": charge.assessment,
            "exemptions": charge.exemptions,
            "paid_at": charge.paid_at.isoformat() if charge.paid_at else None,
        },
        "delivery": None if way is None else {"state": way.state, "history": way.history},
    }


def mirror_settle(session: Session, dossier: Dossier, payload: dict[str, Any]) -> bool:
    """The registry's payment and delivery of a dossier, as its change feed brings them (a re-delivery changes
    nothing that matters)."""
    changed = False
    charge, way = payload.get("charge"), payload.get("delivery")
    if isinstance(charge, dict) and charge.get("paid_at"):
        row = session.get(Charge, dossier.id)
        if row is None:
            row = Charge(dossier_id=dossier.id, exemptions=[], assessment={}, due_fen=0, paid_fen=0)
            session.add(row)
        row.receipt_number = charge.get("receipt_number") or row.receipt_number
        row.paid_fen = int(charge.get("paid_fen") or 0)
        row.due_fen = int(charge.get("due_fen") or 0)
        row.method, row.reference = charge.get("method"), charge.get("reference")
        row.assessment = dict(charge.get("assessment") or {})
        row.exemptions = list(charge.get("exemptions") or [])
        row.paid_at = parse_instant(charge.get("paid_at"))
        row.updated_at = utcnow()
        changed = True
    if isinstance(way, dict) and isinstance(way.get("state"), dict):
        found = session.get(DeliveryRow, dossier.id)
        if found is None:
            found = DeliveryRow(dossier_id=dossier.id, state={}, history=[])
            session.add(found)
        found.state, found.history = dict(way["state"]), list(way.get("history") or [])
        found.updated_at = utcnow()
        changed = True
    return changed
