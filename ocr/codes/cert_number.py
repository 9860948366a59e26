"""不动产权证书号 and 不动产登记证明号 (certificate and registration-proof numbers).

Since unified registration (2014/2015) they read 省简称(年度)市县名不动产权第N号 for a
certificate and …不动产证明第N号 for a proof (mortgage, easement, advance notice,
objection). Older titles (房屋所有权证, 国有土地使用证, 他项权证) are still handed in
as 权属来源; their formats varied by city, so they are only recognised by shape.
"""

from __future__ import annotations

import re
from datetime import date

from ocr.codes.normalize import normalize
from ocr.codes.result import CodeCheck, accept_or_raise, as_text, quote

KIND = "cert_number"
FIRST_YEAR = 2014  # unified real-estate registration began in 2014/2015
_LEGACY_FIRST_YEAR = 1949

# 川/蜀, 贵/黔 and 云/滇 are alternative abbreviations of the same province.
PROVINCES = {
    "京": "北京市", "津": "天津市", "冀": "河北省", "晋": "山西省", "蒙": "内蒙古自治区",
    "辽": "辽宁省", "吉": "吉林省", "黑": "黑龙江省", "沪": "上海市", "苏": "江苏省",
    "浙": "浙江省", "皖": "安徽省", "闽": "福建省", "赣": "江西省", "鲁": "山东省",
    "豫": "河南省", "鄂": "湖北省", "湘": "湖南省", "粤": "广东省", "桂": "广西壮族自治区",
    "琼": "海南省", "渝": "重庆市", "川": "四川省", "蜀": "四川省", "贵": "贵州省",
    "黔": "贵州省", "云": "云南省", "滇": "云南省", "藏": "西藏自治区", "陕": "陕西省",
    "甘": "甘肃省", "青": "青海省", "宁": "宁夏回族自治区", "新": "新疆维吾尔自治区",
}  # fmt: skip

# domain.md §3.4, with the province captured as any character so an unknown
# abbreviation gets its own message, and [0-9] instead of \d (which matches
# other scripts' digits too).
PATTERN = re.compile(r"^(.)\(([0-9]{4})\)(.{1,20}?)不动产(权|证明)第([0-9]{1,10})号$")

_PREFIX = r"(?P<prefix>.{1,12}?)"
_AREA = r"(?P<area>.{0,12}?)"
_YEAR = r"\((?P<year>[0-9]{4})[^()]{0,3}\)"  # (2006) or (2006出)
_SERIAL = r"字?第(?P<serial>[0-9A-Z\-]{1,16})号$"
# Legacy shapes, e.g. 济房权证历字第012345号, 济南国用(2008)第0100123号,
# 京朝国用(2006出)第0123号, 济房他证历字第0123号, 济南他项(2010)第123号.
_LEGACY_PATTERNS = (
    ("house_ownership", "房屋所有权证", re.compile("^" + _PREFIX + "房权证" + _AREA + _SERIAL)),
    ("land_use", "土地使用证", re.compile("^" + _PREFIX + "[国集]用" + _YEAR + _SERIAL)),
    ("other_rights", "他项权证", re.compile("^" + _PREFIX + "房他证" + _AREA + _SERIAL)),
    ("other_rights", "他项权证", re.compile("^" + _PREFIX + "他项" + _YEAR + _SERIAL)),
)


def check_cert_number(s: str, today: date | None = None) -> CodeCheck:
    """Check a certificate / proof number (or recognise a legacy title). Never raises."""
    raw, type_error = as_text(s)
    value = normalize(raw)  # full-width parentheses become ASCII here
    if type_error:
        return CodeCheck(KIND, raw, value, False, (type_error,))
    if not value:
        return CodeCheck(KIND, raw, value, False, ("empty input",))
    this_year = (today or date.today()).year

    match = PATTERN.match(value)
    if match is None:
        return _check_legacy(raw, value, this_year)

    abbr, year_text, place, right, serial = match.groups()
    year = int(year_text)
    errors = []
    if abbr not in PROVINCES:
        errors.append(f"unknown province abbreviation {quote(abbr)}")
    if year < FIRST_YEAR:
        errors.append(f"year {year} is before unified real-estate registration began ({FIRST_YEAR})")
    elif year > this_year:
        errors.append(f"year {year} is in the future")
    details = {
        "kind": "certificate" if right == "权" else "proof",
        "province_abbr": abbr,
        "province": PROVINCES.get(abbr),
        "year": year,
        "place": place,
        "serial": serial,
    }
    return CodeCheck(KIND, raw, value, not errors, tuple(errors), (), details)


def _check_legacy(raw: str, value: str, this_year: int) -> CodeCheck:
    for legacy_type, title, pattern in _LEGACY_PATTERNS:
        match = pattern.match(value)
        if match is None:
            continue
        parts = match.groupdict()
        year = int(parts["year"]) if parts.get("year") else None
        errors = []
        if year is not None and not _LEGACY_FIRST_YEAR <= year <= this_year:
            errors.append(f"year {year} is not plausible for a {title}")
        details = {
            "kind": "legacy",
            "legacy_type": legacy_type,
            "prefix": parts["prefix"],
            "area": parts.get("area"),
            "year": year,
            "serial": parts["serial"],
        }
        warning = f"legacy {title} number; structure only, not verified"
        return CodeCheck(KIND, raw, value, not errors, tuple(errors), (warning,), details)
    return CodeCheck(KIND, raw, value, False, (_diagnose(value),))


def _diagnose(value: str) -> str:
    """A hint at what is wrong with a number that matches no known shape."""
    if "不动产" not in value:
        return "not a real-estate certificate or proof number (no 不动产)"
    if not value.endswith("号"):
        return "does not end in 号"
    if "第" not in value:
        return "missing 第 before the serial number"
    if not re.match(r"^.\([0-9]{4}\)", value):
        return "does not start with a province abbreviation and a (year)"
    return "does not match 省简称(年度)市县名不动产权第N号 / 不动产证明第N号"


def parse_cert_number(s: str, today: date | None = None) -> CodeCheck:
    """Return the check if acceptable (legacy titles with a warning), else raise CodeError."""
    return accept_or_raise(check_cert_number(s, today), "certificate number")
