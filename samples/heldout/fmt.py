"""How the held-out issuers print dates and amounts, and how a printed form maps back to its normal form.

The printing side gives the many ways offices write the same fact (ISO, 年月日 with or without
leading zeros, dots, slashes, Chinese numerals; amounts in yuan, in 万元, in financial capitals with
the figures in brackets). :func:`derive` is the inverse used to check that every truth value is the
normal form of what was printed: the generator refuses a document where the two disagree.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from samples.text import dec, money, rmb_upper

_CN_DIGITS = "〇一二三四五六七八九"


def cn_numeral_year(year: int) -> str:
    return "".join(_CN_DIGITS[int(c)] for c in str(year))


def cn_numeral_small(n: int) -> str:
    """1..31 as written in dates: 十, 十一, 二十, 二十一, 三十一."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def date_as(d: date, style: str) -> str:
    """``d`` printed in one of the styles offices use."""
    if style == "cn":  # 2026年03月15日
        return f"{d.year}年{d.month:02d}月{d.day:02d}日"
    if style == "cn_short":  # 2026年3月15日
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "cn_numeral":  # 二〇二六年三月十五日
        return f"{cn_numeral_year(d.year)}年{cn_numeral_small(d.month)}月{cn_numeral_small(d.day)}日"
    if style == "dot":  # 2026.03.15
        return f"{d.year}.{d.month:02d}.{d.day:02d}"
    if style == "dot_short":
        return f"{d.year}.{d.month}.{d.day}"
    if style == "slash":  # 2026/3/15
        return f"{d.year}/{d.month}/{d.day}"
    if style == "slash_pad":
        return f"{d.year}/{d.month:02d}/{d.day:02d}"
    if style == "iso":
        return d.isoformat()
    raise ValueError(f"unknown date style {style}")


DATE_STYLES = ("cn", "cn_short", "cn_numeral", "dot", "dot_short", "slash", "slash_pad", "iso")


def wan(value: Decimal | str | int) -> str:
    """An amount in 万元 as printed: 2860000 → 286, 2865000 → 286.5, 12345.67 → 1.234567."""
    v = dec(value) / Decimal(10000)
    text = f"{v:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def wan_fixed(value: Decimal | str | int, places: int = 2) -> str:
    """An amount in 万元 with fixed decimals (286.00); only for amounts that are whole hundreds."""
    v = dec(value) / Decimal(10000)
    if v != round(v, places):
        raise ValueError(f"{value} is not exact in 万元 with {places} places")
    return f"{v:.{places}f}"


def yuan_plain(value: Decimal | str | int, cents: bool = True) -> str:
    v = dec(value)
    if not cents:
        if v != v.to_integral_value():
            raise ValueError(f"{value} has cents")
        return f"{int(v)}"
    return f"{v:.2f}"


def yuan_grouped(value: Decimal | str | int) -> str:
    return money(value)


def upper(value: Decimal | str | int) -> str:
    return rmb_upper(value)


# -- the inverse: printed form -> normal form ------------------------------------------------------

_UPPER_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UPPER_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_CN_NUM = {c: i for i, c in enumerate(_CN_DIGITS)} | {"零": 0, "○": 0, "O": 0}


def squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def parse_upper(text: str) -> Decimal:
    """贰佰捌拾陆万元整 → 2860000; 壹拾万零伍佰元叁角 → 100500.3."""
    text = text.replace("人民币", "").replace("圆", "元").rstrip("整正")
    yuan_part, _, small = text.partition("元")
    total = 0
    section = 0
    digit = 0
    for ch in yuan_part:
        if ch in _UPPER_DIGITS:
            digit = _UPPER_DIGITS[ch]
        elif ch in _UPPER_UNITS:
            section += (digit or 1) * _UPPER_UNITS[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit) * 100000000
            section = digit = 0
        else:
            raise ValueError(f"not an amount in capitals: {text!r}")
    total += section + digit
    cents = 0
    m = re.fullmatch(r"(?:零)?(?:(.)角)?(?:零)?(?:(.)分)?", small)
    if small and not m:
        raise ValueError(f"not an amount in capitals: {text!r}")
    if m:
        if m.group(1):
            cents += _UPPER_DIGITS[m.group(1)] * 10
        if m.group(2):
            cents += _UPPER_DIGITS[m.group(2)]
    return Decimal(total) + Decimal(cents) / 100


def _cn_small(text: str) -> int:
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_NUM[tens] if tens else 1) * 10 + (_CN_NUM[ones] if ones else 0)
    return _CN_NUM[text]


def parse_date(text: str) -> date:
    s = squash(text)
    m = re.fullmatch(r"(\d{4})(?:年|\.|/|-)(\d{1,2})(?:月|\.|/|-)(\d{1,2})日?", s)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.fullmatch(
        r"([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日", s
    )
    if m:
        year = int("".join(str(_CN_NUM[c]) for c in m.group(1)))
        return date(year, _cn_small(m.group(2)), _cn_small(m.group(3)))
    raise ValueError(f"not a date: {text!r}")


def parse_amount(text: str, unit: str = "元") -> Decimal:
    """``text`` as printed (figures or capitals) in ``unit`` (元 or 万元), in yuan."""
    s = squash(text).replace("人民币", "").replace("RMB", "").lstrip("¥￥")
    if any(ch in _UPPER_DIGITS or ch in _UPPER_UNITS for ch in s):
        return parse_upper(s)
    if s.endswith("万元") or s.endswith("万"):
        s, unit = s.rstrip("元").rstrip("万"), "万元"
    s = s.removesuffix("元").replace(",", "")
    value = Decimal(s)
    return value * 10000 if unit == "万元" else value


def parse_area(text: str) -> Decimal:
    s = squash(text)
    for suffix in ("平方米", "m2", "M2"):
        s = s.removesuffix(suffix)
    return Decimal(s)


def derive(key: str, printed: str, unit: str = "") -> str:
    """The normal form (truth value) of a field printed as ``printed`` (``unit``: the unit given in its label)."""
    if key in ("issue_date", "valid_until"):
        return parse_date(printed).isoformat()
    if key in ("price_yuan", "tax_amount_yuan", "loan_amount_yuan"):
        return f"{dec(parse_amount(printed, unit or '元')):.2f}"
    if key == "area_m2":
        return f"{dec(parse_area(printed)):.2f}"
    value = squash(printed)
    if key in ("uscc", "id_number", "unit_number", "contract_number"):
        value = value.upper()
    return value
