"""Registration fees (R6: paid at one comprehensive window, or online): what a dossier owes, and a payment's checks.

The schedule is data (data/fees.toml, edited by officials; its comments give the legal basis) validated when loaded:
a bad file is refused with one line naming the key. Money is whole fen (int) throughout, never a float; `yuan` and
`fen` convert for display and input.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ocr.codes import normalize

from .catalogue import Catalogue, default_catalogue
from .errors import CatalogueError, DomainError

FEES_FILE = "fees.toml"

RESIDENTIAL = "residential"
NON_RESIDENTIAL = "non_residential"
USES = (RESIDENTIAL, NON_RESIDENTIAL)

REGISTRATION = "registration"
CERTIFICATE = "certificate"
ITEM_LABELS = MappingProxyType({REGISTRATION: "不动产登记费", CERTIFICATE: "证书工本费"})

PAYMENT_METHODS = MappingProxyType({"qr": "扫码支付", "online": "网上支付", "cash": "现金"})
REFERENCE_MAX = 64

# The registration types of catalogue.toml ([registration_types]); businesses today use only some of them.
_REGISTRATION_TYPES = frozenset(
    {"FIRST", "TRANSFER", "CHANGE", "CANCEL", "CORRECT", "OBJECTION", "ADVANCE", "SEIZURE", "OTHER"}
)
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_MONEY = re.compile(r"^[¥￥]?(?P<whole>[0-9]{1,3}(?:,[0-9]{3}){1,5}|[0-9]{1,18})(?:\.(?P<part>[0-9]{1,2}))?元?$")
_USE_SPLIT = re.compile(r"[/／、,，;；()（）\[\]【】]")
_LAND_SUFFIX = "用地"


class FeeError(DomainError):
    """A fee cannot be assessed or a payment is not acceptable; the message is one line."""


# ----------------------------------------------------------------------------------------------- money


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 8000 → "80.00", 5 → "0.05", -150 → "-1.50"."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise FeeError(f"an amount must be a whole number of fen, got {fen!r}")
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def fen(text: str) -> int:
    """Yuan text as fen: "80", "80.0", "80.00", "¥80.00", "80元", "1,550.00" → 8000 …; anything else → FeeError."""
    if not isinstance(text, str):
        raise FeeError(f"金额格式不正确 an amount must be text like 80.00, got {type(text).__name__}")
    match = _MONEY.match("".join(text.split()))
    if not match:
        raise FeeError(f"金额格式不正确 not an amount in yuan with at most two decimals: {_quote(text)}")
    whole = int(match["whole"].replace(",", ""))
    part = (match["part"] or "").ljust(2, "0")
    return whole * 100 + int(part)


def _quote(text: str) -> str:
    return repr(text[:40] + "…") if len(text) > 40 else repr(text)


# ----------------------------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Exemption:
    code: str  # e.g. "small_micro"
    label: str  # e.g. 小微企业
    covers: frozenset[str]  # fee item codes it waives: "registration", "certificate"


@dataclass(frozen=True)
class FeeSchedule:
    rates: Mapping[str, int] = field(hash=False)  # use → registration fee in fen per 件
    extra_certificate_fen: int  # each certificate beyond the first
    free_registration_types: Mapping[str, str] = field(hash=False)  # registration type → reason shown
    free_businesses: Mapping[str, str] = field(hash=False)  # business code → reason shown
    proof_businesses: frozenset[str]  # issue a 登记证明: no 工本费
    payers: Mapping[str, str] = field(hash=False)  # every business of the catalogue → the role that pays
    business_types: Mapping[str, str] = field(hash=False)  # every business of the catalogue → registration type
    exemptions: Mapping[str, Exemption] = field(hash=False)  # in the file's order
    use_words: Mapping[str, str] = field(hash=False)  # 用途 word → use
    # 换证/补证: no registration fee; the 工本费 for every certificate issued, the first included (2559号)
    certificate_only: frozenset[str] = frozenset()

    def classify_use(self, text: str | None) -> str | None:
        """The fee class of a 用途 text (see data/fees.toml [use]): "residential", "non_residential", or None."""
        if text is None or not isinstance(text, str):
            return None
        parts = [p for p in _USE_SPLIT.split(normalize(text)) if p]
        if not parts:
            return None
        house = [p for p in parts if not p.endswith(_LAND_SUFFIX)]
        if not house:  # only the land's use is given
            house = [p.removesuffix(_LAND_SUFFIX) for p in parts]
        classes = {self._classify_part(p) for p in house}
        if NON_RESIDENTIAL in classes:
            return NON_RESIDENTIAL  # the higher fee applies to a unit non-residential in part
        if None in classes:
            return None
        return RESIDENTIAL

    def _classify_part(self, part: str) -> str | None:
        found = [word for word in self.use_words if word in part]
        # A word inside a longer word found too does not count: 住宅 in 非住宅, 公寓 in 公寓住宅.
        kept = {self.use_words[w] for w in found if not any(w != other and w in other for other in found)}
        if not kept:
            return None
        return NON_RESIDENTIAL if NON_RESIDENTIAL in kept else RESIDENTIAL

    def free_reason(self, business_code: str, registration_type: str) -> str | None:
        """Why the business is fee-free, or None when it is charged."""
        return self.free_businesses.get(business_code) or self.free_registration_types.get(registration_type)

    def payer(self, business_code: str) -> str:
        try:
            return self.payers[business_code]
        except KeyError:
            raise FeeError(
                f"未知业务 unknown business code '{business_code}'; known: {', '.join(self.payers)}"
            ) from None


def load_fees(path: Path | None = None, *, text: str | None = None, catalogue: Catalogue | None = None) -> FeeSchedule:
    """Parse and validate a fee schedule: the packaged one (loaded once) when neither `path` nor `text` is given.

    Business codes and roles are checked against `catalogue` (the packaged one by default). A bad file raises
    CatalogueError with one line naming the key.
    """
    if path is None and text is None and catalogue is None:
        return _default_fees()
    filename = FEES_FILE
    if text is None:
        if path is None:
            text = _packaged_text()
        else:
            filename = Path(path).name
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                raise CatalogueError(f"{filename}: cannot be read: {reason}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{filename}: invalid TOML: {exc}") from None
    return _Loader(filename, catalogue or default_catalogue()).load(doc)


@cache
def _default_fees() -> FeeSchedule:
    return _Loader(FEES_FILE, default_catalogue()).load(tomllib.loads(_packaged_text()))


def _packaged_text() -> str:
    return resources.files(__package__).joinpath("data", FEES_FILE).read_text(encoding="utf-8")


class _Loader:
    def __init__(self, filename: str, catalogue: Catalogue) -> None:
        self.filename = filename
        self.catalogue = catalogue

    def fail(self, message: str) -> CatalogueError:
        return CatalogueError(f"{self.filename}: {message}")

    def load(self, doc: dict[str, Any]) -> FeeSchedule:
        top = self.table(doc, "", {"fees", "free", "certificate", "payer", "exemptions", "use"}, {"fees", "use"})
        amounts = {"residential_yuan", "non_residential_yuan", "extra_certificate_yuan"}
        fees = self.table(top["fees"], "fees", amounts, amounts)
        free = self.table(top.get("free", {}), "free", {"registration_types", "businesses"})
        certificate = self.table(
            top.get("certificate", {}), "certificate", {"proof_businesses", "certificate_only_businesses"}
        )
        use = self.table(top["use"], "use", {"residential", "non_residential"}, {"residential", "non_residential"})
        rates = {
            RESIDENTIAL: self.money(fees, "residential_yuan", "fees"),
            NON_RESIDENTIAL: self.money(fees, "non_residential_yuan", "fees"),
        }
        free_types = self.reasons(free.get("registration_types", {}), "free.registration_types")
        for name in free_types:
            if name not in _REGISTRATION_TYPES:
                known = ", ".join(sorted(_REGISTRATION_TYPES))
                raise self.fail(f"free.registration_types: unknown registration type '{name}'; known: {known}")
        free_businesses = self.reasons(free.get("businesses", {}), "free.businesses")
        for code in free_businesses:
            self.business(code, "free.businesses")
        proofs = self.texts(certificate, "proof_businesses", "certificate", required=False)
        for code in proofs:
            self.business(code, "certificate.proof_businesses")
        only = self.texts(certificate, "certificate_only_businesses", "certificate", required=False)
        for code in only:
            self.business(code, "certificate.certificate_only_businesses")
            if code in proofs:
                raise self.fail(f"certificate: {code} is listed both as a proof business and as certificate-only")
        return FeeSchedule(
            rates=MappingProxyType(rates),
            extra_certificate_fen=self.money(fees, "extra_certificate_yuan", "fees"),
            free_registration_types=free_types,
            free_businesses=free_businesses,
            proof_businesses=frozenset(proofs),
            payers=self.payers(top.get("payer", {})),
            business_types=MappingProxyType(
                {code: b.registration_type for code, b in self.catalogue.businesses.items()}
            ),
            exemptions=self.exemptions(top.get("exemptions", {})),
            use_words=self.use_words(use),
            certificate_only=frozenset(only),
        )

    def table(
        self, raw: object, name: str, keys: set[str], required: set[str] | frozenset[str] = frozenset()
    ) -> Mapping[str, Any]:
        """A table holding only `keys`, all of `required` among them."""
        where = f"[{name}]" if name else "top level"
        if not isinstance(raw, dict):
            raise self.fail(f"{where}: expected a table")
        for key in raw:
            if key not in keys:
                raise self.fail(f"{where}: unknown key '{key}'; known: {', '.join(sorted(keys))}")
        for key in sorted(required):
            if key not in raw:
                raise self.fail(f"{where}: missing '{key}'")
        return raw

    def money(self, raw: Mapping[str, Any], key: str, where: str) -> int:
        value = raw.get(key)
        if not isinstance(value, str):
            raise self.fail(f'{where}.{key}: must be a string in yuan like "80.00"')
        try:
            return fen(value)
        except FeeError:
            raise self.fail(f'{where}.{key}: {value!r} is not an amount in yuan like "80.00"') from None

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise self.fail(f"{where}: must be a non-empty one-line string")
        return value.strip()

    def texts(self, raw: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> tuple[str, ...]:
        value = raw.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where}.{key}: must be a list of non-empty strings")
        result = tuple(v.strip() for v in value)
        for v in result:
            if result.count(v) > 1:
                raise self.fail(f"{where}.{key}: lists '{v}' twice")
        return result

    def reasons(self, raw: object, where: str) -> Mapping[str, str]:
        if not isinstance(raw, dict):
            raise self.fail(f'[{where}]: expected a table of code = "reason"')
        return MappingProxyType({code: self.text(reason, f"{where}.{code}") for code, reason in raw.items()})

    def business(self, code: str, where: str) -> str:
        if code not in self.catalogue.businesses:
            known = ", ".join(self.catalogue.businesses)
            raise self.fail(f"{where}: unknown business '{code}'; known: {known}")
        return code

    def payers(self, raw: object) -> Mapping[str, str]:
        if not isinstance(raw, dict):
            raise self.fail('[payer]: expected a table of BUSINESS = "role"')
        payers: dict[str, str] = {}
        for code, role in raw.items():
            business = self.catalogue.businesses.get(self.business(code, "payer"))
            assert business is not None
            name = self.text(role, f"payer.{code}")
            if name not in {r.name for r in business.roles}:
                known = ", ".join(r.name for r in business.roles)
                raise self.fail(f"payer.{code}: business {code} has no role '{name}'; its roles: {known}")
            payers[code] = name
        for code, business in self.catalogue.businesses.items():
            payers.setdefault(code, business.applicant_role.name)
        return MappingProxyType(payers)

    def exemptions(self, raw: object) -> Mapping[str, Exemption]:
        if not isinstance(raw, dict):
            raise self.fail("[exemptions]: expected [exemptions.CODE] tables")
        exemptions: dict[str, Exemption] = {}
        for code, entry in raw.items():
            where = f"exemptions.{code}"
            if not _CODE.match(code):
                raise self.fail(f"{where}: the code must be lower_snake_case")
            table = self.table(entry, where, {"label", "covers"}, {"label", "covers"})
            covers = self.texts(table, "covers", where)
            if not covers:
                raise self.fail(f"{where}.covers: must name at least one of {REGISTRATION}, {CERTIFICATE}")
            for item in covers:
                if item not in ITEM_LABELS:
                    raise self.fail(f"{where}.covers: unknown fee item '{item}'; known: {REGISTRATION}, {CERTIFICATE}")
            exemptions[code] = Exemption(code, self.text(table["label"], f"{where}.label"), frozenset(covers))
        return MappingProxyType(exemptions)

    def use_words(self, use: Mapping[str, Any]) -> Mapping[str, str]:
        words: dict[str, str] = {}
        for name in USES:
            listed = self.texts(use, name, "use")
            if not listed:
                raise self.fail(f"use.{name}: must list at least one 用途 word")
            for word in listed:
                key = normalize(word)
                if not key or _USE_SPLIT.search(key):
                    raise self.fail(f"use.{name}: '{word}' must be one word, without separators")
                if key in words:
                    raise self.fail(f"use.{name}: '{word}' is listed under both uses")
                words[key] = name
        return MappingProxyType(words)


def classify_use(text: str | None, schedule: FeeSchedule | None = None) -> str | None:
    """The fee class of a 用途 text by the packaged schedule (or `schedule`): "residential", "non_residential", None.

    "成套住宅" → residential, "商业服务" → non_residential, "城镇住宅用地/住宅" → residential (the land's use is
    ignored beside the house's), "住宅/商业" → non_residential (the higher fee applies when a unit is non-residential
    in part), "其他" or "" → None (unknown: the clerk confirms the 用途).
    """
    return (schedule or load_fees()).classify_use(text)


# ----------------------------------------------------------------------------------------------- assessment


@dataclass(frozen=True)
class FeeItem:
    code: str  # "registration" 不动产登记费 | "certificate" 证书工本费 (the certificates beyond the first)
    label: str
    amount_fen: int


@dataclass(frozen=True)
class FeeAssessment:
    items: tuple[FeeItem, ...]
    total_fen: int
    use: str | None  # "residential" | "non_residential"; None only for a fee-free business of unknown use
    exempt: tuple[str, ...]  # labels of the exemptions applied, or the fee-free reason
    payer_role: str | None  # the catalogue role that pays; None when nothing is due

    def __post_init__(self) -> None:
        if any(item.amount_fen < 0 for item in self.items) or self.total_fen != sum(i.amount_fen for i in self.items):
            raise FeeError("费用明细与合计不符 the items do not add up to the total")

    @property
    def free(self) -> bool:
        return self.total_fen == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [{"code": i.code, "label": i.label, "amount_fen": i.amount_fen} for i in self.items],
            "total_fen": self.total_fen,
            "use": self.use,
            "exempt": list(self.exempt),
            "payer_role": self.payer_role,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeeAssessment:
        try:
            items = tuple(
                FeeItem(code=str(i["code"]), label=str(i["label"]), amount_fen=_whole(i["amount_fen"]))
                for i in data["items"]
            )
            return cls(
                items=items,
                total_fen=_whole(data["total_fen"]),
                use=data["use"],
                exempt=tuple(str(e) for e in data["exempt"]),
                payer_role=data["payer_role"],
            )
        except (KeyError, TypeError) as exc:
            raise FeeError(f"费用记录不完整 a stored assessment is malformed: {exc}") from None


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected whole fen, got {value!r}")
    return value


def assess(
    schedule: FeeSchedule,
    *,
    business_code: str,
    registration_type: str,
    use: str | None,
    certificates: int = 1,
    exemptions: Collection[str] = (),
) -> FeeAssessment:
    """What a dossier owes under `schedule`.

    `use` is the fee class (`classify_use` of the 用途); None (unknown) is refused unless the business is fee-free.
    `certificates` is the number of certificates (or 登记证明) issued: at least 1, or 0 for a fee-free business that
    issues none. `exemptions` are codes of [exemptions]; they do not apply to a fee-free business (nothing is due).
    """
    expected_type = schedule.business_types.get(business_code)
    if expected_type is None:
        known = ", ".join(schedule.business_types)
        raise FeeError(f"未知业务 unknown business code '{business_code}'; known: {known}")
    if registration_type != expected_type:
        raise FeeError(
            f"登记类型不符 business {business_code} is a {expected_type} registration, not {registration_type!r}"
        )
    if isinstance(certificates, bool) or not isinstance(certificates, int) or certificates < 0:
        raise FeeError(f"证书数量不正确 certificates must be a whole number ≥ 0, got {certificates!r}")
    if use is not None and use not in USES:
        raise FeeError(f"用途类别不正确 use must be {' or '.join(USES)} (see classify_use), got {use!r}")
    if isinstance(exemptions, str):
        raise FeeError("exemptions must be a collection of codes, not one string")
    unknown = sorted(set(exemptions) - set(schedule.exemptions))
    if unknown:
        known = ", ".join(schedule.exemptions) or "none"
        raise FeeError(f"未知减免 unknown exemption '{unknown[0]}'; known: {known}")
    extra = max(certificates - 1, 0)

    reason = schedule.free_reason(business_code, registration_type)
    if reason is not None:
        return FeeAssessment(_items(0, extra, 0), 0, use, (reason,), None)
    if certificates == 0:
        raise FeeError(f"证书数量不正确 business {business_code} issues at least one certificate: certificates ≥ 1")
    if business_code in schedule.certificate_only:
        # 换证/补证: the 工本费 of every certificate issued, whatever the use; a 小微企业 exemption of the registration
        # fee leaves it due, one that covers the 工本费 waives it.
        cost = certificates * schedule.extra_certificate_fen
        waived = [e.label for c, e in schedule.exemptions.items() if c in exemptions and CERTIFICATE in e.covers]
        cost = 0 if waived else cost
        items = (
            FeeItem(REGISTRATION, ITEM_LABELS[REGISTRATION], 0),
            FeeItem(CERTIFICATE, ITEM_LABELS[CERTIFICATE], cost),
        )
        return FeeAssessment(items, cost, use, tuple(waived), schedule.payer(business_code) if cost else None)
    if use is None:
        raise FeeError("用途未知 the property's use is unknown: confirm the 用途 field")

    registration = schedule.rates[use]
    certificate = 0 if business_code in schedule.proof_businesses else extra * schedule.extra_certificate_fen
    applied: list[str] = []
    for code, exemption in schedule.exemptions.items():  # the file's order, whatever the caller's
        if code not in exemptions:
            continue
        applied.append(exemption.label)
        if REGISTRATION in exemption.covers:
            registration = 0
        if CERTIFICATE in exemption.covers:
            certificate = 0
    total = registration + certificate
    payer = schedule.payer(business_code) if total else None
    return FeeAssessment(_items(registration, extra, certificate), total, use, tuple(applied), payer)


def _items(registration: int, extra_certificates: int, certificate: int) -> tuple[FeeItem, ...]:
    """The registration fee always; the 工本费 line only when certificates beyond the first are issued."""
    items = [FeeItem(REGISTRATION, ITEM_LABELS[REGISTRATION], registration)]
    if extra_certificates:
        items.append(FeeItem(CERTIFICATE, ITEM_LABELS[CERTIFICATE], certificate))
    return tuple(items)


# ----------------------------------------------------------------------------------------------- payment


def check_payment(due_fen: int, *, method: str, amount_fen: int, reference: str) -> None:
    """Refuse, with one line, a payment the comprehensive window must not record (R6).

    It takes exactly what is due (no partial or over-payment), nothing when nothing is due, by a known method, with
    a reference: the 票据 (receipt) number for cash, the transaction reference for qr and online payments.
    """
    if method not in PAYMENT_METHODS:
        known = ", ".join(f"{code} ({label})" for code, label in PAYMENT_METHODS.items())
        raise FeeError(f"未知支付方式 unknown payment method {method!r}; known: {known}")
    if isinstance(due_fen, bool) or not isinstance(due_fen, int) or due_fen < 0:
        raise FeeError(f"应缴金额不正确 the amount due must be whole fen ≥ 0, got {due_fen!r}")
    if due_fen == 0:
        raise FeeError("无需缴费 nothing is due: a fee-free assessment is not paid")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise FeeError(f"实缴金额不正确 the amount paid must be whole fen, got {amount_fen!r}")
    if amount_fen != due_fen:
        raise FeeError(
            f"金额不符 paid {yuan(amount_fen)} but {yuan(due_fen)} is due: the window takes exactly the amount due"
        )
    what = "票据号" if method == "cash" else "交易流水号"
    what_en = "the receipt number" if method == "cash" else "the transaction reference"
    ref = reference if isinstance(reference, str) else ""
    if not ref.strip():
        raise FeeError(f"缺少{what} {what_en} is missing")
    if len(ref) > REFERENCE_MAX:
        raise FeeError(f"{what}过长 {what_en} is longer than {REFERENCE_MAX} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in ref):
        raise FeeError(f"{what}含有空白或控制字符 {what_en} contains whitespace or control characters")
