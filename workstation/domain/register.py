"""The register (不动产登记簿): what 登簿 writes, restrictions on a unit, and certificate numbers.

Pure rules over plain values. `plan_booking` turns a reviewed dossier (its business, parties and field values) and
the entries now in force on its unit into a `Booking`: the entries 登簿 opens and closes, and what it issues. The
numbers of certificates (不动产权证书) and proofs (不动产登记证明) are formatted and parsed here; allocating them is
the registry's, once and gap-free per year and kind. What each business does is data (data/register.toml).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ocr.codes.unit_number import PATTERN as _UNIT

from .errors import CatalogueError, DomainError

REGISTER_FILE = "register.toml"


class RegisterError(DomainError):
    """登簿 cannot write the register: a unit number is missing, nothing stands to close or change, a seizure…"""


class EntryKind(StrEnum):
    OWNERSHIP = "ownership"  # 国有建设用地使用权/房屋所有权
    MORTGAGE = "mortgage"  # 抵押权
    SEIZURE = "seizure"  # 查封
    OBJECTION = "objection"  # 异议
    ADVANCE = "advance"  # 预告


KIND_LABELS: Mapping[str, str] = MappingProxyType(
    {"ownership": "房屋所有权", "mortgage": "抵押权", "seizure": "查封", "objection": "异议", "advance": "预告"}
)
RESTRICTION_KINDS: tuple[EntryKind, ...] = (
    EntryKind.SEIZURE,
    EntryKind.OBJECTION,
    EntryKind.ADVANCE,
    EntryKind.MORTGAGE,
)
"""Entered by order (查封 by a court, 异议, 预告) with `restrict`; a mortgage comes from its own 登簿."""

EFFECTS = (
    "open_ownership",
    "transfer_ownership",
    "change_ownership",
    "reissue",
    "open_mortgage",
    "close_mortgage",
    "change_mortgage",
    "transfer_mortgage",
    "open_advance",
    "open_seizure",
    "close_seizure",
    "open_objection",
)
_ISSUES_NOTHING = frozenset({"close_mortgage", "open_seizure", "close_seizure"})
_CHANGEABLE = {
    "holders": "权利人",
    "location": "坐落",
    "area_m2": "面积",
    "use": "用途",
    "amount_yuan": "被担保债权数额",
    "term": "债务履行期限",
}
_FROM_FIELD = {"amount_yuan": "loan_amount_yuan", "term": "valid_until"}
_DEFAULT_CHANGES = MappingProxyType(
    {
        "name_change": "holders",
        "id_change": "holders",
        "location_change": "location",
        "area_change": "area_m2",
        "use_change": "use",
    }
)
CERTIFICATE_KINDS: Mapping[str, str] = MappingProxyType({"certificate": "不动产权证书", "proof": "不动产登记证明"})
_NUMBER_WORD = {"certificate": "不动产权", "proof": "不动产证明"}
_SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Holder:
    """A right holder (权利人) or obligor (义务人) as the register names them."""

    name: str
    id_type: str = ""  # id_number | uscc | other
    id_value: str = ""
    kind: str = ""  # individual | enterprise
    share: str = ""  # 按份共有: the holder's share as written, e.g. "1/2" or "60%"

    def to_json(self) -> dict[str, str]:
        data = {"name": self.name, "id_type": self.id_type, "id_value": self.id_value, "kind": self.kind}
        if self.share:
            data["share"] = self.share
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Holder:
        return cls(
            str(data.get("name") or ""),
            str(data.get("id_type") or ""),
            str(data.get("id_value") or ""),
            str(data.get("kind") or ""),
            str(data.get("share") or ""),
        )


@dataclass(frozen=True)
class EntryFacts:
    """What one register entry records."""

    kind: str
    holders: tuple[Holder, ...] = ()
    obligors: tuple[Holder, ...] = ()
    co_ownership: str = ""  # 单独所有 | 共同共有 | 按份共有
    right_type: str = ""
    right_nature: str = ""
    use: str = ""
    area_m2: str = ""
    location: str = ""
    source: str = ""  # how the right was acquired: 首次登记, 买卖, 抵押, 变更…
    amount_yuan: str = ""  # a mortgage's secured amount
    term: str = ""  # a mortgage's debt term (债务履行期限)
    basis: str = ""  # the order a restriction was entered on (裁定书/协助执行通知书 number)
    note: str = ""  # 附记


@dataclass(frozen=True)
class Current:
    """An entry in force on the unit."""

    id: str
    facts: EntryFacts


@dataclass(frozen=True)
class Booking:
    """What 登簿 of one dossier does to the register of its unit."""

    unit_number: str
    opens: tuple[EntryFacts, ...] = ()
    closes: tuple[str, ...] = ()  # ids of the entries it closes
    amends: str | None = None  # the entry the opened one is a new version of (变更)
    certificate: str | None = None  # "certificate" | "proof" | None


@dataclass(frozen=True)
class Restriction:
    kind: str
    label: str
    severity: str
    blocks: frozenset[str]
    advice: str


@dataclass(frozen=True)
class BusinessEffect:
    effect: str
    holders: str
    obligors: str = ""
    source: str = ""
    certificate: str | None = None
    right_type: str = ""
    right_nature: str = ""
    # change/correct/reissue: which condition changes what (holders, location, area_m2, use, amount_yuan, term)
    changes: Mapping[str, str] = field(default_factory=lambda: _DEFAULT_CHANGES, hash=False)


@dataclass(frozen=True)
class RegisterRules:
    province: str
    city: str
    digits: int
    businesses: Mapping[str, BusinessEffect]
    restrictions: Mapping[str, Restriction]

    def effect(self, business_code: str) -> BusinessEffect:
        try:
            return self.businesses[business_code]
        except KeyError:
            raise RegisterError(
                f"登簿规则中没有业务 {business_code} the register rules do not say what 登簿 of {business_code} writes"
            ) from None

    def number(self, kind: str, year: int, seq: int) -> str:
        return certificate_number(kind, year, seq, province=self.province, city=self.city, digits=self.digits)


@dataclass(frozen=True)
class Party:
    """A party of the dossier as 登簿 reads it."""

    role: str
    kind: str
    name: str | None
    id_type: str | None = None
    id_value: str | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str


# -- numbers ---------------------------------------------------------------------------------------------------


def certificate_number(
    kind: str, year: int, seq: int, *, province: str = "鲁", city: str = "济南市", digits: int = 7
) -> str:
    """鲁(2026)济南市不动产权第0000001号 (kind "certificate") or 鲁(2026)济南市不动产证明第0000001号 ("proof")."""
    if kind not in _NUMBER_WORD:
        raise RegisterError(f"unknown certificate kind {kind!r}; known: {', '.join(_NUMBER_WORD)}")
    if not 1 <= seq < 10**digits:
        raise RegisterError(f"certificate sequence {seq} does not fit {digits} digits")
    return f"{province}({year}){city}{_NUMBER_WORD[kind]}第{seq:0{digits}d}号"


_PARSE = re.compile(
    r"^(?P<prov>\D{1,3})\((?P<year>\d{4})\)(?P<city>.+?)(?P<word>不动产权|不动产证明)第(?P<seq>\d{1,12})号$"
)


def parse_certificate_number(text: str) -> tuple[str, int, int] | None:
    """(kind, year, sequence) of a certificate or proof number, full-width brackets accepted; None if not one."""
    cleaned = "".join(text.split()).replace("（", "(").replace("）", ")")
    match = _PARSE.match(cleaned)
    if match is None:
        return None
    kind = "certificate" if match["word"] == "不动产权" else "proof"
    return kind, int(match["year"]), int(match["seq"])


def valid_unit_number(text: str) -> bool:
    """A 28-character 不动产单元号 in shape (GB/T 37346-2019)."""
    return bool(_UNIT.match(text))


# -- booking ---------------------------------------------------------------------------------------------------


def plan_booking(
    rules: RegisterRules,
    business_code: str,
    parties: Sequence[Party],
    values: Mapping[str, str],
    current: Sequence[Current],
    *,
    conditions: Sequence[str] = (),
) -> Booking:
    """What 登簿 writes for this dossier, or RegisterError with one line saying why it cannot."""
    effect = rules.effect(business_code)
    unit = "".join((values.get("unit_number") or "").split()).upper()
    if not unit:
        raise RegisterError(
            "登簿需要不动产单元号 the dossier has no unit number (不动产单元号): confirm the field first"
        )
    blocking = [
        c
        for c in current
        if c.facts.kind in rules.restrictions and effect.effect in rules.restrictions[c.facts.kind].blocks
    ]
    if blocking:
        what = rules.restrictions[blocking[0].facts.kind]
        basis = f" ({blocking[0].facts.basis})" if blocking[0].facts.basis else ""
        raise RegisterError(f"{what.advice}{basis} the unit {unit} is under {blocking[0].facts.kind}: 登簿 is refused")
    holders = _holders(parties, effect.holders)
    obligors = _holders(parties, effect.obligors) if effect.obligors else ()
    owner = _current(current, EntryKind.OWNERSHIP)
    if effect.effect == "close_mortgage":
        target = _held(current, EntryKind.MORTGAGE, holders, unit)
        return Booking(unit, closes=(target.id,))
    if effect.effect == "close_seizure":
        target = _held(current, EntryKind.SEIZURE, holders, unit)
        return Booking(unit, closes=(target.id,))
    if effect.effect == "change_mortgage":
        target = _held(current, EntryKind.MORTGAGE, holders, unit)
        changed = _changed(target.facts, target.facts.holders, values, conditions, effect.changes)
        return Booking(
            unit,
            opens=(replace(changed, source=effect.source or changed.source),),
            closes=(target.id,),
            amends=target.id,
            certificate=effect.certificate,
        )
    if effect.effect == "transfer_mortgage":
        target = _held(current, EntryKind.MORTGAGE, obligors, unit)
        if not holders:
            raise RegisterError(f"登簿需要权利人 no party with the role {effect.holders!r} to take the mortgage")
        moved = replace(target.facts, holders=holders, co_ownership=co_ownership(holders), source=effect.source)
        return Booking(unit, opens=(moved,), closes=(target.id,), amends=target.id, certificate=effect.certificate)
    if effect.effect == "reissue":
        if owner is None:
            raise RegisterError(f"单元 {unit} 没有现势所有权登记 the unit has no ownership entry to issue again")
        names = {h.name for h in holders}
        if names and not names & {h.name for h in owner.facts.holders}:
            raise RegisterError(
                f"申请人不是单元 {unit} 的权利人 the applicant does not hold the unit's ownership entry"
            )
        how = "补发" if "lost" in conditions else "换发"
        note = "；".join(n for n in (owner.facts.note, f"{how}证书") if n)
        return Booking(
            unit,
            opens=(replace(owner.facts, note=note),),
            closes=(owner.id,),
            amends=owner.id,
            certificate=effect.certificate,
        )
    if not holders:
        raise RegisterError(f"登簿需要权利人 no party with the role {effect.holders!r} to name as right holder")
    mode, holders = shares(holders, values.get("co_ownership"))
    kinds = {
        "open_mortgage": EntryKind.MORTGAGE,
        "open_advance": EntryKind.ADVANCE,
        "open_seizure": EntryKind.SEIZURE,
        "open_objection": EntryKind.OBJECTION,
    }
    base = EntryFacts(
        kind=kinds.get(effect.effect, EntryKind.OWNERSHIP).value,
        holders=holders,
        obligors=obligors,
        co_ownership=mode,
        right_type=effect.right_type,
        right_nature=effect.right_nature,
        use=_value(values, "use"),
        area_m2=_value(values, "area_m2"),
        location=_value(values, "location"),
        source=effect.source,
    )
    if effect.effect in ("open_mortgage", "open_advance"):
        amount = _value(values, "loan_amount_yuan")
        secured = effect.effect == "open_mortgage" or effect.holders == "mortgagee"
        if secured and not amount:
            raise RegisterError(
                "抵押登记需要被担保债权数额 the mortgage's secured amount (loan_amount_yuan) is missing"
            )
        facts = replace(
            base, amount_yuan=amount if secured else "", term=_value(values, "valid_until") if secured else ""
        )
        # 预告转本登记: the mortgagee's own pre-sale mortgage notice becomes the mortgage.
        closes = _advances_of(current, holders, secured=True) if effect.effect == "open_mortgage" else ()
        return Booking(unit, opens=(facts,), closes=closes, certificate=effect.certificate)
    if effect.effect in ("open_seizure", "open_objection"):
        basis = _value(values, "order_number")
        note = ""
        if effect.effect == "open_seizure" and _current(current, EntryKind.SEIZURE) is not None:
            note = "轮候查封 a seizure already stands: this one waits in line behind it"
        return Booking(unit, opens=(replace(base, basis=basis, note=note),), certificate=effect.certificate)
    if effect.effect == "open_ownership":
        if owner is not None:
            raise RegisterError(
                f"单元 {unit} 已有所有权登记 the unit already has an ownership entry: 首次登记 is done once"
            )
        return Booking(unit, opens=(base,), certificate=effect.certificate)
    if effect.effect == "transfer_ownership":
        note = "" if owner is not None else "登簿时本登记簿未载有前手所有权 no earlier ownership entry on this register"
        # 预告转本登记: the buyers' own 预告 ends when the transfer is registered.
        closes = ((owner.id,) if owner is not None else ()) + _advances_of(current, holders, secured=False)
        return Booking(unit, opens=(replace(base, note=note),), closes=closes, certificate=effect.certificate)
    if effect.effect == "change_ownership":
        if owner is None:
            raise RegisterError(f"单元 {unit} 没有现势所有权登记 the unit has no ownership entry to change")
        changed = _changed(owner.facts, holders, values, conditions, effect.changes)
        return Booking(
            unit,
            opens=(replace(changed, source=effect.source),),
            closes=(owner.id,),
            amends=owner.id,
            certificate=effect.certificate,
        )
    raise CatalogueError(f"unknown effect {effect.effect!r} of {business_code}")


def _changed(
    old: EntryFacts,
    holders: tuple[Holder, ...],
    values: Mapping[str, str],
    conditions: Sequence[str],
    changes: Mapping[str, str] = _DEFAULT_CHANGES,
) -> EntryFacts:
    """The entry with what the dossier's conditions say changed (or was wrong); the rest as the register had it."""
    facts = old
    for condition in dict.fromkeys(conditions):
        what = changes.get(condition)
        if what is None:
            continue
        if what == "holders":
            mode, named = shares(holders, values.get("co_ownership"))
            facts = replace(facts, holders=named, co_ownership=mode)
            continue
        value = _value(values, _FROM_FIELD.get(what, what))
        if not value:
            raise RegisterError(
                f"缺少变更后的{_CHANGEABLE[what]} the changed {_FROM_FIELD.get(what, what)} is missing from the "
                "dossier's fields"
            )
        changed: dict[str, Any] = {what: value}
        facts = replace(facts, **changed)
    return facts


def _held(current: Sequence[Current], kind: EntryKind, by: tuple[Holder, ...], unit: str) -> Current:
    """The latest entry of `kind` on the unit held by one of `by` (a mortgagee's mortgage, a court's seizure)."""
    entries = [c for c in current if c.facts.kind == kind.value]
    label = {"mortgage": "抵押", "seizure": "查封"}.get(kind.value, KIND_LABELS[kind.value])
    holder = {"mortgage": "抵押权人", "seizure": "查封机关"}.get(kind.value, "权利人")
    if not entries:
        raise RegisterError(f"单元 {unit} 没有现势{label}登记 the unit has no {kind.value} entry to act on")
    mine = [c for c in entries if _overlaps(c.facts.holders, by)]
    if not mine:
        names = "、".join(sorted({h.name for h in by})) or "the applicant"
        raise RegisterError(f"单元 {unit} 的{holder}不是申请人 no {kind.value} on the unit is held by {names}")
    return mine[-1]


def _overlaps(held: Sequence[Holder], by: Sequence[Holder]) -> bool:
    names = {h.name for h in by}
    ids = {h.id_value for h in by if h.id_value}
    return any(h.name in names or (h.id_value and h.id_value in ids) for h in held)


def _advances_of(current: Sequence[Current], holders: tuple[Holder, ...], *, secured: bool) -> tuple[str, ...]:
    """The 预告 entries these holders hold that the full registration replaces: a buyer's (no amount) on a transfer,
    a mortgagee's (with an amount) on a mortgage."""
    return tuple(
        c.id
        for c in current
        if c.facts.kind == EntryKind.ADVANCE.value
        and bool(c.facts.amount_yuan) == secured
        and _overlaps(c.facts.holders, holders)
    )


def _current(current: Sequence[Current], kind: EntryKind) -> Current | None:
    found = [c for c in current if c.facts.kind == kind.value]
    return found[-1] if found else None


def _holders(parties: Sequence[Party], role: str) -> tuple[Holder, ...]:
    return tuple(
        Holder((p.name or "").strip(), p.id_type or "", p.id_value or "", p.kind)
        for p in parties
        if p.role == role and (p.name or "").strip()
    )


def _value(values: Mapping[str, str], key: str) -> str:
    return " ".join((values.get(key) or "").split())


def co_ownership(holders: Sequence[Holder]) -> str:
    """单独所有 for one holder; 共同共有 for several unless shares are registered (the register then says 按份共有)."""
    return "单独所有" if len(holders) <= 1 else "共同共有"


_SHARE = r"(\d{1,3}\s*/\s*\d{1,3}|\d{1,3}(?:\.\d{1,4})?\s*[%％])"


def shares(holders: Sequence[Holder], stated: str | None) -> tuple[str, tuple[Holder, ...]]:
    """共有方式 and each holder's share, from the application's 共有情况 as written (e.g. "按份共有 王小明1/2
    李华1/2", "王小明占60%，李华占40%"): shares that do not name every holder once, or do not add up to the whole,
    are refused rather than guessed. Without shares: co_ownership()'s default."""
    text = " ".join((stated or "").split())
    found: dict[str, Fraction] = {}
    for holder in holders:
        match = re.search(re.escape(holder.name) + r"\s*[:：]?\s*(?:占有?|份额|占份额)?\s*" + _SHARE, text)
        if match:
            found[holder.name] = _fraction(match.group(1))
    if not found:
        if "按份" in text and len(holders) > 1:
            raise RegisterError(f"按份共有但未写明各权利人的份额 shares are not stated for every holder: {text!r}")
        mode = "共同共有" if "共同共有" in text and len(holders) > 1 else co_ownership(holders)
        return mode, tuple(holders)
    missing = [h.name for h in holders if h.name not in found]
    if missing or len(holders) < 2:
        raise RegisterError(f"份额未写明 no share stated for {'、'.join(missing) or 'a second holder'}: {text!r}")
    if sum(found.values()) != 1:
        raise RegisterError(f"份额之和不为1 the shares add up to {sum(found.values())}, not the whole: {text!r}")
    return "按份共有", tuple(replace(h, share=_shown(found[h.name])) for h in holders)


def _fraction(text: str) -> Fraction:
    cleaned = text.replace(" ", "").replace("％", "%")
    try:
        value = Fraction(cleaned[:-1]) / 100 if cleaned.endswith("%") else Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise RegisterError(f"份额 {text} is not a share") from None
    if value <= 0:
        raise RegisterError(f"份额 {text} is not a share")
    return value


def _shown(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else "1"


# -- restrictions ----------------------------------------------------------------------------------------------

_OBJECT_OF = {
    "close_mortgage": EntryKind.MORTGAGE.value,
    "change_mortgage": EntryKind.MORTGAGE.value,
    "transfer_mortgage": EntryKind.MORTGAGE.value,
    "close_seizure": EntryKind.SEIZURE.value,
}
"""What the business acts on is its object, not a restriction on it."""


def restriction_findings(
    rules: RegisterRules, business_code: str, unit: str, current: Sequence[Current]
) -> list[Finding]:
    """Each restriction in force on the unit as a finding (one per entry), blocking ones as errors for this business.

    The mortgage a cancellation closes is its object, not a restriction on it.
    """
    effect = rules.effect(business_code).effect
    findings = []
    for entry in current:
        restriction = rules.restrictions.get(entry.facts.kind)
        if restriction is None or entry.facts.kind == _OBJECT_OF.get(effect):
            continue
        severity = "error" if effect in restriction.blocks else restriction.severity
        holders = "、".join(h.name for h in entry.facts.holders)
        parts = [f"单元 {unit} 存在{restriction.label}登记"]
        if holders:
            parts.append(f"（{holders}）")
        if entry.facts.basis:
            parts.append(f"，依据 {entry.facts.basis}")
        if entry.facts.amount_yuan:
            parts.append(f"，债权数额 {entry.facts.amount_yuan} 元")
        parts.append(f"：{restriction.advice}")
        findings.append(Finding(f"register.{entry.facts.kind}", severity, "".join(parts)))
    return findings


# -- loading ---------------------------------------------------------------------------------------------------


@cache
def load_register_rules() -> RegisterRules:
    text = resources.files(__package__).joinpath("data", REGISTER_FILE).read_text(encoding="utf-8")
    return parse_register_rules(text, REGISTER_FILE)


def parse_register_rules(text: str, where: str = REGISTER_FILE) -> RegisterRules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where}: not valid TOML ({exc})") from None
    numbers = _table(data, "numbers", where)
    province, city = _text(numbers, "province", f"{where} [numbers]"), _text(numbers, "city", f"{where} [numbers]")
    digits = numbers.get("digits", 7)
    if not isinstance(digits, int) or isinstance(digits, bool) or not 4 <= digits <= 12:
        raise CatalogueError(f"{where} [numbers] digits: a whole number from 4 to 12")
    businesses = {}
    for code, raw in _table(data, "business", where).items():
        at = f"{where} [business.{code}]"
        if not isinstance(raw, dict):
            raise CatalogueError(f"{at}: must be a table")
        effect = _text(raw, "effect", at)
        if effect not in EFFECTS:
            raise CatalogueError(f"{at} effect: unknown {effect!r}; known: {', '.join(EFFECTS)}")
        certificate = raw.get("certificate")
        if certificate is not None and certificate not in CERTIFICATE_KINDS:
            raise CatalogueError(f"{at} certificate: {certificate!r} is not one of {', '.join(CERTIFICATE_KINDS)}")
        if effect not in _ISSUES_NOTHING and certificate is None:
            raise CatalogueError(f"{at}: {effect} issues a certificate or a proof; say which (certificate = …)")
        if effect in _ISSUES_NOTHING and certificate is not None:
            raise CatalogueError(f"{at}: {effect} issues nothing; remove certificate")
        changes = raw.get("changes", _DEFAULT_CHANGES)
        if not isinstance(changes, Mapping) or any(v not in _CHANGEABLE for v in changes.values()):
            raise CatalogueError(f"{at} changes: a table of condition = one of {', '.join(_CHANGEABLE)}")
        unknown = set(raw) - {
            "effect",
            "holders",
            "obligors",
            "source",
            "certificate",
            "right_type",
            "right_nature",
            "changes",
        }
        if unknown:
            raise CatalogueError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        businesses[code] = BusinessEffect(
            effect=effect,
            holders=_text(raw, "holders", at),
            obligors=str(raw.get("obligors", "")),
            source=str(raw.get("source", "")),
            certificate=certificate,
            right_type=str(raw.get("right_type", "")),
            right_nature=str(raw.get("right_nature", "")),
            changes=MappingProxyType(dict(changes)),
        )
    restrictions = {}
    for kind, raw in _table(data, "restrictions", where).items():
        at = f"{where} [restrictions.{kind}]"
        if kind not in {k.value for k in RESTRICTION_KINDS}:
            raise CatalogueError(f"{at}: unknown restriction; known: {', '.join(k.value for k in RESTRICTION_KINDS)}")
        severity = _text(raw, "severity", at)
        if severity not in _SEVERITIES:
            raise CatalogueError(f"{at} severity: one of {', '.join(_SEVERITIES)}")
        blocks = raw.get("blocks", [])
        if not isinstance(blocks, list) or any(b not in EFFECTS for b in blocks):
            raise CatalogueError(f"{at} blocks: a list of effects from {', '.join(EFFECTS)}")
        restrictions[kind] = Restriction(
            kind, _text(raw, "label", at), severity, frozenset(blocks), _text(raw, "advice", at)
        )
    return RegisterRules(province, city, digits, MappingProxyType(businesses), MappingProxyType(restrictions))


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}: [{key}] is missing")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where} {key}: missing or empty")
    return value
