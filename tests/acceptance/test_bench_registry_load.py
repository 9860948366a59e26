"""`workstation bench registry`, the load test, for real and small: two workers on PostgreSQL, four reviewers
claiming and deciding over HTTP while a desk pushes pages and ops; every request answered, the registry busy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.soak]


def test_reviewers_and_a_desk_load_a_two_worker_registry_without_an_error(registry_db: str | None) -> None:
    if registry_db is None:
        pytest.skip("the registry load bench runs on PostgreSQL: set WS_TEST_PG_URL (CI does)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "workstation",
            "bench",
            "registry",
            "--scenario",
            "mixed",
            "--workers",
            "2",
            "--reviewers",
            "4",
            "--think",
            "0.2",
            "--desks",
            "1",
            "--duration",
            "3",
            "--warmup",
            "1",
            "--runs",
            "1",
            "--baseline",
            "none",
            "--pg-url",
            registry_db,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "WS_DATA_DIR"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    [block] = report["scenarios"]
    [current] = block["servers"]
    assert current["server"] == "current" and len(current["runs"]) == 1
    run = current["median"]
    assert run["errors"] == 0, (run["error_messages"], current["runs"][0].get("server_said"))
    assert run["claims"] > 0 and run["empty_claims"] == 0
    assert run["decide_ms"]["p50"] > 0 and sum(run["decisions"].values()) > 0
    assert run["desks"]["ops_accepted"] > 0 and run["desks"]["mb_accepted"] > 0
    assert run["registry"]["cpu_seconds"] > 0 and run["registry"]["processes"] >= 3  # the server and its 2 workers
    assert run["clients"]["processes"] == 2
