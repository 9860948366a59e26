"""`registry serve --workers N`: N processes on one port, each built from the settings by the app factory, on
PostgreSQL; a desk syncs through them as through one. SQLite is refused for more than one worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.test_cli import _one_line_error, ws
from tests.acceptance.test_cli_sync import _free_port

pytestmark = pytest.mark.slow


def _workers_of(pid: int) -> list[int]:
    """The worker processes a served registry started (its children running multiprocessing's spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_more_than_one_worker_needs_postgresql(tmp_path: Path) -> None:
    refused = ws(tmp_path, "registry", "serve", "--workers", "2", "--port", str(_free_port()))
    assert "need PostgreSQL" in _one_line_error(refused, 2)


def test_two_workers_serve_one_port_and_a_desk_syncs_through_them(tmp_path: Path, registry_db: str | None) -> None:
    if registry_db is None:
        pytest.skip("several workers run on PostgreSQL: set WS_TEST_PG_URL (CI does)")
    central, desk = tmp_path / "central", tmp_path / "desk"
    added = ws(central, "registry", "station", "add", "JN-LX-01", "--db", registry_db, "--json")
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["token"]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    env["WS_DATA_DIR"] = str(central)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workstation",
            "registry",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--db",
            registry_db,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # the workers start and answer ready
            try:
                answer = httpx.get(f"{url}/v1/ready")
                if answer.status_code == 200 and len(_workers_of(server.pid)) == 2:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else "the registry ended"
            time.sleep(0.2)
        ready = httpx.get(f"{url}/v1/ready").json()
        assert ready["ready"] is True and ready["database"] == "postgresql"
        workers = _workers_of(server.pid)
        assert len(workers) == 2 and ready["worker"] in workers
        (desk / "config.toml").parent.mkdir(parents=True)
        (desk / "config.toml").write_text(
            f'station_id = "JN-LX-01"\nregistry_url = "{url}"\nregistry_token = "{token}"\n', encoding="utf-8"
        )
        assert ws(desk, "user", "add", "clerk1", "--role", "clerk").returncode == 0
        for _ in range(3):
            made = ws(
                desk,
                "--as",
                "clerk1",
                "dossier",
                "new",
                "--business",
                "RESALE_TRANSFER",
                "--applicant-kind",
                "individual",
            )
            assert made.returncode == 0, made.stderr
        pushed = ws(desk, "sync", "now", "--json")
        assert pushed.returncode == 0, pushed.stderr
        assert json.loads(pushed.stdout)["applied"] >= 1
        status = json.loads(ws(desk, "sync", "status", "--json").stdout)
        assert status["outbox_depth"] == 0 and status["accepted"] is True
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert not _workers_of(server.pid)
