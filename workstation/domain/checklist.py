"""Material checklists of a dossier: which slots it has, and what is still missing before it can be submitted.

Pure functions over a `Business` from the catalogue. What is missing is always reported in full, at once
(一次性告知), never just the first problem found.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .catalogue import Business, Role
from .errors import DomainError, MissingMaterials


@dataclass(frozen=True)
class PartyRef:
    key: str  # a stable id chosen by the caller (e.g. the party row's id)
    role: str
    kind: str  # "enterprise" | "individual"
    name: str | None = None


@dataclass(frozen=True)
class SlotSpec:
    material: str
    accepts: tuple[str, ...]
    party_key: str | None  # None: dossier-level
    required: bool
    label: str

    def satisfied_by(self, material: str) -> bool:
        """Whether a page classified as `material` fills this slot (the material itself or an alternative)."""
        return material == self.material or material in self.accepts


@dataclass(frozen=True)
class SlotState:
    material: str
    party_key: str | None
    required: bool
    satisfied: bool
    waived: bool = False


class MissingReason(StrEnum):
    MATERIAL = "material"  # a required slot is neither satisfied nor waived
    PARTY_COUNT = "party_count"  # fewer parties of a role than it needs
    PARTY_KIND = "party_kind"  # a party of a kind its role does not allow
    CONDITION = "condition"  # none of a require_one_of group of conditions is set


@dataclass(frozen=True)
class MissingItem:
    material: str  # "" when the problem is not a material
    label: str
    party_key: str | None
    party_label: str | None  # e.g. 买受人 济南某某有限公司
    reason: str  # a MissingReason

    def __str__(self) -> str:
        if self.material:
            suffix = f" — {self.party_label}" if self.party_label else ""
            return f"{self.material} {self.label}{suffix}"
        if self.party_label:
            return f"{self.party_label}: {self.label}"
        return self.label


def party_label(role: Role, party: PartyRef) -> str:
    return f"{role.label} {party.name}" if party.name else role.label


def slots_for(business: Business, parties: Sequence[PartyRef], conditions: Collection[str]) -> list[SlotSpec]:
    """The dossier's material slots: dossier-level items first (catalogue order), then each party's items
    (parties in the given order), keeping only items whose condition is set."""
    _check_conditions(business, conditions)
    _check_party_keys(parties)
    slots = [
        SlotSpec(item.material, item.accepts, None, item.required, item.label)
        for item in business.items
        if item.role is None and _applies(item.when, conditions)
    ]
    for party in parties:
        business.role(party.role)
        slots.extend(
            SlotSpec(item.material, item.accepts, party.key, item.required, item.label)
            for item in business.items
            if item.role == party.role
            and (item.kind is None or item.kind == party.kind)
            and _applies(item.when, conditions)
        )
    return slots


def missing_for_submit(
    business: Business,
    parties: Sequence[PartyRef],
    conditions: Collection[str],
    slots: Sequence[SlotState],
) -> list[MissingItem]:
    """Everything that stops submission; an empty list means the dossier may be submitted.

    Slots are matched to the checklist by (material, party); a checklist slot with no state counts as
    unsatisfied, and a stored slot the checklist no longer has (its condition was unset) is ignored.
    """
    specs = slots_for(business, parties, conditions)
    labels = {party.key: party_label(business.role(party.role), party) for party in parties}
    return [
        *_missing_conditions(business, conditions),
        *_missing_parties(business, parties, labels),
        *_missing_materials(specs, slots, labels),
    ]


def _missing_conditions(business: Business, conditions: Collection[str]) -> list[MissingItem]:
    missing = []
    for group in business.require_one_of:
        if not any(name in conditions for name in group):
            choices = " / ".join(business.conditions[name] for name in group)
            label = f"select at least one of {choices}"
            missing.append(MissingItem("", label, None, None, MissingReason.CONDITION))
    return missing


def _missing_parties(business: Business, parties: Sequence[PartyRef], labels: Mapping[str, str]) -> list[MissingItem]:
    missing = []
    for role in business.roles:
        count = sum(1 for party in parties if party.role == role.name)
        if count < role.min_count:
            label = "no party recorded" if count == 0 else f"{count} of {role.min_count} parties recorded"
            missing.append(MissingItem("", label, None, role.label, MissingReason.PARTY_COUNT))
    for party in parties:
        kinds = business.role(party.role).kinds
        if party.kind not in kinds:
            label = f"must be {' or '.join(kinds)}, not {party.kind}"
            missing.append(MissingItem("", label, party.key, labels[party.key], MissingReason.PARTY_KIND))
    return missing


def _missing_materials(
    specs: Sequence[SlotSpec], slots: Sequence[SlotState], labels: Mapping[str, str]
) -> list[MissingItem]:
    pool: dict[tuple[str, str | None], list[SlotState]] = {}
    for state in slots:
        pool.setdefault((state.material, state.party_key), []).append(state)
    missing = []
    for spec in specs:
        candidates = pool.get((spec.material, spec.party_key))
        stored = candidates.pop(0) if candidates else None
        required = spec.required or (stored is not None and stored.required)
        done = stored is not None and (stored.satisfied or stored.waived)
        if required and not done:
            owner = labels[spec.party_key] if spec.party_key else None
            missing.append(MissingItem(spec.material, spec.label, spec.party_key, owner, MissingReason.MATERIAL))
    return missing


def check_submit(
    business: Business,
    parties: Sequence[PartyRef],
    conditions: Collection[str],
    slots: Sequence[SlotState],
) -> None:
    """Raise MissingMaterials listing everything missing, or return when the dossier may be submitted."""
    missing = missing_for_submit(business, parties, conditions, slots)
    if missing:
        raise MissingMaterials(missing)


def validate_new_dossier(business: Business, applicant_kind: str, conditions: Collection[str] = ()) -> None:
    """Refuse a new dossier whose applicant kind the business does not accept, or with unknown conditions."""
    if applicant_kind not in business.applicant_kinds:
        accepted = ", ".join(business.applicant_kinds)
        raise DomainError(
            f"business {business.code} ({business.name}) does not accept an applicant of kind "
            f"'{applicant_kind}'; accepted: {accepted}"
        )
    _check_conditions(business, conditions)


def _check_conditions(business: Business, conditions: Collection[str]) -> None:
    for name in sorted(conditions):
        if name not in business.conditions:
            known = ", ".join(business.conditions) or "(none)"
            raise DomainError(f"unknown condition '{name}' for business {business.code}; known: {known}")


def _check_party_keys(parties: Sequence[PartyRef]) -> None:
    seen: set[str] = set()
    for party in parties:
        if party.key in seen:
            raise DomainError(f"party key '{party.key}' is used twice")
        seen.add(party.key)


def _applies(when: str | None, conditions: Collection[str]) -> bool:
    return when is None or when in conditions
