"""`workstation extract`: the JSON Lines contract of architecture.md, bad input on its own line, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCANS = Path(__file__).resolve().parents[2] / "samples" / "scans"
LICENCE = SCANS / "case-01-M05-licence-buyer.jpg"


def ws(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_")}
    return subprocess.run(
        [sys.executable, "-m", "workstation", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_json_lines_follow_the_contract_and_bad_files_get_their_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "scan-0007.png"
    bad.write_text("this is a text file renamed .png")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    proc = ws("extract", str(LICENCE), str(bad), str(empty), "--json")
    assert proc.returncode == 2, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [LICENCE.name, "scan-0007.png", "empty.jpg"]
    page = rows[0]
    assert set(page) >= {"file", "page", "material", "material_confidence", "engine", "seconds", "text", "fields"}
    assert (page["page"], page["material"], page["engine"]) == (1, "M05", "rapidocr")
    assert page["fields"]["uscc"] == {**page["fields"]["uscc"], "value": "91370102MA15LK9R0X", "valid": True}
    assert page["text"].splitlines()[0] == "营业执照"
    assert "not an image" in rows[1]["error"] and "\n" not in rows[1]["error"]
    assert "empty" in rows[2]["error"]


@pytest.mark.slow
def test_the_readable_table_names_material_and_fields() -> None:
    proc = ws("extract", str(LICENCE))
    assert proc.returncode == 0, proc.stderr
    assert "M05" in proc.stdout and "91370102MA15LK9R0X" in proc.stdout and "✔" in proc.stdout


def test_an_unknown_engine_is_one_line_exit_2() -> None:
    proc = ws("extract", str(LICENCE), "--engine", "abbyy")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "workstation: error: unknown engine 'abbyy'; engines: rapidocr, tesseract"


def test_a_missing_file_is_reported_and_exits_2(tmp_path: Path) -> None:
    proc = ws("extract", str(tmp_path / "nope.jpg"), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {"file": "nope.jpg", "error": f"{tmp_path / 'nope.jpg'}: does not exist"}
