"""Stages 3 and 4 for every business of the catalogue, on a desk that is its own registry: accept → review → 登簿 →
register entry and certificate or proof number → fee → payment → delivery → 发证; restrictions as findings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.review_helpers import IDN, both_reviewer, submitted, unit_number
from workstation.domain.register import parse_certificate_number
from workstation.domain.review import ReturnItem
from workstation.errors import UsageError
from workstation.services.desk import Desk
from workstation.services.documents import verify_certificate, write_certificate, write_fee_receipt, write_notice
from workstation.services.settle import Unsettled

ALL = (
    "HOUSE_FIRST",
    "NEW_HOME_TRANSFER",
    "RESALE_TRANSFER",
    "ENT_NONRES_TRANSFER",
    "MORT_FIRST",
    "MORT_CIP",
    "MORT_CANCEL",
    "CHANGE",
)
EXPECTED = {  # business → (kind of entry opened or closed, what 登簿 issues)
    "HOUSE_FIRST": ("ownership", "certificate"),
    "NEW_HOME_TRANSFER": ("ownership", "certificate"),
    "RESALE_TRANSFER": ("ownership", "certificate"),
    "ENT_NONRES_TRANSFER": ("ownership", "certificate"),
    "MORT_FIRST": ("mortgage", "proof"),
    "MORT_CIP": ("mortgage", "proof"),
    "MORT_CANCEL": ("mortgage", None),
    "CHANGE": ("ownership", "certificate"),
}


@pytest.fixture
def staff(desk: Desk):  # type: ignore[no-untyped-def]
    return both_reviewer(desk)


def _to_register(desk: Desk, clerk, staff, business: str, unit: str):  # type: ignore[no-untyped-def]
    kinds = desk.catalogue.business(business).applicant_kinds
    kind = "individual" if "individual" in kinds else "enterprise"
    conditions = ("area_change",) if business == "CHANGE" else ()
    d = submitted(desk, clerk, business=business, unit=unit, kind=kind, conditions=conditions)
    lease = desk.review.claim_next(staff)
    assert lease is not None and lease.number == d.number
    desk.review.decide(staff, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    return d


def _prerequisite(desk: Desk, clerk, staff, business: str, unit: str) -> None:  # type: ignore[no-untyped-def]
    """What the register must hold before `business` can be written: an owner to change, a mortgage to cancel."""
    if business == "CHANGE":
        _finish(desk, clerk, staff, _to_register(desk, clerk, staff, "RESALE_TRANSFER", unit).number)
    if business == "MORT_CANCEL":
        _finish(desk, clerk, staff, _to_register(desk, clerk, staff, "MORT_FIRST", unit).number)


def _finish(desk: Desk, clerk, staff, number: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    done = desk.review.register(staff, number)
    charge = desk.settle.charge(number)
    if not charge.free:
        desk.settle.pay(clerk, number, method="qr", amount=charge.due, reference=f"WX{number[-6:]}0001")
    if done["certificates"]:
        desk.settle.deliver(clerk, number, "choose", method="window")
        desk.settle.deliver(clerk, number, "collect", name="王小明", id_number=IDN)
    desk.review.issue(clerk, number)
    return done


@pytest.mark.parametrize("business", ALL)
def test_each_business_reaches_the_register_is_paid_delivered_and_issued(desk: Desk, clerk, staff, business) -> None:  # type: ignore[no-untyped-def]
    unit = unit_number()
    _prerequisite(desk, clerk, staff, business, unit)
    d = _to_register(desk, clerk, staff, business, unit)
    kind, issues = EXPECTED[business]
    done = desk.review.register(staff, d.number)
    entries = desk.register.entries_of(d.number)
    register = desk.register.show(unit)
    if business == "MORT_CANCEL":
        assert entries == [] and done["certificates"] == []
        closed = [e for e in register if e.kind == "mortgage"]
        assert [e.state for e in closed] == ["closed"] and closed[0].closed_by == d.number
    else:
        (entry,) = entries
        assert (entry.kind, entry.state, entry.cert_kind, entry.unit_number) == (kind, "current", issues, unit)
        parsed = parse_certificate_number(entry.cert_number or "")
        assert parsed is not None and parsed[0] == issues
        assert done["certificates"] == [entry.cert_number]
        assert entry.facts["holders"] and entry.facts["location"] == "历下区文化东路1号"
        if kind == "mortgage":
            assert entry.facts["amount_yuan"] == "500000"
            assert entry.facts["obligors"]
    if business == "CHANGE":  # the owner's entry is closed and a new version of it opened
        owners = [e for e in register if e.kind == "ownership"]
        assert [e.state for e in owners] == ["closed", "current"] and owners[1].amends_id == owners[0].id
    charge = desk.settle.charge(d.number)
    if business in ("MORT_CANCEL", "CHANGE"):  # 注销 and 变更 are fee-free (财税〔2019〕45号)
        assert charge.free and charge.due == "0.00"
        if business == "CHANGE":
            desk.settle.deliver(clerk, d.number, "choose", method="community", point="燕山街道便民服务点")
            desk.settle.deliver(clerk, d.number, "collect", name="王小明", id_number=IDN)
    else:
        assert charge.due == "80.00" and not charge.paid  # 住宅 80 元/件, the first certificate included
        with pytest.raises(Unsettled, match="未缴费"):
            desk.review.issue(clerk, d.number)
        with pytest.raises(UsageError):
            desk.settle.pay(clerk, d.number, method="cash", amount="79.00", reference="NO0001")
        paid = desk.settle.pay(clerk, d.number, method="cash", amount="80.00", reference="XJ20261204001")
        assert paid.paid and paid.receipt_number and paid.receipt_number.startswith("PJ")
        with pytest.raises(Unsettled, match="neither collected nor shipped"):
            desk.review.issue(clerk, d.number)
        desk.settle.deliver(clerk, d.number, "choose", method="ems", recipient="王小明", phone="13800000000")
        view = desk.settle.deliver(clerk, d.number, "ship", waybill="1100 2233 4455 6")
        assert view.state["waybill"] == "1100223344556" and view.state["address"] == "历下区文化东路1号"
    issued = desk.review.issue(clerk, d.number)
    assert issued["status"] == "issued"
    if business not in ("MORT_CANCEL", "CHANGE"):
        assert desk.settle.deliver(clerk, d.number, "delivered").state["status"] == "delivered"
    assert desk.verify_audit(deep=True).ok


def test_certificate_numbers_run_gap_free_per_kind(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    numbers = []
    for business in ("RESALE_TRANSFER", "MORT_FIRST", "RESALE_TRANSFER", "MORT_FIRST", "NEW_HOME_TRANSFER"):
        d = _to_register(desk, clerk, staff, business, unit_number())
        numbers += desk.review.register(staff, d.number)["certificates"]
    parsed = [parse_certificate_number(n) for n in numbers]
    assert [(p[0], p[2]) for p in parsed if p] == [
        ("certificate", 1),
        ("proof", 1),
        ("certificate", 2),
        ("proof", 2),
        ("certificate", 3),
    ]
    assert numbers[0].startswith("鲁(") and "济南市不动产权第0000001号" in numbers[0]


def test_a_failed_registration_leaves_no_gap_in_the_numbers(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    first = _to_register(desk, clerk, staff, "HOUSE_FIRST", unit_number(9001))
    desk.review.register(staff, first.number)
    again = _to_register(desk, clerk, staff, "HOUSE_FIRST", unit_number(9001))
    with pytest.raises(Exception, match="已有所有权登记"):
        desk.review.register(staff, again.number)
    third = _to_register(desk, clerk, staff, "RESALE_TRANSFER", unit_number())
    (number,) = desk.review.register(staff, third.number)["certificates"]
    assert parse_certificate_number(number)[2] == 2  # type: ignore[index]


def test_restrictions_on_the_unit_are_findings_at_intake_and_review_and_a_seizure_stops_registration(
    desk: Desk, clerk, staff
) -> None:  # type: ignore[no-untyped-def]
    unit = unit_number()
    _finish(desk, clerk, staff, _to_register(desk, clerk, staff, "MORT_FIRST", unit).number)
    seizure = desk.register.restrict(staff, unit, "seizure", basis="(2026)鲁0102执123号", holder="历下区人民法院")
    d = submitted(desk, clerk, business="RESALE_TRANSFER", unit=unit)
    rules = {f.rule: f for f in d.findings}
    assert rules["register.seizure"].severity == "error" and "(2026)鲁0102执123号" in rules["register.seizure"].message
    assert rules["register.mortgage"].severity == "info" and "500000" in rules["register.mortgage"].message
    lease = desk.review.claim_next(staff)
    assert lease is not None
    desk.review.decide(staff, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
    with pytest.raises(Exception, match="查封"):
        desk.review.register(staff, d.number)
    desk.register.lift(staff, seizure.id, basis="(2026)鲁0102执123号之一")
    done = desk.review.register(staff, d.number)
    assert done["certificates"]
    states = {e.kind: e.state for e in desk.register.show(unit)}
    assert states["seizure"] == "closed" and states["mortgage"] == "current"  # the mortgage follows the unit (§406)


def test_register_refuses_what_it_cannot_write(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    d = _to_register(desk, clerk, staff, "MORT_CANCEL", unit_number())
    with pytest.raises(Exception, match="没有现势抵押登记"):
        desk.review.register(staff, d.number)
    with pytest.raises(UsageError, match="不动产单元号"):
        desk.register.show("not-a-unit")


@pytest.mark.parametrize("kind", ["receipt", "supplement", "refuse-intake", "refuse-registration"])
def test_every_notice_is_a_pdf_with_its_chinese_text_and_an_embedded_font(
    desk: Desk, clerk, staff, tmp_path: Path, kind: str
) -> None:  # type: ignore[no-untyped-def]
    if kind == "refuse-intake":
        d = desk.dossiers.new(
            clerk, business="RESALE_TRANSFER", applicant_kind="individual", applicant_name="王小明", applicant_id=IDN
        )
        desk.dossiers.refuse_intake(clerk, d.number, "out_of_jurisdiction", note="该房屋位于章丘区")
        assert desk.dossiers.show(d.number).status == "refused"
        want = ["不予受理告知书", "申请登记的不动产不属于本机构登记范围", "第十七条", "行政复议"]
    else:
        d = submitted(desk, clerk)
        want = ["不动产登记受理凭证", "存量房转移登记", "王小明", "应缴费用"]
        if kind != "receipt":
            lease = desk.review.claim_next(staff)
            assert lease is not None
            if kind == "supplement":
                desk.review.decide(
                    staff,
                    d.number,
                    "return",
                    lease_id=lease.lease_id,
                    fence=lease.fence,
                    items=[ReturnItem(problem="missing", material="M11", note="请提交经网签备案的买卖合同原件")],
                )
                want = ["补正", "请提交经网签备案的买卖合同原件"]
            else:
                desk.review.decide(
                    staff, d.number, "reject", lease_id=lease.lease_id, fence=lease.fence, reason_code="dispute"
                )
                want = ["不予登记告知书", "存在尚未解决的权属争议", "第二十二条", "行政诉讼"]
    out = write_notice(desk, clerk, d.number, kind, tmp_path / f"{kind}.pdf")
    text = _pdftotext(out)
    for phrase in want:
        assert phrase in text, (phrase, text)
    assert d.number in text
    assert _embedded_fonts(out)


def test_certificate_pdf_and_signed_electronic_certificate_verify_and_fail_once_changed(
    desk: Desk, clerk, staff, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    d = _to_register(desk, clerk, staff, "RESALE_TRANSFER", unit_number())
    (number,) = _finish(desk, clerk, staff, d.number)["certificates"]
    paper = write_certificate(desk, clerk, number, tmp_path / "paper.pdf")
    text = _pdftotext(paper)
    assert "不动产权证书" in text and number in text and "历下区文化东路1号" in text
    assert _embedded_fonts(paper)
    signed = write_certificate(desk, clerk, number, tmp_path / "e.pdf", electronic=True)
    result = verify_certificate(desk, signed)
    assert result.valid and result.signer and result.signed_at is not None
    data = bytearray(signed.read_bytes())
    data[len(data) // 3] ^= 0x01
    (tmp_path / "changed.pdf").write_bytes(bytes(data))
    changed = verify_certificate(desk, tmp_path / "changed.pdf")
    assert not changed.valid and changed.problem
    assert not verify_certificate(desk, paper).valid  # a printed page carries no signature
    bill = write_fee_receipt(desk, clerk, d.number, tmp_path / "bill.pdf")
    assert "捌拾元整" in _pdftotext(bill)


def test_a_small_enterprise_pays_no_registration_fee_and_an_unknown_exemption_is_refused(
    desk: Desk, clerk, staff
) -> None:  # type: ignore[no-untyped-def]
    d = submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise")
    assert desk.settle.charge(d.number).due == "80.00"  # the helper types the use as 成套住宅
    exempt = desk.settle.exempt(clerk, d.number, ["small_micro"])
    assert exempt.exemptions == ("small_micro",) and exempt.due == "0.00" and exempt.free
    with pytest.raises(UsageError, match="unknown exemption no_such_exemption"):
        desk.settle.exempt(clerk, d.number, ["no_such_exemption"])
    assert desk.settle.charge(d.number).exemptions == ("small_micro",)  # the refused change left nothing behind


def _pdftotext(path: Path) -> str:
    try:
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        pytest.skip("pdftotext is not installed (poppler-utils)")


def _embedded_fonts(path: Path) -> bool:
    try:
        out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        pytest.skip("pdffonts is not installed (poppler-utils)")
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return bool(rows) and all("yes" in row[-5:-2] for row in rows)


@pytest.mark.postgres
def test_twenty_concurrent_registrations_get_twenty_gap_free_numbers(desk: Desk, clerk, staff) -> None:  # type: ignore[no-untyped-def]
    if desk.db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent 登簿 is measured on PostgreSQL, the registry's database")
    import threading

    numbers = [_to_register(desk, clerk, staff, "RESALE_TRANSFER", unit_number()).number for _ in range(20)]
    start = threading.Barrier(len(numbers))
    got: list[str] = []
    errors: list[BaseException] = []

    def register(number: str) -> None:
        start.wait()
        try:
            got.extend(desk.review.register(staff, number)["certificates"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sequence = sorted(parse_certificate_number(n)[2] for n in got)  # type: ignore[index]
    assert sequence == list(range(1, 21)) and len(set(got)) == 20
