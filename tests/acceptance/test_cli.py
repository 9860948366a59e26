"""The real `workstation` command, run as a subprocess the way clerks' scripts run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORDS = {"admin": "admin-pass-1", "rev1": "rev-pass-01", "qc1": "qc-pass-001"}  # the tests' people


def ws(
    data: Path, *args: str, input: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_") or k == "WS_PASSWORD_COST"}
    env["WS_DATA_DIR"] = str(data)
    env["WS_ADMIN_PASSWORD"] = "admin-pass-1"
    env["WS_NEW_PASSWORD"] = "clerk-pass-1"
    # Who acts proves it: the password of the person named by --as (people made here get WS_NEW_PASSWORD's).
    named = args[args.index("--as") + 1] if "--as" in args else "admin"
    env["WS_PASSWORD"] = PASSWORDS.get(named, "clerk-pass-1")
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "workstation", *args], capture_output=True, text=True, env=env, input=input, timeout=120
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "desk"
    assert ws(d, "user", "add", "clerk1", "--role", "clerk").returncode == 0
    return d


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_help_lists_only_commands_that_exist(tmp_path: Path) -> None:
    proc = ws(tmp_path, "--help")
    assert proc.returncode == 0
    for command in ("run", "demo", "extract", "intake", "dossier", "audit", "user", "bench", "review", "qc"):
        assert f"    {command}" in proc.stdout
    for command in ("registry", "sync"):
        assert f"    {command}" in proc.stdout


def test_a_clerk_opens_lists_shows_and_withdraws_a_dossier_as_json(data: Path) -> None:
    new = ws(
        data,
        "--as",
        "clerk1",
        "dossier",
        "new",
        "--business",
        "ENT_NONRES_TRANSFER",
        "--applicant-kind",
        "enterprise",
        "--name",
        "济南泉城商贸有限公司",
        "--json",
    )
    assert new.returncode == 0, new.stderr
    created = json.loads(new.stdout)
    assert created["id"] and created["number"].startswith("local-")
    listed = json.loads(ws(data, "dossier", "list", "--json").stdout)
    assert [d["number"] for d in listed] == [created["number"]]
    shown = json.loads(ws(data, "dossier", "show", created["number"], "--json").stdout)
    assert shown["status"] == "draft"
    assert isinstance(shown["pages"], list) and shown["slots"] and "fields" in shown and "findings" in shown
    gone = ws(data, "--as", "clerk1", "dossier", "withdraw", created["number"], "--json")
    assert json.loads(gone.stdout)["status"] == "withdrawn"
    assert ws(data, "audit", "verify").returncode == 0


def test_submit_with_missing_materials_exits_2_naming_them_all(data: Path) -> None:
    number = json.loads(
        ws(
            data,
            "--as",
            "clerk1",
            "dossier",
            "new",
            "--business",
            "MORT_CANCEL",
            "--applicant-kind",
            "enterprise",
            "--json",
        ).stdout
    )["number"]
    line = _one_line_error(ws(data, "--as", "clerk1", "dossier", "submit", number), 2)
    assert "M09" in line and "M21" in line and "M05" in line


def test_unknown_business_code_is_one_line_exit_2(data: Path) -> None:
    line = _one_line_error(
        ws(data, "--as", "clerk1", "dossier", "new", "--business", "BUY_MOON", "--applicant-kind", "individual"), 2
    )
    assert "unknown business code 'BUY_MOON'" in line


def test_a_malformed_identifier_is_one_line_exit_2(data: Path) -> None:
    line = _one_line_error(
        ws(
            data,
            "--as",
            "clerk1",
            "dossier",
            "new",
            "--business",
            "RESALE_TRANSFER",
            "--applicant-kind",
            "individual",
            "--id",
            "37010219900101123X",
        ),
        2,
    )
    assert "check digit" in line


def test_bad_usage_is_one_line_exit_2(data: Path) -> None:
    _one_line_error(ws(data, "dossier", "frobnicate"), 2)
    _one_line_error(ws(data, "dossier", "show", "no-such-number"), 2)


def test_a_corrupt_database_is_one_line_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "workstation.db").write_bytes(b"\x00garbage" * 512)
    line = _one_line_error(ws(data, "dossier", "list"), 1)
    assert "not a SQLite database" in line


def test_an_unwritable_data_dir_is_one_line_exit_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = _one_line_error(ws(tmp_path / "file" / "sub", "dossier", "list"), 1)
    assert "data directory" in line


def test_permission_refusal_is_one_line(data: Path) -> None:
    line = _one_line_error(
        ws(data, "dossier", "new", "--business", "RESALE_TRANSFER", "--applicant-kind", "individual"), 2
    )
    assert "admin" in line


def test_python_dash_m_works_like_the_console_script(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "workstation"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "dossier" in proc.stdout


def test_a_newcomers_first_dossier_as_admin_says_which_role_and_how_to_create_one(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    line = _one_line_error(
        ws(fresh, "dossier", "new", "--business", "RESALE_TRANSFER", "--applicant-kind", "individual"), 2
    )
    assert "may not dossier_create" in line
    assert "办事员 clerk" in line  # the role that may
    assert "workstation user add NAME --role clerk" in line  # how to make one: there is none yet
    assert "--as NAME" in line


def test_the_refusal_names_the_users_who_may_when_there_are_some(data: Path) -> None:
    line = _one_line_error(
        ws(data, "dossier", "new", "--business", "RESALE_TRANSFER", "--applicant-kind", "individual"), 2
    )
    assert "--as clerk1" in line
    assert "user add" not in line
