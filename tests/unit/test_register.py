"""The register's rules: what 登簿 writes per business, restrictions, certificate numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.domain.errors import CatalogueError
from workstation.domain.register import (
    Current,
    EntryFacts,
    Holder,
    Party,
    RegisterError,
    certificate_number,
    load_register_rules,
    parse_certificate_number,
    parse_register_rules,
    plan_booking,
    restriction_findings,
    shares,
)

RULES = load_register_rules()
UNIT = "370102001001GB00001F00010001"
VALUES = {"unit_number": UNIT, "use": "成套住宅", "area_m2": "89.50", "location": "历下区文化东路1号"}
BUYER = Party("buyer", "individual", "王小明", "id_number", "370102199001011231")
SELLER = Party("seller", "individual", "赵建国", "id_number", "11010519491231002X")
BANK = Party("mortgagee", "enterprise", "某银行济南分行", "uscc", "91370100MA3C8Q1X2K")
OWNER = Current("e1", EntryFacts("ownership", holders=(Holder("赵建国"),), area_m2="89.50"))
MORTGAGE = Current("e2", EntryFacts("mortgage", holders=(Holder("某银行济南分行"),), amount_yuan="500000"))
SEIZURE = Current("e3", EntryFacts("seizure", basis="(2026)鲁0102执123号"))


def test_every_business_of_the_catalogue_says_what_its_registration_writes() -> None:
    from workstation.domain.catalogue import load_catalogue

    assert set(load_catalogue().businesses) <= set(RULES.businesses)


def test_transfer_closes_the_sellers_entry_and_opens_the_buyers() -> None:
    booking = plan_booking(RULES, "RESALE_TRANSFER", [BUYER, SELLER], VALUES, [OWNER, MORTGAGE])
    assert booking.closes == ("e1",) and booking.certificate == "certificate"
    (opened,) = booking.opens
    assert [h.name for h in opened.holders] == ["王小明"] and [h.name for h in opened.obligors] == ["赵建国"]
    assert opened.co_ownership == "单独所有" and opened.location == "历下区文化东路1号"


def test_two_buyers_hold_in_common_and_a_mortgage_needs_its_amount() -> None:
    second = Party("buyer", "individual", "李华", "id_number", "11010519491231002X")
    (opened,) = plan_booking(RULES, "NEW_HOME_TRANSFER", [BUYER, second], VALUES, []).opens
    assert opened.co_ownership == "共同共有"
    with pytest.raises(RegisterError, match="loan_amount_yuan"):
        plan_booking(RULES, "MORT_FIRST", [BANK, Party("mortgagor", "individual", "王小明")], VALUES, [OWNER])


def test_cancellation_closes_only_the_applicants_mortgage() -> None:
    other = Current("e9", EntryFacts("mortgage", holders=(Holder("另一银行"),)))
    booking = plan_booking(RULES, "MORT_CANCEL", [BANK], VALUES, [OWNER, MORTGAGE, other])
    assert booking.closes == ("e2",) and booking.opens == () and booking.certificate is None
    with pytest.raises(RegisterError, match="抵押权人不是申请人"):
        plan_booking(RULES, "MORT_CANCEL", [BANK], VALUES, [OWNER, other])


def test_change_amends_only_what_its_conditions_name() -> None:
    values = {**VALUES, "area_m2": "120.00", "use": "商业"}
    booking = plan_booking(
        RULES, "CHANGE", [Party("applicant", "individual", "赵建国")], values, [OWNER], conditions=["area_change"]
    )
    (opened,) = booking.opens
    assert booking.amends == "e1" and booking.closes == ("e1",)
    assert opened.area_m2 == "120.00" and opened.use == ""  # the use was not changed: the register's stays


def test_a_seizure_blocks_transfer_mortgage_and_change_but_is_a_finding_for_all() -> None:
    for business in ("RESALE_TRANSFER", "MORT_FIRST", "CHANGE"):
        with pytest.raises(RegisterError, match="查封"):
            plan_booking(RULES, business, [BUYER, SELLER, BANK], {**VALUES, "loan_amount_yuan": "1"}, [OWNER, SEIZURE])
    findings = restriction_findings(RULES, "RESALE_TRANSFER", UNIT, [OWNER, MORTGAGE, SEIZURE])
    assert [(f.rule, f.severity) for f in findings] == [("register.mortgage", "info"), ("register.seizure", "error")]
    assert restriction_findings(RULES, "MORT_CANCEL", UNIT, [MORTGAGE]) == []  # the mortgage it cancels is its object


def test_first_registration_is_done_once_and_needs_a_unit_number() -> None:
    developer = Party("developer", "enterprise", "济南某某置业有限公司")
    with pytest.raises(RegisterError, match="已有所有权登记"):
        plan_booking(RULES, "HOUSE_FIRST", [developer], VALUES, [OWNER])
    with pytest.raises(RegisterError, match="不动产单元号"):
        plan_booking(RULES, "HOUSE_FIRST", [developer], {}, [])


@given(
    kind=st.sampled_from(["certificate", "proof"]),
    year=st.integers(2000, 2099),
    seq=st.integers(1, 9_999_999),
)
def test_a_certificate_number_reads_back_as_it_was_written(kind: str, year: int, seq: int) -> None:
    number = certificate_number(kind, year, seq)
    assert parse_certificate_number(number) == (kind, year, seq)
    assert parse_certificate_number(number.replace("(", "（").replace(")", "）")) == (kind, year, seq)


@given(st.lists(st.sampled_from(["ownership", "mortgage", "seizure", "objection", "advance"]), max_size=8))
def test_each_restriction_on_the_unit_is_one_finding(kinds: list[str]) -> None:
    current = [Current(f"e{i}", EntryFacts(kind)) for i, kind in enumerate(kinds)]
    findings = restriction_findings(RULES, "RESALE_TRANSFER", UNIT, current)
    assert len(findings) == sum(1 for k in kinds if k != "ownership")


def test_a_bad_rules_file_is_refused_with_one_line() -> None:
    with pytest.raises(CatalogueError, match="effect"):
        parse_register_rules(
            '[numbers]\nprovince="鲁"\ncity="济南市"\n[business.X]\neffect="burn"\nholders="buyer"\n[restrictions]\n'
        )


def test_holders_in_shares_are_registered_with_their_shares() -> None:
    second = Party("buyer", "individual", "李华", "id_number", "11010519491231002X")
    values = {**VALUES, "co_ownership": "按份共有：王小明占60%，李华占40%"}
    (opened,) = plan_booking(RULES, "RESALE_TRANSFER", [BUYER, second, SELLER], values, [OWNER]).opens
    assert opened.co_ownership == "按份共有"
    assert [(h.name, h.share) for h in opened.holders] == [("王小明", "3/5"), ("李华", "2/5")]
    joint = plan_booking(RULES, "RESALE_TRANSFER", [BUYER, second], {**VALUES, "co_ownership": "共同共有"}, [])
    assert joint.opens[0].co_ownership == "共同共有" and all(not h.share for h in joint.opens[0].holders)


@pytest.mark.parametrize(
    "stated, why",
    [
        ("按份共有", "未写明各权利人的份额"),
        ("按份共有 王小明1/2", "份额未写明"),
        ("王小明1/2 李华1/3", "份额之和不为1"),
        ("王小明0/2 李华1/1", "not a share"),
    ],
)
def test_shares_that_do_not_name_everyone_or_the_whole_are_refused(stated: str, why: str) -> None:
    second = Party("buyer", "individual", "李华")
    with pytest.raises(RegisterError, match=why):
        plan_booking(RULES, "NEW_HOME_TRANSFER", [BUYER, second], {**VALUES, "co_ownership": stated}, [])


@given(st.lists(st.integers(1, 9), min_size=2, max_size=5))
def test_shares_that_make_the_whole_are_kept_and_any_other_sum_is_refused(weights: list[int]) -> None:
    from fractions import Fraction

    holders = [Holder(f"权利人{chr(0x4E00 + i)}") for i in range(len(weights))]
    total = sum(weights)
    whole = " ".join(f"{h.name}{w}/{total}" for h, w in zip(holders, weights, strict=True))
    mode, shared = shares(holders, whole)
    assert mode == "按份共有" and sum(Fraction(h.share) for h in shared) == 1
    off = " ".join(f"{h.name}{w}/{total + 1}" for h, w in zip(holders, weights, strict=True))
    with pytest.raises(RegisterError, match="份额之和不为1"):
        shares(holders, off)
