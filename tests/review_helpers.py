"""Dossiers brought to the review pool through the real window flow (new → pages → submit)."""

from __future__ import annotations

import itertools
from datetime import datetime

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.views import DossierDetail

USCC = "91370100MA3C8Q1X2K"
USCC2 = "91350100M000100Y43"
IDN = "370102199001011231"
IDN2 = "11010519491231002X"
_UNITS = itertools.count(1)


def unit_number(n: int | None = None) -> str:
    """A well-formed 不动产单元号, a new one each call unless `n` is given (parcel 00002: never one `submitted`
    derives from a dossier's number)."""
    return f"370102001001GB00002F{next(_UNITS) if n is None else n:08d}"


def _unit_of(number: str) -> str:
    """The unit a dossier gets when the test names none: from its own number, the same in every run."""
    return f"370102001001GB00001F{int(number.rsplit('-', 1)[-1]):08d}"


def register_facts(business: str, unit: str | None = None) -> dict[str, str]:
    """The fields 登簿 reads from a reviewed dossier, as a clerk would have confirmed them."""
    facts = {
        "unit_number": unit or unit_number(),
        "use": "成套住宅",
        "area_m2": "89.50",
        "location": "历下区文化东路1号",
    }
    if business.startswith("MORT_") or business == "ADVANCE_MORT":
        facts["loan_amount_yuan"] = "500000"
    return facts


def submitted(
    desk: Desk,
    clerk: Actor,
    *,
    business: str = "RESALE_TRANSFER",
    kind: str = "individual",
    applied_at: datetime | None = None,
    channel: str = "window",
    unit: str | None = None,
    conditions: tuple[str, ...] = (),
    applicant: tuple[str, str] | None = None,
    facts: dict[str, str] | None = None,
) -> DossierDetail:
    """A dossier at REVIEW, submitted: every required slot has a page (or a waiver where a page cannot be).

    `applicant`: an enterprise applicant's name and USCC (default by role); `facts`: fields typed besides the usual."""
    bank = any(r.applicant and r.name == "mortgagee" for r in desk.catalogue.business(business).roles)
    enterprise = applicant or (("某银行济南分行", USCC2) if bank else ("济南某某置业有限公司", USCC))
    d = desk.dossiers.new(
        clerk,
        business=business,
        applicant_kind=kind,
        applicant_name=enterprise[0] if kind == "enterprise" else "王小明",
        applicant_id=enterprise[1] if kind == "enterprise" else IDN,
        applied_at=applied_at,
        channel=channel,
        conditions=list(conditions),
    )
    biz = desk.catalogue.business(business)
    for role in biz.roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            if "individual" in role.kinds:
                d = desk.dossiers.add_party(
                    clerk, d.number, role=role.name, kind="individual", name="赵建国", id_value=IDN2
                )
            else:
                d = desk.dossiers.add_party(
                    clerk, d.number, role=role.name, kind="enterprise", name="某银行济南分行", id_value=USCC2
                )
    fill_slots(desk, clerk, d.number)
    type_fields(desk, clerk, d.number, {**register_facts(business, unit or _unit_of(d.number)), **(facts or {})})
    return desk.dossiers.submit(clerk, d.number)


def fill_slots(desk: Desk, clerk: Actor, number: str) -> None:
    """A page (its bytes name it) in every required slot the dossier has open."""
    for slot in desk.dossiers.show(number).slots:
        if not slot.required or slot.satisfied:
            continue
        desk.dossiers.attach_page(
            clerk,
            number,
            data=f"page {number} {slot.material} {slot.party_key}".encode(),
            source_name=f"{slot.material}.png",
            media_type="image/png",
            material=slot.material,
            party_key=slot.party_key,
        )


def both_reviewer(desk: Desk, username: str = "both1") -> Actor:
    """A desk reviewer who may review both online and offline (a desk that is its own registry)."""
    desk.users.add(
        desk.users.actor("admin"),
        username=username,
        password=f"{username}-pass-1",
        roles=["reviewer"],
        can_review_online=True,
        can_review_offline=True,
    )
    return desk.users.actor(username)


def type_fields(desk: Desk, clerk: Actor, number: str, values: dict[str, str]) -> DossierDetail:
    """The clerk types each value on the dossier's first page."""
    detail = desk.dossiers.show(number)
    for key, value in values.items():
        detail = desk.dossiers.confirm_field(clerk, number, detail.pages[0].id, key, value=value)
    return detail


def settle(desk: Desk, clerk: Actor, number: str) -> None:
    """Between 登簿 and 发证: the fees paid at the window and the certificate collected there."""
    charge = desk.settle.charge(number)
    if not charge.free:
        desk.settle.pay(clerk, number, method="qr", amount=charge.due, reference=f"WX{number[-6:]}0001")
    if desk.register.entries_of(number) and any(e.cert_number for e in desk.register.entries_of(number)):
        desk.settle.deliver(clerk, number, "choose", method="window")
        desk.settle.deliver(clerk, number, "collect", name="王小明", id_number=IDN)
