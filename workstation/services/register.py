"""The register (不动产登记簿) where this database decides: 登簿 entries, restrictions, certificate numbers.

A desk with no registry is its own registry and keeps the register here; the registry keeps the city's. A desk
with a registry keeps a mirror of the entries of its own dossiers, as the change feed brings them, and allocates
nothing. Numbers come from a gap-free counter in the 登簿's own transaction (`cert:KIND:YEAR`): a 登簿 that fails
or rolls back leaves no hole, and concurrent ones wait on the counter's row, so none is given twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workstation.domain.permissions import Actor, Permission, require
from workstation.domain.register import (
    KIND_LABELS,
    RESTRICTION_KINDS,
    Current,
    EntryFacts,
    Holder,
    Party,
    RegisterError,
    RegisterRules,
    load_register_rules,
    plan_booking,
    restriction_findings,
    valid_unit_number,
)
from workstation.errors import NotFound, UsageError
from workstation.services import audit
from workstation.services.clocks import load_dossier
from workstation.services.views import OFFICE_TZ
from workstation.store.db import Database, next_counter
from workstation.store.models import Dossier, Field, Finding, RegisterEntry
from workstation.store.types import parse_instant, utcnow

FINDING_PREFIX = "register."


@dataclass(frozen=True)
class EntryView:
    id: str
    unit_number: str
    kind: str
    kind_label: str
    state: str
    dossier_number: str | None
    business_code: str | None
    facts: dict[str, Any]
    cert_kind: str | None
    cert_number: str | None
    amends_id: str | None
    registered_at: datetime
    registered_by: str
    closed_at: datetime | None
    closed_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "unit_number": self.unit_number,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "state": self.state,
            "dossier": self.dossier_number,
            "business": self.business_code,
            "facts": self.facts,
            "cert_kind": self.cert_kind,
            "cert_number": self.cert_number,
            "amends_id": self.amends_id,
            "registered_at": self.registered_at.isoformat(),
            "registered_by": self.registered_by,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
        }


_FIELDS_OF = select(Field).where(Field.dossier_id == bindparam("dossier"))


def dossier_values(session: Session, dossier_id: str) -> dict[str, str]:
    """The dossier's value of each field as 登簿 takes it: what a person confirmed or typed first, then the surest
    valid reading (a reading shown invalid is never taken)."""
    best: dict[str, tuple[tuple[int, int, float], str]] = {}
    for field in session.execute(_FIELDS_OF, {"dossier": dossier_id}).scalars():
        value = " ".join((field.value or "").split())
        if not value or field.valid is False:
            continue
        person = field.source in ("clerk", "reviewer") or field.confirmed_by is not None
        rank = (int(person), int(field.valid is True), float(field.confidence or 0.0))
        if field.key not in best or rank > best[field.key][0]:
            best[field.key] = (rank, value)
    return {key: value for key, (_rank, value) in best.items()}


def entry_facts(row: RegisterEntry) -> EntryFacts:
    data = dict(row.facts or {})
    return EntryFacts(
        kind=row.kind,
        holders=tuple(Holder.from_json(h) for h in data.get("holders") or ()),
        obligors=tuple(Holder.from_json(h) for h in data.get("obligors") or ()),
        **{k: str(data.get(k) or "") for k in _PLAIN},
    )


_PLAIN = (
    "co_ownership",
    "right_type",
    "right_nature",
    "use",
    "area_m2",
    "location",
    "source",
    "amount_yuan",
    "term",
    "basis",
    "note",
)


def facts_json(facts: EntryFacts) -> dict[str, Any]:
    data: dict[str, Any] = {k: getattr(facts, k) for k in _PLAIN}
    data["holders"] = [h.to_json() for h in facts.holders]
    data["obligors"] = [h.to_json() for h in facts.obligors]
    return data


_REGISTER_FINDINGS = select(Finding).where(
    Finding.dossier_id == bindparam("dossier"),
    Finding.rule.like(f"{FINDING_PREFIX}%"),
    Finding.resolved.is_(False),
)


class RegisterBook:
    """Reads and writes the register inside the callers' transactions; `allocates` is False on a mirroring desk."""

    def __init__(self, db: Database, *, rules: RegisterRules | None = None, allocates: bool = True):
        self._db = db
        self.rules = rules or load_register_rules()
        self.allocates = allocates

    # -- reading -------------------------------------------------------------------------------------------

    def show(self, unit_number: str, *, current_only: bool = False) -> list[EntryView]:
        unit = _unit(unit_number)
        with self._db.read() as session:
            query = select(RegisterEntry).where(RegisterEntry.unit_number == unit)
            if current_only:
                query = query.where(RegisterEntry.state == "current")
            rows = list(session.execute(query.order_by(RegisterEntry.registered_at, RegisterEntry.id)).scalars())
            return [self._view(session, row) for row in rows]

    def of_dossier(self, session: Session, dossier_id: str) -> list[RegisterEntry]:
        return list(
            session.execute(
                select(RegisterEntry)
                .where(RegisterEntry.dossier_id == dossier_id)
                .order_by(RegisterEntry.registered_at, RegisterEntry.id)
            ).scalars()
        )

    def entries_of(self, number: str) -> list[EntryView]:
        with self._db.read() as session:
            dossier = load_dossier(session, number)
            return [self._view(session, row) for row in self.of_dossier(session, dossier.id)]

    def by_certificate(self, number: str) -> EntryView:
        cleaned = "".join(number.split()).replace("（", "(").replace("）", ")")
        with self._db.read() as session:
            row = session.execute(
                select(RegisterEntry).where(RegisterEntry.cert_number == cleaned)
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"登记簿中没有证书号 {cleaned} no certificate or proof with this number in the register")
            return self._view(session, row)

    def current(self, session: Session, unit: str) -> list[Current]:
        rows = session.execute(
            select(RegisterEntry)
            .where(RegisterEntry.unit_number == unit, RegisterEntry.state == "current")
            .order_by(RegisterEntry.registered_at, RegisterEntry.id)
        ).scalars()
        return [Current(row.id, entry_facts(row)) for row in rows]

    # -- 登簿 --------------------------------------------------------------------------------------------------

    def book_in(self, session: Session, dossier: Dossier, registrar: str, now: datetime) -> list[RegisterEntry]:
        """Write what 登簿 of the locked `dossier` does to its unit's register; the entries it opened.

        RegisterError when it cannot (no unit number, nothing to close or change, a seizure, …)."""
        values = dossier_values(session, dossier.id)
        unit = _unit(values.get("unit_number") or "", strict=False)
        if unit and not valid_unit_number(unit):
            raise RegisterError(
                f"{unit} 不是有效的不动产单元号 is not a 28-character unit number: correct the field first"
            )
        values["unit_number"] = unit
        parties = [Party(p.role, p.kind, p.name, p.id_type, p.id_value) for p in dossier.parties]
        booking = plan_booking(
            self.rules,
            dossier.business_code,
            parties,
            values,
            self.current(session, unit),
            conditions=tuple(dossier.conditions or ()),
        )
        for entry_id in booking.closes:
            row = session.get(RegisterEntry, entry_id, with_for_update=True)
            if row is None or row.state != "current":  # closed by another 登簿 since it was read
                raise RegisterError(f"登记簿已变化 the register of {unit} changed meanwhile; try 登簿 again")
            row.state, row.closed_at, row.closed_by = "closed", now, dossier.number
        opened = []
        for facts in booking.opens:
            row = RegisterEntry(
                unit_number=unit,
                kind=facts.kind,
                state="current",
                dossier_id=dossier.id,
                business_code=dossier.business_code,
                facts=facts_json(facts),
                amends_id=booking.amends,
                registered_at=now,
                registered_by=registrar,
            )
            if booking.certificate is not None and self.allocates:
                row.cert_kind = booking.certificate
                row.cert_number = self.allocate(session, booking.certificate, now)
            session.add(row)
            opened.append(row)
        session.flush()
        return opened

    def allocate(self, session: Session, kind: str, now: datetime) -> str:
        """The next certificate or proof number of `kind` for the year of `now` in the office's time zone."""
        year = now.astimezone(OFFICE_TZ).year
        return self.rules.number(kind, year, next_counter(session, f"cert:{kind}:{year}"))

    # -- restrictions as findings -------------------------------------------------------------------------

    def refresh_findings(self, session: Session, dossier: Dossier) -> list[Finding]:
        """The dossier's open register findings made the restrictions now on its unit (at 受理, at review); rows are
        written only where they differ (a claim on an unchanged register writes none)."""
        held = list(session.execute(_REGISTER_FINDINGS, {"dossier": dossier.id}).scalars())
        unit = _unit(dossier_values(session, dossier.id).get("unit_number") or "", strict=False)
        found = []
        if unit and dossier.business_code in self.rules.businesses:
            found = restriction_findings(self.rules, dossier.business_code, unit, self.current(session, unit))
        if sorted((f.rule, f.severity, f.message) for f in found) == sorted(
            (f.rule, f.severity, f.message) for f in held
        ):
            return held
        for row in held:
            session.delete(row)
        rows = [Finding(dossier_id=dossier.id, rule=f.rule, severity=f.severity, message=f.message) for f in found]
        session.add_all(rows)
        session.flush()
        return rows

    # -- entered by order: 查封, 异议, 预告 ----------------------------------------------------------------------

    def restrict(
        self, actor: Actor, unit_number: str, kind: str, *, basis: str, holder: str = "", note: str = ""
    ) -> EntryView:
        """A restriction entered on a unit by order (查封 on a court's 协助执行通知书, 异议, 预告)."""
        require(actor, Permission.REGISTER)
        unit = _unit(unit_number)
        if kind not in {k.value for k in RESTRICTION_KINDS} or kind == "mortgage":
            raise UsageError(f"unknown restriction {kind!r}; one of seizure (查封), objection (异议), advance (预告)")
        if not basis.strip():
            raise UsageError("a restriction needs the order it is entered on (--basis, e.g. the court's 文书号)")
        facts = EntryFacts(
            kind=kind, holders=(Holder(holder.strip()),) if holder.strip() else (), basis=basis.strip(), note=note
        )
        with self._db.transaction() as session:
            row = RegisterEntry(
                unit_number=unit,
                kind=kind,
                state="current",
                facts=facts_json(facts),
                registered_at=utcnow(),
                registered_by=actor.username,
            )
            session.add(row)
            session.flush()
            self._audit(session, actor, "register.restrict", row, {"basis": facts.basis, "holder": holder.strip()})
            return self._view(session, row)

    def lift(self, actor: Actor, entry_id: str, *, basis: str) -> EntryView:
        """A restriction lifted (解封, 异议注销, 预告注销) on the order given as `basis`."""
        require(actor, Permission.REGISTER)
        if not basis.strip():
            raise UsageError("lifting a restriction needs the order it is lifted on (--basis)")
        with self._db.transaction() as session:
            row = session.get(RegisterEntry, entry_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no register entry {entry_id}")
            if row.kind not in ("seizure", "objection", "advance"):
                raise UsageError(
                    f"entry {entry_id} is a {row.kind} entry; it ends by its own 注销登记, not by an order"
                )
            if row.state != "current":
                raise UsageError(f"entry {entry_id} was already closed ({row.closed_by})")
            row.state, row.closed_at, row.closed_by = "closed", utcnow(), basis.strip()
            session.flush()
            self._audit(session, actor, "register.lift", row, {"basis": basis.strip()})
            return self._view(session, row)

    # -- mirror (a desk with a registry) --------------------------------------------------------------------

    @staticmethod
    def mirror(session: Session, entries: Sequence[Mapping[str, Any]]) -> int:
        """Keep the registry's entries as sent by its change feed (a re-delivery changes nothing)."""
        changed = 0
        for data in entries:
            entry_id = data.get("id")
            if not isinstance(entry_id, str):
                continue
            row = session.get(RegisterEntry, entry_id)
            if row is None:
                row = RegisterEntry(id=entry_id)
                session.add(row)
            for key in ("unit_number", "kind", "state", "dossier_id", "business_code", "cert_kind", "cert_number"):
                setattr(row, key, data.get(key))
            row.facts = dict(data.get("facts") or {})
            row.amends_id = data.get("amends_id")
            row.registered_by = str(data.get("registered_by") or "")
            row.registered_at = parse_instant(data.get("registered_at")) or utcnow()
            row.closed_at = parse_instant(data.get("closed_at"))
            row.closed_by = data.get("closed_by")
            changed += 1
        session.flush()
        return changed

    # -- internals ------------------------------------------------------------------------------------------

    def _audit(self, session: Session, actor: Actor, action: str, row: RegisterEntry, payload: dict[str, Any]) -> None:
        audit.append_here(
            session,
            actor=actor.username,
            action=action,
            entity="register_entry",
            entity_id=row.id,
            payload={"unit_number": row.unit_number, "kind": row.kind, **payload},
        )

    @staticmethod
    def _view(session: Session, row: RegisterEntry) -> EntryView:
        number = None
        if row.dossier_id:
            number = session.execute(select(Dossier.number).where(Dossier.id == row.dossier_id)).scalar_one_or_none()
        return EntryView(
            id=row.id,
            unit_number=row.unit_number,
            kind=row.kind,
            kind_label=KIND_LABELS.get(row.kind, row.kind),
            state=row.state,
            dossier_number=number,
            business_code=row.business_code,
            facts=dict(row.facts or {}),
            cert_kind=row.cert_kind,
            cert_number=row.cert_number,
            amends_id=row.amends_id,
            registered_at=row.registered_at,
            registered_by=row.registered_by,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
        )


def entry_json(row: RegisterEntry) -> dict[str, Any]:
    """An entry as the change feed carries it to the desk that sent its dossier."""
    return {
        "id": row.id,
        "unit_number": row.unit_number,
        "kind": row.kind,
        "state": row.state,
        "dossier_id": row.dossier_id,
        "business_code": row.business_code,
        "facts": dict(row.facts or {}),
        "cert_kind": row.cert_kind,
        "cert_number": row.cert_number,
        "amends_id": row.amends_id,
        "registered_at": row.registered_at.isoformat(),
        "registered_by": row.registered_by,
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "closed_by": row.closed_by,
    }


def _unit(text: str, *, strict: bool = True) -> str:
    unit = "".join(text.split()).upper()
    if strict and not valid_unit_number(unit):
        raise UsageError(f"{text!r} is not a 28-character 不动产单元号 (e.g. 370102001001GB00001F00010001)")
    return unit
