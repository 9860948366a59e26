"""The registry's written documents from what the database holds: notices, certificates, fee receipts.

Builds the plain values of `services.paper` (what a document says) from a dossier, a register entry or a payment,
and writes them as PDFs. An electronic certificate (电子证照, R5) is signed with the office's signing key, kept
under `<data dir>/keys/signing/` (made at first use, 0600); `verify` checks a signed file against that key's
certificate.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workstation.domain.notices import load_notice_rules
from workstation.domain.permissions import Actor, Permission, require
from workstation.domain.register import KIND_LABELS
from workstation.errors import UsageError
from workstation.services.paper import (
    CertificateData,
    Line,
    Notice,
    Office,
    PaymentReceipt,
    SigningKey,
    Verification,
    certificate_pdf,
    notice_pdf,
    payment_receipt_pdf,
    sign_pdf,
    verify_pdf,
    write_atomic,
)
from workstation.services.paper.model import NOTICE_KINDS
from workstation.services.receipt import build_receipt, person_name
from workstation.services.views import OFFICE_TZ, DossierDetail
from workstation.store.models import Decision

if TYPE_CHECKING:
    from workstation.services.desk import Desk

APPEAL = (
    "如对本决定不服，可以自收到本告知书之日起六十日内向{office}的本级人民政府申请行政复议，"
    "或者自收到本告知书之日起六个月内依法向人民法院提起行政诉讼。"
)


def office_of(desk: Desk) -> Office:
    s = desk.settings
    return Office(
        name=s.office_name,
        address=s.office_address,
        phone=s.office_phone,
        seal_text=f"{s.office_name} 业务专用章",
        status_url=s.office_status_url,
        verify_url=s.office_verify_url,
        appeal=APPEAL.format(office=s.office_name),
    )


def signing_key(desk: Desk) -> SigningKey:
    return SigningKey.load_or_create(Path(desk.settings.data_dir) / "keys" / "signing", desk.settings.office_name)


# -- notices ---------------------------------------------------------------------------------------------------


def notice_of(desk: Desk, actor: Actor, number: str, kind: str) -> Notice:
    """The notice of `kind` for dossier `number`, as the dossier stands; refused when the dossier gives no ground."""
    require(actor, Permission.DOSSIER_VIEW)
    if kind not in NOTICE_KINDS:
        raise UsageError(f"unknown notice kind {kind!r}; one of {', '.join(NOTICE_KINDS)}")
    detail = desk.dossiers.show(number)
    receipt = build_receipt(desk, actor, number)
    applicants = tuple(Line(p.role, f"{p.name}  {p.id_label} {p.id_masked}".strip()) for p in receipt.parties)
    today = date.today()
    facts = _facts(desk, detail.id)
    rows = [Line("业务类型", detail.business_name), *facts]
    if receipt.accepted_at is not None:
        rows.append(Line("受理时间", receipt.accepted_at.astimezone(OFFICE_TZ).strftime("%Y年%m月%d日 %H:%M")))
    clerk = person_name(desk, actor)
    if kind == "receipt":
        if receipt.accepted_at is None:
            raise UsageError(f"{number} is not accepted yet (受理): submit it first, then print its 受理凭证")
        if receipt.limit_days:
            due = f"，应于{receipt.due:%Y年%m月%d日}前办结" if receipt.due else ""
            rows.append(Line("承诺办结时限", f"{receipt.limit_days}个工作日{due}"))
        charge = desk.settle.charge(number)
        rows.append(Line("应缴费用", f"{charge.due} 元" if charge.due else f"待核定（{charge.problem}）"))
        items = tuple(
            Line(
                m.label + (f"（{m.party}）" if m.party else ""),
                f"{m.pages} 页" if not m.waived else f"免交：{m.waived}",
            )
            for m in receipt.materials
        )
        return Notice(kind, number, detail.business_name, applicants, tuple(rows), items, issued_on=today, clerk=clerk)
    if kind == "supplement":
        supplement = detail.supplement
        if supplement is None:
            raise UsageError(f"{number} was never returned for 补正: there is no 补正材料通知书 to print")
        items = tuple(
            Line(
                " ".join(x for x in (_material_label(desk, i.material), i.problem_label) if x) or i.problem_label,
                i.note or f"请补正{i.problem_label}的材料",
            )
            for i in supplement.items
        )
        return Notice(kind, number, detail.business_name, applicants, tuple(rows), items, issued_on=today, clerk=clerk)
    if kind == "refuse-intake":
        if detail.status != "refused":
            raise UsageError(f"{number} is {detail.status}, not refused at the window (不予受理): no such notice")
        reason, basis = _refusal(desk, detail.id, "dossier.refuse_intake")
    else:
        if detail.status != "rejected":
            raise UsageError(f"{number} is {detail.status}, not refused after review (不予登记): no such notice")
        reason, basis = _rejection(desk, detail.id)
    return Notice(
        kind,
        number,
        detail.business_name,
        applicants,
        tuple(rows),
        reason=reason,
        legal_basis=basis,
        issued_on=today,
        clerk=clerk,
    )


def write_notice(desk: Desk, actor: Actor, number: str, kind: str, out: Path) -> Path:
    return write_atomic(out, notice_pdf(notice_of(desk, actor, number, kind), office_of(desk)))


def _facts(desk: Desk, dossier_id: str) -> list[Line]:
    from workstation.services.register import dossier_values

    with desk.db.read() as session:
        values = dossier_values(session, dossier_id)
    labels = (("location", "坐落"), ("unit_number", "不动产单元号"), ("area_m2", "面积（平方米）"), ("use", "用途"))
    return [Line(label, values[key]) for key, label in labels if values.get(key)]


def _material_label(desk: Desk, code: str | None) -> str:
    if not code:
        return ""
    try:
        return desk.catalogue.materials[code].name
    except (KeyError, AttributeError):
        return code


def _refusal(desk: Desk, dossier_id: str, action: str) -> tuple[str, str]:
    from workstation.store.models import AuditEvent

    with desk.db.read() as session:
        event = session.execute(
            select(AuditEvent)
            .where(AuditEvent.entity_id == dossier_id, AuditEvent.action == action)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
    payload: dict[str, object] = json.loads(event.payload) if event is not None and event.payload else {}
    code = str(payload.get("reason_code") or "")
    reasons = load_notice_rules().refuse_intake
    reason = reasons.get(code)
    text = str(payload.get("reason") or (reason.text if reason else ""))
    note = str(payload.get("note") or "")
    return (f"{text}。{note}" if note else text), str(payload.get("basis") or (reason.basis if reason else ""))


def _rejection(desk: Desk, dossier_id: str) -> tuple[str, str]:
    with desk.db.read() as session:
        decision = session.execute(
            select(Decision)
            .where(Decision.dossier_id == dossier_id, Decision.kind == "reject", Decision.outcome == "applied")
            .order_by(Decision.decided_at.desc())
            .limit(1)
        ).scalar_one_or_none()
    if decision is None:
        return "", ""
    code = decision.reason_code or ""
    text = desk.review.rules.reject_reasons.get(code, code)
    basis = load_notice_rules().reject_basis.get(code, "《不动产登记暂行条例》第二十二条")
    return (f"{text}。{decision.note}" if decision.note else text), basis


# -- certificates ------------------------------------------------------------------------------------------------


def certificate_of(desk: Desk, number: str) -> CertificateData:
    entry = desk.register.by_certificate(number)
    facts = entry.facts
    holders = tuple(str(h.get("name") or "") for h in facts.get("holders") or ())
    obligors = "、".join(str(h.get("name") or "") for h in facts.get("obligors") or ())
    if entry.cert_kind == "proof":
        rows = [
            Line("证明权利或事项", KIND_LABELS.get(entry.kind, entry.kind)),
            Line("权利人（申请人）", "、".join(holders)),
            Line("义务人", obligors),
            Line("坐落", facts.get("location", "")),
            Line("不动产单元号", entry.unit_number),
            Line("其他", _mortgage_terms(facts)),
        ]
    else:
        rows = [
            Line("权利人", "、".join(holders)),
            Line("共有情况", _co_ownership(facts)),
            Line("坐落", facts.get("location", "")),
            Line("不动产单元号", entry.unit_number),
            Line("权利类型", facts.get("right_type", "")),
            Line("权利性质", facts.get("right_nature", "")),
            Line("用途", facts.get("use", "")),
            Line("面积", f"{facts['area_m2']}平方米" if facts.get("area_m2") else ""),
            Line("权利其他状况", f"取得方式：{facts.get('source', '')}"),
        ]
    note = facts.get("note", "") or (f"业务号 {entry.dossier_number}" if entry.dossier_number else "")
    return CertificateData(
        number=entry.cert_number or number,
        kind=entry.cert_kind or "certificate",
        holders=holders,
        rows=tuple(row for row in rows if row.value),
        registered_on=entry.registered_at.astimezone(OFFICE_TZ).date(),
        note=note,
    )


def write_certificate(desk: Desk, actor: Actor, number: str, out: Path, *, electronic: bool = False) -> Path:
    """The 缮证 page, or the signed 电子证照 (R5)."""
    require(actor, Permission.DOSSIER_VIEW)
    data = certificate_pdf(certificate_of(desk, number), office_of(desk), electronic=electronic)
    if electronic:
        data = sign_pdf(data, signing_key(desk), reason="不动产登记电子证照", location=desk.settings.office_name)
    return write_atomic(out, data)


def verify_certificate(desk: Desk, path: Path) -> Verification:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or type(exc).__name__})") from None
    return verify_pdf(data, [signing_key(desk).certificate_pem])


def _co_ownership(facts: dict[str, Any]) -> str:
    """共有情况 as the certificate prints it: the way held, and each holder's share when held in shares."""
    parts = [f"{h.get('name')}{h['share']}" for h in facts.get("holders") or () if h.get("share")]
    mode = str(facts.get("co_ownership") or "")
    return f"{mode}（{'，'.join(parts)}）" if parts else mode


def _mortgage_terms(facts: dict[str, str]) -> str:
    parts = []
    if facts.get("amount_yuan"):
        parts.append(f"被担保主债权数额：{facts['amount_yuan']}元")
    if facts.get("term"):
        parts.append(f"债务履行期限：{facts['term']}")
    return "；".join(parts)


# -- fee receipts (票据) -----------------------------------------------------------------------------------------


def write_fee_receipt(desk: Desk, actor: Actor, number: str, out: Path) -> Path:
    require(actor, Permission.DOSSIER_VIEW)
    charge = desk.settle.charge(number)
    if not charge.paid or charge.receipt_number is None or charge.paid_at is None:
        raise UsageError(f"{number} is not paid: a 票据 is printed once the payment is recorded")
    from workstation.domain.fees import PAYMENT_METHODS

    detail = desk.dossiers.show(number)
    payer = _payer(detail, charge.payer_role)
    receipt = PaymentReceipt(
        number=charge.receipt_number,
        dossier=number,
        payer=payer,
        items=tuple(Line(label, amount) for label, amount in charge.items),
        total=charge.due,
        method=PAYMENT_METHODS.get(charge.method or "", charge.method or ""),
        reference=charge.reference or "",
        paid_at=charge.paid_at,
    )
    return write_atomic(out, payment_receipt_pdf(receipt, office_of(desk)))


def _payer(detail: DossierDetail, role: str | None) -> str:
    """Who the 票据 names: the parties of the paying role (the buyer, the mortgagee), else the applicant."""
    parties = detail.parties
    chosen = [p for p in parties if role and p.role == role] or list(parties[:1])
    return "、".join(f"{p.name or ''}" for p in chosen)
