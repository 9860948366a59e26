"""Cross-document consistency findings: what a reviewer sees first (domain.md §5 "Cross-document rules").

Pure: the rules, severities and tolerances are data (data/consistency.toml, validated on load) and `today` is
passed in. Only what the pages print is compared; a missing field is no disagreement (the checklist reports
missing materials).

A disagreement is reported once however many pages repeat it: pages are grouped by the value they print, and
parties are traced across pages (by USCC or ID number, by name, by the side of the dossier a field names, by the
party a page was assigned to) before their names and numbers are compared. Findings name the disagreeing values
and do not depend on the order of the pages, only their `page_ids` follow the dossier.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from itertools import combinations
from types import MappingProxyType
from typing import Any

from ocr.codes import lookup_division, normalize

from .catalogue import Business, Catalogue, default_catalogue
from .errors import CatalogueError

RULES_FILE = "consistency.toml"
SEVERITIES = ("error", "warning", "info")
SIDES = ("holder", "obligor")

# The identifier each party kind carries, and how a message calls it.
_ID_OF_KIND = {"enterprise": "uscc", "individual": "id_number"}
_ID_LABELS = {"uscc": "统一社会信用代码 USCC", "id_number": "身份证号码 ID number"}
# (party kind, name field, identifier field): the two identities a page may print.
_IDENTITIES = (("enterprise", "org_name", "uscc"), ("individual", "name", "id_number"))
# Co-owners printed in one field; fields describe the primary party only, so one name may stand for the list.
_NAME_SEPARATORS = re.compile(r"[、,，;；]")
_NUMBER = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DISTRICT_CODE = re.compile(r"^[0-9]{6}")
# A value quoted in a message is cut here: OCR junk must not make a finding unreadable.
_MAX_QUOTED = 40


# --------------------------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class DocFields:
    """One classified page of the dossier with its extracted fields (canonical key -> normalised value)."""

    page_id: str
    material: str
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    valid: Mapping[str, bool] = field(default_factory=dict, hash=False)  # key -> the identifier check's result
    party_key: str | None = None  # the dossier party the page was assigned to, when known

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "valid", MappingProxyType(dict(self.valid)))


@dataclass(frozen=True)
class PartyFacts:
    """A dossier party as recorded by the clerk."""

    key: str
    role: str  # catalogue role: buyer, seller, mortgagor, …
    kind: str  # enterprise | individual
    name: str | None
    id_value: str | None


@dataclass(frozen=True)
class FindingSpec:
    rule: str  # stable id from consistency.toml
    severity: str  # error | warning | info
    message: str  # one line, Chinese then English, naming the values that disagree
    page_ids: tuple[str, ...]  # the pages compared, in dossier order


@dataclass(frozen=True)
class Rule:
    """One [[rule]] of consistency.toml; which keys matter depends on `kind`."""

    id: str
    kind: str
    severity: str
    title: str
    businesses: frozenset[str] = frozenset()
    registration_types: frozenset[str] = frozenset()
    skip_businesses: frozenset[str] = frozenset()
    key: str = ""  # the field compared ("field" in the file)
    compare: str = ""
    materials: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    side: str = ""
    tolerance_abs: Decimal = Decimal(0)
    tolerance_ratio: Decimal = Decimal(0)
    error_above_ratio: Decimal | None = None

    def applies_to(self, business: Business) -> bool:
        if business.code in self.skip_businesses:
            return False
        if self.businesses and business.code not in self.businesses:
            return False
        return not self.registration_types or business.registration_type in self.registration_types


@dataclass(frozen=True)
class ConsistencyRules:
    rules: tuple[Rule, ...]
    authority: tuple[str, ...]  # materials, most authoritative first
    recorded_label: str
    location_prefixes: tuple[str, ...]
    side_fields: Mapping[tuple[str, str], str] = field(hash=False)  # (material, field) -> side
    party_pages: frozenset[str] = frozenset()
    side_labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    recorded_sides: Mapping[str, str] = field(default_factory=dict, hash=False)  # role -> side
    recorded_sides_by_business: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def recorded_side(self, business: str, role: str) -> str | None:
        override = self.recorded_sides_by_business.get(business, {})
        return override.get(role) or self.recorded_sides.get(role)


# --------------------------------------------------------------------------------------------- loading

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COMMON_KEYS = frozenset({"id", "kind", "severity", "title", "businesses", "registration_types", "skip_businesses"})
# kind -> (required keys, optional keys) beyond the common ones
_KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "party_name": (frozenset(), frozenset()),
    "party_id": (frozenset(), frozenset()),
    "recorded_party": (frozenset(), frozenset()),
    "current_holder": (frozenset({"field", "materials", "side"}), frozenset()),
    "taxpayer": (frozenset({"materials"}), frozenset()),
    "same_value": (frozenset({"field", "compare", "materials"}), frozenset()),
    "near_value": (
        frozenset({"field", "reference", "materials"}),
        frozenset({"tolerance_abs", "tolerance_ratio", "error_above_ratio"}),
    ),
    "district": (frozenset(), frozenset()),
    "expired": (frozenset({"field", "materials"}), frozenset()),
    "checksum": (frozenset({"field"}), frozenset()),
}
_COMPARES = ("text", "code", "location", "house_use")
_TOP_KEYS = frozenset({"names", "location", "sides", "rule"})


def load_consistency_rules(text: str | None = None, *, catalogue: Catalogue | None = None) -> ConsistencyRules:
    """Parse and validate the rules (packaged, or `text`) against the catalogue; one-line CatalogueError if bad."""
    if text is None:
        text = resources.files(__package__).joinpath("data", RULES_FILE).read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{RULES_FILE}: invalid TOML: {exc}") from None
    return _Loader(catalogue or default_catalogue()).load(doc)


@cache
def default_rules() -> ConsistencyRules:
    """The packaged rules, loaded once."""
    return load_consistency_rules()


def _fail(message: str) -> CatalogueError:
    return CatalogueError(f"{RULES_FILE}: {message}")


class _Loader:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.registration_types = {b.registration_type for b in catalogue.businesses.values()}
        self.roles = {role.name for b in catalogue.businesses.values() for role in b.roles}

    def load(self, doc: dict[str, Any]) -> ConsistencyRules:
        for key in doc:
            if key not in _TOP_KEYS:
                raise _fail(f"unknown top-level key '{key}'; known: {', '.join(sorted(_TOP_KEYS))}")
        names = self.table(doc, "names", {"authority", "recorded"})
        location = self.table(doc, "location", {"strip_prefixes"})
        sides = self.table(
            doc, "sides", {"holder", "obligor", "party_pages", "labels", "recorded", "recorded_by_business"}
        )
        side_fields: dict[tuple[str, str], str] = {}
        for side in SIDES:
            for entry in self.texts(sides, side, "sides"):
                material, _, key = entry.partition(".")
                self.material(material, f"sides.{side}")
                if not key or (material, key) in side_fields:
                    raise _fail(f"sides.{side}: '{entry}' must be a 'material.field' listed once on one side")
                side_fields[(material, key)] = side
        labels = self.side_map(sides.get("labels"), "sides.labels")
        if set(labels) != set(SIDES):
            raise _fail(f"sides.labels: needs exactly {' and '.join(SIDES)}")
        raw_by_business = sides.get("recorded_by_business", {})
        if not isinstance(raw_by_business, dict):
            raise _fail("sides.recorded_by_business: expected a table of business codes")
        by_business: dict[str, Mapping[str, str]] = {}
        for code, table in raw_by_business.items():
            self.business(code, "sides.recorded_by_business")
            by_business[code] = self.role_sides(table, f"sides.recorded_by_business.{code}")
        rules = self.rules(doc.get("rule"))
        return ConsistencyRules(
            rules=rules,
            authority=tuple(self.material(m, "names.authority") for m in self.texts(names, "authority", "names")),
            recorded_label=self.text(names, "recorded", "names"),
            location_prefixes=self.texts(location, "strip_prefixes", "location"),
            side_fields=MappingProxyType(side_fields),
            party_pages=frozenset(self.material(m, "sides") for m in self.texts(sides, "party_pages", "sides")),
            side_labels=labels,
            recorded_sides=self.role_sides(sides.get("recorded"), "sides.recorded"),
            recorded_sides_by_business=MappingProxyType(by_business),
        )

    def table(self, doc: Mapping[str, Any], name: str, keys: set[str]) -> Mapping[str, Any]:
        raw = doc.get(name)
        if not isinstance(raw, dict):
            raise _fail(f"missing table [{name}]")
        for key in raw:
            if key not in keys:
                raise _fail(f"[{name}]: unknown key '{key}'; known: {', '.join(sorted(keys))}")
        return raw

    def text(self, raw: Mapping[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise _fail(f"{where}: '{key}' must be a non-empty one-line string")
        return value.strip()

    def texts(self, raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise _fail(f"{where}: '{key}' must be a non-empty list of non-empty strings")
        if len(set(value)) != len(value):
            raise _fail(f"{where}: '{key}' lists a value twice")
        return tuple(v.strip() for v in value)

    def material(self, code: str, where: str) -> str:
        if code not in self.catalogue.materials:
            raise _fail(f"{where}: unknown material '{code}'")
        return code

    def business(self, code: str, where: str) -> str:
        if code not in self.catalogue.businesses:
            raise _fail(f"{where}: unknown business '{code}'; known: {', '.join(self.catalogue.businesses)}")
        return code

    def side_map(self, raw: object, where: str) -> Mapping[str, str]:
        if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
            raise _fail(f"{where}: expected a table of names to non-empty strings")
        return MappingProxyType({k: v.strip() for k, v in raw.items()})

    def role_sides(self, raw: object, where: str) -> Mapping[str, str]:
        table = self.side_map(raw, where)
        for role, side in table.items():
            if role not in self.roles:
                raise _fail(f"{where}: unknown party role '{role}'; known: {', '.join(sorted(self.roles))}")
            if side not in SIDES:
                raise _fail(f"{where}: role '{role}' is on side '{side}'; sides: {', '.join(SIDES)}")
        return table

    def rules(self, raw: object) -> tuple[Rule, ...]:
        if not isinstance(raw, list) or not raw:
            raise _fail("no [[rule]] entries")
        rules: list[Rule] = []
        for index, entry in enumerate(raw, start=1):
            rule = self.rule(entry, f"rule #{index}")
            if any(r.id == rule.id for r in rules):
                raise _fail(f"rule id '{rule.id}' is used twice")
            rules.append(rule)
        return tuple(rules)

    def rule(self, raw: object, where: str) -> Rule:
        if not isinstance(raw, dict):
            raise _fail(f"{where}: expected a table")
        rule_id = self.text(raw, "id", where)
        if not _ID.match(rule_id):
            raise _fail(f"{where}: id '{rule_id}' must be lower_snake_case")
        where = f"rule {rule_id}"
        kind = self.text(raw, "kind", where)
        if kind not in _KINDS:
            raise _fail(f"{where}: unknown kind '{kind}'; known: {', '.join(_KINDS)}")
        required, optional = _KINDS[kind]
        for key in raw:
            if key not in _COMMON_KEYS | required | optional:
                raise _fail(f"{where}: key '{key}' does not apply to kind '{kind}'")
        for key in sorted(required):
            if key not in raw:
                raise _fail(f"{where}: missing '{key}' (kind '{kind}')")
        severity = self.text(raw, "severity", where)
        if severity not in SEVERITIES:
            raise _fail(f"{where}: severity '{severity}' must be one of {', '.join(SEVERITIES)}")
        if "businesses" in raw and "registration_types" in raw:
            raise _fail(f"{where}: give either 'businesses' or 'registration_types', not both")
        types = self.optional_texts(raw, "registration_types", where)
        for name in types:
            if name not in self.registration_types:
                raise _fail(f"{where}: no business has registration type '{name}'")
        compare = raw.get("compare", "")
        if kind == "same_value" and compare not in _COMPARES:
            raise _fail(f"{where}: compare '{compare}' must be one of {', '.join(_COMPARES)}")
        side = raw.get("side", "")
        if kind == "current_holder" and side not in SIDES:
            raise _fail(f"{where}: side '{side}' must be one of {', '.join(SIDES)}")
        tolerance_ratio = self.number(raw, "tolerance_ratio", where)
        error_above = self.number(raw, "error_above_ratio", where) if "error_above_ratio" in raw else None
        if error_above is not None and error_above < tolerance_ratio:
            raise _fail(f"{where}: error_above_ratio must not be below tolerance_ratio")
        return Rule(
            id=rule_id,
            kind=kind,
            severity=severity,
            title=self.text(raw, "title", where),
            businesses=frozenset(self.business(c, where) for c in self.optional_texts(raw, "businesses", where)),
            registration_types=frozenset(types),
            skip_businesses=frozenset(
                self.business(c, where) for c in self.optional_texts(raw, "skip_businesses", where)
            ),
            key=self.text(raw, "field", where) if "field" in raw else "",
            compare=compare,
            materials=tuple(self.material(m, where) for m in self.optional_texts(raw, "materials", where)),
            reference=tuple(self.material(m, where) for m in self.optional_texts(raw, "reference", where)),
            side=side,
            tolerance_abs=self.number(raw, "tolerance_abs", where),
            tolerance_ratio=tolerance_ratio,
            error_above_ratio=error_above,
        )

    def optional_texts(self, raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        return self.texts(raw, key, where) if key in raw else ()

    def number(self, raw: Mapping[str, Any], key: str, where: str) -> Decimal:
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
            raise _fail(f"{where}: '{key}' must be a number of 0 or more, got {value!r}")
        return Decimal(str(value))


# --------------------------------------------------------------------------------------------- the check


def check_dossier(
    business_code: str,
    parties: Sequence[PartyFacts],
    docs: Sequence[DocFields],
    *,
    today: date,
    rules: ConsistencyRules | None = None,
) -> list[FindingSpec]:
    """Every cross-document finding of a dossier: errors first, then by rule (file order), then by first page.

    Deterministic; which findings there are (rule, severity, message, pages) does not depend on the order of
    `docs`, only their order in the list and in `page_ids` follows the dossier. The same disagreement is one
    finding. `rules` defaults to the packaged file. Raises CatalogueError only for an unknown business code.
    """
    catalogue = default_catalogue()
    ctx = _Context(
        rules=default_rules() if rules is None else rules,
        business=catalogue.business(business_code),
        catalogue=catalogue,
        docs=docs,
        parties=parties,
        today=today,
    )
    drafts: list[_Draft] = []
    drafts.extend(_party_findings(ctx))
    for rule in ctx.active:
        check = _CHECKS.get(rule.kind)
        if check is not None:
            drafts.extend(check(rule, ctx))
    return _finish(drafts, ctx)


@dataclass(frozen=True)
class _Page:
    pos: int  # place in the dossier
    doc: DocFields
    source: tuple[int, str]  # (authority rank, label) for messages

    def text(self, key: str) -> str:
        return _text(self.doc.fields.get(key))


@dataclass(frozen=True)
class _Draft:
    rule: Rule
    severity: str
    message: str
    pages: tuple[_Page, ...]


class _Context:
    def __init__(
        self,
        *,
        rules: ConsistencyRules,
        business: Business,
        catalogue: Catalogue,
        docs: Sequence[DocFields],
        parties: Sequence[PartyFacts],
        today: date,
    ) -> None:
        self.rules = rules
        self.business = business
        self.catalogue = catalogue
        self.parties = tuple(parties)
        self.today = today
        self.active = tuple(rule for rule in rules.rules if rule.applies_to(business))
        self.order = {rule.id: index for index, rule in enumerate(rules.rules)}
        self.pages = tuple(_Page(pos, doc, self.source(doc.material)) for pos, doc in enumerate(docs))

    def source(self, material: str) -> tuple[int, str]:
        authority = self.rules.authority
        rank = authority.index(material) if material in authority else len(authority)
        known = self.catalogue.materials.get(material)
        label = f"{known.name} {material}" if known else _clean(material) or "?"
        return rank, label

    def first(self, kind: str) -> Rule | None:
        return next((rule for rule in self.active if rule.kind == kind), None)

    def of_kind(self, kind: str) -> list[Rule]:
        return [rule for rule in self.active if rule.kind == kind]

    def on(self, materials: Iterable[str]) -> Iterator[_Page]:
        wanted = set(materials)
        return (page for page in self.pages if page.doc.material in wanted)

    def side_label(self, side: str) -> str:
        roles = [
            f"{role.label} {role.name}"
            for role in self.business.roles
            if self.rules.recorded_side(self.business.code, role.name) == side
        ]
        return "/".join(roles) or self.rules.side_labels[side]

    def role_label(self, role: str) -> str:
        known = next((r for r in self.business.roles if r.name == role), None)
        return f"{known.label} {known.name}" if known else _clean(role) or "当事人 party"


# --------------------------------------------------------------------------------------------- text helpers


def _text(value: object) -> str:
    """A field's value, or "" when absent or not text."""
    return value.strip() if isinstance(value, str) else ""


def _clean(value: str, limit: int = _MAX_QUOTED) -> str:
    """One line: control characters and runs of whitespace become one space; cut at `limit`."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return line if len(line) <= limit else line[:limit] + "…"


def _q(value: str) -> str:
    return f"“{_clean(value)}”"


def _location_key(value: str, rules: ConsistencyRules) -> str:
    key = normalize(value)
    for prefix in rules.location_prefixes:
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key


def _compare_key(compare: str, value: str, rules: ConsistencyRules) -> str:
    if compare == "location":
        return _location_key(value, rules)
    if compare == "house_use":
        # 土地用途/房屋用途 on a certificate; the house's use is what contracts and applications print.
        return normalize(value).rsplit("/", 1)[-1]
    return normalize(value)


def _decimal(value: str) -> Decimal | None:
    text = normalize(value).replace(",", "")
    return Decimal(text) if _NUMBER.match(text) else None


def _date(value: str) -> date | None:
    text = normalize(value).replace("/", "-").replace(".", "-")
    if not _ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------- value groups


@dataclass
class _Variant:
    """One value as printed on some pages (and maybe in the clerk's record)."""

    key: str
    printed: set[str] = field(default_factory=set)  # the spellings that share the key
    pages: list[_Page] = field(default_factory=list)
    sources: set[tuple[int, str]] = field(default_factory=set)

    def add(self, printed: str, page: _Page | None, source: tuple[int, str]) -> None:
        self.printed.add(printed)
        if page is not None:
            self.pages.append(page)
        self.sources.add(source)

    @property
    def shown(self) -> str:
        """One spelling, whatever the order the pages came in."""
        return min(self.printed, default="")

    @property
    def rank(self) -> tuple[int, str]:
        return min(rank for rank, _ in self.sources), self.key

    def describe(self) -> str:
        labels = [label for _, label in sorted(self.sources)]
        return f"{_q(self.shown)}（{'、'.join(labels)}）"


def _ordered(variants: Iterable[_Variant]) -> list[_Variant]:
    return sorted(variants, key=lambda v: v.rank)


def _describe_all(variants: Iterable[_Variant]) -> str:
    return " ≠ ".join(v.describe() for v in _ordered(variants))


def _pages_of(variants: Iterable[_Variant]) -> tuple[_Page, ...]:
    return tuple(page for variant in variants for page in variant.pages)


def _same_value(rule: Rule, ctx: _Context) -> list[_Draft]:
    variants: dict[str, _Variant] = {}
    for page in ctx.on(rule.materials):
        value = page.text(rule.key)
        key = _compare_key(rule.compare, value, ctx.rules) if value else ""
        if key:
            variants.setdefault(key, _Variant(key)).add(value, page, page.source)
    if len(variants) < 2:
        return []
    message = f"{rule.title}：{_describe_all(variants.values())}"
    return [_Draft(rule, rule.severity, message, _pages_of(variants.values()))]


def _near_value(rule: Rule, ctx: _Context) -> list[_Draft]:
    readings: list[tuple[_Page, str, Decimal]] = []
    for page in ctx.on(rule.materials + rule.reference):
        value = page.text(rule.key)
        number = _decimal(value) if value else None
        if number is not None:
            readings.append((page, value, number))
    present = {page.doc.material for page, _, _ in readings}
    reference = next((material for material in rule.reference if material in present), None)
    if reference is None:
        return []
    ref_number = min(number for page, _, number in readings if page.doc.material == reference)
    ref = _Variant(str(ref_number))
    others: dict[Decimal, _Variant] = {}
    for page, value, number in readings:
        if number == ref_number:
            if page.doc.material == reference:
                ref.add(value, page, page.source)
        elif page.doc.material in rule.materials or page.doc.material == reference:
            others.setdefault(number, _Variant(str(number))).add(value, page, page.source)
    drafts = []
    for number, variant in sorted(others.items()):
        diff = abs(number - ref_number)
        ratio = diff / ref_number if ref_number > 0 else None
        if diff <= rule.tolerance_abs or (ratio is not None and ratio <= rule.tolerance_ratio):
            continue
        severity = rule.severity
        if rule.error_above_ratio is not None and (ratio is None or ratio > rule.error_above_ratio):
            severity = "error"
        share = f"，{ratio * 100:.1f}%" if ratio is not None else ""
        message = f"{rule.title}：{variant.describe()} ≠ {ref.describe()}（相差 differs by {diff:f}{share}）"
        drafts.append(_Draft(rule, severity, message, (*variant.pages, *ref.pages)))
    return drafts


def _expired(rule: Rule, ctx: _Context) -> list[_Draft]:
    variants: dict[tuple[str, date], _Variant] = {}
    for page in ctx.on(rule.materials):
        until = _date(page.text(rule.key))
        if until is None or until >= ctx.today:
            continue
        who = page.text("name") or page.text("org_name")
        variants.setdefault((normalize(who), until), _Variant(normalize(who))).add(who, page, page.source)
    drafts = []
    for (_, until), variant in sorted(variants.items()):
        labels = "、".join(label for _, label in sorted(variant.sources))
        who = f"{_q(variant.shown)} " if _clean(variant.shown) else ""
        message = f"{rule.title}：{who}有效期至 valid until {until}（{labels}），今天 today {ctx.today}"
        drafts.append(_Draft(rule, rule.severity, message, tuple(variant.pages)))
    return drafts


def _checksum(rule: Rule, ctx: _Context) -> list[_Draft]:
    variants: dict[str, _Variant] = {}
    for page in ctx.pages:
        if page.doc.valid.get(rule.key) is False:
            value = page.text(rule.key)
            variants.setdefault(normalize(value), _Variant(normalize(value))).add(value, page, page.source)
    drafts = []
    for variant in _ordered(variants.values()):
        if variant.shown:
            message = f"{rule.title}：{variant.describe()}"
        else:
            message = f"{rule.title}（{'、'.join(label for _, label in sorted(variant.sources))}）"
        drafts.append(_Draft(rule, rule.severity, message, tuple(variant.pages)))
    return drafts


# --------------------------------------------------------------------------------------------- district


@cache
def _district_names(code: str) -> tuple[str, frozenset[str], frozenset[str]] | None:
    """(name, names meaning this district, names of the other districts around it), or None if not comparable.

    A replaced code (章丘市 370181 → 章丘区 370114) still names its successor's area, and the other way round.
    Functional zones (高新区) overlap real districts, so a unit number carrying one is not compared.
    """
    division = lookup_division(code)
    if division is None or division.status == "functional_zone":
        return None
    own = {code} | ({division.replaced_by} if division.replaced_by else set())
    accepted: set[str] = set()
    others: set[str] = set()
    for prefix in sorted({c[:4] for c in own}):
        for number in range(1, 100):
            candidate = lookup_division(f"{prefix}{number:02d}")
            if candidate is None or candidate.status == "functional_zone":
                continue
            if candidate.code in own or candidate.replaced_by in own:
                accepted.add(candidate.name)
            else:
                others.add(candidate.name)
    return division.name, frozenset(accepted), frozenset(others - accepted)


def _named_district(location_key: str, names: Iterable[str]) -> str | None:
    """The district named first in a 坐落 (the longest name where two start at the same place)."""
    found = [(location_key.find(name), -len(name), name) for name in names if name in location_key]
    return min(found)[2] if found else None


def _district(rule: Rule, ctx: _Context) -> list[_Draft]:
    units: dict[str, _Variant] = {}
    for page in ctx.pages:
        value = page.text("unit_number")
        code = normalize(value)[:6] if value else ""
        if _DISTRICT_CODE.match(code):
            units.setdefault(code, _Variant(code)).add(code, page, page.source)
    locations: dict[str, _Variant] = {}
    for page in ctx.pages:
        value = page.text("location")
        key = _location_key(value, ctx.rules) if value else ""
        if key:
            locations.setdefault(key, _Variant(key)).add(value, page, page.source)
    drafts = []
    for code, unit in sorted(units.items()):
        names = _district_names(code)
        if names is None:
            continue
        name, accepted, others = names
        wrong: dict[str, list[_Variant]] = {}
        for key, location in sorted(locations.items()):
            named = _named_district(key, accepted | others)
            if named is not None and named not in accepted:
                wrong.setdefault(named, []).append(location)
        for named, found in sorted(wrong.items()):
            shown = ", ".join(_q(v.shown) for v in _ordered(found))
            unit_labels = "、".join(label for _, label in sorted(unit.sources))
            labels = "、".join(label for _, label in sorted({source for v in found for source in v.sources}))
            message = (
                f"{rule.title}：不动产单元号 unit number {code} = {name}（{unit_labels}）"
                f" ≠ 坐落 location {shown} = {named}（{labels}）"
            )
            drafts.append(_Draft(rule, rule.severity, message, (*unit.pages, *_pages_of(found))))
    return drafts


# --------------------------------------------------------------------------------------------- parties


@dataclass(frozen=True)
class _Mention:
    """One appearance of a party: a name and/or an identifier on a page, or the clerk's record of a party."""

    page: _Page | None  # None: a party recorded by the clerk
    source: tuple[int, str]
    name: str = ""
    ident: str = ""  # normalised
    id_kind: str = ""  # "uscc" | "id_number" | "" (unknown)
    side: str = ""  # "holder" | "obligor" when the field or the recorded role names a side
    party: str = ""  # the dossier party's key
    role: str = ""  # the recorded party's role
    holder_rule: Rule | None = None  # set on a certificate's holder checked by a current_holder rule

    def links(self) -> Iterator[tuple[str, str]]:
        if self.ident:
            yield "id", self.ident
        if normalize(self.name):
            yield "name", normalize(self.name)
        if self.side:
            yield "side", self.side
        if self.party:
            yield "party", self.party


def _mentions(ctx: _Context) -> list[_Mention]:
    holder_rules = ctx.of_kind("current_holder")
    kinds = {party.key: party.kind for party in ctx.parties}
    mentions: list[_Mention] = []
    for page in ctx.pages:
        material = page.doc.material
        printed = {kind: (page.text(n), normalize(page.text(i))) for kind, n, i in _IDENTITIES}
        owner_kind = ""
        if material in ctx.rules.party_pages and page.doc.party_key:
            owner_kind = kinds.get(page.doc.party_key, "")
            if owner_kind not in printed:
                present = [kind for kind, (name, ident) in printed.items() if name or ident]
                owner_kind = present[0] if len(present) == 1 else ""
        for kind, (name, ident) in printed.items():
            if name or ident:
                owner = (page.doc.party_key or "") if kind == owner_kind else ""
                mentions.append(_Mention(page, page.source, name, ident, _ID_OF_KIND[kind], party=owner))
        for key in page.doc.fields:
            side = ctx.rules.side_fields.get((material, key), "")
            if side and page.text(key):
                mentions.append(_Mention(page, page.source, page.text(key), side=side))
        rule = next((r for r in holder_rules if material in r.materials and page.text(r.key)), None)
        if rule is not None:
            mentions.append(_Mention(page, page.source, page.text(rule.key), side=rule.side, holder_rule=rule))
    # A recorded role is traced by its side only when one party holds it: co-owners are told apart by name.
    roles = Counter(party.role for party in ctx.parties)
    recorded = (len(ctx.rules.authority) + 1, ctx.rules.recorded_label)
    for party in ctx.parties:
        traced = roles[party.role] == 1
        mentions.append(
            _Mention(
                None,
                recorded,
                _text(party.name),
                normalize(_text(party.id_value)),
                _ID_OF_KIND.get(party.kind, ""),
                side=(ctx.rules.recorded_side(ctx.business.code, party.role) or "") if traced else "",
                party=party.key,
                role=party.role,
            )
        )
    return mentions


def _group(mentions: Sequence[_Mention]) -> list[list[_Mention]]:
    """Mentions of one party: linked by identifier, name, side or party key, transitively (union-find)."""
    parent = list(range(len(mentions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for index, mention in enumerate(mentions):
        for link in mention.links():
            other = first.setdefault(link, index)
            parent[root(index)] = root(other)
    groups: dict[int, list[_Mention]] = {}
    for index, mention in enumerate(mentions):
        groups.setdefault(root(index), []).append(mention)
    return list(groups.values())


def _variants_of(mentions: Iterable[_Mention], value: Callable[[_Mention], str]) -> dict[str, _Variant]:
    variants: dict[str, _Variant] = {}
    for mention in mentions:
        shown = value(mention)
        key = normalize(shown)
        if key:
            variants.setdefault(key, _Variant(key)).add(shown, mention.page, mention.source)
    return variants


def _name_parts(key: str) -> frozenset[str]:
    return frozenset(part for part in _NAME_SEPARATORS.split(key) if part)


def _clash(a: str, b: str) -> bool:
    """Two names disagree unless one list of names contains the other (a field may name only the first owner)."""
    pa, pb = _name_parts(a), _name_parts(b)
    return not (pa <= pb or pb <= pa)


def _party_label(group: Sequence[_Mention], ctx: _Context) -> str:
    sides = {m.side for m in group if m.side}
    if len(sides) == 1:
        return ctx.side_label(sides.pop())
    roles = sorted({m.role for m in group if m.role})
    return "/".join(ctx.role_label(role) for role in roles) or "当事人 party"


def _name_rule(group: Sequence[_Mention], variants: Mapping[str, _Variant], ctx: _Context) -> Rule | None:
    by_key: dict[str, list[_Mention]] = {}
    for mention in group:
        if normalize(mention.name):
            by_key.setdefault(normalize(mention.name), []).append(mention)
    clashes = [(a, b) for a, b in combinations(sorted(variants), 2) if _clash(a, b)]
    if not clashes:
        return None
    holders = []
    for a, b in clashes:
        for held, claimed in ((a, b), (b, a)):
            for holder in {m.holder_rule for m in by_key[held] if m.holder_rule}:
                if any(m.page and m.side == holder.side and not m.holder_rule for m in by_key[claimed]):
                    holders.append(holder)
    if holders:
        return min(holders, key=lambda rule: ctx.order[rule.id])
    on_pages = {key for key, ms in by_key.items() if any(m.page for m in ms)}
    if any(a in on_pages and b in on_pages for a, b in clashes):
        return ctx.first("party_name")
    return ctx.first("recorded_party")


def _party_findings(ctx: _Context) -> list[_Draft]:
    groups = _group(_mentions(ctx))
    drafts: list[_Draft] = []
    for group in groups:
        label = _party_label(group, ctx)
        names = _variants_of(group, lambda m: m.name)
        rule = _name_rule(group, names, ctx) if len(names) > 1 else None
        if rule is not None:
            message = f"{rule.title}（{label}）：{_describe_all(names.values())}"
            drafts.append(_Draft(rule, rule.severity, message, _pages_of(names.values())))
        for id_kind, id_label in _ID_LABELS.items():
            idents = _variants_of((m for m in group if m.id_kind == id_kind), lambda m: m.ident)
            if len(idents) < 2:
                continue
            on_pages = [v for v in idents.values() if v.pages]
            rule = ctx.first("party_id" if len(on_pages) > 1 else "recorded_party")
            if rule is not None:
                message = f"{rule.title}（{label}，{id_label}）：{_describe_all(idents.values())}"
                drafts.append(_Draft(rule, rule.severity, message, _pages_of(idents.values())))
    for rule in ctx.of_kind("taxpayer"):
        drafts.extend(_taxpayer(rule, groups, ctx))
    return drafts


def _taxpayer(rule: Rule, groups: Sequence[Sequence[_Mention]], ctx: _Context) -> list[_Draft]:
    """The taxpayer must be a party on a side: the buyer (契税), or the seller for the seller's own taxes."""
    buyers = [m for group in groups for m in group if m.side == "holder" and not m.holder_rule]
    if not buyers:
        return []
    buyer_names = _variants_of(buyers, lambda m: m.name)
    drafts = []
    for group in groups:
        payers = [m for m in group if m.page and m.page.doc.material in rule.materials and not m.side]
        if not payers or any(m.side for m in group):
            continue
        payer_names = _variants_of(payers, lambda m: m.name or m.ident)
        message = (
            f"{rule.title}：纳税人 taxpayer {_describe_all(payer_names.values())}；"
            f"{ctx.side_label('holder')} {_describe_all(buyer_names.values())}"
        )
        drafts.append(
            _Draft(rule, rule.severity, message, (*_pages_of(payer_names.values()), *_pages_of(buyer_names.values())))
        )
    return drafts


_CHECKS: dict[str, Callable[[Rule, _Context], list[_Draft]]] = {
    "same_value": _same_value,
    "near_value": _near_value,
    "district": _district,
    "expired": _expired,
    "checksum": _checksum,
}


def _finish(drafts: Iterable[_Draft], ctx: _Context) -> list[FindingSpec]:
    """Merge drafts that say the same thing, then order: severity, rule, first page, message."""
    merged: dict[tuple[str, str, str], dict[int, str]] = {}
    for draft in drafts:
        pages = merged.setdefault((draft.rule.id, draft.severity, draft.message), {})
        for page in draft.pages:
            pages.setdefault(page.pos, page.doc.page_id)

    def order(item: tuple[tuple[str, str, str], dict[int, str]]) -> tuple[int, int, int, str]:
        (rule_id, severity, message), pages = item
        return SEVERITIES.index(severity), ctx.order[rule_id], min(pages, default=-1), message

    findings = []
    for (rule_id, severity, message), pages in sorted(merged.items(), key=order):
        page_ids = tuple(dict.fromkeys(page_id for _, page_id in sorted(pages.items())))
        findings.append(FindingSpec(rule_id, severity, message, page_ids))
    return findings
