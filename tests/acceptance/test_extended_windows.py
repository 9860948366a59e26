"""Extended windows (R8–R10) and the hall's counter (R12) with a registry: the station's kind, as the registry
provisioned it, sets the channel of what it captures; a dossier signed away from the hall carries a witnessed-signing
record before 受理, at the desk and again at the registry (a hostile station that skips it is refused with a 4xx
code); conditions chosen anew at the window travel as a typed op the registry checks."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.client import SyncAgent
from tests.acceptance.test_cli import _one_line_error, ws
from tests.review_helpers import IDN, USCC, fill_slots, submitted
from tests.sync_helpers import Station, desk_with_registry, log_in, provision, running_registry
from workstation.domain.errors import DomainError
from workstation.errors import UsageError
from workstation.services.views import OFFICE_TZ
from workstation.store.models import Dossier

pytestmark = pytest.mark.slow


def _drain(agent: SyncAgent) -> None:
    for _ in range(5):
        agent.sync_once()
        if agent.status().outbox_depth == 0:
            break


def test_a_developers_window_captures_extension_dossiers_signed_before_acceptance(tmp_path: Path) -> None:
    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry"))
        token = registry.add_station("JN-DEV01", "某置业售楼处", kind="developer")
        desk = desk_with_registry(tmp_path / "dev", "JN-DEV01", url, token, station_kind="developer")
        stack.callback(desk.close)
        agent = SyncAgent(desk.db, desk.blobs, station_id="JN-DEV01", url=url, token=token)
        stack.callback(agent.stop)
        clerk = desk.users.actor("clerk1")

        with pytest.raises(DomainError, match="captures extension applications, not window"):
            desk.dossiers.new(clerk, business="NEW_HOME_TRANSFER", applicant_kind="individual", channel="window")
        d = desk.dossiers.new(
            clerk,
            business="NEW_HOME_TRANSFER",
            applicant_kind="individual",
            applicant_name="王小明",
            applicant_id=IDN,
            conditions=["advance_registered"],
        )
        assert d.channel == "extension" and "M09" in {s.material for s in d.slots}
        desk.dossiers.add_party(clerk, d.number, role="developer", kind="enterprise", name="某置业", id_value=USCC)
        # The buyer never registered a 预告 after all: the condition goes, and M09's slot with it.
        d = desk.dossiers.set_conditions(clerk, d.number, [])
        assert d.conditions == () and "M09" not in {s.material for s in d.slots}
        fill_slots(desk, clerk, d.number)
        with pytest.raises(DomainError, match="受理前须记录签字见证"):
            desk.dossiers.submit(clerk, d.number)
        with pytest.raises(DomainError, match="reference"):
            desk.dossiers.record_signing(clerk, d.number, witness="李销售", method="face", result="pass", reference="")
        desk.dossiers.record_signing(
            clerk, d.number, witness="李销售(某置业)", method="face", result="fail", reference="FACE-20261204-0001"
        )
        with pytest.raises(DomainError, match="签字见证未通过"):
            desk.dossiers.submit(clerk, d.number)
        desk.dossiers.record_signing(
            clerk, d.number, witness="李销售(某置业)", method="face", result="pass", reference="FACE-20261204-0002"
        )
        assert desk.dossiers.submit(clerk, d.number).status == "submitted"
        _drain(agent)
        with registry.db.read() as s:
            row = s.execute(select(Dossier).where(Dossier.number == d.number)).scalar_one()
            assert (row.status, row.channel, row.conditions) == ("submitted", "extension", [])
            assert row.signing is not None and row.signing["reference"] == "FACE-20261204-0002"
        assert agent.status().outbox_depth == 0
        # The reviewer, at another desk, sees how the signing was witnessed with the dossier the lease brings.
        rev_token = registry.add_station("JN-REV", "JN-REV")
        review_desk = desk_with_registry(tmp_path / "rev", "JN-REV", url, rev_token)
        stack.callback(review_desk.close)
        provision(registry, "rev1")
        lease = review_desk.review.claim_next(log_in(review_desk, "rev1"))
        assert lease is not None and lease.number == d.number
        seen = review_desk.dossiers.show(d.number).signing
        assert seen is not None and (seen["method"], seen["reference"]) == ("face", "FACE-20261204-0002")
        # R18 at the registry: this month's applications came in through the extended window.
        month = datetime.now(OFFICE_TZ).strftime("%Y-%m")
        stats = ws(tmp_path / "registry", "registry", "stats", "--month", month, "--months", "3", "--json")
        assert stats.returncode == 0, stats.stderr
        report = json.loads(stats.stdout)
        assert report["total"] == 1 and report["counts"]["extension"] == 1 and report["shares"]["extension"] == 1.0
        assert report["businesses"] == [{"business": "NEW_HOME_TRANSFER", "total": 1, "counts": {"extension": 1}}]
        assert len(report["trend"]) == 3
        table = ws(tmp_path / "registry", "registry", "stats", "--month", month)
        assert "延伸窗口 extension" in table.stdout and "100.0%" in table.stdout
        bad = ws(tmp_path / "registry", "registry", "stats", "--month", "2026-13")
        assert "YYYY-MM" in _one_line_error(bad, 2)


def test_the_registry_refuses_a_hostile_extended_window(tmp_path: Path) -> None:
    """A bank station that claims a window channel, skips the signing record or sends bad conditions: 4xx codes."""
    with running_registry(tmp_path / "registry") as (registry, url):
        bank = Station(url, "JN-BANK01", registry.add_station("JN-BANK01", "某银行网点", kind="bank"))
        try:
            create = {
                "op_id": "01JBANKCREATE000000000000A",
                "kind": "dossier.create",
                "entity_id": "01a2435a-0000-7000-8000-000000000001",
                "payload": {
                    "number": "JN-BANK01-2026-000001",
                    "business": "MORT_FIRST",
                    "applicant_kind": "individual",
                    "channel": "window",
                    "conditions": [],
                    "applied_at": "2026-12-04T01:00:00+00:00",
                    "parties": [{"key": "p1", "position": 1, "role": "mortgagor", "kind": "individual"}],
                },
            }
            refused = bank.result(create)
            assert refused["status"] == "refused" and "captures extension applications" in refused["message"]
            create["op_id"] = "01JBANKCREATE000000000000B"
            create["payload"]["channel"] = "extension"  # type: ignore[index]
            assert bank.result(create)["status"] == "applied"
            bad = bank.result(
                {
                    "op_id": "01JBANKCONDS0000000000000A",
                    "kind": "dossier.conditions",
                    "entity_id": create["entity_id"],
                    "base_version": 1,
                    "payload": {"conditions": ["no_such_condition"]},
                }
            )
            assert bad["status"] == "refused" and bad["code"] == "bad_op" and "unknown condition" in bad["message"]
            empty = {"parties": [], "slots": [], "pages": [], "fields": [], "findings": [], "blobs": []}
            submit = bank.result(
                {
                    "op_id": "01JBANKSUBMIT000000000000A",
                    "kind": "dossier.submit",
                    "entity_id": create["entity_id"],
                    "base_version": 1,
                    "payload": {"content": empty},
                }
            )
            assert submit["status"] == "refused" and submit["code"] in ("incomplete", "bad_op")
            signing = bank.send(
                {
                    "op_id": "01JBANKSIGN00000000000000A",
                    "kind": "dossier.signing",
                    "entity_id": create["entity_id"],
                    "base_version": 1,
                    "payload": {
                        "witness": "x",
                        "method": "telepathy",
                        "result": "pass",
                        "reference": "R1",
                        "at": "2026-12-04T01:00:00+00:00",
                        "by": "clerk1",
                    },
                }
            )
            assert signing.status_code in (200, 422)
            if signing.status_code == 200:
                assert signing.json()["results"][0]["status"] == "refused"
            # A record the wire takes but the domain's rule does not (a reference with a space): refused, not kept.
            spaced = bank.result(
                {
                    "op_id": "01JBANKSIGN00000000000000B",
                    "kind": "dossier.signing",
                    "entity_id": create["entity_id"],
                    "base_version": 1,
                    "payload": {
                        "witness": "李柜员",
                        "method": "face",
                        "result": "pass",
                        "reference": "FACE 0001",
                        "at": "2026-12-04T01:00:00+00:00",
                        "by": "clerk1",
                    },
                }
            )
            assert spaced["status"] == "refused" and spaced["code"] == "bad_op" and "reference" in spaced["message"]
            with registry.db.read() as s:
                assert s.get(Dossier, create["entity_id"]).signing is None  # type: ignore[union-attr]
        finally:
            bank.close()


def test_a_hall_counter_sends_self_service_businesses_to_the_kiosk(tmp_path: Path) -> None:
    from workstation.config import load_settings
    from workstation.services.desk import open_desk

    desk = open_desk(
        load_settings(
            data_dir=tmp_path,
            admin_password="admin-pass-1",
            counter_refuses=["MORT_CANCEL", "CHANGE"],
            self_service_hint="一楼大厅自助服务区",
        )
    )
    try:
        desk.users.add(desk.users.actor("admin"), username="clerk1", password="clerk-pass-1", roles=["clerk"])
        clerk = desk.users.actor("clerk1")
        with pytest.raises(UsageError, match="抵押权注销登记请到一楼大厅自助服务区自助办理"):
            desk.dossiers.new(clerk, business="MORT_CANCEL", applicant_kind="enterprise")
        # Other businesses, and an application taken in for another channel, still open at the counter.
        assert desk.dossiers.new(clerk, business="RESALE_TRANSFER", applicant_kind="individual").channel == "window"
        assert desk.dossiers.new(clerk, business="CHANGE", applicant_kind="individual", channel="online")
    finally:
        desk.close()


def test_a_desk_set_up_as_a_hall_cannot_skip_the_signing_its_registry_requires(tmp_path: Path) -> None:
    """The registry knows the station as a bank's window; the desk says hall. Its 受理 without a signing record is
    refused there (incomplete) and parked at the desk, not applied."""
    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry"))
        token = registry.add_station("JN-BANK02", "某银行网点", kind="bank")
        desk = desk_with_registry(tmp_path / "bank", "JN-BANK02", url, token)  # station_kind left at hall
        stack.callback(desk.close)
        agent = SyncAgent(desk.db, desk.blobs, station_id="JN-BANK02", url=url, token=token)
        stack.callback(agent.stop)
        d = submitted(desk, desk.users.actor("clerk1"), business="MORT_FIRST", channel="extension")
        _drain(agent)
        with registry.db.read() as s:
            assert s.execute(select(Dossier.status).where(Dossier.number == d.number)).scalar_one() == "draft"
        parked = agent.status().quarantined
        assert any("签字见证" in q["reason"] for q in parked), parked


def test_conditions_and_signing_from_the_command_line(tmp_path: Path) -> None:
    assert ws(tmp_path, "user", "add", "clerk1", "--role", "clerk").returncode == 0

    def clerk(*args: str):  # type: ignore[no-untyped-def]
        return ws(tmp_path, "--as", "clerk1", *args)

    made = clerk("dossier", "new", "--business", "CHANGE", "--applicant-kind", "individual", "--json")
    assert made.returncode == 0, made.stderr
    number = json.loads(made.stdout)["number"]
    listed = clerk("dossier", "conditions", number)
    assert "[ ] name_change" in listed.stdout and "至少选择一项" in listed.stdout
    assert "unknown condition" in _one_line_error(clerk("dossier", "conditions", number, "--set", "no_such"), 2)
    chosen = clerk("dossier", "conditions", number, "--set", "name_change", "--set", "area_change", "--json")
    assert json.loads(chosen.stdout)["conditions"] == ["name_change", "area_change"]
    signed = clerk(
        "dossier",
        "sign",
        number,
        "--witness",
        "张窗口",
        "--method",
        "in_person",
        "--reference",
        "W-1",
        "--json",
    )
    assert json.loads(signed.stdout)["signing"]["reference"] == "W-1"
    shown = clerk("dossier", "show", number)
    assert "情形 conditions  name_change, area_change" in shown.stdout and "签字见证 signing  in_person" in shown.stdout
