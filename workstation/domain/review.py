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


# --- 补正 against the dossier: what an item may name, and whether a resubmission addressed it -------------------


@dataclass(frozen=True)
class Snapshot:
    """What a dossier holds, as far as a 补正 notice is concerned: its pages (by slot) and its field values."""

    pages: Mapping[str, tuple[str, str | None]]  # page id → (material, party key) of the slot it fills
    fields: Mapping[str, tuple[str, ...]]  # field key → its values, sorted

    def to_json(self) -> dict[str, Any]:
        return {
            "pages": {pid: [m, p] for pid, (m, p) in sorted(self.pages.items())},
            "fields": {k: list(v) for k, v in sorted(self.fields.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Snapshot:
        data = data or {}
        pages = {
            str(pid): (str(mp[0]), mp[1] if mp[1] is None else str(mp[1])) for pid, mp in data.get("pages", {}).items()
        }
        fields = {str(k): tuple(sorted(str(v) for v in vs)) for k, vs in data.get("fields", {}).items()}
        return cls(pages=pages, fields=fields)


def items_outside(
    items: Sequence[ReturnItem], slots: Iterable[tuple[str, str | None]], field_keys: Iterable[str]
) -> list[str]:
    """Why items do not name a material (of the party given) or a field of this dossier's checklist; [] if all do."""
    slot_set = set(slots)
    materials = {m for m, _ in slot_set}
    keys = set(field_keys)
    problems = []
    for n, item in enumerate(items, 1):
        if item.material is not None:
            if item.material not in materials:
                problems.append(f"item {n}: material {item.material} is not on this dossier's checklist")
            elif item.party_key is not None and (item.material, item.party_key) not in slot_set:
                problems.append(f"item {n}: party {item.party_key} has no {item.material} on this dossier's checklist")
        elif item.party_key is not None:
            problems.append(f"item {n}: a party is named without a material")
        if item.field is not None and item.field not in keys:
            problems.append(f"item {n}: field '{item.field}' is not on this dossier")
    return problems


def unaddressed(items: Sequence[ReturnItem], before: Snapshot, after: Snapshot, answered: Iterable[int]) -> list[int]:
    """The positions (from 1) of the 补正 items a resubmission leaves unaddressed.

    An item is addressed by a clerk's note on it, by a page that was not there at the return filling a slot of
    its material (and party, when the item names one), or by a change in the values of its field."""
    notes = set(answered)
    new_pages = [slot for pid, slot in after.pages.items() if pid not in before.pages]
    left = []
    for n, item in enumerate(items, 1):
        if n in notes:
            continue
        if item.material is not None and any(
            m == item.material and (item.party_key is None or p == item.party_key) for m, p in new_pages
        ):
            continue
        if item.field is not None and before.fields.get(item.field, ()) != after.fields.get(item.field, ()):
            continue
        left.append(n)
    return left
