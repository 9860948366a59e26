"""`workstation bench startup` measures real starts of the command and reports medians (no time limit here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_cli import ws


def test_bench_startup_reports_a_median_per_command(tmp_path: Path) -> None:
    proc = ws(tmp_path, "bench", "startup", "--runs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    commands = {c["command"]: c for c in report["commands"]}
    assert set(commands) == {"--help", "dossier list"}
    for c in commands.values():
        assert c["runs"] == 1
        assert 0 < c["fastest_s"] <= c["median_s"] <= c["slowest_s"]
        assert c["cpu_median_s"] > 0  # a process really ran


def test_bench_startup_refuses_zero_runs(tmp_path: Path) -> None:
    proc = ws(tmp_path, "bench", "startup", "--runs", "0")
    assert proc.returncode == 2 and proc.stderr.strip() == "workstation: error: --runs must be at least 1"
