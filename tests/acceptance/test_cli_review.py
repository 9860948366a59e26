"""`workstation review …` as a reviewer's script runs it: claim, return for 补正, claim again, approve, 登簿."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.acceptance.test_cli import _one_line_error, ws
from tests.review_helpers import submitted
from workstation.config import load_settings
from workstation.domain.clock import Calendar
from workstation.services.desk import open_desk


def _desk_with_two_dossiers(data: Path) -> list[str]:
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    try:
        admin = desk.users.actor("admin")
        desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
        desk.users.add(
            admin,
            username="rev1",
            password="rev-pass-01",
            roles=["reviewer"],
            can_review_online=True,
            can_review_offline=True,
        )
        clerk = desk.users.actor("clerk1")
        return [
            submitted(desk, clerk, business="ENT_NONRES_TRANSFER", kind="enterprise").number,
            submitted(desk, clerk).number,
        ]
    finally:
        desk.close()


def test_claim_return_claim_approve_register(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    ent, ind = _desk_with_two_dossiers(data)
    first = ws(data, "--as", "rev1", "review", "next", "--json")
    assert first.returncode == 0, first.stderr
    lease = json.loads(first.stdout)
    assert lease["number"] == ent and lease["fence"] == 1
    bad = ws(data, "--as", "rev1", "review", "decide", ent, "return", "--item", "M05")
    assert "WHAT:PROBLEM" in _one_line_error(bad, 2)
    off_list = ws(data, "--as", "rev1", "review", "decide", ent, "return", "--item", "price_yuan:inconsistent")
    assert "field 'price_yuan' is not on this dossier" in _one_line_error(off_list, 2)  # the lease is still held
    ret = ws(
        data,
        "--as",
        "rev1",
        "review",
        "decide",
        ent,
        "return",
        "--item",
        "M05:defective:复印件模糊",
        "--item",
        "M01:unsigned",
        "--json",
    )
    assert ret.returncode == 0, ret.stderr
    view = json.loads(ret.stdout)
    assert view["status_after"] == "returned"
    assert [(i["material"], i["field"], i["problem"]) for i in view["items"]] == [
        ("M05", None, "defective"),
        ("M01", None, "unsigned"),
    ]
    again = json.loads(ws(data, "--as", "rev1", "review", "next", "--json").stdout)
    assert again["number"] == ind
    no_reason = ws(data, "--as", "rev1", "review", "decide", ind, "reject")
    assert "reason from the list" in _one_line_error(no_reason, 2)
    ok = ws(data, "--as", "rev1", "review", "decide", ind, "approve", "--note", "材料齐全")
    assert ok.returncode == 0 and "approve → submitted @ REGISTER" in ok.stdout
    late = ws(data, "--as", "rev1", "review", "decide", ind, "approve", "--lease", again["lease_id"], "--fence", "1")
    assert "conflict" in _one_line_error(late, 1)
    shown = json.loads(ws(data, "review", "conflicts", "--json").stdout)
    assert [c["number"] for c in shown] == [ind]
    reg = ws(data, "--as", "rev1", "review", "register", ind, "--json")
    assert reg.returncode == 0, reg.stderr
    assert json.loads(reg.stdout)["status"] == "registered"
    assert ws(data, "audit", "verify").returncode == 0


def test_a_clerk_cannot_claim_and_an_empty_pool_says_so(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    _desk_with_two_dossiers(data)
    denied = ws(data, "--as", "clerk1", "review", "next")
    assert "may not review" in _one_line_error(denied, 2)
    for _ in range(2):
        assert ws(data, "--as", "rev1", "review", "next").returncode == 0
    queue = json.loads(ws(data, "--as", "rev1", "review", "queue", "--json").stdout)
    assert len(queue) == 2
    empty = ws(data, "--as", "rev1", "review", "queue", "--fill")
    assert empty.returncode == 0 and empty.stdout.count("fence 1") == 2


def test_qc_records_a_major_error_and_the_correction_is_resolved(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    try:
        admin = desk.users.actor("admin")
        desk.users.add(admin, username="clerk1", password="clerk-pass-1", roles=["clerk"])
        desk.users.add(admin, username="qc1", password="qc-pass-001", roles=["qc"])
        desk.users.add(
            admin,
            username="rev1",
            password="rev-pass-01",
            roles=["reviewer"],
            can_review_online=True,
            can_review_offline=True,
        )
        number = submitted(desk, desk.users.actor("clerk1"), business="MORT_CIP", kind="enterprise").number
    finally:
        desk.close()
    assert ws(data, "--as", "rev1", "review", "next").returncode == 0
    assert ws(data, "--as", "rev1", "review", "decide", number, "approve").returncode == 0
    assert "QC: full" in ws(data, "--as", "rev1", "review", "register", number).stdout
    checks = json.loads(ws(data, "qc", "list", "--json").stdout)
    assert [(c["number"], c["basis"], c["state"]) for c in checks] == [(number, "full", "pending")]
    no_defect = ws(data, "--as", "qc1", "qc", "record", number, "major")  # the 受理号 names the dossier's check
    assert "needs at least one defect" in _one_line_error(no_defect, 2)  # found by number; refused for the defect
    rec = ws(data, "--as", "qc1", "qc", "record", checks[0]["id"], "major", "--defect", "抵押权人名称与合同不一致")
    assert rec.returncode == 0 and "已发起更正 correction case" in rec.stdout
    cases = json.loads(ws(data, "qc", "corrections", "--json").stdout)
    assert [(c["number"], c["assigned_to"], c["state"]) for c in cases] == [(number, "rev1", "open")]
    done = ws(data, "--as", "rev1", "qc", "resolve", number, "已依职权更正登记簿")  # the 受理号, as for the check
    assert done.returncode == 0, done.stderr
    assert json.loads(ws(data, "qc", "corrections", "--state", "resolved", "--json").stdout)[0]["state"] == "resolved"
    assert ws(data, "audit", "verify").returncode == 0


def test_clock_pause_evaluate_and_records_csv(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    ent, ind = _desk_with_two_dossiers(data)
    clock = json.loads(ws(data, "dossier", "clock", ent, "--json").stdout)
    assert clock["state"] == "running" and clock["limit_days"] >= 1 and clock["used"] == 0
    assert ws(data, "--as", "rev1", "dossier", "pause", ent, "announcement", "--note", "公告15个工作日").returncode == 0
    paused = json.loads(ws(data, "dossier", "clock", ent, "--json").stdout)
    assert paused["paused"] is True and paused["due"] is None
    again = ws(data, "--as", "rev1", "dossier", "pause", ent, "announcement")
    assert _one_line_error(again, 2)
    assert ws(data, "--as", "rev1", "dossier", "resume", ent, "announcement").returncode == 0
    last = max(Calendar.load().years)  # the packaged holidays.toml's last year
    late = ws(data, "review", "overdue", "--today", f"{last}-12-31", "--json")
    assert {e["number"] for e in json.loads(late.stdout)} == {ent, ind}
    # Past the calendar's last year the lists refuse in one line instead of guessing Monday–Friday.
    far = _one_line_error(ws(data, "review", "overdue", "--today", f"{last + 1}-03-01"), 2)
    assert f"holidays.toml has no [{last + 1}]: add that year's 法定节假日 and 调休" in far
    assert "not a date" in _one_line_error(ws(data, "review", "overdue", "--today", "soon"), 2)
    assert "from 1 to 5" in _one_line_error(ws(data, "dossier", "evaluate", ent, "9"), 2)
    assert ws(data, "dossier", "evaluate", ent, "5", "--comment", "办事快").returncode == 0
    out = tmp_path / "records.csv"
    done = ws(data, "review", "records", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheet programs then read UTF-8
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = {row["username"]: row for row in csv.DictReader(fh)}
    assert rows["clerk1"]["created"] == "2" and rows["clerk1"]["evaluations"] == "1"
    assert rows["clerk1"]["evaluation_mean"].startswith("5")


def test_with_a_registry_review_commands_claim_there_and_the_decision_goes_back_fenced(tmp_path: Path) -> None:
    """`review pool|next|queue|decide` on a desk configured with a registry, then `sync now`."""
    from sqlalchemy import select

    from tests.sync_helpers import agent_for, make_desk, running_registry
    from workstation.store.models import Decision

    with running_registry(tmp_path / "registry") as (registry, url):
        intake = make_desk(tmp_path / "intake", "JN-01")
        number = submitted(intake, intake.users.actor("clerk1")).number
        agent_for(intake, registry, url).sync_once()
        intake.close()
        desk = tmp_path / "review"
        desk.mkdir()
        token = registry.add_station("JN-REV", "审核")
        (desk / "config.toml").write_text(
            f'station_id = "JN-REV"\nregistry_url = "{url}"\nregistry_token = "{token}"\n', encoding="utf-8"
        )
        # Reviewers are the registry's: the desk cannot make one; the registry's operator provisions them.
        local = ws(desk, "user", "add", "rev1", "--role", "reviewer", "--online", "--offline")
        assert "provisioned at the registry" in _one_line_error(local, 2)
        central = tmp_path / "registry"
        added = ws(central, "registry", "user", "add", "rev1", "--role", "reviewer", "--online", "--offline")
        assert added.returncode == 0, added.stderr
        # Acting as rev1 needs rev1's password (WS_PASSWORD), checked at the registry.
        wrong = ws(desk, "--as", "rev1", "review", "next", extra_env={"WS_PASSWORD": "not-the-password"})
        assert "wrong user name or password" in _one_line_error(wrong, 2)
        missing = ws(desk, "--as", "rev1", "review", "next", extra_env={"WS_PASSWORD": ""})
        assert "WS_PASSWORD" in _one_line_error(missing, 2)
        as_rev1 = {"WS_PASSWORD": "clerk-pass-1"}

        pool = ws(desk, "--as", "rev1", "review", "pool", "--json", extra_env=as_rev1)
        assert pool.returncode == 0, pool.stderr
        assert json.loads(pool.stdout) == {"online": 0, "offline": 1}
        claimed = ws(desk, "--as", "rev1", "review", "next", "--json", extra_env=as_rev1)
        assert claimed.returncode == 0, claimed.stderr
        lease = json.loads(claimed.stdout)
        assert lease["number"] == number
        queue = json.loads(ws(desk, "--as", "rev1", "review", "queue", "--json", extra_env=as_rev1).stdout)
        assert [x["lease_id"] for x in queue] == [lease["lease_id"]]
        decided = ws(desk, "--as", "rev1", "review", "decide", number, "approve", "--json", extra_env=as_rev1)
        assert decided.returncode == 0, decided.stderr
        assert json.loads(decided.stdout)["outcome"] == "applied"
        assert ws(desk, "sync", "now").returncode == 0
        with registry.db.read() as s:
            assert s.execute(select(Decision.kind, Decision.fence, Decision.outcome)).all() == [
                ("approve", lease["fence"], "applied")
            ]


def test_the_window_reads_the_supplement_notice_answers_it_and_resubmits(tmp_path: Path) -> None:
    data = tmp_path / "desk"
    ent, _ = _desk_with_two_dossiers(data)
    assert ws(data, "--as", "rev1", "review", "next").returncode == 0
    ret = ws(
        data, "--as", "rev1", "review", "decide", ent, "return",
        "--item", "M05:defective:复印件模糊", "--item", "M01:unsigned", "--note", "请一次性补齐",
    )  # fmt: skip
    assert ret.returncode == 0, ret.stderr
    shown = ws(data, "dossier", "show", ent)
    assert shown.returncode == 0, shown.stderr
    assert "补正 notice" in shown.stdout and "by rev1 (待补正 open, 2 项 items)" in shown.stdout
    assert "审核意见 opinion: 请一次性补齐" in shown.stdout
    assert "✘ 1. M05 [p1] — " not in shown.stdout  # the item names no party: none is shown
    assert "✘ 1. M05 — " in shown.stdout and "✘ 2. M01 — " in shown.stdout
    assert "时限 clock paused" in shown.stdout
    listed = json.loads(ws(data, "review", "decisions", ent, "--json").stdout)
    assert [(d["kind"], d["reviewer"], [i["material"] for i in d["items"]]) for d in listed] == [
        ("return", "rev1", ["M05", "M01"])
    ]
    assert "1. M05 — defective: 复印件模糊" in ws(data, "review", "decisions", ent).stdout

    assert ws(data, "--as", "clerk1", "dossier", "answer", ent, "1", "--note", "已换清晰复印件").returncode == 0
    refused = _one_line_error(ws(data, "--as", "clerk1", "dossier", "submit", ent), 2)
    assert "1 补正 item(s) not addressed yet" in refused and "2. M01 (unsigned)" in refused
    assert "no item 3" in _one_line_error(ws(data, "--as", "clerk1", "dossier", "answer", ent, "3", "--note", "x"), 2)
    assert ws(data, "--as", "clerk1", "dossier", "answer", ent, "2", "--note", "申请人已补签").returncode == 0
    again = ws(data, "--as", "clerk1", "dossier", "submit", ent, "--json")
    assert again.returncode == 0, again.stderr
    body = json.loads(again.stdout)
    assert body["status"] == "submitted" and body["supplement"]["open"] is False
    assert [i["answer"] for i in body["supplement"]["items"]] == ["已换清晰复印件", "申请人已补签"]
    # Back to the reviewer who returned it.
    assert json.loads(ws(data, "--as", "rev1", "review", "next", "--json").stdout)["number"] == ent
