"""How amounts, dates and codes are printed on Chinese documents."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def dec(value: Decimal | str | int | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def plain(value: Decimal | str | int | float) -> str:
    """The ground-truth form of an amount: ``2860000.00``."""
    return f"{dec(value):.2f}"


def money(value: Decimal | str | int | float) -> str:
    """The printed form with thousands separators: ``2,860,000.00``."""
    return f"{dec(value):,.2f}"


def _group(n: int) -> str:
    out, zero = "", False
    for i in (3, 2, 1, 0):
        digit = n // 10**i % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _UNITS[i]
    return out


def rmb_upper(value: Decimal | str | int | float) -> str:
    """An amount in financial capitals (大写): 2860000 → 贰佰捌拾陆万元整."""
    amount = dec(value)
    if amount < 0:
        raise ValueError("negative amount")
    yuan = int(amount)
    jiao, fen = divmod(int((amount - yuan) * 100), 10)
    out = ""
    if yuan:
        groups = []
        while yuan:
            groups.append(yuan % 10000)
            yuan //= 10000
        gap = False
        for i in range(len(groups) - 1, -1, -1):
            g = groups[i]
            if g == 0:
                gap = bool(out)
                continue
            if out and (gap or g < 1000):
                out += "零"
            out += _group(g) + _GROUPS[i]
            gap = False
        out += "元"
    if not jiao and not fen:
        return (out or "零元") + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif out:
        out += "零"
    if fen:
        out += _DIGITS[fen] + "分"
    return out


def cn_date(d: date, pad: bool = True) -> str:
    """2026年03月12日 (``pad``) or 2026年3月12日."""
    return f"{d.year}年{d.month:02d}月{d.day:02d}日" if pad else f"{d.year}年{d.month}月{d.day}日"


def dot_date(d: date) -> str:
    """2016.05.20, as on the back of an ID card."""
    return f"{d.year}.{d.month:02d}.{d.day:02d}"


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
