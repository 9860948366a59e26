"""Written refusals: the reasons a window refuses an application (不予受理) and the legal basis refusals cite.

Data in data/notices.toml, validated when loaded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from .errors import CatalogueError, DomainError

NOTICES_FILE = "notices.toml"


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    basis: str


@dataclass(frozen=True)
class NoticeRules:
    refuse_intake: Mapping[str, Reason]
    reject_basis: Mapping[str, str]

    def intake_reason(self, code: str) -> Reason:
        try:
            return self.refuse_intake[code]
        except KeyError:
            raise DomainError(f"unknown 不予受理 reason '{code}'; known: {', '.join(self.refuse_intake)}") from None


@cache
def load_notice_rules() -> NoticeRules:
    text = resources.files(__package__).joinpath("data", NOTICES_FILE).read_text(encoding="utf-8")
    return parse_notice_rules(text)


def parse_notice_rules(text: str) -> NoticeRules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{NOTICES_FILE}: not valid TOML ({exc})") from None
    if set(data) != {"refuse_intake", "reject_basis"}:
        raise CatalogueError(f"{NOTICES_FILE}: expected exactly the tables [refuse_intake.*] and [reject_basis]")
    reasons = {}
    for code, raw in data["refuse_intake"].items():
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(k), str) and raw[k].strip() for k in ("text", "basis")
        ):
            raise CatalogueError(f"{NOTICES_FILE} [refuse_intake.{code}]: needs text and basis")
        reasons[code] = Reason(code, raw["text"], raw["basis"])
    basis = data["reject_basis"]
    if not isinstance(basis, dict) or not all(isinstance(v, str) and v.strip() for v in basis.values()):
        raise CatalogueError(f"{NOTICES_FILE} [reject_basis]: each reason's basis is a text")
    return NoticeRules(MappingProxyType(reasons), MappingProxyType(dict(basis)))
