"""不动产单元号 (real-estate unit number, GB/T 37346-2019).

28 characters, no check digit:
  1-6   county-level division (GB/T 2260)      13 ownership type  G/J/Z
  7-9   cadastral zone (地籍区)                  14 parcel type     A B S X C D E F H G W Y
  10-12 cadastral subzone (地籍子区)             15-19 parcel sequence number
  20    fixture type F/L/Q/W                     21-28 fixture unit number (F: 幢号 + 户号)
Printed copies often space the segments; normalize() removes that.
"""

from __future__ import annotations

import re

from ocr.codes.divisions import lookup_division
from ocr.codes.normalize import normalize
from ocr.codes.result import CodeCheck, CodeError, accept_or_raise, as_text, quote

KIND = "unit_number"
# [0-9], not \d: \d also matches other scripts' digits.
PATTERN = re.compile(r"^[0-9]{12}[GJZ][A-Z][0-9]{5}[FLQW][0-9]{8}$")
_DIGITS = "0123456789"

OWNERSHIP_TYPES = {"G": "国家所有", "J": "集体所有", "Z": "所有权未确定或有争议"}
PARCEL_TYPES = {
    "A": "集体土地所有权宗地",
    "B": "建设用地使用权宗地(地表)",
    "S": "建设用地使用权宗地(地上)",
    "X": "建设用地使用权宗地(地下)",
    "C": "宅基地使用权宗地",
    "D": "土地承包经营权宗地(耕地)",
    "E": "土地承包经营权宗地(林地)",
    "F": "土地承包经营权宗地(草地)",
    "H": "海域使用权宗海",
    "G": "无居民海岛使用权海岛",
    "W": "使用权未确定或有争议的土地",
    "Y": "其他土地使用权宗地",
}
FIXTURE_TYPES = {"F": "房屋等建筑物、构筑物", "L": "森林、林木", "Q": "其他", "W": "无定着物"}

# (1-based start, length, description, allowed characters)
_SEGMENTS = (
    (1, 12, "division and cadastral zone/subzone", _DIGITS),
    (13, 1, "ownership type", "".join(OWNERSHIP_TYPES)),
    (14, 1, "parcel type", "".join(PARCEL_TYPES)),
    (15, 5, "parcel sequence number", _DIGITS),
    (20, 1, "fixture type", "".join(FIXTURE_TYPES)),
    (21, 8, "fixture unit number", _DIGITS),
)


def format_spaced(code: str) -> str:
    """The printed form ``370102 001002 GB00001 F00010001`` of a well-formed unit number."""
    value = normalize(code)
    if not PATTERN.match(value):
        raise CodeError(f"not a 28-character unit number: {quote(value)}")
    return f"{value[:6]} {value[6:12]} {value[12:19]} {value[19:]}"


def check_unit_number(s: str) -> CodeCheck:
    """Check a real-estate unit number. Never raises."""
    raw, type_error = as_text(s)
    value = normalize(raw)
    if type_error:
        return CodeCheck(KIND, raw, value, False, (type_error,))
    if not value:
        return CodeCheck(KIND, raw, value, False, ("empty input",))
    if len(value) != 28:
        return CodeCheck(KIND, raw, value, False, (f"expected 28 characters, got {len(value)}",))

    errors = _segment_errors(value)
    if errors:
        return CodeCheck(KIND, raw, value, False, tuple(errors))

    warnings: list[str] = []
    district = value[:6]
    division = lookup_division(district)
    if division is None:
        errors.append(f"unknown county-level division code {district} (not in ocr/codes/data/divisions.txt)")
    elif division.status == "functional_zone":
        warnings.append(f"{district} ({division.name}) is a functional-zone code, not a GB/T 2260 division")
    elif division.status == "former":
        warnings.append(
            f"division code {district} ({division.name}) was replaced by {division.replaced_by} in {division.since}"
        )

    parcel_seq, fixture_type, fixture_no = value[14:19], value[19], value[20:]
    if parcel_seq == "00000":
        errors.append("parcel sequence number must be 00001-99999, not 00000")
    if fixture_type == "W" and fixture_no != "00000000":
        errors.append(f"a unit without fixture (W) must end in 00000000, not {fixture_no}")

    details: dict[str, object] = {
        "district_code": district,
        "district_name": division.name if division else None,
        "cadastral_zone": value[6:9],
        "cadastral_subzone": value[9:12],
        "parcel_code": value[:19],  # 宗地代码: all units on one parcel share it
        "ownership_type": value[12],
        "ownership_type_name": OWNERSHIP_TYPES[value[12]],
        "parcel_type": value[13],
        "parcel_type_name": PARCEL_TYPES[value[13]],
        "parcel_seq": parcel_seq,
        "fixture_type": fixture_type,
        "fixture_type_name": FIXTURE_TYPES[fixture_type],
        "fixture_no": fixture_no,
        # For buildings the 8 digits are 4-digit 幢号 + 4-digit 户号.
        "building_no": fixture_no[:4] if fixture_type == "F" else None,
        "unit_no": fixture_no[4:] if fixture_type == "F" else None,
    }
    return CodeCheck(KIND, raw, value, not errors, tuple(errors), tuple(warnings), details)


def _segment_errors(value: str) -> list[str]:
    errors = []
    for start, length, what, allowed in _SEGMENTS:
        for i, ch in enumerate(value[start - 1 : start - 1 + length], start=start):
            if ch not in allowed:
                expected = "a digit" if allowed == _DIGITS else "one of " + " ".join(allowed)
                errors.append(f"position {i} ({what}): expected {expected}, got {quote(ch)}")
                break  # one message per segment is enough
    return errors


def parse_unit_number(s: str) -> CodeCheck:
    """Return the check if acceptable, else raise CodeError."""
    return accept_or_raise(check_unit_number(s), "unit number")
