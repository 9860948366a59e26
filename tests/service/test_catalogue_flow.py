"""The businesses offices handle daily beyond the core ones, each through the window flow on a desk that is its own
registry: its checklist, 受理, review, 登簿 and the register entry it writes, its fee, 发证. Prerequisites (an owner to
inherit from, a mortgage to assign, a seizure to lift) are themselves registered through the same flow."""

from __future__ import annotations

import pytest

from tests.review_helpers import IDN, USCC2, both_reviewer, submitted, unit_number
from workstation.domain.register import parse_certificate_number
from workstation.errors import UsageError
from workstation.services.desk import Desk

COURT = ("济南市历下区人民法院", "11370102003377777N")
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the flow is the same on PostgreSQL

# business → (materials its checklist asks for at the dossier level, conditions chosen, the entry kind 登簿 acts on,
# what it issues, the fee due)
CASES = {
    "ADVANCE_SALE": ({"M01", "M02", "M10"}, (), "advance", "proof", "0.00"),
    "ADVANCE_MORT": ({"M01", "M02", "M09", "M19", "M20"}, (), "advance", "proof", "0.00"),
    "SEIZURE": ({"M29", "M31"}, (), "seizure", None, "0.00"),
    "UNSEIZE": ({"M29", "M31"}, (), "seizure", None, "0.00"),
    "CORRECT": ({"M01", "M02", "M08", "M32", "M14"}, ("area_error",), "ownership", "certificate", "0.00"),
    "OBJECTION": ({"M01", "M02", "M33", "M32"}, (), "objection", "proof", "0.00"),
    "MORT_CHANGE": ({"M01", "M02", "M09", "M20"}, ("amount_change",), "mortgage", "proof", "0.00"),
    "MORT_TRANSFER": ({"M01", "M02", "M09", "M38"}, (), "mortgage", "proof", "80.00"),
    "MORT_MAX": ({"M01", "M02", "M08", "M20"}, (), "mortgage", "proof", "80.00"),
    "INHERIT": ({"M01", "M02", "M08", "M34", "M35", "M36"}, (), "ownership", "certificate", "80.00"),
    "GIFT": ({"M01", "M02", "M08", "M37", "M12"}, (), "ownership", "certificate", "80.00"),
    "REISSUE": ({"M01", "M02", "M39"}, ("lost",), "ownership", "certificate", "10.00"),
    "LAND_FIRST": ({"M01", "M02", "M18", "M15", "M12"}, (), "ownership", "certificate", "80.00"),
    "LAND_TRANSFER": ({"M01", "M02", "M08", "M11", "M12"}, (), "ownership", "certificate", "80.00"),
}
_APPLICANT = {"SEIZURE": COURT, "UNSEIZE": COURT}
_FACTS = {
    "SEIZURE": {"order_number": "(2026)鲁0102执123号"},
    "UNSEIZE": {"order_number": "(2026)鲁0102执123号之一"},
    "MORT_CHANGE": {"loan_amount_yuan": "650000"},
    "CORRECT": {"area_m2": "91.20"},
}


@pytest.fixture
def staff(desk: Desk):  # type: ignore[no-untyped-def]
    return both_reviewer(desk)


def _reviewed(desk: Desk, clerk, staff, business: str, unit: str):  # type: ignore[no-untyped-def]
    kinds = desk.catalogue.business(business).applicant_kinds
    d = submitted(
        desk,
        clerk,
        business=business,
        unit=unit,
        kind="individual" if "individual" in kinds else "enterprise",
        conditions=CASES.get(business, ((), ()))[1],
        applicant=_APPLICANT.get(business),
        facts=_FACTS.get(business),
    )
    lease = desk.review.claim_next(staff)
    assert lease is not None and lease.number == d.number
    desk.review.decide(staff, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    return d


def _issued(desk: Desk, clerk, staff, business: str, unit: str) -> str:  # type: ignore[no-untyped-def]
    number = _reviewed(desk, clerk, staff, business, unit).number
    done = desk.review.register(staff, number)
    charge = desk.settle.charge(number)
    if not charge.free:
        desk.settle.pay(clerk, number, method="qr", amount=charge.due, reference=f"WX{number[-6:]}0001")
    if done["certificates"]:
        desk.settle.deliver(clerk, number, "choose", method="window")
        desk.settle.deliver(clerk, number, "collect", name="王小明", id_number=IDN)
    desk.review.issue(clerk, number)
    return number


_BEFORE = {  # what the register must hold first
    "UNSEIZE": ("SEIZURE",),
    "CORRECT": ("RESALE_TRANSFER",),
    "MORT_CHANGE": ("MORT_FIRST",),
    "MORT_TRANSFER": ("MORT_FIRST",),
    "INHERIT": ("RESALE_TRANSFER",),
    "GIFT": ("RESALE_TRANSFER",),
    "REISSUE": ("RESALE_TRANSFER",),
    "LAND_TRANSFER": ("LAND_FIRST",),
}


@pytest.mark.parametrize("business", list(CASES))
def test_each_new_business_checklist_submission_review_register_fee(desk: Desk, clerk, staff, business) -> None:  # type: ignore[no-untyped-def]
    materials, conditions, kind, issues, fee = CASES[business]
    unit = unit_number()
    for before in _BEFORE.get(business, ()):
        _issued(desk, clerk, staff, before, unit)
    biz = desk.catalogue.business(business)
    required = {i.material for i in biz.items if i.role is None and i.required and i.when in (None, *conditions)}
    assert required == materials
    d = _reviewed(desk, clerk, staff, business, unit)
    assert d.conditions == conditions
    done = desk.review.register(staff, d.number)
    register = desk.register.show(unit)
    acted = [e for e in register if e.kind == kind]
    if business == "UNSEIZE":  # the court's own seizure is lifted; nothing is issued
        assert [e.state for e in acted] == ["closed"] and acted[0].closed_by == d.number
        assert desk.register.entries_of(d.number) == [] and done["certificates"] == []
    else:
        (entry,) = desk.register.entries_of(d.number)
        assert (entry.kind, entry.state, entry.cert_kind) == (kind, "current", issues)
        if issues is None:
            assert entry.cert_number is None and done["certificates"] == []
        else:
            parsed = parse_certificate_number(entry.cert_number or "")
            assert parsed is not None and parsed[0] == issues and done["certificates"] == [entry.cert_number]
        if business in _BEFORE:  # the earlier entry is closed, and the new one is its next version where it amends
            assert [e.state for e in acted] == ["closed", "current"]
            if business not in ("INHERIT", "GIFT", "LAND_TRANSFER"):
                assert acted[1].amends_id == acted[0].id
    assert desk.settle.charge(d.number).due == fee
    _check_entry(desk, business, unit, d.number)


def _check_entry(desk: Desk, business: str, unit: str, number: str) -> None:
    """What each business writes, in the words the register keeps."""
    entries = desk.register.entries_of(number)
    facts = entries[0].facts if entries else {}
    holders = [h["name"] for h in facts.get("holders", [])]
    if business == "SEIZURE":
        assert holders == [COURT[0]] and facts["basis"] == "(2026)鲁0102执123号"
    elif business == "ADVANCE_MORT":
        assert facts["amount_yuan"] == "500000" and holders == ["某银行济南分行"]
    elif business == "MORT_CHANGE":
        assert facts["amount_yuan"] == "650000" and holders == ["某银行济南分行"]
    elif business == "MORT_TRANSFER":  # the claim's assignee holds the mortgage now; the mortgagors stay
        assert holders == ["济南某某置业有限公司"] and facts["obligors"] and facts["amount_yuan"] == "500000"
    elif business == "MORT_MAX":
        assert facts["right_nature"] == "最高额抵押"
    elif business == "CORRECT":
        assert facts["area_m2"] == "91.20" and facts["source"] == "更正"
    elif business in ("INHERIT", "GIFT"):
        assert holders == ["王小明"] and [o["name"] for o in facts["obligors"]] == ["赵建国"]
        assert facts["source"] == {"INHERIT": "继承", "GIFT": "赠与"}[business]
    elif business == "REISSUE":
        assert "补发证书" in facts["note"] and holders == ["王小明"]
    elif business.startswith("LAND_"):
        assert facts["right_type"] == "国有建设用地使用权"


def test_a_seizure_blocks_a_transfer_until_the_same_court_lifts_it(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    unit = unit_number()
    _issued(desk, clerk, staff, "RESALE_TRANSFER", unit)
    _issued(desk, clerk, staff, "SEIZURE", unit)
    d = _reviewed(desk, clerk, staff, "RESALE_TRANSFER", unit)
    assert any(f.rule == "register.seizure" and f.severity == "error" for f in desk.dossiers.show(d.number).findings)
    with pytest.raises(Exception, match="查封"):
        desk.review.register(staff, d.number)
    _issued(desk, clerk, staff, "UNSEIZE", unit)
    assert desk.review.register(staff, d.number)["certificates"]


def test_the_full_registration_converts_the_holders_own_advance_notices(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    """预告转本登记: the buyer's 预告 ends with the transfer to the buyer, the bank's 预抵押 with its mortgage."""
    unit = unit_number()
    _issued(desk, clerk, staff, "ADVANCE_SALE", unit)
    _issued(desk, clerk, staff, "ADVANCE_MORT", unit)
    _issued(desk, clerk, staff, "NEW_HOME_TRANSFER", unit)
    _issued(desk, clerk, staff, "MORT_FIRST", unit)
    register = desk.register.show(unit)
    assert [e.state for e in register if e.kind == "advance"] == ["closed", "closed"]
    assert [e.state for e in register if e.kind in ("ownership", "mortgage")] == ["current", "current"]


def test_a_mortgage_transfer_needs_the_assignor_to_hold_the_mortgage(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    unit = unit_number()
    _issued(desk, clerk, staff, "MORT_FIRST", unit)  # held by 某银行济南分行 (USCC2)
    d = _reviewed(desk, clerk, staff, "MORT_TRANSFER", unit)
    assert any(p.id_value == USCC2 and p.role == "assignor" for p in desk.dossiers.show(d.number).parties)
    _issued(desk, clerk, staff, "MORT_CANCEL", unit)  # … until the bank cancels it
    with pytest.raises(Exception, match=r"没有现势抵押登记|不是申请人"):
        desk.review.register(staff, d.number)


def test_conditions_chosen_anew_keep_every_page_and_refuse_after_acceptance(desk: Desk, clerk) -> None:  # type: ignore[no-untyped-def]
    d = desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual", conditions=["marital_joint"])
    d = desk.dossiers.add_party(clerk, d.number, role="seller", kind="individual", name="赵建国")
    page = desk.dossiers.attach_page(
        clerk, d.number, data=b"marriage certificate", source_name="m22.png", media_type="image/png", material="M22"
    )
    with pytest.raises(Exception, match="unknown condition 'no_such'"):
        desk.dossiers.set_conditions(clerk, d.number, ["no_such"])
    d = desk.dossiers.set_conditions(clerk, d.number, ["allocated_land"])
    assert d.conditions == ("allocated_land",)
    assert "M22" not in {s.material for s in d.slots} and "M30" in {s.material for s in d.slots}
    assert [p.id for p in d.pages] == [page.id]  # the page stays, out of any slot, to be sorted again
    assert not any(s.satisfied for s in d.slots)
    d = desk.dossiers.set_conditions(clerk, d.number, ["allocated_land", "marital_joint"])
    assert {"M22", "M30"} <= {s.material for s in d.slots}
    desk.dossiers.move_page(clerk, d.number, page.id, material="M22")
    assert desk.verify_audit(deep=True).ok
    d = submitted(desk, clerk)
    with pytest.raises(UsageError, match="only a draft or a returned dossier"):
        desk.dossiers.set_conditions(clerk, d.number, ["marital_joint"])
