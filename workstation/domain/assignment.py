"""Automatic assignment of review work (R14–R16): who may take a dossier, and which one comes next.

Pure rules over a snapshot of the pool; leasing, heartbeats and fencing live in the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .errors import DomainError
from .permissions import Actor, can_review

APPLICANT_KINDS = ("enterprise", "individual")  # R15: enterprise businesses get priority review


@dataclass(frozen=True)
class PoolItem:
    """A dossier waiting at REVIEW, as the assignment rule sees it."""

    dossier_id: str
    applicant_kind: str  # "enterprise" | "individual"
    applied_at: datetime  # timezone-aware
    digitized: bool  # digitised → online review; paper → offline review (R14)
    leased: bool = False

    def __post_init__(self) -> None:
        if self.applicant_kind not in APPLICANT_KINDS:
            raise DomainError(
                f"dossier {self.dossier_id}: applicant kind '{self.applicant_kind}' must be enterprise or individual"
            )
        if self.applied_at.tzinfo is None or self.applied_at.utcoffset() is None:
            raise DomainError(f"dossier {self.dossier_id}: applied_at must carry a time zone")


def eligible(item: PoolItem, actor: Actor) -> bool:
    """Not leased, and the actor may review this kind of dossier (R14)."""
    return not item.leased and can_review(actor, item.digitized)


def order_key(item: PoolItem) -> tuple[int, datetime, str]:
    """R15: enterprise before individual, then by application time, then by dossier id."""
    return (APPLICANT_KINDS.index(item.applicant_kind), item.applied_at, item.dossier_id)


def pick_next(pool: Iterable[PoolItem], actor: Actor) -> PoolItem | None:
    """The dossier the actor should review next, or None when nothing is eligible.

    R16: a reviewer holding both grants gets online (digitised) work first, and offline work only when no
    online work is eligible for them. For everyone else only one class can be eligible.
    """
    candidates = [item for item in pool if eligible(item, actor)]
    if not candidates:
        return None
    if actor.can_review_online and actor.can_review_offline:
        online = [item for item in candidates if item.digitized]
        if online:
            candidates = online
    return min(candidates, key=order_key)
