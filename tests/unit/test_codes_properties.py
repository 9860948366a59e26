"""Property-based tests for ocr.codes: valid codes survive normalisation and
reformatting, single-character errors are caught, and nothing ever raises."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr.codes import (
    CodeError,
    check_cert_number,
    check_id_number,
    check_unit_number,
    check_uscc,
    compute_id_check_digit,
    compute_uscc_check_char,
    normalize,
    parse_cert_number,
    parse_id_number,
    parse_unit_number,
    parse_uscc,
)
from ocr.codes.cert_number import PROVINCES
from ocr.codes.divisions import _rows
from ocr.codes.unit_number import FIXTURE_TYPES, OWNERSHIP_TYPES, PARCEL_TYPES
from ocr.codes.uscc import CHARSET

TODAY = date(2025, 6, 1)
DIGITS = "0123456789"
ID_CHARSET = DIGITS + "X"
CURRENT_DISTRICTS = sorted(row[0] for row in _rows("divisions.txt"))


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=n, max_size=n)


@st.composite
def valid_usccs(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=CHARSET, min_size=17, max_size=17))
    return body + compute_uscc_check_char(body)


@st.composite
def valid_id_numbers(draw: st.DrawFn) -> str:
    area = f"{draw(st.integers(1, 999_999)):06d}"
    birth = draw(st.dates(min_value=date(1850, 1, 1), max_value=TODAY))
    body = area + birth.strftime("%Y%m%d") + draw(digits(3))
    return body + compute_id_check_digit(body)


@st.composite
def valid_unit_numbers(draw: st.DrawFn) -> str:
    fixture = draw(st.sampled_from(sorted(FIXTURE_TYPES)))
    return (
        draw(st.sampled_from(CURRENT_DISTRICTS))
        + draw(digits(6))
        + draw(st.sampled_from(sorted(OWNERSHIP_TYPES)))
        + draw(st.sampled_from(sorted(PARCEL_TYPES)))
        + f"{draw(st.integers(1, 99_999)):05d}"
        + fixture
        + ("00000000" if fixture == "W" else draw(digits(8)))
    )


@st.composite
def valid_cert_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(PROVINCES)))
    year = draw(st.integers(2014, TODAY.year))
    place = draw(st.text(alphabet="济南市历城区长丰县海门合肥章丘", min_size=1, max_size=10))
    right = draw(st.sampled_from(["不动产权", "不动产证明"]))
    serial = draw(st.text(alphabet=DIGITS, min_size=1, max_size=10))
    return f"{province}({year}){place}{right}第{serial}号"


def full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@st.composite
def disguised(draw: st.DrawFn, code: str) -> str:
    """The same code as it might arrive from OCR or a form: some characters full-width,
    letters in either case, whitespace sprinkled in."""
    out = []
    for ch in code:
        if ch.isascii() and draw(st.booleans()):
            ch = full_width(ch)
        if ch.isascii() and ch.isalpha() and draw(st.booleans()):
            ch = ch.lower()
        out.append(draw(st.sampled_from(["", "", " ", "\u3000", "\t", "\xa0", "\n"])) + ch)
    return "".join(out)


CASES = [
    (valid_usccs(), check_uscc),
    (valid_id_numbers(), lambda s: check_id_number(s, TODAY)),
    (valid_unit_numbers(), check_unit_number),
    (valid_cert_numbers(), lambda s: check_cert_number(s, TODAY)),
]


@pytest.mark.parametrize(("codes", "check"), CASES, ids=["uscc", "id", "unit", "cert"])
@given(data=st.data())
def test_valid_codes_are_normalised_and_valid(codes, check, data):
    code = data.draw(codes)
    assert normalize(code) == code
    assert check(code).valid
    variant = data.draw(disguised(code))
    assert normalize(variant) == code
    result = check(variant)
    assert result.valid and result.value == code


@pytest.mark.parametrize(("codes", "check"), CASES, ids=["uscc", "id", "unit", "cert"])
@given(data=st.data())
def test_fully_full_width_and_lower_case_variants_normalise_back(codes, check, data):
    code = data.draw(codes)
    assert normalize(full_width(code)) == code
    assert normalize(code.lower()) == code
    assert check(full_width(code).lower()).valid


@given(code=valid_usccs(), data=st.data())
def test_any_single_character_substitution_in_a_uscc_is_detected(code, data):
    position = data.draw(st.integers(0, 17))
    replacement = data.draw(st.sampled_from(CHARSET.replace(code[position], "")))
    changed = code[:position] + replacement + code[position + 1 :]
    assert not check_uscc(changed).valid


@given(code=valid_id_numbers(), data=st.data())
def test_any_single_character_substitution_in_an_id_number_is_detected(code, data):
    position = data.draw(st.integers(0, 17))
    alphabet = ID_CHARSET if position == 17 else DIGITS
    replacement = data.draw(st.sampled_from(alphabet.replace(code[position], "")))
    changed = code[:position] + replacement + code[position + 1 :]
    assert not check_id_number(changed, TODAY).valid


@given(code=valid_id_numbers())
def test_id_number_details_agree_with_the_digits(code):
    details = check_id_number(code, TODAY).details
    assert details["birth_date"].strftime("%Y%m%d") == code[6:14]  # type: ignore[attr-defined]
    assert details["sex"] == ("male" if int(code[16]) % 2 else "female")


@given(text=st.text())
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
    assert not any(ch.isspace() for ch in once)


PARSERS = [
    (check_uscc, parse_uscc),
    (check_id_number, parse_id_number),
    (check_unit_number, parse_unit_number),
    (check_cert_number, parse_cert_number),
]


@pytest.mark.parametrize(("check", "parse"), PARSERS, ids=["uscc", "id", "unit", "cert"])
@given(text=st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_checks_never_raise_and_parsers_raise_only_code_error(check, parse, text):
    result = check(text)
    assert not (result.valid and result.errors)
    try:
        accepted = parse(text)
    except CodeError:
        assert result.errors
    else:
        assert accepted == result and not result.errors
