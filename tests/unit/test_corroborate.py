"""Cross-page agreement makes a reading surer; disagreement makes it doubtful (pure, property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocr.corroborate import SURE, Reading, corroborate, disagreeing

confidences = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def test_the_same_area_on_certificate_contract_and_application_is_surer_than_any_one() -> None:
    readings = [
        Reading("cert", "area_m2", "89.50", 0.85),
        Reading("contract", "area_m2", "89.5", 0.8),
        Reading("application", "area_m2", "89.50", 0.7),
    ]
    got = corroborate(readings)
    assert all(got[(r.page_id, "area_m2")] > 0.99 for r in readings)


def test_a_lone_reading_against_two_agreeing_ones_is_doubtful_and_they_stay_sure() -> None:
    readings = [
        Reading("cert", "area_m2", "89.50", 0.99),
        Reading("contract", "area_m2", "89.50", 0.99),
        Reading("application", "area_m2", "39.50", 0.99),
    ]
    got = corroborate(readings)
    assert got[("application", "area_m2")] < SURE
    assert got[("cert", "area_m2")] >= SURE
    assert disagreeing(readings) == ["area_m2"]


def test_two_pages_two_values_both_show_as_check() -> None:
    got = corroborate([Reading("a", "price_yuan", "1350000.00", 0.99), Reading("b", "price_yuan", "1530000", 0.99)])
    assert got[("a", "price_yuan")] < SURE and got[("b", "price_yuan")] < SURE


def test_a_title_number_is_not_compared_with_a_proof_number() -> None:
    readings = [
        Reading("cert", "cert_number", "鲁(2021)济南市不动产权第0385913号", 0.95),
        Reading("proof", "cert_number", "鲁(2024)济南市不动产证明第0012345号", 0.95),
    ]
    assert corroborate(readings) == {("cert", "cert_number"): 0.95, ("proof", "cert_number"): 0.95}


def test_the_tax_base_is_not_the_price() -> None:
    readings = [
        Reading("contract", "price_yuan", "1350000.00", 0.95, material="M11"),
        Reading("tax", "price_yuan", "1420000.00", 0.95, material="M12"),
    ]
    assert corroborate(readings) == {("contract", "price_yuan"): 0.95, ("tax", "price_yuan"): 0.95}


def test_names_of_different_parties_are_never_compared() -> None:
    readings = [Reading("id-seller", "name", "张三", 0.7), Reading("id-buyer", "name", "李四", 0.7)]
    assert corroborate(readings) == {("id-seller", "name"): 0.7, ("id-buyer", "name"): 0.7}


def test_an_invalid_reading_neither_helps_nor_hurts() -> None:
    readings = [Reading("a", "unit_number", "X", 0.4, valid=False), Reading("b", "unit_number", "Y", 0.97)]
    assert corroborate(readings) == {("a", "unit_number"): 0.4, ("b", "unit_number"): 0.97}


@given(st.lists(st.tuples(st.sampled_from(["89.50", "98.50"]), confidences), min_size=1, max_size=6))
def test_agreement_never_lowers_and_disagreement_never_leaves_a_minority_sure(
    pages: list[tuple[str, float]],
) -> None:
    readings = [Reading(f"p{i}", "area_m2", value, c) for i, (value, c) in enumerate(pages)]
    got = corroborate(readings)
    values = {value for value, _ in pages}
    counts = {v: sum(1 for value, _ in pages if value == v) for v in values}
    for r in readings:
        level = got[(r.page_id, "area_m2")]
        assert 0.0 <= level <= 1.0
        if len(values) == 1:
            assert level >= r.confidence
        elif counts[r.value] <= max(counts.values()) and list(counts.values()).count(max(counts.values())) > 1:
            assert level < SURE  # a tie
        elif counts[r.value] < max(counts.values()):
            assert level < SURE  # a minority


@given(st.lists(st.tuples(st.sampled_from(["89.50", "98.50"]), confidences), min_size=1, max_size=6))
def test_the_order_of_the_pages_does_not_matter(pages: list[tuple[str, float]]) -> None:
    readings = [Reading(f"p{i}", "area_m2", value, c) for i, (value, c) in enumerate(pages)]
    assert corroborate(readings) == corroborate(list(reversed(readings)))


def test_a_company_name_one_character_off_another_pages_is_a_likely_misread_and_never_sure() -> None:
    right, misread = "济南聚丰文化传媒有限公司", "济南聚丰文化媒有限公司"
    readings = [
        Reading("licence", "org_name", right, 0.99),
        Reading("application", "right_holder", right, 0.97),
        Reading("contract", "org_name", misread, 0.93),
        Reading("contract", "right_holder", misread, 0.93),
    ]
    got = corroborate(readings)
    assert got[("contract", "org_name")] < SURE and got[("contract", "right_holder")] < SURE
    assert got[("licence", "org_name")] == 0.99 and got[("application", "right_holder")] == 0.97
    # Two people whose short names differ by a character are two people: nothing is doubted.
    people = [Reading("a", "name", "王芳", 0.99), Reading("b", "name", "王方", 0.99)]
    assert corroborate(people) == {("a", "name"): 0.99, ("b", "name"): 0.99}
    # Two different companies are not near: nothing is doubted.
    companies = [Reading("a", "org_name", right, 0.99), Reading("b", "mortgagee", "恒岱银行股份有限公司济南分行", 0.99)]
    assert corroborate(companies) == {("a", "org_name"): 0.99, ("b", "mortgagee"): 0.99}


_names = st.sampled_from(
    ["济南聚丰文化传媒有限公司", "济南聚丰文化媒有限公司", "济南聚丰文化传煤有限公司", "恒岱银行股份有限公司"]
)


# One character apart: 传媒/媒 (lost), 传媒/传煤 (misread); 媒/传煤 are two apart, the bank is far from all.
_NEAR_PAIRS = {
    frozenset(("济南聚丰文化传媒有限公司", "济南聚丰文化媒有限公司")),
    frozenset(("济南聚丰文化传媒有限公司", "济南聚丰文化传煤有限公司")),
}


@given(st.lists(st.tuples(_names, confidences), min_size=1, max_size=6))
def test_near_names_only_ever_lower_and_the_order_does_not_matter(pages: list[tuple[str, float]]) -> None:
    readings = [Reading(f"p{i}", "org_name", value, c) for i, (value, c) in enumerate(pages)]
    got = corroborate(readings)
    assert got == corroborate(list(reversed(readings)))
    counts = {v: sum(1 for value, _ in pages if value == v) for v, _ in pages}
    for r in readings:
        assert got[(r.page_id, "org_name")] <= r.confidence
        rivals = [v for v in counts if frozenset((v, r.value)) in _NEAR_PAIRS]
        if any(counts[v] >= counts[r.value] for v in rivals):
            assert got[(r.page_id, "org_name")] < SURE


@given(st.lists(st.tuples(st.sampled_from(["89.50", "98.50"]), confidences, st.booleans()), min_size=1, max_size=6))
def test_whatever_disagrees_with_a_value_a_person_confirmed_is_never_sure(
    pages: list[tuple[str, float, bool]],
) -> None:
    readings = [Reading(f"p{i}", "area_m2", v, c, by_person=person) for i, (v, c, person) in enumerate(pages)]
    got = corroborate(readings)
    vouched = {v for v, _, person in pages if person}
    for r in readings:
        if vouched and r.value not in vouched:
            assert got[(r.page_id, "area_m2")] < SURE
        if vouched == {r.value}:
            assert got[(r.page_id, "area_m2")] >= r.confidence
