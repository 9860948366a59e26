"""Fees (R6): the 2559号 figures, fee-free and exempt registrations, 用途 classes, money text and payment checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.catalogue import default_catalogue
from workstation.domain.errors import CatalogueError, DomainError
from workstation.domain.fees import (
    PAYMENT_METHODS,
    FeeAssessment,
    FeeError,
    FeeItem,
    FeeSchedule,
    assess,
    check_payment,
    classify_use,
    fen,
    load_fees,
    yuan,
)

SCHEDULE = load_fees()
TYPES = {code: b.registration_type for code, b in default_catalogue().businesses.items()}
CHARGED = [code for code in TYPES if SCHEDULE.free_reason(code, TYPES[code]) is None]


def fee(business: str, use: str | None = "residential", **kwargs: object) -> FeeAssessment:
    return assess(SCHEDULE, business_code=business, registration_type=TYPES[business], use=use, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- the figures


def test_a_resale_home_with_one_certificate_costs_80_yuan_paid_by_the_buyer() -> None:
    result = fee("RESALE_TRANSFER")
    assert result.total_fen == 8000
    assert yuan(result.total_fen) == "80.00"
    assert result.items == (FeeItem("registration", "不动产登记费", 8000),)
    assert result.payer_role == "buyer"
    assert result.use == "residential"
    assert result.exempt == ()
    assert not result.free


def test_an_enterprise_non_residential_purchase_costs_550_yuan() -> None:
    result = fee("ENT_NONRES_TRANSFER", "non_residential")
    assert yuan(result.total_fen) == "550.00"
    assert result.payer_role == "buyer"


def test_two_certificates_beyond_the_first_cost_10_yuan_each() -> None:
    result = fee("RESALE_TRANSFER", certificates=3)
    assert yuan(result.total_fen) == "100.00"
    assert [(i.code, i.amount_fen) for i in result.items] == [("registration", 8000), ("certificate", 2000)]


def test_a_mortgage_is_charged_by_use_and_paid_by_the_mortgagee() -> None:
    assert fee("MORT_FIRST").total_fen == 8000
    assert fee("MORT_CIP", "non_residential").total_fen == 55000
    assert fee("MORT_FIRST").payer_role == "mortgagee"


def test_a_proof_of_registration_carries_no_certificate_fee() -> None:
    result = fee("MORT_FIRST", certificates=3)
    assert result.total_fen == 8000
    assert result.items[-1] == FeeItem("certificate", "证书工本费", 0)


def test_a_business_not_listed_in_payer_is_paid_by_its_applicant_role() -> None:
    assert fee("HOUSE_FIRST").payer_role == "developer"
    assert SCHEDULE.payer("CHANGE") == "applicant"


def test_a_small_micro_enterprise_pays_no_registration_fee_but_the_certificate_fee_as_configured() -> None:
    result = fee("ENT_NONRES_TRANSFER", "non_residential", certificates=2, exemptions={"small_micro"})
    assert [(i.code, i.amount_fen) for i in result.items] == [("registration", 0), ("certificate", 1000)]
    assert result.exempt == ("小微企业",)
    assert result.payer_role == "buyer"
    alone = fee("ENT_NONRES_TRANSFER", "non_residential", exemptions=["small_micro"])
    assert alone.free
    assert alone.payer_role is None


def test_an_exemption_covering_the_certificate_waives_it_too(tmp_path: Path) -> None:
    schedule = schedule_with(tmp_path, 'covers = ["registration"]', 'covers = ["registration", "certificate"]')
    result = assess(
        schedule,
        business_code="RESALE_TRANSFER",
        registration_type="TRANSFER",
        use="residential",
        certificates=4,
        exemptions=["small_micro"],
    )
    assert result.total_fen == 0
    assert result.exempt == ("小微企业",)


def test_a_mortgage_cancellation_is_free_and_issues_no_certificate() -> None:
    result = fee("MORT_CANCEL", None, certificates=0)
    assert result.free
    assert result.total_fen == 0
    assert result.payer_role is None
    assert result.exempt == ("抵押权注销登记不收费",)
    assert result.use is None


@pytest.mark.parametrize("registration_type", ["CANCEL", "SEIZURE", "OBJECTION", "CORRECT", "ADVANCE", "CHANGE"])
def test_fee_free_registration_types(registration_type: str) -> None:
    assert SCHEDULE.free_reason("ANY", registration_type)


def test_a_change_registration_is_free() -> None:
    assert fee("CHANGE", None).free


def test_an_unknown_use_is_refused_unless_the_business_is_free() -> None:
    with pytest.raises(FeeError, match="用途未知") as err:
        fee("RESALE_TRANSFER", None)
    assert "\n" not in str(err.value)
    assert fee("MORT_CANCEL", None, certificates=0).free


def test_zero_certificates_only_for_a_free_business() -> None:
    with pytest.raises(FeeError, match="certificates"):
        fee("RESALE_TRANSFER", certificates=0)
    with pytest.raises(FeeError, match="certificates"):
        fee("RESALE_TRANSFER", certificates=-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exemptions": ["veteran"]}, "unknown exemption 'veteran'"),
        ({"exemptions": "small_micro"}, "not one string"),
        ({"use": "住宅"}, "classify_use"),
        ({"registration_type": "FIRST"}, "is a TRANSFER registration"),
        ({"business_code": "NOPE"}, "unknown business code 'NOPE'"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "business_code": "RESALE_TRANSFER",
        "registration_type": "TRANSFER",
        "use": "residential",
    } | kwargs
    with pytest.raises(FeeError, match=message) as err:
        assess(SCHEDULE, **args)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)
    assert isinstance(err.value, DomainError)


def test_assessment_json_round_trip() -> None:
    result = fee("RESALE_TRANSFER", certificates=2, exemptions=["small_micro"])
    assert FeeAssessment.from_json(result.to_json()) == result
    with pytest.raises(FeeError):
        FeeAssessment.from_json({"items": [], "total_fen": 5, "use": None, "exempt": [], "payer_role": None})


# --------------------------------------------------------------------------------------------- 用途


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("成套住宅", "residential"),
        ("住宅", "residential"),
        ("非成套住宅", "residential"),
        ("别墅", "residential"),
        ("公寓住宅", "residential"),
        ("城镇住宅用地/住宅", "residential"),  # the land's use before "/" does not count beside the house's
        ("城镇住宅用地", "residential"),  # the land's use alone
        (" 住 宅 ", "residential"),
        ("住宅/车库", "residential"),  # a garage pays the residential rate (财税〔2019〕45号)
        ("车位", "residential"),
        ("商业服务", "non_residential"),
        ("商服用地/商业", "non_residential"),
        ("办公", "non_residential"),
        ("公寓", "non_residential"),
        ("非住宅", "non_residential"),
        ("住宅/商业", "non_residential"),  # the higher fee when non-residential in part
        ("商业/其他", "non_residential"),
        ("住宅、办公", "non_residential"),
        ("", None),
        ("   ", None),
        (None, None),
        ("其他", None),
        ("住宅/其他", None),
        ("地下室", None),
    ],
)
def test_classify_use(text: str | None, expected: str | None) -> None:
    assert classify_use(text) == expected


# --------------------------------------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80", 8000),
        ("80.0", 8000),
        ("80.00", 8000),
        ("¥80.00", 8000),
        ("￥ 80.00", 8000),
        ("80元", 8000),
        ("0.05", 5),
        ("1,550.50", 155050),
        ("0", 0),
    ],
)
def test_fen_reads_yuan_text(text: str, expected: int) -> None:
    assert fen(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "80.001", "-80", ".5", "80.", "1,55", "8 0.0 0x", "١٢"])
def test_fen_refuses_bad_text(text: str) -> None:
    with pytest.raises(FeeError):
        fen(text)


def test_yuan_formats_two_decimals() -> None:
    assert yuan(8000) == "80.00"
    assert yuan(5) == "0.05"
    assert yuan(0) == "0.00"
    assert yuan(-150) == "-1.50"


# --------------------------------------------------------------------------------------------- payments


def test_a_payment_of_exactly_what_is_due_passes() -> None:
    for method in PAYMENT_METHODS:
        check_payment(8000, method=method, amount_fen=8000, reference="PAY20240601-0001")


@pytest.mark.parametrize(
    ("due", "method", "amount", "reference", "message"),
    [
        (8000, "card", 8000, "R1", "unknown payment method"),
        (8000, "qr", 7000, "R1", "金额不符"),
        (8000, "qr", 9000, "R1", "金额不符"),
        (0, "cash", 0, "R1", "nothing is due"),
        (8000, "cash", 8000, "", "receipt number is missing"),
        (8000, "online", 8000, "   ", "transaction reference is missing"),
        (8000, "qr", 8000, "A" * 65, "longer than 64"),
        (8000, "qr", 8000, "AB CD", "whitespace"),
        (8000, "qr", 8000, "AB\x00CD", "control"),
        (8000, "qr", 8000, "ABCD\n", "whitespace"),
    ],
)
def test_bad_payments_are_refused_in_one_line(due: int, method: str, amount: int, reference: str, message: str) -> None:
    with pytest.raises(FeeError, match=message) as err:
        check_payment(due, method=method, amount_fen=amount, reference=reference)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------- the file


def test_the_default_schedule_is_loaded_once() -> None:
    assert load_fees() is load_fees()


def test_the_packaged_file_gives_the_2559_figures() -> None:
    assert SCHEDULE.rates == {"residential": 8000, "non_residential": 55000}
    assert SCHEDULE.extra_certificate_fen == 1000
    assert set(SCHEDULE.payers) == set(TYPES)


PACKAGED = (Path(__file__).parents[2] / "workstation" / "domain" / "data" / "fees.toml").read_text(encoding="utf-8")


def schedule_with(tmp_path: Path, old: str, new: str) -> FeeSchedule:
    assert old in PACKAGED, old
    path = tmp_path / "fees.toml"
    path.write_text(PACKAGED.replace(old, new, 1), encoding="utf-8")
    return load_fees(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('residential_yuan = "80.00"', "residential_yuan = 80", "fees.residential_yuan"),
        ('residential_yuan = "80.00"', 'residential_yuan = "80.001"', "fees.residential_yuan"),
        ('residential_yuan = "80.00"', "", "missing 'residential_yuan'"),
        (
            'extra_certificate_yuan = "10.00"',
            'extra_certificate_yuan = "10.00"\ndiscount = "1"',
            "unknown key 'discount'",
        ),
        ('CANCEL = "注销登记不收费"', 'DESTROY = "x"', "unknown registration type 'DESTROY'"),
        ('MORT_CANCEL = "抵押权注销登记不收费"', 'MORT_GONE = "x"', "free.businesses: unknown business 'MORT_GONE'"),
        (
            'MORT_FIRST = "mortgagee"',
            'MORT_FIRST = "buyer"',
            "payer.MORT_FIRST: business MORT_FIRST has no role",
        ),
        ('covers = ["registration"]', 'covers = ["stamp"]', "exemptions.small_micro.covers: unknown fee item 'stamp'"),
        ('covers = ["registration"]', "covers = []", "exemptions.small_micro.covers"),
        ('label = "小微企业"', "", "[exemptions.small_micro]: missing 'label'"),
        ('"储藏间",', '"储藏间",\n    "商业",', "'商业' is listed under both uses"),
        ('"储藏间",', '"储藏间",\n    "住宅/商业",', "one word"),
        ('    "MORT_FIRST",\n    "MORT_CIP",\n', '    "X",\n', "unknown business 'X'"),
        ('certificate_only_businesses = ["REISSUE"]', 'certificate_only_businesses = ["MORT_MAX"]', "both as a proof"),
        ("[use]", "[uses]", "unknown key 'uses'"),
        ("[fees]", "[fees", "invalid TOML"),
    ],
)
def test_a_bad_file_is_refused_with_one_line_naming_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(CatalogueError) as err:
        schedule_with(tmp_path, old, new)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_fees(tmp_path / "nowhere.toml")


def test_an_office_changes_a_figure(tmp_path: Path) -> None:
    schedule = schedule_with(tmp_path, 'non_residential_yuan = "550.00"', 'non_residential_yuan = "¥500"')
    result = assess(schedule, business_code="MORT_CIP", registration_type="FIRST", use="non_residential")
    assert result.total_fen == 50000


# --------------------------------------------------------------------------------------------- properties

charged_st = st.sampled_from(CHARGED)
use_st = st.sampled_from(["residential", "non_residential"])
exemptions_st = st.sets(st.sampled_from(list(SCHEDULE.exemptions)))


@given(st.sampled_from(list(TYPES)), use_st, st.integers(1, 50), exemptions_st)
def test_the_total_is_the_sum_of_the_items_and_never_negative(
    business: str, use: str, certificates: int, exemptions: set[str]
) -> None:
    result = fee(business, use, certificates=certificates, exemptions=exemptions)
    assert result.total_fen == sum(i.amount_fen for i in result.items)
    assert result.total_fen >= 0
    assert all(i.amount_fen >= 0 for i in result.items)
    assert (result.payer_role is None) == result.free


@given(charged_st, use_st, st.integers(1, 50), st.integers(0, 50), exemptions_st)
def test_more_certificates_never_cost_less(
    business: str, use: str, certificates: int, more: int, exemptions: set[str]
) -> None:
    fewer = fee(business, use, certificates=certificates, exemptions=exemptions).total_fen
    assert fee(business, use, certificates=certificates + more, exemptions=exemptions).total_fen >= fewer


@given(charged_st, use_st, st.integers(1, 50), exemptions_st, exemptions_st)
def test_an_exemption_never_raises_the_total(
    business: str, use: str, certificates: int, some: set[str], more: set[str]
) -> None:
    without = fee(business, use, certificates=certificates, exemptions=some).total_fen
    assert fee(business, use, certificates=certificates, exemptions=some | more).total_fen <= without


@given(charged_st, st.integers(1, 50))
def test_non_residential_never_costs_less_than_residential(business: str, certificates: int) -> None:
    assert (
        fee(business, "non_residential", certificates=certificates).total_fen
        >= fee(business, "residential", certificates=certificates).total_fen
    )


@given(st.integers(min_value=0, max_value=10**20 - 1))
def test_fen_of_yuan_is_the_identity(x: int) -> None:
    assert fen(yuan(x)) == x


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_only_the_exact_amount_is_accepted(due: int, paid: int) -> None:
    if paid == due:
        check_payment(due, method="cash", amount_fen=paid, reference="NO.123")
    else:
        with pytest.raises(FeeError):
            check_payment(due, method="cash", amount_fen=paid, reference="NO.123")


@given(st.text(max_size=12))
def test_classify_use_never_raises(text: str) -> None:
    assert classify_use(text) in (None, "residential", "non_residential")
