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
