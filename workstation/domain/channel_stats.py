"""R18: where applications come in — the share of each channel (window, online, extended window, field office,
self-service) per month and per business, and its trend over the months before. Pure.

Counts are whole applications (dossiers opened, by the month of their application time in office time), whatever
became of them: an application refused or withdrawn still came in through its channel.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from .channels import CHANNELS
from .errors import DomainError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONTHS = 36


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match((text or "").strip())
        if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2999:
            raise DomainError(f"a month is YYYY-MM, e.g. 2026-12, not {str(text)[:20]!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def back(self, n: int) -> Month:
        index = self.year * 12 + self.month - 1 - n
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class MonthShares:
    month: str
    total: int
    counts: Mapping[str, int]  # channel → applications
    shares: Mapping[str, Fraction]  # channel → share of the month's applications (empty when none came in)

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "total": self.total,
            "counts": dict(self.counts),
            "shares": {c: round(float(s), 4) for c, s in self.shares.items()},
        }


@dataclass(frozen=True)
class BusinessRow:
    business: str
    total: int
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"business": self.business, "total": self.total, "counts": dict(self.counts)}


@dataclass(frozen=True)
class ChannelReport:
    month: MonthShares  # the month asked for
    businesses: tuple[BusinessRow, ...]  # that month, most applications first
    trend: tuple[MonthShares, ...]  # the months before it and the month itself, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            **self.month.to_json(),
            "businesses": [b.to_json() for b in self.businesses],
            "trend": [m.to_json() for m in self.trend],
        }


def _shares(month: Month, counts: Counter[str]) -> MonthShares:
    total = sum(counts.values())
    ordered = {c: counts.get(c, 0) for c in CHANNELS}
    ordered.update({c: n for c, n in sorted(counts.items()) if c not in ordered})
    shares = {c: Fraction(n, total) for c, n in ordered.items()} if total else {}
    return MonthShares(month.label, total, MappingProxyType(ordered), MappingProxyType(shares))


def channel_report(applications: Iterable[tuple[Month, str, str]], month: Month, months: int = 6) -> ChannelReport:
    """The report for `month` from (month, channel, business) of each application; `months` of trend, the asked
    month included. Applications outside the window are ignored."""
    if not 1 <= months <= MAX_MONTHS:
        raise DomainError(f"the trend covers 1 to {MAX_MONTHS} months, not {months}")
    window = [month.back(n) for n in range(months - 1, -1, -1)]
    wanted = set(window)
    per_month: dict[Month, Counter[str]] = {m: Counter() for m in window}
    per_business: dict[str, Counter[str]] = {}
    for when, channel, business in applications:
        if when not in wanted:
            continue
        per_month[when][channel] += 1
        if when == month:
            per_business.setdefault(business, Counter())[channel] += 1
    rows = tuple(
        BusinessRow(code, sum(c.values()), MappingProxyType(dict(sorted(c.items()))))
        for code, c in sorted(per_business.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    )
    trend = tuple(_shares(m, per_month[m]) for m in window)
    return ChannelReport(trend[-1], rows, trend)
