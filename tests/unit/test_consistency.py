"""Cross-document consistency findings, on the committed samples' ground truth and altered copies of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.domain import CatalogueError
from workstation.domain.consistency import (
    RULES_FILE,
    DocFields,
    FindingSpec,
    PartyFacts,
    check_dossier,
    default_rules,
    load_consistency_rules,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Case:
    """A committed case as a dossier: its business, recorded parties and pages (ground-truth fields)."""

    def __init__(self, name: str) -> None:
        facts = json.loads((SAMPLES / "cases" / f"{name}.json").read_text(encoding="utf-8"))
        self.business: str = facts["business"]
        self.today = date.fromisoformat(facts["application_date"])
        self.parties = [
            PartyFacts(
                key=p["role"],
                role=p["role"],
                kind=p["kind"],
                name=p.get("name") or p.get("org_name"),
                id_value=p.get("id_number") or p.get("uscc"),
            )
            for p in facts["parties"]
        ]
        self.docs: list[DocFields] = []
        for document in facts["documents"]:
            truth = json.loads((SAMPLES / "scans" / document["file"]).with_suffix(".json").read_text(encoding="utf-8"))
            for page in truth["pages"]:
                page_id = f"{document['file']}#{page['page']}"
                self.docs.append(DocFields(page_id, page["material"], page["fields"], party_key=document.get("role")))

    def page(self, page_id: str) -> DocFields:
        return next(doc for doc in self.docs if doc.page_id == page_id)

    def altered(self, page_id: str, **changes: str) -> list[DocFields]:
        """The pages with some fields of one page changed."""
        return [replace(d, fields={**d.fields, **changes}) if d.page_id == page_id else d for d in self.docs]

    def check(
        self,
        docs: Sequence[DocFields] | None = None,
        *,
        parties: Sequence[PartyFacts] | None = None,
        today: date | None = None,
    ) -> list[FindingSpec]:
        return check_dossier(
            self.business,
            self.parties if parties is None else parties,
            self.docs if docs is None else docs,
            today=today or self.today,
        )


CASE_01 = Case("case-01")  # ENT_NONRES_TRANSFER: a company buys a shop from a person; consistent
APPLICATION = "case-01-M01-application.jpg#1"
INTERVIEW = "case-01-M02-interview.jpg#1"
SELLER_ID = "case-01-M03-id-seller.jpg#1"
LICENCE = "case-01-M05-licence-buyer.jpg#1"
POA = "case-01-M07-poa-buyer.jpg#1"
CERTIFICATE = "case-01-M08-certificate.jpg#1"
CONTRACT = "case-01-M11-contract.pdf#1"
TAX = "case-01-M12-tax.jpg#1"


def rules_of(findings: Sequence[FindingSpec]) -> list[tuple[str, str]]:
    return [(f.rule, f.severity) for f in findings]


def only(findings: Sequence[FindingSpec], rule: str) -> FindingSpec:
    assert [f.rule for f in findings] == [rule], findings
    return findings[0]


# --------------------------------------------------------------------------------------------- committed samples


@pytest.mark.parametrize("name", ["case-01", "case-02", "case-03", "case-04"])
def test_consistent_committed_cases_have_no_findings(name: str) -> None:
    assert Case(name).check() == []


def test_inconsistent_sample_has_exactly_the_area_error_naming_contract_and_certificate() -> None:
    case = Case("case-05")
    finding = only(case.check(), "area_mismatch")
    assert finding.severity == "error"
    assert finding.page_ids == ("case-05-M11-contract.tif#1", "case-05-M08-certificate.png#1")
    assert "122.50" in finding.message and "112.50" in finding.message


def test_findings_name_their_pages_in_dossier_order() -> None:
    case = Case("case-05")
    reordered = sorted(case.docs, key=lambda d: d.material)  # M01, M08, M11
    assert case.check(reordered)[0].page_ids == ("case-05-M08-certificate.png#1", "case-05-M11-contract.tif#1")


# --------------------------------------------------------------------------------------------- parties


def test_buyer_renamed_on_the_contract_is_one_name_finding_naming_contract_application_and_licence() -> None:
    docs = CASE_01.altered(CONTRACT, right_holder="济南海岱餐饮有限公司", org_name="济南海岱餐饮有限公司")
    finding = only(CASE_01.check(docs), "party_name_mismatch")
    assert finding.severity == "error"
    assert {CONTRACT, APPLICATION, LICENCE} <= set(finding.page_ids)
    assert "“济南海岱餐饮有限公司”（存量房买卖合同 M11）" in finding.message
    assert "买受人 buyer" in finding.message


def test_buyer_renamed_only_in_the_contracts_party_field_is_still_found() -> None:
    docs = CASE_01.altered(CONTRACT, right_holder="济南海岱餐饮有限公司")
    finding = only(CASE_01.check(docs), "party_name_mismatch")
    assert {CONTRACT, APPLICATION} <= set(finding.page_ids)


def test_contract_seller_who_is_not_the_certificate_holder_is_an_error() -> None:
    docs = CASE_01.altered(CONTRACT, obligor="徐玉城")
    finding = only(CASE_01.check(docs), "seller_is_right_holder")
    assert finding.severity == "error"
    assert {CONTRACT, CERTIFICATE} <= set(finding.page_ids)
    assert "徐玉城" in finding.message and "徐玉成" in finding.message


def test_certificate_holder_who_is_not_the_seller_is_an_error() -> None:
    docs = CASE_01.altered(CERTIFICATE, right_holder="王建国")
    finding = only(CASE_01.check(docs), "seller_is_right_holder")
    assert "王建国" in finding.message


def test_seller_may_be_one_of_the_co_owners_on_the_certificate() -> None:
    docs = CASE_01.altered(CERTIFICATE, right_holder="徐玉成、王丽")
    assert CASE_01.check(docs) == []


def test_sellers_differing_between_contract_and_application_without_certificate_is_a_name_finding() -> None:
    docs = [d for d in CASE_01.altered(CONTRACT, obligor="徐玉城") if d.material != "M08"]
    finding = only(CASE_01.check(docs), "party_name_mismatch")
    assert "出卖人 seller" in finding.message


def test_same_id_number_under_two_names_is_one_finding() -> None:
    docs = CASE_01.altered(SELLER_ID, name="徐玉城")
    finding = only(CASE_01.check(docs), "party_name_mismatch")
    assert SELLER_ID in finding.page_ids


def test_id_number_differing_between_id_card_and_recorded_seller_is_a_recorded_party_finding() -> None:
    docs = CASE_01.altered(SELLER_ID, id_number="370102198701055098")
    finding = only(CASE_01.check(docs), "recorded_party_mismatch")
    assert finding.page_ids == (SELLER_ID,)
    assert "370102198701055098" in finding.message and "370102198701055097" in finding.message


def test_clerk_typo_in_the_buyers_name_is_a_recorded_party_finding() -> None:
    parties = [replace(p, name="济南海岱餐饮管理公司") if p.role == "buyer" else p for p in CASE_01.parties]
    finding = only(CASE_01.check(parties=parties), "recorded_party_mismatch")
    assert "登记信息 recorded" in finding.message
    assert LICENCE in finding.page_ids


def test_uscc_differing_between_licence_and_application_is_an_id_finding() -> None:
    docs = CASE_01.altered(APPLICATION, uscc="91370102MA15LK9R1X")
    finding = only(CASE_01.check(docs), "party_id_mismatch")
    assert {APPLICATION, LICENCE} <= set(finding.page_ids)


def test_tax_paid_by_somebody_else_is_an_error() -> None:
    docs = CASE_01.altered(TAX, org_name="济南泉城贸易有限公司", uscc="91370102MA3C8Q1X2K")
    finding = only(CASE_01.check(docs), "taxpayer_is_buyer")
    assert {TAX, APPLICATION, CONTRACT} <= set(finding.page_ids)


def test_the_sellers_own_tax_receipt_is_accepted() -> None:
    docs = CASE_01.altered(TAX, org_name="", uscc="", name="徐玉成", id_number="370102198701055097")
    assert CASE_01.check(docs) == []


# --------------------------------------------------------------------------------------------- property


def test_one_digit_changed_in_the_applications_unit_number_is_a_unit_number_error() -> None:
    docs = CASE_01.altered(APPLICATION, unit_number="370102004009GB00642F00040106")
    finding = only(CASE_01.check(docs), "unit_number_mismatch")
    assert finding.severity == "error"
    assert set(finding.page_ids) == {APPLICATION, CERTIFICATE}


def test_location_in_licheng_with_a_lixia_unit_number_is_a_district_finding() -> None:
    licheng = "济南市历城区和平路308号4号楼105室"
    docs = [replace(d, fields={**d.fields, "location": licheng}) if "location" in d.fields else d for d in CASE_01.docs]
    finding = only(CASE_01.check(docs), "district_mismatch")
    assert finding.severity == "error"
    assert "370102" in finding.message and "历下区" in finding.message and "历城区" in finding.message
    assert {APPLICATION, CERTIFICATE, CONTRACT} <= set(finding.page_ids)


def test_location_compared_without_province_city_width_and_spaces() -> None:
    docs = CASE_01.altered(APPLICATION, location="山东省济南市历下区和平路３０８号 4号楼105室")
    assert CASE_01.check(docs) == []


def test_a_different_house_number_in_the_location_is_a_warning() -> None:
    docs = CASE_01.altered(CONTRACT, location="济南市历下区和平路306号4号楼105室")
    finding = only(CASE_01.check(docs), "location_mismatch")
    assert finding.severity == "warning"
    assert "和平路306号" in finding.message


def test_former_district_name_in_the_location_matches_its_successors_code() -> None:
    case = Case("case-03")  # 章丘区 370114, formerly 章丘市
    docs = [
        replace(d, fields={**d.fields, "location": d.fields["location"].replace("章丘区", "章丘市")}) for d in case.docs
    ]
    assert case.check(docs) == []


def test_certificate_number_on_the_contract_differing_from_the_certificate_is_an_error() -> None:
    docs = CASE_01.altered(CONTRACT, cert_number="鲁(2021)济南市不动产权第0385914号")
    finding = only(CASE_01.check(docs), "cert_number_mismatch")
    assert set(finding.page_ids) == {APPLICATION, CERTIFICATE, CONTRACT}


def test_a_discharge_compares_proof_numbers_with_the_registration_proof() -> None:
    case = Case("case-03")
    docs = case.altered("case-03-M21-discharge.jpg#1", cert_number="鲁(2022)济南市不动产证明第0068411号")
    finding = only(case.check(docs), "proof_number_mismatch")
    assert "0068410" in finding.message and "0068411" in finding.message


def test_equal_areas_and_rounding_give_no_finding_and_a_small_difference_a_warning() -> None:
    assert CASE_01.check(CASE_01.altered(CONTRACT, area_m2="62.665")) == []
    finding = only(CASE_01.check(CASE_01.altered(CONTRACT, area_m2="63.66")), "area_mismatch")
    assert finding.severity == "warning"


def test_contract_number_on_the_tax_receipt_differing_from_the_contract_is_an_error() -> None:
    docs = CASE_01.altered(TAX, contract_number="JNCL2026083134476")
    finding = only(CASE_01.check(docs), "contract_number_mismatch")
    assert set(finding.page_ids) == {INTERVIEW, CONTRACT, TAX}


# --------------------------------------------------------------------------------------------- price


def test_contract_price_five_percent_below_the_tax_base_is_a_warning() -> None:
    docs = CASE_01.altered(TAX, price_yuan="1694736.84")  # the contract's 1,610,000.00 is 5% below
    finding = only(CASE_01.check(docs), "price_vs_tax_base")
    assert finding.severity == "warning"
    assert set(finding.page_ids) == {CONTRACT, TAX}
    assert "1694736.84" in finding.message and "1610000.00" in finding.message


def test_tax_base_within_the_tolerance_gives_no_finding() -> None:
    assert CASE_01.check(CASE_01.altered(TAX, price_yuan="1615000.00")) == []


# --------------------------------------------------------------------------------------------- validity


def test_expired_id_card_is_an_error_and_one_valid_until_today_is_not() -> None:
    expired = CASE_01.altered(SELLER_ID, valid_until="2026-09-29")
    finding = only(CASE_01.check(expired), "id_card_expired")
    assert finding.severity == "error"
    assert finding.page_ids == (SELLER_ID,)
    assert "徐玉成" in finding.message and "2026-09-29" in finding.message
    assert CASE_01.check(CASE_01.altered(SELLER_ID, valid_until="2026-09-30")) == []


def test_expired_power_of_attorney_is_a_warning() -> None:
    finding = only(CASE_01.check(today=date(2027, 1, 5)), "poa_expired")
    assert finding.severity == "warning"
    assert finding.page_ids == (POA,)


def test_failed_uscc_check_is_a_warning_and_failed_id_number_check_an_error() -> None:
    flags = {LICENCE: {"uscc": False}, SELLER_ID: {"id_number": False}}
    docs = [replace(d, valid=flags[d.page_id]) if d.page_id in flags else d for d in CASE_01.docs]
    assert rules_of(CASE_01.check(docs)) == [("id_number_invalid", "error"), ("uscc_check_failed", "warning")]


def test_failed_unit_and_certificate_number_checks_are_warnings() -> None:
    docs = [
        replace(d, valid={"unit_number": False, "cert_number": False}) if d.page_id == CERTIFICATE else d
        for d in CASE_01.docs
    ]
    assert rules_of(CASE_01.check(docs)) == [("unit_number_invalid", "warning"), ("cert_number_invalid", "warning")]


# --------------------------------------------------------------------------------------------- shape of the output


def test_errors_come_before_warnings() -> None:
    docs = CASE_01.altered(TAX, price_yuan="1694736.84")
    docs = [replace(d, fields={**d.fields, "area_m2": "80.00"}) if d.page_id == CONTRACT else d for d in docs]
    assert [f.severity for f in CASE_01.check(docs)] == ["error", "warning"]


def test_messages_are_one_line_even_for_junk_values() -> None:
    junk = "济南\n海岱\t" + "x" * 500
    findings = CASE_01.check(CASE_01.altered(CONTRACT, right_holder=junk, location=junk))
    assert findings
    for finding in findings:
        assert "\n" not in finding.message and len(finding.message) < 400


def test_business_rules_apply_only_where_they_make_sense() -> None:
    docs = CASE_01.altered(CONTRACT, obligor="徐玉城")
    change = check_dossier("CHANGE", [], docs, today=CASE_01.today)
    assert "seller_is_right_holder" not in [f.rule for f in change]


def test_unknown_business_code_is_refused() -> None:
    with pytest.raises(CatalogueError, match="unknown business code"):
        check_dossier("NO_SUCH", [], [], today=CASE_01.today)


# --------------------------------------------------------------------------------------------- the rules file


def packaged() -> str:
    from importlib import resources

    return resources.files("workstation.domain").joinpath("data", RULES_FILE).read_text(encoding="utf-8")


def test_packaged_rules_load_with_unique_ids_and_known_severities() -> None:
    rules = default_rules().rules
    assert len({r.id for r in rules}) == len(rules)
    assert {r.severity for r in rules} <= {"error", "warning", "info"}


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda t: t.replace('severity = "warning"', 'severity = "minor"', 1), "severity 'minor'"),
        (lambda t: t.replace("tolerance_ratio = 0.01", "tolerance_ratio = -0.01"), "tolerance_ratio"),
        (lambda t: t.replace('materials = ["M12"]', 'materials = ["M99"]', 1), "unknown material 'M99'"),
        (lambda t: t.replace('kind = "district"', 'kind = "district"\nfield = "x"'), "does not apply"),
        (lambda t: t.replace('id = "poa_expired"', 'id = "id_card_expired"'), "used twice"),
        (lambda t: t.replace('businesses = ["MORT_CANCEL"]', 'businesses = ["MORT_X"]'), "unknown business"),
        (lambda t: t + "\n[[rule]]\nid = 'x'\nkind = 'magic'\n", "unknown kind 'magic'"),
    ],
)
def test_a_bad_rules_file_is_refused_with_one_line(edit: Callable[[str], str], complaint: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        load_consistency_rules(edit(packaged()))
    message = str(caught.value)
    assert complaint in message and "\n" not in message and message.startswith(RULES_FILE)


# --------------------------------------------------------------------------------------------- properties

MATERIALS = ["M01", "M02", "M03", "M05", "M06", "M07", "M08", "M09", "M10", "M11", "M12", "M20", "M21", "M99"]
KEYS = [
    "name", "org_name", "uscc", "id_number", "right_holder", "obligor", "mortgagee", "mortgagor", "location",
    "unit_number", "cert_number", "area_m2", "price_yuan", "contract_number", "use", "valid_until",
]  # fmt: skip
REALISTIC = [
    "徐玉成", "徐玉城", "徐玉成、王丽", "济南海岱餐饮管理有限公司",
    "91370102MA15LK9R0X", "370102198701055097",
    "济南市历下区和平路308号", "济南市历城区和平路308号",
    "370102004009GB00642F00040105", "370112004009GB00642F00040105",
    "371202004009GB00642F00040105", "370171004009GB00642F00040105",
    "鲁(2021)济南市不动产权第0385913号", "JNCL2026083134475", "商务金融用地/商业", "住宅",
    "62.66", "122.50", "0", "0.00", "1610000.00",
    "2020-01-01", "2099-12-31", "2026-02-30", "长期", "",
]  # fmt: skip
VALUES = st.one_of(st.sampled_from(REALISTIC), st.text(max_size=24))
BUSINESSES = ["ENT_NONRES_TRANSFER", "RESALE_TRANSFER", "NEW_HOME_TRANSFER", "MORT_FIRST", "MORT_CANCEL", "CHANGE"]
PAGES = st.lists(
    st.builds(
        DocFields,
        page_id=st.just(""),
        material=st.sampled_from(MATERIALS),
        fields=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=7),
        valid=st.dictionaries(st.sampled_from(["uscc", "id_number", "unit_number", "cert_number"]), st.booleans()),
        party_key=st.sampled_from([None, "buyer", "seller", "nobody"]),
    ),
    max_size=8,
).map(lambda docs: [replace(doc, page_id=f"p{i}") for i, doc in enumerate(docs)])
PARTIES = st.lists(
    st.builds(
        PartyFacts,
        key=st.sampled_from(["buyer", "seller", "nobody"]),
        role=st.sampled_from(["buyer", "seller", "mortgagor", "mortgagee", "developer", "agent"]),
        kind=st.sampled_from(["enterprise", "individual", "other"]),
        name=st.one_of(st.none(), VALUES),
        id_value=st.one_of(st.none(), VALUES),
    ),
    max_size=3,
)


def as_set(findings: Sequence[FindingSpec]) -> set[tuple[str, str, str, frozenset[str]]]:
    return {(f.rule, f.severity, f.message, frozenset(f.page_ids)) for f in findings}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BUSINESSES), PARTIES, PAGES, st.data())
def test_findings_are_deterministic_and_independent_of_page_order(
    business: str, parties: list[PartyFacts], docs: list[DocFields], data: st.DataObject
) -> None:
    findings = check_dossier(business, parties, docs, today=date(2026, 9, 30))
    assert findings == check_dossier(business, parties, docs, today=date(2026, 9, 30))
    shuffled = data.draw(st.permutations(docs))
    assert as_set(check_dossier(business, parties, shuffled, today=date(2026, 9, 30))) == as_set(findings)
    assert len(as_set(findings)) == len(findings)  # no duplicates
    for finding in findings:
        assert "\n" not in finding.message
        assert list(finding.page_ids) == sorted(set(finding.page_ids), key=lambda p: int(p[1:]))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BUSINESSES), PARTIES, PAGES.filter(bool), st.data())
def test_a_copy_of_a_page_never_adds_a_finding(
    business: str, parties: list[PartyFacts], docs: list[DocFields], data: st.DataObject
) -> None:
    copy = replace(data.draw(st.sampled_from(docs)), page_id="copy")
    before = check_dossier(business, parties, docs, today=date(2026, 9, 30))
    after = check_dossier(business, parties, [*docs, copy], today=date(2026, 9, 30))
    # Stronger than "no new error": the copy only joins the findings its original is in.
    assert {(f.rule, f.severity, f.message) for f in after} == {(f.rule, f.severity, f.message) for f in before}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(BUSINESSES),
    PARTIES,
    st.lists(
        st.builds(
            DocFields,
            page_id=st.text(max_size=5),
            material=st.one_of(st.sampled_from(MATERIALS), st.text(max_size=4)),
            fields=st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), st.text()),
            valid=st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), st.booleans()),
            party_key=st.one_of(st.none(), st.text(max_size=5)),
        ),
        max_size=6,
    ),
)
def test_check_dossier_never_raises_on_arbitrary_fields(
    business: str, parties: list[PartyFacts], docs: list[DocFields]
) -> None:
    for finding in check_dossier(business, parties, docs, today=date(2026, 9, 30)):
        assert finding.severity in {"error", "warning", "info"}


# --------------------------------------------------------------------------------------------- the loan


def test_a_mortgage_contract_securing_another_amount_than_the_loan_is_a_warning() -> None:
    case = Case("case-02")  # MORT_FIRST: loan contract and mortgage contract
    assert [f for f in case.check() if f.rule == "loan_amount_mismatch"] == []
    mortgage = next(d.page_id for d in case.docs if d.material == "M20")
    finding = only(case.check(case.altered(mortgage, loan_amount_yuan="1.00")), "loan_amount_mismatch")
    assert finding.severity == "warning"
    assert len(finding.page_ids) == 2
