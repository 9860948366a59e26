"""Example-based tests for ocr.codes (identifier checks), vectors from domain.md §3."""

from __future__ import annotations

from datetime import date

import pytest

from ocr.codes import (
    CodeCheck,
    CodeError,
    check_cert_number,
    check_id_number,
    check_unit_number,
    check_uscc,
    compute_id_check_digit,
    compute_org_code_check_char,
    compute_uscc_check_char,
    format_spaced,
    lookup_division,
    normalize,
    parse_cert_number,
    parse_id_number,
    parse_unit_number,
    parse_uscc,
    upgrade_15_to_18,
)
from ocr.codes.divisions import _rows

TODAY = date(2025, 6, 1)

# --------------------------------------------------------------------------- normalize


def test_normalize_turns_full_width_into_half_width():
    assert normalize("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"
    assert normalize("鲁（2020）济南市") == "鲁(2020)济南市"


def test_normalize_removes_every_kind_of_whitespace():
    assert normalize(" 3701\u300002\xa0001002\tGB00001\nF0001\r0001 ") == "370102001002GB00001F00010001"


def test_normalize_removes_zero_width_characters_from_copy_paste():
    assert normalize("\ufeff3701\u200b02") == "370102"


def test_normalize_upper_cases_ascii_letters_only():
    assert normalize("11010519491231002x") == "11010519491231002X"
    assert normalize("ｇｂ") == "GB"
    assert normalize("straße é") == "STRAßEé"


@pytest.mark.parametrize("text", ["", "  ", "ａ　ｂ\t", "鲁（2020）", "ß"])
def test_normalize_is_idempotent(text):
    assert normalize(normalize(text)) == normalize(text)


# --------------------------------------------------------------------------- USCC

VALID_USCCS = ["91350100M000100Y43", "91350200776049653A", "9135021359498494XQ"]


@pytest.mark.parametrize("code", VALID_USCCS)
def test_uscc_test_vectors_are_valid(code):
    check = check_uscc(code)
    assert check.valid
    assert check.kind == "uscc"
    assert check.errors == () and check.warnings == ()
    assert check.details["org_code_check_ok"] is True
    assert parse_uscc(code) == check


@pytest.mark.parametrize("code", VALID_USCCS)
def test_compute_uscc_check_char_matches_the_test_vectors(code):
    assert compute_uscc_check_char(code[:17]) == code[17]
    assert compute_org_code_check_char(code[8:16]) == code[16]


def test_uscc_with_failed_check_char_is_accepted_with_a_warning():
    check = parse_uscc("91350203M0001QAY9B")
    assert check.valid is False
    assert check.errors == ()
    assert check.warnings == ("check character should be 9, not B",)
    assert check.details["check_char_ok"] is False


def test_uscc_details_name_the_parts():
    details = check_uscc("9135021359498494XQ").details
    assert details["registration_authority"] == "9"
    assert details["entity_type_name"] == "企业"
    assert details["district_code"] == "350213"
    assert details["district_name"] == "翔安区"
    assert details["org_code"] == "59498494X"


def test_uscc_organisation_code_failure_is_reported_separately_from_the_main_check():
    body = "91350100M000100Y5"  # position 17 broken, then a correct position 18
    code = body + compute_uscc_check_char(body)
    check = parse_uscc(code)
    assert check.valid
    assert check.details["org_code_check_ok"] is False
    assert any("GB 11714" in w for w in check.warnings)


def test_uscc_full_width_lower_case_and_spaced_input_is_normalised():
    check = check_uscc(" ９１３５０１００ｍ０００ 100y43 ")
    assert check.valid
    assert check.value == "91350100M000100Y43"


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_uscc_with_a_letter_outside_the_charset_is_rejected(letter):
    code = "91350100M000100Y43"[:9] + letter + "91350100M000100Y43"[10:]
    check = check_uscc(code)
    assert not check.valid
    assert "position 10" in check.errors[0]
    with pytest.raises(CodeError, match="position 10"):
        parse_uscc(code)


@pytest.mark.parametrize("code", ["", "9135010", "91350100M000100Y431", "91350100M000100Y4"])
def test_uscc_of_the_wrong_length_is_rejected(code):
    assert not check_uscc(code).valid
    with pytest.raises(CodeError):
        parse_uscc(code)


def test_legacy_15_digit_registration_number_is_recognised_with_a_warning():
    check = parse_uscc("370100000123456")
    assert check.valid
    assert check.details["kind"] == "legacy_registration_number"
    assert check.details["district_name"] is None  # 370100 is a prefecture, not a county
    assert "legacy" in check.warnings[0]


def test_compute_uscc_check_char_rejects_bad_input():
    with pytest.raises(CodeError):
        compute_uscc_check_char("9135")
    with pytest.raises(CodeError):
        compute_uscc_check_char("91350100I000100Y4")


# --------------------------------------------------------------------------- ID numbers


def test_id_number_test_vectors_are_valid_and_expose_birth_date_and_sex():
    woman = parse_id_number("11010519491231002X", TODAY)
    assert woman.valid
    assert woman.details["birth_date"] == date(1949, 12, 31)
    assert woman.details["sex"] == "female"
    man = parse_id_number("370102199001011231", TODAY)
    assert man.valid
    assert man.details["birth_date"] == date(1990, 1, 1)
    assert man.details["sex"] == "male"
    assert man.details["area_code"] == "370102"


def test_id_number_lower_case_x_normalises_to_upper_case():
    check = check_id_number("11010519491231002x", TODAY)
    assert check.valid
    assert check.value == "11010519491231002X"


def test_id_number_with_an_impossible_date_is_rejected():
    check = check_id_number("370102199002301234", TODAY)
    assert not check.valid
    assert "1990-02-30 is not a real calendar date" in check.errors[0]
    with pytest.raises(CodeError, match="not a real calendar date"):
        parse_id_number("370102199002301234", TODAY)


def test_id_number_with_a_wrong_check_digit_names_the_expected_digit():
    check = check_id_number("370102199001011232", TODAY)
    assert not check.valid
    assert check.errors == ("check digit should be 1, not 2",)
    with pytest.raises(CodeError, match="check digit should be 1, not 2"):
        parse_id_number("370102199001011232", TODAY)


def test_id_number_born_in_the_future_is_rejected():
    body = "37010220250602123"
    check = check_id_number(body + compute_id_check_digit(body), today=TODAY)
    assert not check.valid
    assert "in the future" in check.errors[0]


def test_id_number_born_before_1850_is_rejected():
    check = check_id_number("370102184912310011", TODAY)
    assert not check.valid
    assert "before 1850" in check.errors[0]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("0000001990010112", "expected 18 characters"),
        ("37010219900101123", "expected 18 characters"),
        ("3701021990X1011231", "position 11"),
        ("37010219900101123A", "position 18"),
        ("37010219900101123٣", "position 18"),  # an Arabic-Indic digit is not a digit here
        ("000000199001011233", "address code 000000"),
    ],
)
def test_malformed_id_numbers_are_rejected(code, message):
    check = check_id_number(code, TODAY)
    assert not check.valid
    assert any(message in e for e in check.errors)


def test_legacy_15_digit_id_number_is_accepted_with_a_warning():
    check = parse_id_number("370102900101123", TODAY)
    assert check.valid
    assert check.warnings == ("legacy 15-digit number, no check digit",)
    assert check.details["birth_date"] == date(1990, 1, 1)
    assert check.details["sex"] == "male"


def test_legacy_15_digit_id_number_with_an_impossible_date_is_rejected():
    assert not check_id_number("370102900230123", TODAY).valid


def test_upgrade_15_to_18_inserts_the_century_and_the_check_digit():
    assert upgrade_15_to_18("370102900101123") == "370102199001011231"


@pytest.mark.parametrize("code", ["370102199001011231", "370102900230123", "abc"])
def test_upgrade_15_to_18_refuses_anything_but_a_good_15_digit_number(code):
    with pytest.raises(CodeError):
        upgrade_15_to_18(code)


def test_hk_macao_taiwan_residence_permit_uses_the_same_check():
    check = check_id_number("810000199001011230", TODAY)
    assert check.valid
    assert check.details["holder"] == "hk_macao_taiwan_resident"


# --------------------------------------------------------------------------- unit numbers


@pytest.mark.parametrize(
    ("code", "district", "building", "unit"),
    [
        ("340121261006GB00014F00220045", "长丰县", "0022", "0045"),
        ("320684413219GB00029F00010002", "海门市", "0001", "0002"),
    ],
)
def test_real_unit_numbers_are_valid(code, district, building, unit):
    check = parse_unit_number(code)
    assert check.valid
    assert check.details["district_name"] == district
    assert check.details["building_no"] == building
    assert check.details["unit_no"] == unit


def test_unit_number_details_name_every_segment():
    details = check_unit_number("340121261006GB00014F00220045").details
    assert details["district_code"] == "340121"
    assert details["cadastral_zone"] == "261"
    assert details["cadastral_subzone"] == "006"
    assert details["ownership_type"] == "G"
    assert details["parcel_type"] == "B"
    assert details["parcel_seq"] == "00014"
    assert details["fixture_type"] == "F"
    assert details["parcel_code"] == "340121261006GB00014"


def test_spaced_unit_number_is_normalised_and_formatted_back():
    check = check_unit_number("370102 001002 GB00001 F00010001")
    assert check.valid
    assert check.value == "370102001002GB00001F00010001"
    assert check.details["district_name"] == "历下区"
    assert format_spaced(check.value) == "370102 001002 GB00001 F00010001"
    full_width = "３７０１０２００１００２ｇｂ００００１Ｆ０００１０００１"
    assert format_spaced(full_width) == "370102 001002 GB00001 F00010001"


def test_format_spaced_refuses_a_malformed_unit_number():
    with pytest.raises(CodeError):
        format_spaced("370102001002GB00001")


@pytest.mark.parametrize("district", ["999999", "440106", "370100"])
def test_unit_number_with_an_unknown_district_is_rejected(district):
    check = check_unit_number(district + "001002GB00001F00010001")
    assert not check.valid
    assert "unknown county-level division code" in check.errors[0]
    with pytest.raises(CodeError, match="unknown county-level division"):
        parse_unit_number(district + "001002GB00001F00010001")


@pytest.mark.parametrize("district", ["370171", "370172"])
def test_unit_number_in_a_jinan_functional_zone_is_accepted_with_a_warning(district):
    check = parse_unit_number(district + "001002GB00001F00010001")
    assert check.valid
    assert "functional-zone" in check.warnings[0]


def test_unit_number_with_a_replaced_district_code_is_accepted_with_a_warning():
    check = parse_unit_number("370282001002GB00001F00010001")  # 即墨市, now 即墨区 370215
    assert check.valid
    assert "replaced by 370215" in check.warnings[0]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("370102001002GB00001F0001000", "expected 28 characters"),
        ("370102001002GB00001F000100011", "expected 28 characters"),
        ("37010200100AGB00001F00010001", "position 12"),
        ("370102001002XB00001F00010001", "position 13 (ownership type)"),
        ("370102001002GZ00001F00010001", "position 14 (parcel type)"),
        ("370102001002G100001F00010001", "position 14 (parcel type)"),
        ("370102001002GB0000AF00010001", "position 19"),
        ("370102001002GB00001X00010001", "position 20 (fixture type)"),
        ("370102001002GB00001W00010001", "must end in 00000000"),
        ("370102001002GB00000F00010001", "parcel sequence number"),
    ],
)
def test_malformed_unit_numbers_are_rejected(code, message):
    check = check_unit_number(code)
    assert not check.valid
    assert any(message in e for e in check.errors), check.errors


def test_unit_number_without_fixture_has_no_building_or_unit():
    check = check_unit_number("370102001002GB00001W00000000")
    assert check.valid
    assert check.details["building_no"] is None and check.details["unit_no"] is None


# --------------------------------------------------------------------------- division table


def test_division_table_lists_every_jinan_district_from_domain_md():
    jinan = "370102 370103 370104 370105 370112 370113 370114 370115 370116 370117 370124 370126"
    for code in jinan.split():
        division = lookup_division(code)
        assert division is not None and division.status == "current", code


def test_division_table_is_well_formed():
    rows = _rows("divisions.txt")
    codes = [row[0] for row in rows]
    assert all(len(row) == 2 and row[1] for row in rows)
    assert all(len(code) == 6 and code.isascii() and code.isdigit() for code in codes)
    assert len(codes) == len(set(codes))
    # Shandong has 136 county-level divisions (58 districts, 26 cities, 52 counties).
    assert sum(code.startswith("37") for code in codes) == 136


def test_former_divisions_point_at_current_ones():
    for code, _name, successor, year in _rows("divisions_former.txt"):
        assert lookup_division(code).status == "former"  # type: ignore[union-attr]
        assert lookup_division(successor).status == "current", successor  # type: ignore[union-attr]
        assert 2014 <= int(year) <= 2025


# --------------------------------------------------------------------------- certificate numbers


@pytest.mark.parametrize(
    ("number", "province", "year", "place", "kind", "serial"),
    [
        ("鲁(2020)济南市不动产权第0012345号", "鲁", 2020, "济南市", "certificate", "0012345"),
        ("皖(2019)长丰县不动产证明第0010484号", "皖", 2019, "长丰县", "proof", "0010484"),
        ("苏(2019)海门市不动产证明第020号", "苏", 2019, "海门市", "proof", "020"),
        ("皖(2018)合肥市不动产权第10023999号", "皖", 2018, "合肥市", "certificate", "10023999"),
    ],
)
def test_real_certificate_numbers_are_valid(number, province, year, place, kind, serial):
    check = parse_cert_number(number, TODAY)
    assert check.valid and check.warnings == ()
    details = check.details
    assert (details["province_abbr"], details["year"], details["place"]) == (province, year, place)
    assert (details["kind"], details["serial"]) == (kind, serial)


def test_certificate_number_with_full_width_parentheses_and_spaces_is_normalised():
    check = check_cert_number(" 鲁（２０２０）济南市 不动产权 第 0012345 号", TODAY)
    assert check.valid
    assert check.value == "鲁(2020)济南市不动产权第0012345号"
    assert check.details["province"] == "山东省"


def test_certificate_number_from_a_future_year_is_rejected():
    check = check_cert_number("鲁(2026)济南市不动产权第0012345号", TODAY)
    assert not check.valid
    assert check.errors == ("year 2026 is in the future",)
    next_year = date.today().year + 1
    assert not check_cert_number(f"鲁({next_year})济南市不动产权第0012345号").valid


def test_certificate_number_from_before_unified_registration_is_rejected():
    assert not check_cert_number("鲁(2013)济南市不动产权第0012345号", TODAY).valid
    assert check_cert_number("鲁(2014)济南市不动产权第0012345号", TODAY).valid


def test_certificate_number_with_an_unknown_province_abbreviation_is_rejected():
    check = check_cert_number("港(2020)济南市不动产权第0012345号", TODAY)
    assert not check.valid
    assert "unknown province abbreviation" in check.errors[0]
    with pytest.raises(CodeError, match="unknown province"):
        parse_cert_number("港(2020)济南市不动产权第0012345号", TODAY)


@pytest.mark.parametrize("abbr", ["川", "蜀"])
def test_both_abbreviations_of_sichuan_are_accepted(abbr):
    assert check_cert_number(f"{abbr}(2020)成都市不动产权第0012345号", TODAY).details["province"] == "四川省"


@pytest.mark.parametrize(
    ("number", "legacy_type", "year"),
    [
        ("济房权证历字第012345号", "house_ownership", None),
        ("济南国用(2008)第0100123号", "land_use", 2008),
        ("京朝国用（2006出）第0123号", "land_use", 2006),
        ("济房他证历字第0123号", "other_rights", None),
    ],
)
def test_legacy_titles_are_recognised_with_a_warning(number, legacy_type, year):
    check = parse_cert_number(number, TODAY)
    assert check.valid
    assert check.details["kind"] == "legacy"
    assert check.details["legacy_type"] == legacy_type
    assert check.details["year"] == year
    assert "legacy" in check.warnings[0]


@pytest.mark.parametrize(
    "number",
    [
        "",
        "鲁(2020)济南市不动产权第0012345",  # no 号
        "鲁2020济南市不动产权第0012345号",  # no parentheses
        "鲁(2020)济南市不动产权第12345678901号",  # serial too long
        "鲁(2020)济南市不动产权第00A2345号",
        "NO.37001234567",  # pre-printed form serial, not a certificate number
    ],
)
def test_malformed_certificate_numbers_are_rejected(number):
    assert not check_cert_number(number, TODAY).valid
    with pytest.raises(CodeError):
        parse_cert_number(number, TODAY)


# --------------------------------------------------------------------------- common behaviour

ALL_CHECKS = [check_uscc, check_id_number, check_unit_number, check_cert_number]
JUNK = ["", " \t\n", "\x00\x01\xff", "\ud800", "号" * 10_000, "9" * 1_000_000, "((((((", "鲁(", "第号"]


@pytest.mark.parametrize("check", ALL_CHECKS)
@pytest.mark.parametrize("junk", JUNK, ids=lambda j: repr(j[:10]))
def test_checks_never_raise_on_junk(check, junk):
    result = check(junk)
    assert isinstance(result, CodeCheck)
    assert not result.valid and result.errors


@pytest.mark.parametrize("check", ALL_CHECKS)
@pytest.mark.parametrize("junk", [None, b"91350100M000100Y43", 42])
def test_checks_report_non_text_input_instead_of_raising(check, junk):
    result = check(junk)
    assert not result.valid
    assert result.errors[0].startswith("expected text")


def test_parse_error_is_a_value_error_with_a_short_one_line_message():
    with pytest.raises(ValueError) as info:
        parse_uscc("9" * 1000 + "\n")
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    assert isinstance(info.value, CodeError) and info.value.check is not None


def test_code_check_is_hashable_and_its_details_are_read_only():
    check = check_uscc("91350100M000100Y43")
    assert hash(check) == hash(check_uscc("91350100M000100Y43"))
    assert check == check_uscc("91350100M000100Y43")
    with pytest.raises(TypeError):
        check.details["district_code"] = "x"  # type: ignore[index]
