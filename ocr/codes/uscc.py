"""统一社会信用代码 (unified social credit code, GB 32100-2015).

Layout: [1] registration authority, [2] entity type, [3-8] administrative division,
[9-17] 主体标识码 (the GB 11714 organisation code, itself carrying a check character
at position 17), [18] check character over positions 1-17.
"""

from __future__ import annotations

from ocr.codes.divisions import lookup_division
from ocr.codes.normalize import normalize
from ocr.codes.result import CodeCheck, CodeError, accept_or_raise, as_text, describe_bad_chars

KIND = "uscc"
# 31 characters: the ten digits and the Latin letters except I, O, S, V and Z,
# which are left out because they are easily confused with 1, 0, 5, U and 2.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(CHARSET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Only the authorities and entity types named in the original standard; other
# values are legal (the list grew later) and simply get no name.
_AUTHORITIES = {"1": "机构编制", "5": "民政", "9": "工商(市场监管)", "Y": "其他"}
_ENTITY_TYPES = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
}


def compute_uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    body = normalize(first17)
    if len(body) != 17 or any(ch not in _VALUE for ch in body):
        raise CodeError(f"need 17 characters from {CHARSET}, got {body[:40]!r}")
    total = sum(_VALUE[ch] * w for ch, w in zip(body, _WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def compute_org_code_check_char(first8: str) -> str:
    """The GB 11714 check character for an 8-character organisation-code body."""
    body = normalize(first8)
    if len(body) != 8 or any(ch not in _DIGITS + _UPPER for ch in body):
        raise CodeError(f"need 8 digits or letters, got {body[:40]!r}")
    # Digits count as themselves, letters A..Z as 10..35.
    total = sum(int(ch, 36) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def check_uscc(s: str) -> CodeCheck:
    """Check a unified social credit code (or a legacy 15-digit 注册号). Never raises."""
    raw, type_error = as_text(s)
    value = normalize(raw)
    if type_error:
        return CodeCheck(KIND, raw, value, False, (type_error,))
    if not value:
        return CodeCheck(KIND, raw, value, False, ("empty input",))
    if len(value) == 15 and all(ch in _DIGITS for ch in value):
        return _legacy_registration_number(raw, value)

    errors: list[str] = []
    if len(value) != 18:
        errors.append(f"expected 18 characters, got {len(value)}")
    errors.extend(describe_bad_chars(value, CHARSET, "allowed (USCCs use digits and letters except I, O, S, V, Z)"))
    if errors:
        return CodeCheck(KIND, raw, value, False, tuple(errors), details={"kind": "uscc"})

    warnings: list[str] = []
    expected = compute_uscc_check_char(value[:17])
    check_ok = value[17] == expected
    if not check_ok:
        # Real registries carry codes that fail this check (domain.md §3.1), so a
        # reviewer must be able to accept them: warning, not error.
        warnings.append(f"check character should be {expected}, not {value[17]}")
    org_expected = compute_org_code_check_char(value[8:16])
    org_ok = value[16] == org_expected
    if not org_ok:
        warnings.append(
            f"organisation code (positions 9-17) fails the GB 11714 check: "
            f"position 17 should be {org_expected}, not {value[16]}"
        )

    division = lookup_division(value[2:8])
    details = {
        "kind": "uscc",
        "registration_authority": value[0],
        "registration_authority_name": _AUTHORITIES.get(value[0]),
        "entity_type": value[1],
        "entity_type_name": _ENTITY_TYPES.get(value[0], {}).get(value[1]),
        "district_code": value[2:8],
        "district_name": division.name if division else None,
        "org_code": value[8:17],
        "org_code_check_ok": org_ok,
        "check_char_ok": check_ok,
    }
    return CodeCheck(KIND, raw, value, check_ok, (), tuple(warnings), details)


def _legacy_registration_number(raw: str, value: str) -> CodeCheck:
    # Pre-2015 business licences carry a 15-digit 工商注册号. Its check digit
    # scheme was not used consistently by older registries, so only the shape is checked.
    division = lookup_division(value[:6])
    details = {
        "kind": "legacy_registration_number",
        "district_code": value[:6],
        "district_name": division.name if division else None,
    }
    warning = "legacy 15-digit registration number (注册号), not a USCC; structure only, no check"
    return CodeCheck(KIND, raw, value, True, (), (warning,), details)


def parse_uscc(s: str) -> CodeCheck:
    """Return the check if acceptable (a failed check character is only a warning),
    else raise CodeError."""
    return accept_or_raise(check_uscc(s), "unified social credit code")
