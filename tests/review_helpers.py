"""Dossiers brought to the review pool through the real window flow (new → pages → submit)."""

from __future__ import annotations

from datetime import datetime

from workstation.domain.permissions import Actor
from workstation.services.desk import Desk
from workstation.services.views import DossierDetail

USCC = "91370100MA3C8Q1X2K"
IDN = "370102199001011231"


def submitted(
    desk: Desk,
    clerk: Actor,
    *,
    business: str = "RESALE_TRANSFER",
    kind: str = "individual",
    applied_at: datetime | None = None,
    channel: str = "window",
) -> DossierDetail:
    """A dossier at REVIEW, submitted: every required slot has a page (or a waiver where a page cannot be)."""
    d = desk.dossiers.new(
        clerk,
        business=business,
        applicant_kind=kind,
        applicant_name="济南某某置业有限公司" if kind == "enterprise" else "王小明",
        applicant_id=USCC if kind == "enterprise" else IDN,
        applied_at=applied_at,
        channel=channel,
    )
    biz = desk.catalogue.business(business)
    for role in biz.roles:
        if role.min_count and not any(p.role == role.name for p in d.parties):
            if "individual" in role.kinds:
                d = desk.dossiers.add_party(
                    clerk, d.number, role=role.name, kind="individual", name="赵建国", id_value=IDN
                )
            else:
                d = desk.dossiers.add_party(
                    clerk, d.number, role=role.name, kind="enterprise", name="某银行济南分行", id_value=USCC
                )
    for slot in d.slots:
        if not slot.required:
            continue
        desk.dossiers.attach_page(
            clerk,
            d.number,
            data=f"page {d.number} {slot.material} {slot.party_key}".encode(),
            source_name=f"{slot.material}.png",
            media_type="image/png",
            material=slot.material,
            party_key=slot.party_key,
        )
    return desk.dossiers.submit(clerk, d.number)
