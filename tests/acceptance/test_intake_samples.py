"""An ENT_NONRES_TRANSFER dossier built from the sample scans with the real OCR engine (R7's core use case)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr.engines import unavailable_reason
from workstation.config import load_settings
from workstation.domain.errors import MissingMaterials
from workstation.services.desk import Desk, open_desk

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason("rapidocr") is not None, reason="rapidocr is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]
SCANS = ROOT / "samples" / "scans"
CASE = json.loads((ROOT / "samples" / "cases" / "case-01.json").read_text("utf-8"))
FILES = [
    "case-01-M01-application.jpg",
    "case-01-M02-interview.jpg",
    "case-01-M05-licence-buyer.jpg",
    "case-01-M06-legal-rep-buyer.jpg",
    "case-01-M07-poa-buyer.jpg",
    "case-01-M03-id-seller.jpg",
    "case-01-M03-id-agent.jpg",
    "case-01-M08-certificate.jpg",
    "case-01-M11-contract.pdf",
    "case-01-M12-tax.jpg",
]


def _party(role: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in CASE["parties"] if p["role"] == role)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    opened = open_desk(load_settings(data_dir=tmp_path / "desk", admin_password="admin-pass-1"))
    opened.users.add(opened.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
    yield opened
    opened.close()


def _read_all(desk: Desk) -> None:
    runner = desk.ocr_runner("rapidocr")
    try:
        runner.run_until_idle(timeout=900)
    finally:
        runner.stop()


def _altered_contract(out: Path, buyer_name: str) -> Path:
    """The case's contract rendered again with another buyer name, as a forged or mistyped contract would be."""
    from samples.generate import make_file
    from samples.plan import committed_plan

    plan = committed_plan()
    case = copy.deepcopy(next(c for c in plan.cases if c.case_id == "case-01"))
    case.parties["buyer"].org_name = buyer_name
    file_plan = next(f for f in plan.files if f.stem == "case-01-M11-contract")
    file_plan.stem = "case-01-M11-contract-altered"
    out.mkdir(parents=True, exist_ok=True)
    path, _ = make_file(file_plan, case, plan.seed, out)
    return path


def test_a_dossier_from_the_sample_scans_fills_itself_and_submits(desk: Desk, tmp_path: Path) -> None:
    clerk = desk.users.actor("clerk1")
    buyer, seller = _party("buyer"), _party("seller")
    number = desk.dossiers.new(
        clerk,
        business="ENT_NONRES_TRANSFER",
        applicant_kind="enterprise",
        applicant_name=buyer["org_name"],
        applicant_id=buyer["uscc"],
    ).number
    desk.dossiers.add_party(
        clerk, number, role="seller", kind="individual", name=seller["name"], id_value=seller["id_number"]
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in FILES:
        path = Path(shutil.copy(SCANS / name, inbox / name))
        assert desk.intake.ingest(clerk, path, number=number, source=name).outcome == "attached"
    _read_all(desk)

    detail = desk.dossiers.show(number)
    assert detail.missing == (), detail.missing  # M02 (询问笔录) included: every required material is present
    assert all(p.ocr_status == "done" for p in detail.pages) and len(detail.pages) == 11
    assert [f for f in detail.findings if f.severity == "error"] == [], detail.findings
    seller_id = next(s for s in detail.slots if s.material == "M03" and s.party_key == "p2")
    assert seller_id.satisfied

    # The certificate is taken out: submit is refused naming it.
    certificate = next(p for p in detail.pages if p.material == "M08")
    desk.dossiers.delete_page(clerk, number, certificate.id, reason="取错了")
    with pytest.raises(MissingMaterials) as refused:
        desk.dossiers.submit(clerk, number)
    assert [m.material for m in refused.value.missing] == ["M08"]
    # Scanned again, it comes back with its reading.
    again = Path(shutil.copy(SCANS / "case-01-M08-certificate.jpg", inbox / "again.jpg"))
    assert desk.intake.ingest(clerk, again, number=number, source="again.jpg").outcome == "attached"
    assert desk.dossiers.show(number).missing == ()

    # A contract naming another buyer: a finding names the rule and the pages it compares.
    altered = _altered_contract(tmp_path / "altered", "济南泉城贸易有限公司")
    desk.intake.ingest(clerk, altered, number=number, source=altered.name)
    _read_all(desk)
    detail = desk.dossiers.show(number)
    contract_pages = {p.id for p in detail.pages if p.source_name == altered.name}
    mismatches = [
        f for f in detail.findings if set(f.page_ids) & contract_pages and "济南泉城贸易有限公司" in f.message
    ]
    assert mismatches, detail.findings
    for page_id in contract_pages:
        desk.dossiers.delete_page(clerk, number, page_id, reason="合同有误")

    submitted = desk.dossiers.submit(clerk, number)
    assert (submitted.status, submitted.stage) == ("submitted", "REVIEW")
    assert desk.verify_audit().ok
