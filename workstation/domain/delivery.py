"""How the certificate reaches the applicant (R10–R11): collected at the window or a community point, or sent by
free EMS. A pure state machine over immutable values: every function returns a new `Delivery` or raises
`DeliveryError` with one line (Chinese, then English).

    window, community:  ready ──collect──▶ collected
    ems:                ready ──ship──▶ shipped ──mark──▶ delivered
                                                └─mark──▶ returned ──redirect──▶ ready (any method)
    ready ──redirect──▶ ready (another method, point or address)

collected and delivered are terminal (`done`). Every Delivery, however built, satisfies the invariants of its
method and status: `Delivery(...)` and `Delivery.from_json` refuse one that does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from types import MappingProxyType
from typing import Any

from ocr.codes import check_id_number, normalize

from .errors import DomainError

METHODS: Mapping[str, str] = MappingProxyType({"window": "窗口领取", "community": "社区便民点领取", "ems": "免费邮寄"})
DELIVERY_STATUSES: Mapping[str, str] = MappingProxyType(
    {
        "ready": "待领取/待寄出",
        "collected": "已领取",
        "shipped": "已寄出",
        "delivered": "已妥投",
        "returned": "退回",
    }
)
# status → the statuses one operation can lead to (redirect keeps a delivery ready, on another method).
DELIVERY_GRAPH: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ready": frozenset({"ready", "collected", "shipped"}),
        "collected": frozenset(),
        "shipped": frozenset({"delivered", "returned"}),
        "delivered": frozenset(),
        "returned": frozenset({"ready"}),
    }
)
TERMINAL_STATUSES = frozenset({"collected", "delivered"})
# The statuses each method can be in.
METHOD_STATUSES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "window": frozenset({"ready", "collected"}),
        "community": frozenset({"ready", "collected"}),
        "ems": frozenset({"ready", "shipped", "delivered", "returned"}),
    }
)

_COLLECT_METHODS = frozenset({"window", "community"})
_SHIPPED = frozenset({"shipped", "delivered", "returned"})
_MAX_POINT = 100
_MAX_ADDRESS = 200
_MAX_NAME = 50
_WAYBILL = re.compile(r"^[A-Z0-9]{10,20}$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Area code (0 + 2–3 digits) and a 7–8 digit number, a hyphen between them or not.
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}$")


class DeliveryError(DomainError):
    """A delivery move the rules do not allow, or a bad point, address, phone, ID or waybill number."""


@dataclass(frozen=True)
class Delivery:
    method: str  # a key of METHODS
    status: str  # a key of DELIVERY_STATUSES
    point: str = ""  # community: the 社区便民点 name
    address: str = ""  # ems: the postal address
    recipient: str = ""  # who will collect or receive it (optional)
    phone: str = ""  # the number to notify (optional): a mobile or a landline with its area code
    waybill: str = ""  # ems once shipped: the EMS waybill number
    collector: str = ""  # collected: the name of who collected it
    collector_id: str = ""  # collected: their 居民身份证 number (kept whole; masking is the view's job)

    def __post_init__(self) -> None:
        _check_invariants(self)

    @property
    def status_label(self) -> str:
        """待领取 or 待寄出 for a ready delivery, by its method; else the status's label."""
        if self.status == "ready":
            return "待寄出" if self.method == "ems" else "待领取"
        return DELIVERY_STATUSES[self.status]

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        """A stored delivery, checked like a new one: unknown keys, wrong types or broken invariants are refused."""
        if not isinstance(data, Mapping):
            raise DeliveryError("交付记录格式不正确 a stored delivery must be an object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DeliveryError(f"交付记录格式不正确 unknown key '{unknown[0]}' in a stored delivery")
        for key in ("method", "status"):
            if key not in data:
                raise DeliveryError(f"交付记录格式不正确 a stored delivery lacks '{key}'")
        for key, value in data.items():
            if not isinstance(value, str):
                raise DeliveryError(f"交付记录格式不正确 '{key}' of a stored delivery must be text")
        return cls(**dict(data))


def done(d: Delivery) -> bool:
    """The certificate has reached the applicant: collected, or delivered by EMS. Nothing more can happen."""
    return d.status in TERMINAL_STATUSES


def start(method: str, *, point: str = "", address: str = "", recipient: str = "", phone: str = "") -> Delivery:
    """A new delivery, ready: "window" takes nothing more, "community" needs the point, "ems" the address."""
    point, address, recipient, phone = _destination(method, point, address, recipient, phone)
    return Delivery(method, "ready", point=point, address=address, recipient=recipient, phone=phone)


def _destination(method: str, point: str, address: str, recipient: str, phone: str) -> tuple[str, str, str, str]:
    """(point, address, recipient, phone) checked for `method` and normalised."""
    if method not in METHODS:
        known = ", ".join(f"{code} ({label})" for code, label in METHODS.items())
        raise DeliveryError(f"未知领取方式 unknown delivery method {method!r}; known: {known}")
    point = _one_line(point, "便民点", "the point", _MAX_POINT)
    address = _one_line(address, "地址", "the address", _MAX_ADDRESS)
    if method == "community" and not point:
        raise DeliveryError("社区便民点领取需要便民点名称 community collection needs the point's name")
    if method != "community" and point:
        raise DeliveryError(f"{METHODS[method]}不需要便民点 only community collection names a point")
    if method == "ems" and not address:
        raise DeliveryError("免费邮寄需要收件地址 EMS delivery needs a postal address")
    if method != "ems" and address:
        raise DeliveryError(f"{METHODS[method]}不需要地址 only EMS delivery takes an address")
    recipient = _one_line(recipient, "收件人/领取人", "the recipient", _MAX_NAME)
    return point, address, recipient, normalize_phone(phone)


def collect(d: Delivery, *, name: str, id_number: str) -> Delivery:
    """The certificate is handed over at the window or the community point, to `name` showing `id_number`."""
    if d.status != "ready":
        raise DeliveryError(_from_status(d, "领取", "collected"))
    if d.method not in _COLLECT_METHODS:
        raise DeliveryError("邮寄的证书不能直接领取 an EMS delivery is not collected: redirect it first")
    collector = _one_line(name, "领取人姓名", "the collector's name", _MAX_NAME)
    if not collector:
        raise DeliveryError("缺少领取人姓名 the collector's name is missing")
    return replace(d, status="collected", collector=collector, collector_id=normalize_id_number(id_number))


def ship(d: Delivery, *, waybill: str) -> Delivery:
    """The certificate is posted by EMS under `waybill` (spaces dropped, upper-cased, 10–20 letters or digits)."""
    if d.status != "ready":
        raise DeliveryError(_from_status(d, "寄出", "shipped"))
    if d.method != "ems":
        raise DeliveryError(
            f"{METHODS[d.method]}的证书不能寄出 a certificate to collect is not shipped: redirect it first"
        )
    return replace(d, status="shipped", waybill=normalize_waybill(waybill))


def mark(d: Delivery, status: str) -> Delivery:
    """EMS reports the item "delivered" (已妥投) or "returned" (退回)."""
    if status not in ("delivered", "returned"):
        raise DeliveryError(f"邮件状态只能是已妥投或退回 status must be 'delivered' or 'returned', got {status!r}")
    if d.status != "shipped":
        label = DELIVERY_STATUSES[status]
        raise DeliveryError(_from_status(d, f"标记为{label}", f"marked {status}"))
    return replace(d, status=status)


def redirect(
    d: Delivery, method: str, *, point: str = "", address: str = "", recipient: str = "", phone: str = ""
) -> Delivery:
    """Change how a ready or returned certificate will reach the applicant; the result is ready, with exactly the
    point, address, recipient and phone given here (nothing is carried over; pass the old ones to keep them)."""
    if d.status not in ("ready", "returned"):
        raise DeliveryError(_from_status(d, "更改领取方式", "redirected"))
    return start(method, point=point, address=address, recipient=recipient, phone=phone)


# ----------------------------------------------------------------------------------------------- values


def normalize_waybill(text: str) -> str:
    """An EMS waybill number: whitespace dropped, full-width folded, upper-cased; 10–20 letters or digits."""
    value = normalize(text) if isinstance(text, str) else ""
    if not value:
        raise DeliveryError("缺少运单号 the waybill number is missing")
    if not _WAYBILL.match(value):
        raise DeliveryError(f"运单号格式不正确 a waybill number is 10–20 letters or digits, got {_quote(value)}")
    return value


def normalize_phone(text: str) -> str:
    """ "" stays ""; else an 11-digit mobile (1[3-9]…, a +86 prefix dropped) or a landline with its area code."""
    value = normalize(text) if isinstance(text, str) else ""
    if not value:
        return ""
    value = value.replace("－", "-").replace("(", "").replace(")", "")
    if value.startswith("+86"):
        value = value[3:].lstrip("-")
    if _MOBILE.match(value) or _LANDLINE.match(value):
        return value
    raise DeliveryError(
        f"电话号码格式不正确 a phone is an 11-digit mobile or a landline with its area code, got {_quote(value)}"
    )


def normalize_id_number(text: str) -> str:
    """An 18-character 居民身份证 number with a correct check character (GB 11643), as the checker normalises it."""
    check = check_id_number(text) if isinstance(text, str) else None
    if check is None or not check.value:
        raise DeliveryError("缺少领取人身份证号码 the collector's ID number is missing")
    if len(check.value) != 18:
        raise DeliveryError(f"身份证号码应为18位 an ID number has 18 characters, got {len(check.value)}")
    if not check.valid:
        reason = check.errors[0] if check.errors else "invalid"
        raise DeliveryError(f"身份证号码不正确 invalid ID number {_quote(check.value)}: {reason}")
    return check.value


def _one_line(text: str, what: str, what_en: str, limit: int) -> str:
    if not isinstance(text, str):
        raise DeliveryError(f"{what}格式不正确 {what_en} must be text")
    value = " ".join(text.split())
    if any(not ch.isprintable() for ch in value):
        raise DeliveryError(f"{what}含有控制字符 {what_en} contains control characters")
    if len(value) > limit:
        raise DeliveryError(f"{what}过长 {what_en} is longer than {limit} characters")
    return value


def _quote(text: str) -> str:
    return repr(text[:40] + "…") if len(text) > 40 else repr(text)


def _from_status(d: Delivery, action: str, action_en: str) -> str:
    """One line: a delivery in its current status cannot take the action."""
    again = "" if d.status == "ready" else "再"
    message = f"{d.status_label}的证书不能{again}{action} a delivery {_STATUS_EN[d.status]} cannot be {action_en}"
    if d.status == "returned":
        message += ": redirect it first (重新寄出或改为领取)"
    return message


_STATUS_EN = MappingProxyType(
    {
        "ready": "still ready",
        "collected": "already collected",
        "shipped": "already shipped",
        "delivered": "already delivered",
        "returned": "returned",
    }
)


def _check_invariants(d: Delivery) -> None:
    """What every delivery satisfies, whatever built it; refused with one line."""
    for f in fields(d):
        if not isinstance(getattr(d, f.name), str):
            raise DeliveryError(f"交付记录格式不正确 '{f.name}' must be text")
    if d.method not in METHODS:
        raise DeliveryError(f"未知领取方式 unknown delivery method {d.method!r}; known: {', '.join(METHODS)}")
    if d.status not in DELIVERY_STATUSES:
        known = ", ".join(DELIVERY_STATUSES)
        raise DeliveryError(f"未知交付状态 unknown delivery status {d.status!r}; known: {known}")
    if d.status not in METHOD_STATUSES[d.method]:
        raise DeliveryError(
            f"{METHODS[d.method]}不会处于{DELIVERY_STATUSES[d.status]} a {d.method} delivery is never {d.status}"
        )
    # The destination: what start() accepts, already normalised.
    if _destination(d.method, d.point, d.address, d.recipient, d.phone) != (d.point, d.address, d.recipient, d.phone):
        raise DeliveryError("交付记录格式不正确 the point, address, recipient or phone is not in its normal form")
    if d.status in _SHIPPED:
        if normalize_waybill(d.waybill) != d.waybill:
            raise DeliveryError("运单号格式不正确 the waybill number is not in its normal form")
    elif d.waybill:
        raise DeliveryError(f"{d.status_label}的证书没有运单号 a delivery {_STATUS_EN[d.status]} has no waybill")
    if d.status == "collected":
        if not d.collector or _one_line(d.collector, "领取人姓名", "the collector's name", _MAX_NAME) != d.collector:
            raise DeliveryError("缺少领取人姓名 a collected delivery names its collector")
        if normalize_id_number(d.collector_id) != d.collector_id:
            raise DeliveryError("身份证号码格式不正确 the collector's ID number is not in its normal form")
    elif d.collector or d.collector_id:
        raise DeliveryError(f"{d.status_label}的证书没有领取人 a delivery {_STATUS_EN[d.status]} has no collector")
