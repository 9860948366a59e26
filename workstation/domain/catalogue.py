"""The business catalogue: materials, businesses, their roles and checklists, and the workflow.

All of it is data (data/catalogue.toml and data/materials.toml, edited by officials). Loading validates
everything and refuses a bad file with one line naming the business and key at fault.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from .errors import CatalogueError
from .stages import validate_professional_merge, validate_stages

CATALOGUE_FILE = "catalogue.toml"
MATERIALS_FILE = "materials.toml"

_MATERIAL_CODE = re.compile(r"^M\d{2,3}$")
_BUSINESS_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DJLX = re.compile(r"^\d{3}$")
_FORMS = frozenset({"O", "C", "S", "share"})


@dataclass(frozen=True)
class Material:
    code: str
    name: str
    name_en: str
    form: str  # "/"-separated: O 原件, C 验原件收复印件, S 加盖公章, share 共享/电子证照


@dataclass(frozen=True)
class ChecklistItem:
    material: str
    accepts: tuple[str, ...]  # other material codes that also satisfy the item
    role: str | None  # None: dossier-level; else the party role it belongs to
    kind: str | None  # "enterprise" | "individual" | None (any kind of the role)
    required: bool
    when: str | None  # a condition name: the item applies only when the dossier has it
    label: str


@dataclass(frozen=True)
class Role:
    name: str  # e.g. "buyer"
    label: str  # e.g. 买受人
    kinds: tuple[str, ...]  # party kinds the role allows
    min_count: int
    applicant: bool  # the role of the applicant who opens the dossier
    identity: bool = True  # its parties hand in identity materials (not a decedent, not a court's officers)


@dataclass(frozen=True)
class Business:
    code: str
    name: str
    registration_type: str  # FIRST TRANSFER CHANGE CANCEL CORRECT OBJECTION ADVANCE SEIZURE OTHER
    djlx: str  # 登记类型 code: "100", "200", …
    roles: tuple[Role, ...]
    applicant_kinds: tuple[str, ...]
    conditions: Mapping[str, str] = field(hash=False)  # condition name -> label
    require_one_of: tuple[tuple[str, ...], ...]  # condition groups of which at least one must be set
    items: tuple[ChecklistItem, ...]
    time_limit_days: int  # working days (R19)
    qc_full: bool  # inspected 100% (R3)
    site_visit: bool  # 实地查看 (条例 §19)
    digitized_at_intake: bool  # digitised at pre-intake, paperless review (R7)
    stages: tuple[str, ...] | None  # overrides the workflow's stages when set

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        known = ", ".join(r.name for r in self.roles)
        raise CatalogueError(f"business {self.code} has no role '{name}'; its roles: {known}")

    @property
    def applicant_role(self) -> Role:
        return next(role for role in self.roles if role.applicant)

    def digitized_through(self, channel: str) -> bool:
        """R7: enterprise non-residential purchases are digitised at pre-intake; every channel but the window is
        digital by nature. Other window businesses stay on paper for now."""
        return channel != "window" or self.digitized_at_intake


@dataclass(frozen=True)
class Catalogue:
    materials: Mapping[str, Material] = field(hash=False)
    businesses: Mapping[str, Business] = field(hash=False)
    stages: tuple[str, ...]
    professional_merge: tuple[str, str]

    def business(self, code: str) -> Business:
        try:
            return self.businesses[code]
        except KeyError:
            known = ", ".join(self.businesses)
            raise CatalogueError(f"unknown business code '{code}'; known: {known}") from None

    def material(self, code: str) -> Material:
        try:
            return self.materials[code]
        except KeyError:
            raise CatalogueError(f"unknown material code '{code}'; known: {_code_range(self.materials)}") from None


def load_catalogue(
    text: str | None = None,
    *,
    stages_override: list[str] | None = None,
    materials_text: str | None = None,
) -> Catalogue:
    """Parse and validate the catalogue (packaged, or `text`) against the materials.

    `stages_override` replaces the workflow's stages (a desk's configuration); it obeys the same rules.
    """
    materials = _parse_materials(_toml(materials_text, MATERIALS_FILE))
    return _parse_catalogue(_toml(text, CATALOGUE_FILE), materials, stages_override)


@cache
def default_catalogue() -> Catalogue:
    """The packaged catalogue, loaded once."""
    return load_catalogue()


def _toml(text: str | None, filename: str) -> dict[str, Any]:
    if text is None:
        text = resources.files(__package__).joinpath("data", filename).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{filename}: invalid TOML: {exc}") from None


def _code_range(codes: Mapping[str, object]) -> str:
    keys = list(codes)
    return f"{keys[0]}…{keys[-1]}" if len(keys) > 3 else ", ".join(keys)


_MISSING: Any = object()


class _Table:
    """Typed access to one TOML table; `finish()` refuses keys nobody asked for (typos)."""

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, dict):
            raise CatalogueError(f"{where}: expected a table")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.used: set[str] = set()

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.raw.get(key, _MISSING)

    def text(self, key: str, default: str | None = _MISSING) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            if default is _MISSING:
                raise CatalogueError(f"{self.where}: missing '{key}'")
            return default
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{self.where}: '{key}' must be a non-empty string")
        return value.strip()

    def required_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise CatalogueError(f"{self.where}: '{key}' must be true or false")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        value = self._get(key)
        if value is _MISSING:
            if default is None:
                raise CatalogueError(f"{self.where}: missing '{key}'")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise CatalogueError(f"{self.where}: '{key}' must be a whole number")
        return value

    def texts(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self._get(key)
        if value is _MISSING:
            if required:
                raise CatalogueError(f"{self.where}: missing '{key}'")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CatalogueError(f"{self.where}: '{key}' must be a list of non-empty strings")
        result = tuple(v.strip() for v in value)
        for v in result:
            if result.count(v) > 1:
                raise CatalogueError(f"{self.where}: '{key}' lists '{v}' twice")
        return result

    def raw_value(self, key: str) -> Any:
        return self._get(key)

    def finish(self) -> None:
        for key in self.raw:
            if key not in self.used:
                raise CatalogueError(f"{self.where}: unknown key '{key}'")


def _parse_materials(doc: dict[str, Any]) -> Mapping[str, Material]:
    top = _Table(doc, MATERIALS_FILE)
    entries = top.raw_value("material")
    top.finish()
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{MATERIALS_FILE}: no [[material]] entries")
    materials: dict[str, Material] = {}
    for index, raw in enumerate(entries, start=1):
        table = _Table(raw, f"{MATERIALS_FILE}: material #{index}")
        code = table.required_text("code")
        if not _MATERIAL_CODE.match(code):
            raise CatalogueError(f"{MATERIALS_FILE}: material code '{code}' is not of the form M01")
        table.where = f"{MATERIALS_FILE}: material {code}"
        if code in materials:
            raise CatalogueError(f"{MATERIALS_FILE}: duplicate material code '{code}'")
        form = table.required_text("form")
        if any(part not in _FORMS for part in form.split("/")):
            raise CatalogueError(f"{table.where}: form '{form}' must combine O, C, S, share with '/'")
        materials[code] = Material(
            code=code,
            name=table.required_text("name"),
            name_en=table.required_text("name_en"),
            form=form,
        )
        table.finish()
    return MappingProxyType(materials)


@dataclass(frozen=True)
class _Context:
    materials: Mapping[str, Material]
    registration_types: Mapping[str, str]  # type -> djlx
    party_roles: Mapping[str, str]  # role -> label
    identity: Mapping[str, tuple[ChecklistItem, ...]]  # party kind -> items (role and kind unset)
    time_limit_days: int


def _parse_catalogue(
    doc: dict[str, Any], materials: Mapping[str, Material], stages_override: list[str] | None
) -> Catalogue:
    top = _Table(doc, CATALOGUE_FILE)
    workflow = _Table(top.raw_value("workflow"), "workflow")
    stages = validate_stages(workflow.raw_value("stages"), "workflow")
    merge = validate_professional_merge(workflow.raw_value("professional_merge"), "workflow")
    workflow.finish()
    if stages_override is not None:
        stages = validate_stages(stages_override, "stages_override")

    defaults = _Table(top.raw_value("defaults"), "defaults")
    time_limit = _positive_days(defaults, "defaults")
    defaults.finish()

    context = _Context(
        materials=materials,
        registration_types=_parse_registration_types(top.raw_value("registration_types")),
        party_roles=_parse_party_roles(top.raw_value("party_roles")),
        identity=_parse_identity(top.raw_value("identity"), materials),
        time_limit_days=time_limit,
    )
    raw_businesses = top.raw_value("business")
    top.finish()
    if not isinstance(raw_businesses, dict) or not raw_businesses:
        raise CatalogueError(f"{CATALOGUE_FILE}: no [business.CODE] tables")
    businesses = {code: _parse_business(code, raw, context) for code, raw in raw_businesses.items()}
    return Catalogue(
        materials=materials,
        businesses=MappingProxyType(businesses),
        stages=stages,
        professional_merge=merge,
    )


def _positive_days(table: _Table, where: str, default: int | None = None) -> int:
    days = table.integer("time_limit_days", default)
    if days <= 0:
        raise CatalogueError(f"{where}: time_limit_days must be a positive number of working days, got {days}")
    return days


def _parse_registration_types(raw: object) -> Mapping[str, str]:
    table = _Table(raw, "registration_types")
    types: dict[str, str] = {}
    for name in list(table.raw):
        entry = _Table(table.raw_value(name), f"registration_types.{name}")
        djlx = entry.required_text("djlx")
        entry.required_text("label")
        entry.finish()
        if not _BUSINESS_CODE.match(name) or not _DJLX.match(djlx):
            raise CatalogueError(f"registration_types.{name}: expects an upper-case name and a 3-digit djlx")
        types[name] = djlx
    table.finish()
    return MappingProxyType(types)


def _parse_party_roles(raw: object) -> Mapping[str, str]:
    table = _Table(raw, "party_roles")
    roles: dict[str, str] = {}
    for name in list(table.raw):
        if not _NAME.match(name):
            raise CatalogueError(f"party_roles: role name '{name}' must be lower_snake_case")
        label = table.text(name)
        assert label is not None
        roles[name] = label
    table.finish()
    return MappingProxyType(roles)


def _parse_identity(raw: object, materials: Mapping[str, Material]) -> Mapping[str, tuple[ChecklistItem, ...]]:
    table = _Table(raw, "identity")
    identity: dict[str, tuple[ChecklistItem, ...]] = {}
    for kind in list(table.raw):
        entries = table.raw_value(kind)
        if not _NAME.match(kind) or not isinstance(entries, list) or not entries:
            raise CatalogueError(f"identity.{kind}: expected a non-empty list of items under a lower-case kind")
        items = []
        for index, entry in enumerate(entries, start=1):
            item = _Table(entry, f"identity.{kind} item #{index}")
            code = _material_code(item, materials, f"identity.{kind}")
            items.append(
                ChecklistItem(
                    material=code,
                    accepts=_accepts(item, code, materials, f"identity.{kind}"),
                    role=None,
                    kind=kind,
                    required=item.flag("required", True),
                    when=None,
                    label=item.text("label", None) or materials[code].name,
                )
            )
            item.finish()
        identity[kind] = tuple(items)
    table.finish()
    if not identity:
        raise CatalogueError("identity: no party kinds defined")
    return MappingProxyType(identity)


def _material_code(item: _Table, materials: Mapping[str, Material], where: str) -> str:
    code = item.required_text("material")
    if code not in materials:
        raise CatalogueError(f"{where}: unknown material '{code}'; known: {_code_range(materials)}")
    return code


def _accepts(item: _Table, code: str, materials: Mapping[str, Material], where: str) -> tuple[str, ...]:
    accepts = item.texts("accepts")
    for alternative in accepts:
        if alternative not in materials:
            raise CatalogueError(f"{where}: item {code} accepts unknown material '{alternative}'")
        if alternative == code:
            raise CatalogueError(f"{where}: item {code} lists itself in accepts")
    return accepts


def _parse_business(code: str, raw: object, ctx: _Context) -> Business:
    where = f"business {code}"
    if not _BUSINESS_CODE.match(code):
        raise CatalogueError(f"{where}: code must be UPPER_SNAKE_CASE")
    table = _Table(raw, where)
    name = table.required_text("name")
    registration_type = table.required_text("registration_type")
    if registration_type not in ctx.registration_types:
        known = ", ".join(ctx.registration_types)
        raise CatalogueError(f"{where}: unknown registration type '{registration_type}'; known: {known}")
    raw_stages = table.raw_value("stages")
    stages = None if raw_stages is _MISSING else validate_stages(raw_stages, where)

    conditions = _parse_conditions(table.raw_value("conditions"), where)
    require_one_of = _parse_groups(table.raw_value("require_one_of"), conditions, where)
    roles = _parse_roles(table.raw_value("roles"), ctx, where)
    items = _parse_items(table.raw_value("items"), roles, conditions, ctx, where)

    business = Business(
        code=code,
        name=name,
        registration_type=registration_type,
        djlx=ctx.registration_types[registration_type],
        roles=roles,
        applicant_kinds=next(role.kinds for role in roles if role.applicant),
        conditions=conditions,
        require_one_of=require_one_of,
        items=items,
        time_limit_days=_positive_days(table, where, ctx.time_limit_days),
        qc_full=table.flag("qc_full", False),
        site_visit=table.flag("site_visit", False),
        digitized_at_intake=table.flag("digitized_at_intake", False),
        stages=stages,
    )
    table.finish()
    return business


def _parse_conditions(raw: object, where: str) -> Mapping[str, str]:
    if raw is _MISSING:
        return MappingProxyType({})
    table = _Table(raw, f"{where} conditions")
    conditions: dict[str, str] = {}
    for name in list(table.raw):
        if not _NAME.match(name):
            raise CatalogueError(f"{where}: condition name '{name}' must be lower_snake_case")
        label = table.text(name)
        assert label is not None
        conditions[name] = label
    table.finish()
    return MappingProxyType(conditions)


def _parse_groups(raw: object, conditions: Mapping[str, str], where: str) -> tuple[tuple[str, ...], ...]:
    if raw is _MISSING:
        return ()
    if not isinstance(raw, list) or not all(isinstance(group, list) and group for group in raw):
        raise CatalogueError(f"{where}: require_one_of must be a list of non-empty lists of condition names")
    groups = []
    for group in raw:
        for name in group:
            if name not in conditions:
                raise CatalogueError(
                    f"{where}: require_one_of names unknown condition '{name}'; known: {_known(conditions)}"
                )
        groups.append(tuple(group))
    return tuple(groups)


def _known(names: Mapping[str, object]) -> str:
    return ", ".join(names) or "(none)"


def _parse_roles(raw: object, ctx: _Context, where: str) -> tuple[Role, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{where}: missing 'roles' (a list of {{ role, kinds, min_count, applicant }})")
    roles: list[Role] = []
    for index, entry in enumerate(raw, start=1):
        table = _Table(entry, f"{where} role #{index}")
        name = table.required_text("role")
        if name not in ctx.party_roles:
            raise CatalogueError(f"{where}: unknown role '{name}'; known: {_known(ctx.party_roles)}")
        if any(role.name == name for role in roles):
            raise CatalogueError(f"{where}: role '{name}' is listed twice")
        table.where = f"{where} role {name}"
        kinds = table.texts("kinds", required=True)
        if not kinds:
            raise CatalogueError(f"{table.where}: 'kinds' must not be empty")
        for kind in kinds:
            if kind not in ctx.identity:
                raise CatalogueError(f"{table.where}: unknown party kind '{kind}'; known: {_known(ctx.identity)}")
        min_count = table.integer("min_count", 1)
        if min_count < 0:
            raise CatalogueError(f"{table.where}: min_count must be 0 or more")
        applicant = table.flag("applicant", False)
        if applicant and min_count < 1:
            raise CatalogueError(f"{table.where}: the applicant role needs min_count of at least 1")
        identity = table.flag("identity", True)
        table.finish()
        roles.append(Role(name, ctx.party_roles[name], kinds, min_count, applicant, identity))
    applicants = [role.name for role in roles if role.applicant]
    if len(applicants) != 1:
        raise CatalogueError(f"{where}: exactly one role must have applicant = true, found {len(applicants)}")
    return tuple(roles)


def _parse_items(
    raw: object,
    roles: tuple[Role, ...],
    conditions: Mapping[str, str],
    ctx: _Context,
    where: str,
) -> tuple[ChecklistItem, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{where}: missing 'items' (the material checklist)")
    by_role = {role.name: role for role in roles}
    listed: list[ChecklistItem] = []
    for index, entry in enumerate(raw, start=1):
        table = _Table(entry, f"{where} item #{index}")
        code = _material_code(table, ctx.materials, where)
        table.where = f"{where} item {code}"
        role_name = table.text("role", None)
        kind = table.text("kind", None)
        when = table.text("when", None)
        if role_name is not None and role_name not in by_role:
            raise CatalogueError(
                f"{where}: item {code} names role '{role_name}', which the business does not have; "
                f"its roles: {', '.join(by_role)}"
            )
        if kind is not None:
            if role_name is None:
                raise CatalogueError(f"{where}: item {code} has a kind but no role")
            if kind not in by_role[role_name].kinds:
                raise CatalogueError(
                    f"{where}: item {code} is for kind '{kind}', which role '{role_name}' does not allow"
                )
        if when is not None and when not in conditions:
            raise CatalogueError(f"{where}: item {code} uses unknown condition '{when}'; known: {_known(conditions)}")
        listed.append(
            ChecklistItem(
                material=code,
                accepts=_accepts(table, code, ctx.materials, where),
                role=role_name,
                kind=kind,
                required=table.flag("required", True),
                when=when,
                label=table.text("label", None) or ctx.materials[code].name,
            )
        )
        table.finish()

    items = [item for item in listed if item.role is None]
    for role in roles:
        for kind in role.kinds if role.identity else ():
            items.extend(_for_role(identity, role.name) for identity in ctx.identity[kind])
        items.extend(item for item in listed if item.role == role.name)
    for first, second in _pairs(items):
        if _overlap(first, second):
            party = f" for {first.role}" if first.role else ""
            raise CatalogueError(f"{where}: item {first.material}{party} is listed twice (identity items included)")
    return tuple(items)


def _for_role(item: ChecklistItem, role: str) -> ChecklistItem:
    return ChecklistItem(item.material, item.accepts, role, item.kind, item.required, item.when, item.label)


def _pairs(items: list[ChecklistItem]) -> Iterator[tuple[ChecklistItem, ChecklistItem]]:
    for i, first in enumerate(items):
        for second in items[i + 1 :]:
            yield first, second


def _overlap(a: ChecklistItem, b: ChecklistItem) -> bool:
    """Two items would put the same material twice on one party (or the dossier) under the same condition."""
    return (
        a.material == b.material
        and a.role == b.role
        and a.when == b.when
        and (a.kind is None or b.kind is None or a.kind == b.kind)
    )
