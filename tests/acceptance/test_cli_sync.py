"""`workstation registry …` and `workstation sync …` as an operator runs them, against a real server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from tests.acceptance.test_cli import _one_line_error, ws


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_operator_issues_a_token_serves_the_registry_and_a_desk_syncs(tmp_path: Path) -> None:
    central, desk = tmp_path / "central", tmp_path / "desk"
    added = ws(central, "registry", "station", "add", "JN-LX-01", "--title", "历下区大厅", "--json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    assert token.startswith("wst_")
    again = ws(central, "registry", "station", "add", "JN-LX-01")
    assert "already has a token" in _one_line_error(again, 2)
    bad = ws(central, "registry", "station", "add", "no spaces allowed")
    assert "station id" in _one_line_error(bad, 2)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env["WS_DATA_DIR"] = str(central)
    server = subprocess.Popen(
        [sys.executable, "-m", "workstation", "registry", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/v1/health").json()["ok"]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "registry did not start"
                time.sleep(0.2)
        (desk / "config.toml").parent.mkdir(parents=True)
        (desk / "config.toml").write_text(
            f'station_id = "JN-LX-01"\nregistry_url = "{url}"\nregistry_token = "{token}"\n', encoding="utf-8"
        )
        assert ws(desk, "user", "add", "clerk1", "--role", "clerk").returncode == 0
        new = ws(
            desk,
            "--as",
            "clerk1",
            "dossier",
            "new",
            "--business",
            "RESALE_TRANSFER",
            "--applicant-kind",
            "individual",
            "--json",
        )
        number = json.loads(new.stdout)["number"]
        before = json.loads(ws(desk, "sync", "status", "--json").stdout)
        assert before["outbox_depth"] >= 1 and before["last_success"] is None
        pushed = ws(desk, "sync", "now", "--json")
        assert pushed.returncode == 0, pushed.stderr
        assert json.loads(pushed.stdout)["applied"] == before["outbox_depth"]
        after = json.loads(ws(desk, "sync", "status", "--json").stdout)
        assert after["online"] is True and after["outbox_depth"] == 0 and after["last_success"]
        assert after["reachable"] is True and after["accepted"] is True and after["since"]
        shown = ws(desk, "sync", "status").stdout
        assert "可达 reachable" in shown and "不可达" not in shown
        # A person reads office time (UTC+8); --json keeps ISO UTC.
        success = datetime.fromisoformat(after["last_success"])
        assert success.utcoffset() == timedelta(0)
        assert success.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") in shown
        assert after["last_success"] not in shown and after["last_success"][:16].replace("T", " ") not in shown
        none = ws(central, "registry", "conflicts")
        assert none.returncode == 0 and none.stdout.strip() == "没有冲突 no conflicts"
        listed = json.loads(ws(central, "registry", "station", "list", "--json").stdout)
        assert [(s["id"], s["revoked"]) for s in listed] == [("JN-LX-01", False)] and listed[0]["last_seen_at"]
        assert number.startswith("JN-LX-01-")
        assert ws(central, "registry", "station", "revoke", "JN-LX-01").returncode == 0
        ws(desk, "--as", "clerk1", "dossier", "withdraw", number)
        refused = ws(desk, "sync", "now")
        assert "auth_revoked" in _one_line_error(refused, 1)
        kept = json.loads(ws(desk, "sync", "status", "--json").stdout)
        assert kept["online"] is False and kept["outbox_depth"] == 1 and "auth_revoked" in kept["last_error"]
        assert kept["reachable"] is True and kept["accepted"] is False  # up, but it no longer takes this desk
        assert "auth_revoked" in ws(desk, "sync", "status").stdout
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sync_without_a_registry_says_what_to_set(tmp_path: Path) -> None:
    out = ws(tmp_path / "desk", "sync", "now")
    assert "registry_url" in _one_line_error(out, 2)


def test_the_registrys_operator_provisions_people_and_their_grants_and_a_desk_cannot(tmp_path: Path) -> None:
    central = tmp_path / "central"
    added = ws(central, "registry", "user", "add", "li", "--role", "reviewer", "--online", "--unit", "JN-LX", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "username": "li",
        "display_name": "li",
        "roles": ["reviewer"],
        "can_review_online": True,
        "can_review_offline": False,
        "unit": "JN-LX",
        "active": True,
    }
    from_stdin = ws(central, "registry", "user", "add", "zhang", "--role", "qc", input="zhang-pass-1\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert "not a role the registry provisions" in _one_line_error(
        ws(central, "registry", "user", "add", "wang", "--role", "clerk"), 2
    )
    assert "already exists" in _one_line_error(ws(central, "registry", "user", "add", "li", "--role", "qc"), 2)
    assert "bad unit code" in _one_line_error(
        ws(central, "registry", "user", "add", "zhao", "--role", "registrar", "--unit", "no spaces"), 2
    )
    granted = ws(
        central,
        "registry",
        "user",
        "grant",
        "li",
        "--offline",
        "--no-online",
        "--role",
        "reviewer",
        "--role",
        "registrar",
        "--json",
    )
    assert granted.returncode == 0, granted.stderr
    view = json.loads(granted.stdout)
    assert (view["roles"], view["can_review_online"], view["can_review_offline"]) == (
        ["registrar", "reviewer"],
        False,
        True,
    )
    assert "no person 'nobody'" in _one_line_error(ws(central, "registry", "user", "grant", "nobody", "--online"), 2)
    disabled = json.loads(ws(central, "registry", "user", "disable", "zhang", "--json").stdout)
    assert disabled["active"] is False
    listed = json.loads(ws(central, "registry", "user", "list", "--json").stdout)
    assert [(p["username"], p["active"]) for p in listed] == [("li", True), ("zhang", False)]

    # A desk working alone is its own registry: the same commands keep its people, who log in there.
    alone = tmp_path / "alone"
    assert ws(alone, "registry", "user", "add", "rev1", "--role", "reviewer", "--offline").returncode == 0
    users = json.loads(ws(alone, "user", "list", "--json").stdout)
    assert {u["username"] for u in users} == {"admin", "rev1"}
    # A desk configured with a registry provisions nobody: it says where that is done.
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "config.toml").write_text(
        'station_id = "JN-LX-02"\nregistry_url = "http://registry.invalid:8750"\nregistry_token = "wst_x"\n',
        encoding="utf-8",
    )
    refused = ws(linked, "registry", "user", "add", "rev2", "--role", "reviewer")
    assert "people are provisioned there" in _one_line_error(refused, 2)
    elevated = ws(linked, "user", "add", "rev2", "--role", "reviewer", "--online")
    assert "provisioned at the registry" in _one_line_error(elevated, 2)


def test_sync_status_probes_the_registry_and_says_it_is_unreachable_whatever_was_stored(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    (desk / "config.toml").write_text(
        f'station_id = "JN-LX-03"\nregistry_url = "{down}"\nregistry_token = "wst_x"\n', encoding="utf-8"
    )
    from workstation.config import load_settings
    from workstation.services.desk import open_desk
    from workstation.services.syncstate import put_state

    opened = open_desk(load_settings(data_dir=desk, admin_password="admin-pass-1"))
    try:
        with opened.db.transaction() as session:
            put_state(session, "online", "1")  # what the desk last stored: online
    finally:
        opened.close()
    first = json.loads(ws(desk, "sync", "status", "--json").stdout)
    assert first["online"] is False and first["reachable"] is False and first["accepted"] is None
    assert first["registry"] == down and first["probe_error"]
    since = datetime.fromisoformat(first["since"])
    assert since.utcoffset() == timedelta(0)
    shown = ws(desk, "sync", "status")
    assert shown.returncode == 0, shown.stderr
    assert "不可达 unreachable" in shown.stdout
    assert since.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") in shown.stdout
    again = json.loads(ws(desk, "sync", "status", "--json").stdout)
    assert again["since"] == first["since"]  # still down: since the first probe that found it so


def test_sync_status_of_a_desk_working_alone_probes_nothing(tmp_path: Path) -> None:
    status = ws(tmp_path / "desk", "sync", "status")
    assert status.returncode == 0, status.stderr
    assert "本机独立工作 this desk works alone" in status.stdout
    data = json.loads(ws(tmp_path / "desk", "sync", "status", "--json").stdout)
    assert data["registry"] is None and data["reachable"] is None and data["online"] is False


def test_the_registrys_own_chain_is_verified_and_the_desks_heads_are_listed(tmp_path: Path) -> None:
    import sqlite3

    from sync.server.open import open_registry
    from workstation.config import Settings

    central = tmp_path / "central"
    assert ws(central, "registry", "station", "add", "JN-LX-01").returncode == 0
    registry = open_registry(Settings(data_dir=central))
    try:
        registry.witness_head("JN-LX-01", 3, "a" * 64)
        registry.witness_head("JN-LX-01", 7, "b" * 64)
    finally:
        registry.db.dispose()
    listed = ws(central, "registry", "heads", "JN-LX-01", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(h["seq"], h["status"]) for h in json.loads(listed.stdout)] == [(7, "witnessed"), (3, "witnessed")]
    assert "尚无见证 no heads witnessed yet" in ws(central, "registry", "heads", "OTHER").stdout
    intact = ws(central, "registry", "audit", "--deep")
    assert intact.returncode == 0, intact.stderr
    assert "registry audit chain intact" in intact.stdout
    with sqlite3.connect(central / "registry" / "registry.db") as db:  # someone edits the trail behind its back
        seq = db.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
        db.execute("UPDATE audit_events SET actor = 'nobody' WHERE seq = ?", (seq,))
    broken = ws(central, "registry", "audit", "--json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False and report["at_seq"] == seq
    assert "registry audit chain BROKEN" in _one_line_error(ws(central, "registry", "audit"), 1)
