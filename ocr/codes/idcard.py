"""居民身份证号码 (citizen ID number, GB 11643-1999).

18 characters: 6-digit address code, YYYYMMDD birth date, 3-digit sequence (odd for
men), check character. The same layout and check are used by the residence permits
for Hong Kong, Macao and Taiwan residents (810000/820000/830000) and by the 2023
foreign permanent-resident ID card (leading 9). Legacy 15-digit numbers (YYMMDD,
no check digit) are still found on old documents.
"""

from __future__ import annotations

from datetime import date

from ocr.codes.normalize import normalize
from ocr.codes.result import CodeCheck, CodeError, accept_or_raise, as_text, describe_bad_chars

KIND = "id_number"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII only: str.isdigit() also accepts superscripts and other scripts' digits.
_DIGITS = "0123456789"
_MIN_BIRTH_YEAR = 1850
LEGACY_WARNING = "legacy 15-digit number, no check digit"


def compute_id_check_digit(first17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') for the first 17 digits."""
    body = normalize(first17)
    if len(body) != 17 or any(ch not in _DIGITS for ch in body):
        raise CodeError(f"need 17 digits, got {body[:40]!r}")
    total = sum(int(ch) * w for ch, w in zip(body, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def upgrade_15_to_18(s: str) -> str:
    """Turn a legacy 15-digit number into its 18-digit form (insert "19", add the check)."""
    check = check_id_number(s)
    if len(check.value) != 15 or not check.accepted:
        reason = check.errors[0] if check.errors else "not a 15-digit number"
        raise CodeError(f"cannot upgrade {check.value[:40]!r}: {reason}", check)
    body = check.value[:6] + "19" + check.value[6:]
    return body + compute_id_check_digit(body)


def check_id_number(s: str, today: date | None = None) -> CodeCheck:
    """Check a citizen ID number (18-digit, or legacy 15-digit with a warning). Never raises."""
    raw, type_error = as_text(s)
    value = normalize(raw)  # also turns a lower-case check x into X
    if type_error:
        return CodeCheck(KIND, raw, value, False, (type_error,))
    if not value:
        return CodeCheck(KIND, raw, value, False, ("empty input",))
    today = today or date.today()

    if len(value) == 18:
        errors = describe_bad_chars(value[:17], _DIGITS, "a digit")
        if value[17] not in _DIGITS + "X":
            errors.append(f"position 18: {value[17]!r} is not a digit or X")
        if errors:
            return CodeCheck(KIND, raw, value, False, tuple(errors))
        return _check_parts(raw, value, value[6:14], value[14:17], today, legacy=False)
    if len(value) == 15:
        errors = describe_bad_chars(value, _DIGITS, "a digit")
        if errors:
            return CodeCheck(KIND, raw, value, False, tuple(errors))
        # 15-digit numbers were only issued to people born in the 1900s.
        return _check_parts(raw, value, "19" + value[6:12], value[12:15], today, legacy=True)
    return CodeCheck(KIND, raw, value, False, (f"expected 18 characters, got {len(value)}",))


def _check_parts(raw: str, value: str, yyyymmdd: str, sequence: str, today: date, legacy: bool) -> CodeCheck:
    errors: list[str] = []
    warnings: list[str] = [LEGACY_WARNING] if legacy else []

    area = value[:6]
    if area == "000000":
        errors.append("address code 000000 is not a real area")

    birth = _birth_date(yyyymmdd, today, errors)

    check_ok = True
    if not legacy:
        expected = compute_id_check_digit(value[:17])
        if value[17] != expected:
            check_ok = False
            errors.append(f"check digit should be {expected}, not {value[17]}")

    details: dict[str, object] = {
        "area_code": area,
        "birth_date": birth,
        "sequence": sequence,
        "sex": "male" if int(sequence[-1]) % 2 else "female",
        "holder": _holder(value, legacy),
        "legacy": legacy,
    }
    valid = not errors and check_ok
    return CodeCheck(KIND, raw, value, valid, tuple(errors), tuple(warnings), details)


def _birth_date(yyyymmdd: str, today: date, errors: list[str]) -> date | None:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    pretty = f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"
    try:
        birth = date(year, month, day)
    except ValueError:
        errors.append(f"birth date {pretty} is not a real calendar date")
        return None
    if year < _MIN_BIRTH_YEAR:
        errors.append(f"birth date {pretty} is before {_MIN_BIRTH_YEAR}")
        return None
    if birth > today:
        errors.append(f"birth date {pretty} is in the future")
        return None
    return birth


def _holder(value: str, legacy: bool) -> str:
    if not legacy and value[0] == "9":
        return "foreign_permanent_resident"
    if value[:2] in ("81", "82", "83"):
        return "hk_macao_taiwan_resident"
    return "citizen"


def parse_id_number(s: str, today: date | None = None) -> CodeCheck:
    """Return the check if acceptable, else raise CodeError (bad check digit, bad date...)."""
    return accept_or_raise(check_id_number(s, today), "ID number")
