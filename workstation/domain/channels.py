"""Where an application is captured and what that place must record (R8–R13 of 济自然规划发〔2020〕138号). Pure.

A desk's station kind sets the channel of what it captures: a hall window captures at the window; a window at a
developer, an intermediary, a bank or a notary is an extended window (R8–R9); a street or community office is a
field office (R10); a self-service kiosk is self-service (R12). An application signed away from the registry's own
hall carries a record of who witnessed the signing and how (face check, e-signature, a notary's deed, the kiosk's
identity check), and is not accepted (受理) without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import DomainError

CHANNELS = ("window", "online", "field", "extension", "self_service")
CHANNEL_LABELS: Mapping[str, str] = MappingProxyType(
    {"window": "窗口", "online": "网上", "field": "街道/社区", "extension": "延伸窗口", "self_service": "自助"}
)

STATION_CHANNELS: Mapping[str, str] = MappingProxyType(
    {
        "hall": "window",
        "registry": "window",
        "extension": "extension",
        "developer": "extension",
        "intermediary": "extension",
        "bank": "extension",
        "notary": "extension",
        "community": "field",
        "field": "field",
        "kiosk": "self_service",
        "partner": "online",
    }
)
"""The channel of what a station of each kind captures. A partner (一网通办, a bank's 金融联办, a notary, a court) is
not a desk: its applications arrive through the registry's partner intake, signed on its own platform."""

STATION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "hall": "登记大厅",
        "registry": "登记中心",
        "extension": "延伸窗口",
        "developer": "开发企业窗口",
        "intermediary": "中介机构窗口",
        "bank": "银行网点窗口",
        "notary": "公证机构窗口",
        "community": "社区便民点",
        "field": "街道/镇办登记点",
        "kiosk": "自助终端",
        "partner": "合作平台",
    }
)

_HALLS = frozenset({"hall", "registry"})
_SIGNED_ELSEWHERE = frozenset({"partner"})  # the partner's platform authenticates and e-signs (its reference)

SIGNING_METHODS: Mapping[str, str] = MappingProxyType(
    {
        "face": "人脸识别核验",
        "esign": "电子签名",
        "notary": "公证",
        "in_person": "工作人员当面核验签字",
        "kiosk": "自助终端实名核验",
    }
)
SIGNING_RESULTS = ("pass", "fail")
_TEXT_MAX = 200
_REFERENCE = re.compile(r"^[\w.:/#@+\-]{1,128}$")


class ChannelError(DomainError):
    """A dossier's channel, its signing record or the counter's rules refuse what was asked."""


def channel_of(station_kind: str) -> str:
    try:
        return STATION_CHANNELS[station_kind]
    except KeyError:
        known = ", ".join(STATION_CHANNELS)
        raise ChannelError(f"unknown station kind '{station_kind}'; kinds: {known}") from None


def channel_for(station_kind: str, asked: str | None) -> str:
    """The channel a new dossier gets at a station of this kind. A hall may record another channel (an online
    application keyed in at the window); any other station captures its own channel only."""
    own = channel_of(station_kind)
    if asked is None or asked == own:
        return own
    if asked not in CHANNELS:
        raise ChannelError(f"unknown channel '{asked}'; channels: {', '.join(CHANNELS)}")
    if station_kind in _HALLS:
        return asked
    raise ChannelError(f"a {STATION_LABELS[station_kind]} ({station_kind}) captures {own} applications, not {asked}")


def requires_signing(station_kind: str) -> bool:
    """Applications captured outside the registry's hall carry a witnessed-signing record before 受理."""
    channel_of(station_kind)
    return station_kind not in _HALLS | _SIGNED_ELSEWHERE


@dataclass(frozen=True)
class Signing:
    """Who witnessed the applicants' signing, and how (the record an extended window keeps)."""

    witness: str
    method: str
    result: str
    reference: str
    at: str = ""  # ISO time it was recorded

    def to_json(self) -> dict[str, str]:
        return {
            "witness": self.witness,
            "method": self.method,
            "result": self.result,
            "reference": self.reference,
            "at": self.at,
        }

    @property
    def label(self) -> str:
        outcome = "通过" if self.result == "pass" else "未通过"
        return f"{SIGNING_METHODS.get(self.method, self.method)} {outcome}（{self.witness}，{self.reference}）"


def check_signing(witness: str, method: str, result: str, reference: str) -> Signing:
    """A signing record as given, or ChannelError with one line saying what is wrong with it."""
    who = " ".join((witness or "").split())
    if not who:
        raise ChannelError("name who witnessed the signing (见证人)")
    if len(who) > _TEXT_MAX:
        raise ChannelError(f"the witness's name is longer than {_TEXT_MAX} characters")
    if method not in SIGNING_METHODS:
        raise ChannelError(f"unknown signing method '{str(method)[:40]}'; methods: {', '.join(SIGNING_METHODS)}")
    if result not in SIGNING_RESULTS:
        raise ChannelError(f"the check's result is pass or fail, not '{str(result)[:40]}'")
    ref = (reference or "").strip()
    if not _REFERENCE.match(ref):
        raise ChannelError(
            "give the check's reference (face-check serial, e-signature id, notarial deed number or capture id): "
            "1-128 letters, digits or . : / # @ + - _"
        )
    return Signing(who, method, result, ref)


def signing_from_json(data: Mapping[str, Any] | None) -> Signing | None:
    if not data:
        return None
    return Signing(
        str(data.get("witness") or ""),
        str(data.get("method") or ""),
        str(data.get("result") or ""),
        str(data.get("reference") or ""),
        str(data.get("at") or ""),
    )


def check_signed(station_kind: str, signing: Signing | None) -> None:
    """受理 of an application captured away from the hall needs a passed signing check on record."""
    if not requires_signing(station_kind):
        return
    where = STATION_LABELS.get(station_kind, station_kind)
    if signing is None:
        raise ChannelError(
            f"{where}受理前须记录签字见证（见证人、方式、结果） record who witnessed the signing and how before 受理"
        )
    if signing.result != "pass":
        raise ChannelError(
            f"签字见证未通过（{SIGNING_METHODS.get(signing.method, signing.method)}） the signing check failed: "
            "the application cannot be accepted"
        )


def counter_refusal(
    business_code: str, business_name: str, station_kind: str, refused: Sequence[str], hint: str
) -> str | None:
    """R12: a hall's counter refuses the businesses the office sends to self-service; the line pointing there."""
    if station_kind not in _HALLS or business_code not in refused:
        return None
    return f"{business_name}请到{hint}自助办理，窗口不予受理 {business_code} is self-service here (R12): {hint}"
