"""Stages 3 and 4 with a registry: the registry writes the register and numbers the certificate, the window's payment
and delivery are requests it applies (numbering the 票据), 发证 is refused there until both are done, and the desks
mirror what the registry decided."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.client import SyncAgent
from tests.review_helpers import IDN, submitted
from tests.sync_helpers import Station, desk_with_registry, log_in, provision, running_registry
from workstation.domain.register import parse_certificate_number
from workstation.store.models import Charge, Dossier, OutboxOp, RegisterEntry

pytestmark = pytest.mark.slow


def _drain(agent: SyncAgent) -> None:
    for _ in range(5):
        agent.sync_once()
        if agent.status().outbox_depth == 0:
            break
    agent.sync_once()


def test_register_pay_deliver_and_issue_through_the_registry(tmp_path: Path, registry_db: str | None) -> None:
    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry", registry_db))
        desks, agents = {}, {}
        for name, station in (("W", "JN-W01"), ("R", "JN-REV")):
            token = registry.add_station(station, station, unit="LX")
            desks[name] = desk_with_registry(tmp_path / name, station, url, token)
            agents[name] = SyncAgent(desks[name].db, desks[name].blobs, station_id=station, url=url, token=token)
            stack.callback(desks[name].close)
            stack.callback(agents[name].stop)
        provision(registry, "rev1", ("reviewer", "registrar"), unit="LX")
        w, r = desks["W"], desks["R"]
        clerk = w.users.actor("clerk1")

        d = submitted(w, clerk)
        _drain(agents["W"])
        rev1 = log_in(r, "rev1")
        lease = r.review.claim_next(rev1)
        assert lease is not None and lease.number == d.number
        r.review.decide(rev1, d.number, "approve", lease_id=lease.lease_id, fence=lease.fence)
        _drain(agents["R"])
        r.review.register(rev1, d.number)
        with r.db.read() as s:  # the desk allocates nothing: numbers are the registry's
            assert s.execute(select(RegisterEntry)).first() is None
        _drain(agents["R"])
        _drain(agents["W"])

        with registry.db.read() as s:
            entry = s.execute(select(RegisterEntry).where(RegisterEntry.dossier_id == d.id)).scalar_one()
        parsed = parse_certificate_number(entry.cert_number or "")
        assert parsed is not None and parsed[0] == "certificate" and parsed[2] == 1
        mirrored = w.register.entries_of(d.number)  # the window mirrors the registry's entry, number included
        assert [e.cert_number for e in mirrored] == [entry.cert_number]

        # 发证 before payment: the window moves, the registry refuses, and the window goes back to its state.
        w.review.issue(clerk, d.number)
        _drain(agents["W"])
        with registry.db.read() as s:
            assert s.execute(select(Dossier.status).where(Dossier.id == d.id)).scalar_one() == "registered"
        with w.db.read() as s:
            refused = s.execute(select(OutboxOp).where(OutboxOp.kind == "dossier.issue")).scalar_one()
            assert refused.state == "quarantined" and "未缴费" in (refused.last_error or "")

        # Payment and delivery at the window, applied at the registry, which numbers the 票据.
        w.settle.pay(clerk, d.number, method="qr", amount="80.00", reference="WX20261204000123")
        w.settle.deliver(clerk, d.number, "choose", method="window")
        w.settle.deliver(clerk, d.number, "collect", name="王小明", id_number=IDN)
        _drain(agents["W"])
        with registry.db.read() as s:
            charge = s.execute(select(Charge).where(Charge.dossier_id == d.id)).scalar_one()
            assert charge.paid_fen == 8000 and charge.receipt_number and charge.receipt_number.startswith("PJ")
        assert w.settle.charge(d.number).receipt_number == charge.receipt_number
        assert (w.settle.delivery(d.number) or pytest.fail("no delivery")).state["status"] == "collected"

        assert w.dossiers.show(d.number).status == "registered"  # the refused move was undone at the window
        w.review.issue(clerk, d.number)  # asked again, now that it is paid and collected
        _drain(agents["W"])
        with registry.db.read() as s:
            assert s.execute(select(Dossier.status).where(Dossier.id == d.id)).scalar_one() == "issued"


def test_a_hostile_station_cannot_pay_deliver_or_refuse_for_a_dossier_not_its_own(
    tmp_path: Path, registry_db: str | None
) -> None:
    from tests.sync_helpers import station

    with ExitStack() as stack:
        registry, url = stack.enter_context(running_registry(tmp_path / "registry", registry_db))
        token = registry.add_station("JN-W01", "JN-W01", unit="LX")
        w = desk_with_registry(tmp_path / "W", "JN-W01", url, token)
        agent = SyncAgent(w.db, w.blobs, station_id="JN-W01", url=url, token=token)
        stack.callback(w.close)
        stack.callback(agent.stop)
        d = submitted(w, w.users.actor("clerk1"))
        _drain(agent)
        evil = station(registry, url, "JN-EVIL")
        stack.callback(evil.close)
        ops = [
            {"kind": "fee.pay", "payload": {"method": "cash", "amount_fen": 8000, "reference": "X1"}},
            {"kind": "delivery.step", "payload": {"action": "choose", "method": "window"}},
            {"kind": "dossier.refuse_intake", "payload": {"reason_code": "out_of_jurisdiction"}, "base_version": 1},
        ]
        for n, op in enumerate(ops):
            result = evil.result({"op_id": f"evil-{n}", "entity_id": d.id, "actor": "mallory", **op})
            assert result["status"] == "refused" and result["code"] == "not_owner", result
        # Its own station, with a wrong amount or a payment before anything is assessable: refused with a 4xx code.
        own = Station(url, "JN-W01", token)
        stack.callback(own.close)
        own.seq = w.db.engine.connect().exec_driver_sql("select max(seq) from outbox_ops").scalar() or 0
        bad = own.result(
            {
                "op_id": "own-bad-pay",
                "kind": "fee.pay",
                "entity_id": d.id,
                "actor": "clerk1",
                "payload": {"method": "cash", "amount_fen": 100, "reference": "XJ1"},
            }
        )
        assert bad["status"] == "refused" and "80.00" in bad["message"], bad
        junk = own.send(
            {"op_id": "own-junk", "kind": "delivery.step", "entity_id": d.id, "payload": {"action": "burn"}}
        )
        assert 400 <= junk.status_code < 500 or junk.json()["results"][0]["status"] == "refused", junk.text
