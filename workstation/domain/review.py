"""Review decisions (R13, 一次性告知): what a decision must say, checked before anything is stored.

Pure: the reasons for 不予登记 and the kinds of 补正 problem are data (data/review.toml).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from .errors import DomainError

REVIEW_FILE = "review.toml"
_TEXT_MAX = 500


class DecisionKind(StrEnum):
    APPROVE = "approve"  # 审核通过 → next stage
    RETURN = "return"  # 补正: back to the applicant with the complete list
    REJECT = "reject"  # 不予登记 with a reason the law names


@dataclass(frozen=True)
class ReviewRules:
    reject_reasons: Mapping[str, str]  # code → legal wording
    problems: Mapping[str, str]  # code → wording on the 补正 notice


def load_review_rules(text: str | None = None) -> ReviewRules:
    if text is None:
        text = resources.files(__package__).joinpath("data", REVIEW_FILE).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DomainError(f"{REVIEW_FILE}: invalid TOML: {exc}") from None
    if set(doc) != {"reject", "problems"}:
        raise DomainError(f"{REVIEW_FILE}: expected exactly the tables [reject] and [problems]")
    tables: list[Mapping[str, str]] = []
    for name in ("reject", "problems"):
        table = doc[name]
        if not isinstance(table, dict) or not table:
            raise DomainError(f'{REVIEW_FILE}: [{name}] must list at least one code = "wording"')
        for code, wording in table.items():
            if not isinstance(wording, str) or not wording.strip():
                raise DomainError(f"{REVIEW_FILE}: [{name}] {code} needs a wording")
        tables.append(MappingProxyType({k: v.strip() for k, v in table.items()}))
    return ReviewRules(reject_reasons=tables[0], problems=tables[1])


@cache
def default_review_rules() -> ReviewRules:
    return load_review_rules()


@dataclass(frozen=True)
class ReturnItem:
    """One line of a 补正 notice: a material (optionally of one party) or a field, and what is wrong with it."""

    problem: str  # a code of [problems]
    material: str | None = None  # M05…
    party_key: str | None = None
    field: str | None = None  # a canonical field key
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "material": self.material,
            "party_key": self.party_key,
            "field": self.field,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReturnItem:
        if not isinstance(data, Mapping):
            raise DomainError("a 补正 item must be an object with a problem and a material or field")
        unknown = sorted(set(data) - {"problem", "material", "party_key", "field", "note"})
        if unknown:
            raise DomainError(f"a 补正 item has an unknown key '{unknown[0]}'")

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise DomainError(f"a 补正 item's {key} must be text")
            return value.strip() or None

        return cls(
            problem=text("problem") or "",
            material=(text("material") or "").upper() or None,
            party_key=text("party_key"),
            field=text("field"),
            note=(text("note") or "")[:_TEXT_MAX],
        )

    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.material, self.party_key, self.field)


def validate_return(items: Sequence[ReturnItem], rules: ReviewRules) -> tuple[ReturnItem, ...]:
    """A 补正 notice lists everything at once: at least one item, each naming what and why, none twice."""
    if not items:
        raise DomainError("a 补正 return must list what is missing or wrong (一次性告知); the list is empty")
    seen: set[tuple[str | None, str | None, str | None, str]] = set()
    out = []
    for item in items:
        if item.problem not in rules.problems:
            known = ", ".join(rules.problems)
            raise DomainError(f"unknown 补正 problem '{item.problem}'; known: {known}")
        if item.material is None and item.field is None:
            raise DomainError("each 补正 item must name a material or a field")
        key = (*item.key(), item.problem)
        if key in seen:
            continue
        seen.add(key)
        out.append(item)
    return tuple(out)


def validate_reject(reason_code: str | None, rules: ReviewRules) -> str:
    """不予登记 needs one of the reasons the law names."""
    if not reason_code or reason_code not in rules.reject_reasons:
        known = ", ".join(rules.reject_reasons)
        raise DomainError(f"不予登记 needs a reason from the list: {known}")
    return reason_code


def lease_problem(
    *,
    fence: int | None,
    lease_id: str | None,
    current_fence: int,
    active_lease_id: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> str | None:
    """Why a decision under (fence, lease) may not be applied now, or None when its lease is the live one.

    The fence is the lease's number; any later lease of the dossier has a larger one. A decision is applied only
    under the dossier's current fence, with that lease still active and not expired.
    """
    if fence is None or lease_id is None:
        return "the decision carries no lease; claim the dossier first"
    if fence < current_fence:
        return f"lease fence {fence} is stale: the dossier was leased again (fence {current_fence})"
    if fence > current_fence:
        return f"lease fence {fence} was never issued (current {current_fence})"
    if active_lease_id != lease_id:
        return "the lease has ended (released, decided or withdrawn)"
    if expires_at is None or expires_at <= now:
        return "the lease expired before the decision arrived"
    return None


def merge_items(*groups: Iterable[ReturnItem]) -> tuple[ReturnItem, ...]:
    """Join suggested and entered items, first wording kept for the same (material, party, field, problem)."""
    seen: set[tuple[str | None, str | None, str | None, str]] = set()
    out = []
    for group in groups:
        for item in group:
            key = (*item.key(), item.problem)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return tuple(out)
