"""Parsing printed values into the extract contract's normal form (architecture.md "extract output").

Numbers become plain decimal strings without separators ("2860000.00"), dates ISO ("2026-03-15"),
names and 坐落 as printed without spaces. Every parser returns None when the text holds no such value.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

_DIGITS = "零〇一二三四五六七八九"
_CAPITAL = "零壹贰叁肆伍陆柒捌玖"
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}


def fold(text: str) -> str:
    """Full-width → half-width (NFKC) and no whitespace: how values are compared and stored."""
    return "".join(unicodedata.normalize("NFKC", text).split())


_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")


def parse_decimal(text: str, *, places: int | None = 2) -> str | None:
    """The first number in `text`, thousands separators dropped; `places` fixes the decimals printed."""
    match = _NUMBER.search(fold(text))
    if not match:
        return None
    whole = match.group(1).replace(",", "")
    frac = match.group(2) or ""
    try:
        value = Decimal(f"{whole}.{frac}" if frac else whole)
    except InvalidOperation:
        return None
    if places is None:
        return f"{whole}.{frac}" if frac else whole
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def parse_chinese_amount(text: str) -> str | None:
    """大写金额 such as 贰佰捌拾陆万元整 or 壹拾贰万叁仟肆佰伍拾陆元柒角捌分 → "2860000.00"."""
    s = fold(text)
    s = s.replace("人民币", "").replace("整", "").replace("正", "")
    match = re.search(r"[零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖十拾百佰千仟万萬亿億]+(?:元|圆)", s)
    if not match:
        return None
    integer = _chinese_integer(match.group(0)[:-1])
    if integer is None:
        return None
    rest = s[match.end() :]
    jiao = re.match(r"([零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖])角", rest)
    fen = re.search(r"([零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖])分", rest)
    cents = (_digit(jiao.group(1)) * 10 if jiao else 0) + (_digit(fen.group(1)) if fen else 0)
    return f"{integer}.{cents:02d}"


def _digit(ch: str) -> int:
    return _DIGITS.index(ch) - 1 if ch in _DIGITS[2:] else (_CAPITAL.index(ch) if ch in _CAPITAL else 0)


def _chinese_integer(s: str) -> int | None:
    total, section, number = 0, 0, 0
    seen = False
    for ch in s:
        if ch in _DIGITS or ch in _CAPITAL:
            number = _digit(ch)
            seen = True
        elif ch in _UNITS:
            section += (number or 1) * _UNITS[ch]
            number = 0
            seen = True
        elif ch in _BIG:
            total = (
                (total + section + number) * _BIG[ch] if _BIG[ch] > 10_000 else total + (section + number) * _BIG[ch]
            )
            section, number = 0, 0
            seen = True
        else:
            return None
    return total + section + number if seen else None


_DATE_PATTERNS = (
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"),
    re.compile(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"),
)


# Years a registration document can carry (births, land terms, validity ends); anything else is a misread.
MIN_YEAR, MAX_YEAR = 1900, 2100


def _date(year: str, month: str, day: str) -> str | None:
    try:
        found = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return found.isoformat() if MIN_YEAR <= found.year <= MAX_YEAR else None


# 二〇二六年三月十五日: the year digit by digit, month and day as numbers (十二, 三十一).
_CN_DIGIT = "〇一二三四五六七八九"
_CN_DATE = re.compile(
    r"([〇零○Ｏ一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日"
)


def cn_number(s: str) -> int:
    """一…九十九 as written in dates: 十 = 10, 十二 = 12, 二十 = 20, 三十一 = 31."""
    if "十" not in s:
        return _CN_DIGIT.index(s) if len(s) == 1 else -1
    tens, _, ones = s.partition("十")
    return (_CN_DIGIT.index(tens) if tens else 1) * 10 + (_CN_DIGIT.index(ones) if ones else 0)


def cn_digits(s: str) -> str:
    """二〇二六 → "2026": a year written digit by digit (零, ○ and O read as 〇)."""
    return "".join(str(_CN_DIGIT.index("〇" if ch in "零○O" else ch)) for ch in s)


def _cn_date(s: str) -> list[tuple[int, str]]:
    found = []
    for match in _CN_DATE.finditer(s):
        year = cn_digits(match.group(1))
        try:
            month, day = cn_number(match.group(2)), cn_number(match.group(3))
        except ValueError:
            continue
        iso = _date(year, str(month), str(day)) if month > 0 and day > 0 else None
        if iso is not None:
            found.append((match.start(), iso))
    return found


def parse_date(text: str) -> str | None:
    """The first real calendar date: 2026年3月15日, 2026-03-15, 2026.03.15, 2026/3/15, 20260315 or
    二〇二六年三月十五日."""
    s = fold(text)
    for pattern in _DATE_PATTERNS[:2]:
        for match in pattern.finditer(s):
            found = _date(match.group(1), match.group(2), match.group(3))
            if found is not None:
                return found
    chinese = _cn_date(s)
    if chinese:
        return chinese[0][1]
    for match in _DATE_PATTERNS[2].finditer(s):
        found = _date(match.group(1), match.group(2), match.group(3))
        if found is not None:
            return found
    return None


def parse_dates(text: str) -> list[str]:
    """All dates in order (for 有效期限 2020.01.01-2040.01.01 or 营业期限 ranges)."""
    s = fold(text)
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS[:2]:
        for match in pattern.finditer(s):
            iso = _date(match.group(1), match.group(2), match.group(3))
            if iso is not None:
                found.append((match.start(), iso))
    found.extend(_cn_date(s))
    return [iso for _, iso in sorted(found)]


def parse_area(text: str) -> str | None:
    """建筑面积 128.56平方米 / 128.56㎡ / 128.56m2 → "128.56"."""
    return parse_decimal(text, places=2)


def parse_money(text: str) -> str | None:
    """2,860,000.00元 / ¥2860000 / 286万元 → "2860000.00"; falls back to 大写金额."""
    s = fold(text)
    wan = re.search(r"(\d+(?:\.\d+)?)万元", s)
    if wan:
        return f"{(Decimal(wan.group(1)) * 10_000).quantize(Decimal('0.01')):f}"
    value = parse_decimal(s, places=2)
    return value if value is not None else parse_chinese_amount(s)


_CLEAN_NAME = re.compile(r"^[:：\s]+|[\s。，,;；]+$")


def clean_text(text: str) -> str | None:
    """Names and 坐落 as printed, without spaces or leading label punctuation."""
    value = _CLEAN_NAME.sub("", fold(text))
    return value or None
