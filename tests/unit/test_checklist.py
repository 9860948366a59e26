"""Material checklists: a dossier's slots, and the complete list of what blocks submission (一次性告知)."""

from __future__ import annotations

import pytest

from workstation.domain import (
    Business,
    DomainError,
    MissingMaterials,
    MissingReason,
    PartyRef,
    SlotSpec,
    SlotState,
    check_submit,
    default_catalogue,
    missing_for_submit,
    slots_for,
    validate_new_dossier,
)

BUYER = PartyRef("p-buyer", "buyer", "enterprise", "济南某某有限公司")
SELLER = PartyRef("p-seller", "seller", "individual", "张三")


def business(code: str) -> Business:
    return default_catalogue().business(code)


def materials_of(slots: list[SlotSpec], party_key: str | None) -> list[str]:
    return [slot.material for slot in slots if slot.party_key == party_key]


def state(slot: SlotSpec, *, satisfied: bool = False, waived: bool = False) -> SlotState:
    return SlotState(slot.material, slot.party_key, slot.required, satisfied, waived)


def test_enterprise_buyer_and_individual_seller_get_their_identity_and_dossier_materials() -> None:
    slots = slots_for(business("ENT_NONRES_TRANSFER"), [BUYER, SELLER], ())
    assert materials_of(slots, None) == ["M01", "M02", "M08", "M11", "M12"]
    assert materials_of(slots, "p-buyer") == ["M05", "M06", "M07", "M23"]
    assert materials_of(slots, "p-seller") == ["M03"]
    buyer_resolution = next(s for s in slots if s.party_key == "p-buyer" and s.material == "M23")
    assert not buyer_resolution.required


def test_slots_list_the_dossier_first_then_parties_in_the_given_order() -> None:
    slots = slots_for(business("ENT_NONRES_TRANSFER"), [SELLER, BUYER], ())
    owners = [slot.party_key for slot in slots]
    assert owners == [None] * 5 + ["p-seller"] + ["p-buyer"] * 4


def test_jointly_owned_property_of_an_individual_seller_needs_the_marriage_certificate() -> None:
    slots = slots_for(business("ENT_NONRES_TRANSFER"), [BUYER, SELLER], {"marital_joint"})
    assert materials_of(slots, "p-seller") == ["M03", "M22"]


def test_state_owned_corporate_seller_needs_resolution_approval_and_invoice() -> None:
    seller = PartyRef("p-seller", "seller", "enterprise", "济南国有公司")
    without = slots_for(business("ENT_NONRES_TRANSFER"), [BUYER, seller], ())
    with_soe = slots_for(business("ENT_NONRES_TRANSFER"), [BUYER, seller], {"state_owned"})
    assert materials_of(without, "p-seller") == ["M05", "M06", "M07", "M23", "M13"]
    assert materials_of(with_soe, "p-seller") == ["M05", "M06", "M07", "M23", "M24", "M13"]


def test_new_build_contract_satisfies_the_resale_contract_slot() -> None:
    slots = slots_for(business("ENT_NONRES_TRANSFER"), [BUYER, SELLER], ())
    contract = next(slot for slot in slots if slot.material == "M11")
    assert "M10" in contract.accepts
    assert contract.satisfied_by("M10")
    assert contract.satisfied_by("M11")
    assert not contract.satisfied_by("M08")


def test_missing_seller_is_reported_as_no_party_recorded() -> None:
    missing = missing_for_submit(business("ENT_NONRES_TRANSFER"), [BUYER], (), [])
    parties = [item for item in missing if item.reason == MissingReason.PARTY_COUNT]
    assert [str(item) for item in parties] == ["出卖人: no party recorded"]


def test_missing_material_names_the_material_the_role_and_the_party() -> None:
    missing = missing_for_submit(business("ENT_NONRES_TRANSFER"), [BUYER, SELLER], (), [])
    licence = next(item for item in missing if item.material == "M05")
    assert str(licence) == "M05 营业执照 — 买受人 济南某某有限公司"
    assert licence.party_key == "p-buyer"
    form = next(item for item in missing if item.material == "M01")
    assert str(form) == "M01 不动产登记申请书"


def test_missing_for_submit_reports_every_missing_item_at_once() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    slots = slots_for(ent, [BUYER, SELLER], {"marital_joint"})
    states = [state(slot, satisfied=slot.material in {"M01", "M06"}) for slot in slots]
    missing = missing_for_submit(ent, [BUYER, SELLER], {"marital_joint"}, states)
    assert [(item.material, item.party_key) for item in missing] == [
        ("M02", None),
        ("M08", None),
        ("M11", None),
        ("M12", None),
        ("M05", "p-buyer"),
        ("M07", "p-buyer"),
        ("M03", "p-seller"),
        ("M22", "p-seller"),
    ]


def test_check_submit_raises_with_the_complete_list() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    with pytest.raises(MissingMaterials) as caught:
        check_submit(ent, [BUYER], (), [])
    expected = missing_for_submit(ent, [BUYER], (), [])
    assert caught.value.missing == tuple(expected)
    assert len(expected) > 1
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot submit: {len(expected)} items missing: ")
    assert all(str(item) in message for item in expected)


def test_slot_with_no_stored_state_counts_as_missing() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    slots = slots_for(ent, [BUYER, SELLER], ())
    states = [state(slot, satisfied=True) for slot in slots if slot.material != "M12"]
    missing = missing_for_submit(ent, [BUYER, SELLER], (), states)
    assert [item.material for item in missing] == ["M12"]


def test_waived_slots_are_not_missing() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    slots = slots_for(ent, [BUYER, SELLER], ())
    states = [state(slot, satisfied=slot.material != "M07", waived=slot.material == "M07") for slot in slots]
    assert missing_for_submit(ent, [BUYER, SELLER], (), states) == []


def test_complete_dossier_may_be_submitted_without_optional_materials() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    slots = slots_for(ent, [BUYER, SELLER], ())
    states = [state(slot, satisfied=slot.required) for slot in slots]
    assert any(not slot.required for slot in slots)
    assert missing_for_submit(ent, [BUYER, SELLER], (), states) == []
    check_submit(ent, [BUYER, SELLER], (), states)


def test_slot_for_a_condition_no_longer_set_does_not_block() -> None:
    ent = business("ENT_NONRES_TRANSFER")
    slots = slots_for(ent, [BUYER, SELLER], ())
    states = [state(slot, satisfied=True) for slot in slots]
    stale = SlotState("M22", "p-seller", required=True, satisfied=False)
    assert missing_for_submit(ent, [BUYER, SELLER], (), [*states, stale]) == []


def test_individual_buyer_of_non_residential_property_is_reported() -> None:
    person = PartyRef("p-buyer", "buyer", "individual", "李四")
    missing = missing_for_submit(business("ENT_NONRES_TRANSFER"), [person, SELLER], (), [])
    kinds = [str(item) for item in missing if item.reason == MissingReason.PARTY_KIND]
    assert kinds == ["买受人 李四: must be enterprise, not individual"]


def test_change_without_a_reason_is_refused() -> None:
    change = business("CHANGE")
    owner = PartyRef("p-owner", "applicant", "individual", "王五")
    slots = slots_for(change, [owner], ())
    states = [state(slot, satisfied=True) for slot in slots]
    with pytest.raises(MissingMaterials) as caught:
        check_submit(change, [owner], (), states)
    (problem,) = caught.value.missing
    assert problem.reason == MissingReason.CONDITION
    assert "坐落变更" in str(problem)


def test_change_of_name_and_location_needs_both_proofs() -> None:
    change = business("CHANGE")
    owner = PartyRef("p-owner", "applicant", "enterprise", "某公司")
    slots = slots_for(change, [owner], {"name_change", "location_change"})
    assert materials_of(slots, None) == ["M01", "M02", "M08", "M25", "M26"]


def test_mortgage_cancellation_by_the_mortgagee_alone_needs_no_title_certificate() -> None:
    cancel = business("MORT_CANCEL")
    bank = PartyRef("p-bank", "mortgagee", "enterprise", "某银行济南分行")
    assert "M08" not in materials_of(slots_for(cancel, [bank], ()), None)
    assert "M08" in materials_of(slots_for(cancel, [bank], {"joint_application"}), None)
    counts = [i for i in missing_for_submit(cancel, [bank], (), []) if i.reason == MissingReason.PARTY_COUNT]
    assert counts == []


def test_unknown_condition_is_refused_when_listing_slots() -> None:
    with pytest.raises(DomainError, match="unknown condition 'married' for business ENT_NONRES_TRANSFER"):
        slots_for(business("ENT_NONRES_TRANSFER"), [BUYER], {"married"})


def test_party_with_a_role_the_business_lacks_is_refused() -> None:
    lender = PartyRef("p-x", "mortgagee", "enterprise", None)
    with pytest.raises(DomainError, match="has no role 'mortgagee'"):
        slots_for(business("ENT_NONRES_TRANSFER"), [lender], ())


def test_new_dossier_refuses_an_applicant_kind_the_business_does_not_accept() -> None:
    with pytest.raises(DomainError) as caught:
        validate_new_dossier(business("ENT_NONRES_TRANSFER"), "individual", ())
    assert "ENT_NONRES_TRANSFER" in str(caught.value) and "accepted: enterprise" in str(caught.value)


def test_new_dossier_refuses_an_unknown_condition() -> None:
    with pytest.raises(DomainError, match="unknown condition 'vip'"):
        validate_new_dossier(business("RESALE_TRANSFER"), "individual", {"vip"})


def test_new_dossier_accepts_a_valid_applicant_and_conditions() -> None:
    validate_new_dossier(business("RESALE_TRANSFER"), "individual", {"marital_joint"})
    validate_new_dossier(business("ENT_NONRES_TRANSFER"), "enterprise")
