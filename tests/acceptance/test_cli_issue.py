"""Stages 3 and 4 from the command line, as a registrar and a window clerk script them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_cli import _one_line_error, ws
from tests.review_helpers import IDN, submitted, unit_number
from workstation.config import load_settings
from workstation.services.desk import open_desk


def _approved(data: Path) -> tuple[str, str]:
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    try:
        admin = desk.users.actor("admin")
        desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
        desk.users.add(
            admin, username="rev1", password="rev-pass-01", roles=["reviewer"],
            can_review_online=True, can_review_offline=True,
        )  # fmt: skip
        unit = unit_number()
        d = submitted(desk, desk.users.actor("clerk1"), unit=unit)
        rev = desk.users.actor("rev1")
        lease = desk.review.claim_next(rev)
        assert lease is not None
        desk.review.decide(rev, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
        return d.number, unit
    finally:
        desk.close()


def test_register_pay_collect_issue_print_and_verify_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    number, unit = _approved(data)
    done = ws(data, "--as", "rev1", "review", "register", number, "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(ws(data, "register", "show", unit, "--json").stdout)
    (entry,) = shown
    cert = entry["cert_number"]
    assert entry["kind"] == "ownership" and cert.startswith("鲁(") and entry["dossier"] == number

    refused = ws(data, "--as", "clerk1", "dossier", "issue", number)
    assert "未缴费" in _one_line_error(refused, 2)
    fee = json.loads(ws(data, "fee", "show", number, "--json").stdout)
    assert fee["due_yuan"] == "80.00" and not fee["paid"]
    wrong = ws(data, "--as", "clerk1", "fee", "pay", number, "--method", "cash", "--amount", "8", "--reference", "XJ1")
    assert "80.00" in _one_line_error(wrong, 2)
    paid = ws(
        data, "--as", "clerk1", "fee", "pay", number, "--method", "qr", "--amount", "80.00",
        "--reference", "WX2026120400001", "--json",
    )  # fmt: skip
    assert paid.returncode == 0 and json.loads(paid.stdout)["receipt_number"].startswith("PJ"), paid.stderr
    assert ws(data, "--as", "clerk1", "delivery", "choose", number, "window").returncode == 0
    bad_id = ws(data, "--as", "clerk1", "delivery", "collect", number, "--name", "王小明", "--id-number", "123")
    _one_line_error(bad_id, 2)
    collected = ws(data, "--as", "clerk1", "delivery", "collect", number, "--name", "王小明", "--id-number", IDN)
    assert collected.returncode == 0, collected.stderr
    issued = ws(data, "--as", "clerk1", "dossier", "issue", number)
    assert issued.returncode == 0, issued.stderr

    pdf = tmp_path / "e-cert.pdf"
    wrote = ws(data, "--as", "clerk1", "certificate", cert, "--pdf", str(pdf), "--electronic")
    assert wrote.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), wrote.stderr
    ok = ws(data, "certificate", "verify", str(pdf), "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid"] is True, ok.stdout
    data_bytes = bytearray(pdf.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 0x20
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(bytes(data_bytes))
    bad = ws(data, "certificate", "verify", str(changed))
    assert bad.returncode == 1 and "NOT valid" in bad.stdout
    for kind in ("receipt",):
        out = tmp_path / f"{kind}.pdf"
        assert ws(data, "--as", "clerk1", "notice", number, "--kind", kind, "--pdf", str(out)).returncode == 0
        assert out.read_bytes().startswith(b"%PDF")
    none = ws(data, "--as", "clerk1", "notice", number, "--kind", "refuse-registration", "--pdf", str(tmp_path / "x"))
    assert "not refused" in _one_line_error(none, 2)
    receipt = tmp_path / "bill.pdf"
    assert ws(data, "--as", "clerk1", "fee", "receipt", number, "--pdf", str(receipt)).returncode == 0
    assert "不动产单元号" in _one_line_error(ws(data, "register", "show", "nonsense"), 2)
