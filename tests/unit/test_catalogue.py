"""The business catalogue: the packaged data is complete, and a bad catalogue is refused in one clear line."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from workstation.domain import CatalogueError, default_catalogue, load_catalogue

REQUIRED_BUSINESSES = {
    "ENT_NONRES_TRANSFER": "TRANSFER",
    "NEW_HOME_TRANSFER": "TRANSFER",
    "RESALE_TRANSFER": "TRANSFER",
    "MORT_FIRST": "FIRST",
    "MORT_CIP": "FIRST",
    "MORT_CANCEL": "CANCEL",
    "CHANGE": "CHANGE",
    "HOUSE_FIRST": "FIRST",
}

# A small, valid catalogue; each refusal test breaks exactly one thing in it.
MINIMAL = """
[workflow]
stages = ["ACCEPT", "REVIEW", "REGISTER", "ISSUE"]
professional_merge = ["REGISTER", "ISSUE"]

[defaults]
time_limit_days = 5

[registration_types]
TRANSFER = { djlx = "200", label = "转移登记" }

[party_roles]
buyer = "买受人"
seller = "出卖人"

[identity]
individual = [{ material = "M03" }]
enterprise = [{ material = "M05" }, { material = "M06" }, { material = "M07" }]

[business.TEST_TRANSFER]
name = "测试转移"
registration_type = "TRANSFER"
roles = [
    { role = "buyer", kinds = ["enterprise"], min_count = 1, applicant = true },
    { role = "seller", kinds = ["enterprise", "individual"] },
]
items = [
    { material = "M01" },
    { material = "M11", accepts = ["M10"] },
    { material = "M22", role = "seller", kind = "individual", when = "marital_joint" },
]

[business.TEST_TRANSFER.conditions]
marital_joint = "夫妻共有"
"""


def broken(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


def refusal(text: str, **kwargs: object) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(text, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_packaged_catalogue_loads_with_the_four_stage_workflow() -> None:
    catalogue = load_catalogue()
    assert catalogue.stages == ("ACCEPT", "REVIEW", "REGISTER", "ISSUE")
    assert catalogue.professional_merge == ("REGISTER", "ISSUE")


@pytest.mark.parametrize(("code", "registration_type"), REQUIRED_BUSINESSES.items())
def test_required_business_exists_with_its_registration_type(code: str, registration_type: str) -> None:
    business = default_catalogue().business(code)
    assert business.registration_type == registration_type
    assert business.name
    assert business.djlx == {"FIRST": "100", "TRANSFER": "200", "CHANGE": "300", "CANCEL": "400"}[registration_type]


def test_every_material_is_defined_with_names_and_forms() -> None:
    """M01–M30 of domain.md §4, and M31–M39 for the businesses added since, numbered without a gap."""
    materials = default_catalogue().materials
    assert list(materials) == [f"M{n:02d}" for n in range(1, 40)]
    assert materials["M05"].name == "营业执照"
    assert materials["M03"].form == "C/share"
    assert all(m.name and m.name_en and m.form for m in materials.values())


def test_every_material_a_checklist_refers_to_exists() -> None:
    catalogue = default_catalogue()
    for business in catalogue.businesses.values():
        for item in business.items:
            assert item.material in catalogue.materials, (business.code, item.material)
            assert all(code in catalogue.materials for code in item.accepts)


def test_every_party_proves_its_identity_from_the_identity_table() -> None:
    """Save a decedent and a court (its officers' credentials, M31, stand in for a licence)."""
    unproven = {(b.code, r.name) for b in default_catalogue().businesses.values() for r in b.roles if not r.identity}
    assert unproven == {("SEIZURE", "court"), ("UNSEIZE", "court"), ("INHERIT", "decedent")}
    for business in default_catalogue().businesses.values():
        for role in business.roles:
            if not role.identity:
                continue
            by_kind = {
                kind: {i.material for i in business.items if i.role == role.name and i.kind == kind}
                for kind in role.kinds
            }
            if "individual" in by_kind:
                assert "M03" in by_kind["individual"], (business.code, role.name)
            if "enterprise" in by_kind:
                assert {"M05", "M06", "M07"} <= by_kind["enterprise"], (business.code, role.name)


def test_every_business_requires_application_form_and_interview_record() -> None:
    """Save a court's 嘱托 (查封, 解封): the court's notice and ruling are the application."""
    for business in default_catalogue().businesses.values():
        if business.registration_type == "SEIZURE":
            assert {i.material for i in business.items if i.role is None} == {"M29", "M31"}, business.code
            continue
        dossier_level = {i.material for i in business.items if i.role is None and i.when is None}
        assert {"M01", "M02"} <= dossier_level, business.code


def test_only_first_ownership_registration_and_construction_mortgage_are_inspected_in_full() -> None:
    full = {b.code for b in default_catalogue().businesses.values() if b.qc_full}
    assert full == {"HOUSE_FIRST", "MORT_CIP", "LAND_FIRST"}  # 首次登记 of ownership, of land alone too
    assert default_catalogue().business("MORT_CIP").site_visit
    assert default_catalogue().business("HOUSE_FIRST").site_visit


def test_enterprise_non_residential_purchase_is_digitised_at_intake_and_needs_an_enterprise_buyer() -> None:
    business = default_catalogue().business("ENT_NONRES_TRANSFER")
    assert business.digitized_at_intake
    assert business.applicant_kinds == ("enterprise",)
    assert business.role("buyer").kinds == ("enterprise",)
    assert set(business.role("seller").kinds) == {"enterprise", "individual"}
    assert not default_catalogue().business("RESALE_TRANSFER").digitized_at_intake


def test_change_requires_one_of_its_reasons() -> None:
    business = default_catalogue().business("CHANGE")
    (group,) = business.require_one_of
    assert {"name_change", "id_change", "location_change", "area_change"} <= set(group)


def test_each_business_states_its_own_time_limit_within_the_national_five_days() -> None:
    raw = tomllib.loads(resources.files("workstation.domain").joinpath("data", "catalogue.toml").read_text("utf-8"))
    assert [code for code, table in raw["business"].items() if "time_limit_days" not in table] == []
    limits = {code: b.time_limit_days for code, b in default_catalogue().businesses.items()}
    assert limits == {
        "ENT_NONRES_TRANSFER": 5,
        "NEW_HOME_TRANSFER": 5,
        "RESALE_TRANSFER": 5,
        "MORT_FIRST": 2,  # 抵押首次, a local 承诺 example
        "MORT_CIP": 3,  # 在建工程抵押 3 + 实地查看, a local 承诺 example
        "MORT_CANCEL": 1,  # 抵押注销 "1 hour": the shortest the clock counts
        "CHANGE": 5,
        "HOUSE_FIRST": 5,  # site visit and 公告 pause the clock instead of a 30-day limit
        "ADVANCE_SALE": 3,
        "ADVANCE_MORT": 3,
        "SEIZURE": 1,  # a court's order is entered the day it is served
        "UNSEIZE": 1,
        "CORRECT": 5,
        "OBJECTION": 1,
        "MORT_CHANGE": 2,
        "MORT_TRANSFER": 2,
        "MORT_MAX": 2,
        "INHERIT": 5,
        "GIFT": 5,
        "REISSUE": 5,
        "LAND_FIRST": 5,
        "LAND_TRANSFER": 5,
    }
    assert max(limits.values()) <= 5  # 国办发〔2019〕8号: 一般登记 and 抵押登记 ≤ 5 working days


def test_minimal_catalogue_loads_and_expands_identity_items_per_kind() -> None:
    business = load_catalogue(MINIMAL).business("TEST_TRANSFER")
    seller_items = [(i.material, i.kind) for i in business.items if i.role == "seller"]
    assert seller_items == [
        ("M05", "enterprise"),
        ("M06", "enterprise"),
        ("M07", "enterprise"),
        ("M03", "individual"),
        ("M22", "individual"),
    ]
    assert business.time_limit_days == 5
    assert business.stages is None


def test_unknown_business_code_lists_the_known_codes() -> None:
    with pytest.raises(CatalogueError) as caught:
        default_catalogue().business("NOPE")
    message = str(caught.value)
    assert message.startswith("unknown business code 'NOPE'; known: ")
    assert "ENT_NONRES_TRANSFER" in message and "HOUSE_FIRST" in message
    assert "\n" not in message


def test_unknown_material_code_is_refused() -> None:
    with pytest.raises(CatalogueError, match="unknown material code 'M99'"):
        default_catalogue().material("M99")


def test_five_stage_workflow_is_refused_under_r1() -> None:
    text = broken(
        'stages = ["ACCEPT", "REVIEW", "REGISTER", "ISSUE"]',
        'stages = ["ACCEPT", "REVIEW", "REGISTER", "CERTIFY", "ISSUE"]',
    )
    message = refusal(text)
    assert "workflow" in message and "5 stages" in message and "R1" in message


def test_business_with_five_stages_is_refused_naming_it() -> None:
    text = broken(
        'registration_type = "TRANSFER"\n',
        'registration_type = "TRANSFER"\nstages = ["ACCEPT", "REVIEW", "REVIEW2", "REGISTER", "ISSUE"]\n',
    )
    message = refusal(text)
    assert "business TEST_TRANSFER" in message and "R1" in message


def test_stages_override_with_five_stages_is_refused() -> None:
    message = refusal(MINIMAL, stages_override=["ACCEPT", "REVIEW", "REGISTER", "PRINT", "ISSUE"])
    assert "stages_override" in message and "R1" in message


def test_stages_override_may_merge_register_and_issue() -> None:
    catalogue = load_catalogue(MINIMAL, stages_override=["ACCEPT", "REVIEW", "REGISTER_ISSUE"])
    assert catalogue.stages == ("ACCEPT", "REVIEW", "REGISTER_ISSUE")


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (["ACCEPT", "REGISTER", "REVIEW", "ISSUE"], "canonical order"),
        (["ACCEPT", "REVIEW", "SIGN", "ISSUE"], "unknown stage 'SIGN'"),
        (["ACCEPT", "REVIEW", "REGISTER"], "'ISSUE' is missing"),
        (["ACCEPT", "REVIEW", "REVIEW", "ISSUE"], "listed twice"),
    ],
)
def test_bad_stage_list_is_refused(stages: list[str], expected: str) -> None:
    assert expected in refusal(MINIMAL, stages_override=stages)


def test_professional_merge_other_than_register_and_issue_is_refused() -> None:
    text = broken('professional_merge = ["REGISTER", "ISSUE"]', 'professional_merge = ["REVIEW", "REGISTER"]')
    assert "professional_merge" in refusal(text)


def test_broken_toml_is_refused_with_the_file_and_line() -> None:
    message = refusal(broken('name = "测试转移"', 'name = "测试转移'))
    assert message.startswith("catalogue.toml: invalid TOML")
    assert "line" in message


def test_unknown_material_is_refused_naming_the_business() -> None:
    message = refusal(broken('{ material = "M01" }', '{ material = "M99" }'))
    assert message.startswith("business TEST_TRANSFER: unknown material 'M99'")


def test_unknown_accepted_material_is_refused_naming_the_business() -> None:
    message = refusal(broken('accepts = ["M10"]', 'accepts = ["M77"]'))
    assert "business TEST_TRANSFER" in message and "M77" in message


def test_unknown_condition_is_refused_naming_the_business() -> None:
    message = refusal(broken('when = "marital_joint"', 'when = "married"'))
    assert message.startswith("business TEST_TRANSFER: item M22 uses unknown condition 'married'")
    assert "marital_joint" in message


def test_unknown_role_is_refused_naming_the_business() -> None:
    message = refusal(broken('{ role = "seller", kinds', '{ role = "lender", kinds'))
    assert message.startswith("business TEST_TRANSFER: unknown role 'lender'")


def test_item_for_a_role_the_business_lacks_is_refused() -> None:
    message = refusal(broken('role = "seller", kind = "individual"', 'role = "mortgagor", kind = "individual"'))
    assert "business TEST_TRANSFER" in message and "mortgagor" in message


def test_item_for_a_kind_its_role_does_not_allow_is_refused() -> None:
    message = refusal(broken('{ material = "M01" }', '{ material = "M23", role = "buyer", kind = "individual" }'))
    assert "business TEST_TRANSFER" in message and "individual" in message


def test_unknown_registration_type_is_refused() -> None:
    message = refusal(broken('registration_type = "TRANSFER"', 'registration_type = "SALE"'))
    assert message.startswith("business TEST_TRANSFER: unknown registration type 'SALE'")


def test_business_without_a_name_is_refused() -> None:
    assert refusal(broken('name = "测试转移"\n', "")) == "business TEST_TRANSFER: missing 'name'"


@pytest.mark.parametrize("days", ["0", "-3"])
def test_time_limit_must_be_positive(days: str) -> None:
    text = broken('registration_type = "TRANSFER"\n', f'registration_type = "TRANSFER"\ntime_limit_days = {days}\n')
    message = refusal(text)
    assert "business TEST_TRANSFER" in message and "time_limit_days" in message


def test_duplicate_business_code_is_refused() -> None:
    duplicate = MINIMAL + '\n[business.TEST_TRANSFER]\nname = "again"\n'
    assert "invalid TOML" in refusal(duplicate)


def test_duplicate_checklist_item_is_refused() -> None:
    message = refusal(broken('{ material = "M01" }', '{ material = "M01" },\n    { material = "M01" }'))
    assert message == "business TEST_TRANSFER: item M01 is listed twice (identity items included)"


def test_item_repeating_an_identity_material_is_refused() -> None:
    message = refusal(broken('{ material = "M01" }', '{ material = "M05", role = "buyer" }'))
    assert "item M05 for buyer is listed twice" in message


def test_two_applicant_roles_are_refused() -> None:
    text = broken(
        '{ role = "seller", kinds = ["enterprise", "individual"] }',
        '{ role = "seller", kinds = ["enterprise", "individual"], applicant = true }',
    )
    assert "exactly one role must have applicant = true" in refusal(text)


def test_misspelled_key_is_refused() -> None:
    message = refusal(broken('{ material = "M01" }', '{ material = "M01", requried = false }'))
    assert message == "business TEST_TRANSFER item M01: unknown key 'requried'"


def test_duplicate_material_code_is_refused() -> None:
    materials = """
[[material]]
code = "M01"
name = "申请书"
name_en = "Application"
form = "O"

[[material]]
code = "M01"
name = "又一个"
name_en = "Again"
form = "O"
"""
    message = refusal(MINIMAL, materials_text=materials)
    assert message == "materials.toml: duplicate material code 'M01'"


def test_material_with_an_unknown_form_is_refused() -> None:
    materials = '[[material]]\ncode = "M01"\nname = "申请书"\nname_en = "A"\nform = "X"\n'
    assert "form 'X'" in refusal(MINIMAL, materials_text=materials)
