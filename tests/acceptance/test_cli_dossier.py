"""`dossier show` as a person reads it, `dossier field` to confirm or correct a value, and output into a closed pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_cli import _one_line_error, ws
from tests.replay_pages import make_page, record_pages

pytestmark = pytest.mark.slow

LICENCE = [
    "营业执照",
    "统一社会信用代码 91370100MA3C8Q1X2K",
    "名称 济南历城置业有限公司",
    "法定代表人 李四",
    "2019年5月6日",
]


@pytest.fixture
def read_dossier(tmp_path: Path) -> tuple[Path, str]:
    """A draft with one licence read by OCR, whose name differs from the one the clerk typed (an error finding)."""
    data = tmp_path / "desk"
    page = make_page(tmp_path / "licence.png", seed=11)
    recordings = record_pages([page], tmp_path / "readings.json", texts=LICENCE)
    assert ws(data, "user", "add", "clerk1", "--role", "clerk").returncode == 0
    new = ws(
        data, "--as", "clerk1", "dossier", "new", "--business", "ENT_NONRES_TRANSFER", "--applicant-kind",
        "enterprise", "--name", "济南历下置业有限公司", "--id", "91370100MA3C8Q1X2K", "--json",
    )  # fmt: skip
    number = json.loads(new.stdout)["number"]
    added = ws(
        data, "--as", "clerk1", "intake", "add", str(page), "--dossier", number,
        extra_env={"WS_OCR_ENGINE": f"replay:{recordings}"},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return data, number


def test_show_lists_pages_fields_and_findings_readably(read_dossier: tuple[Path, str]) -> None:
    data, number = read_dossier
    shown = ws(data, "dossier", "show", number)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "页面 pages (1)" in out
    assert "licence.png" in out and "M05" in out and "已识别 read" in out
    assert "字段 fields" in out
    assert "统一社会信用代码 uscc" in out and "91370100MA3C8Q1X2K" in out
    assert "名称 org_name" in out and "济南历城置业有限公司" in out
    assert "问题 findings (1)" in out
    assert "错误 error" in out and "recorded_party_mismatch" in out


def test_a_clerk_confirms_and_corrects_a_field_through_the_desk_with_an_audit_event(
    read_dossier: tuple[Path, str],
) -> None:
    data, number = read_dossier
    confirmed = ws(data, "--as", "clerk1", "dossier", "field", number, "uscc", "--confirm", "--json")
    assert confirmed.returncode == 0, confirmed.stderr
    uscc = next(f for f in json.loads(confirmed.stdout)["fields"] if f["key"] == "uscc")
    assert uscc["confirmed"] and uscc["confirmed_by"] == "clerk1" and uscc["value"] == "91370100MA3C8Q1X2K"

    corrected = ws(data, "--as", "clerk1", "dossier", "field", number, "org_name", "--set", "济南历下置业有限公司")
    assert corrected.returncode == 0, corrected.stderr
    assert "名称 org_name" in corrected.stdout and "济南历下置业有限公司" in corrected.stdout
    shown = json.loads(ws(data, "dossier", "show", number, "--json").stdout)
    org = next(f for f in shown["fields"] if f["key"] == "org_name")
    assert org["value"] == "济南历下置业有限公司" and org["confirmed_by"] == "clerk1"
    assert shown["findings"] == []  # the corrected name agrees with the recorded one

    verify = json.loads(ws(data, "audit", "verify", "--json").stdout)
    assert verify["ok"]
    from workstation.config import load_settings
    from workstation.services.desk import open_desk
    from workstation.store.models import AuditEvent

    desk = open_desk(load_settings(data_dir=data))
    try:
        with desk.db.read() as session:
            from sqlalchemy import select

            actions = [e.action for e in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]
    finally:
        desk.close()
    assert actions.count("field.confirm") == 2


def test_field_refusals_are_one_line(read_dossier: tuple[Path, str]) -> None:
    data, number = read_dossier
    line = _one_line_error(ws(data, "dossier", "field", number, "uscc", "--confirm"), 2)
    assert "may not dossier_edit" in line and "--as clerk1" in line  # admin may not; the hint names who may
    line = _one_line_error(ws(data, "--as", "clerk1", "dossier", "field", number, "area_m2", "--confirm"), 2)
    assert "area_m2" in line
    _one_line_error(ws(data, "--as", "clerk1", "dossier", "field", number, "uscc"), 2)  # neither --set nor --confirm


@pytest.mark.parametrize("args", [["dossier", "show", "NUMBER"], ["dossier", "list"], ["--help"]])
def test_output_into_a_closed_pipe_ends_quietly(read_dossier: tuple[Path, str], args: list[str]) -> None:
    data, number = read_dossier
    env = {k: v for k, v in os.environ.items() if not k.startswith("WS_") and k != "PYTHONUNBUFFERED"}
    env.update(WS_DATA_DIR=str(data), WS_ADMIN_PASSWORD="admin-pass-1")  # stdout block-buffered, as in a pipe
    proc = subprocess.Popen(
        [sys.executable, "-m", "workstation", *(number if a == "NUMBER" else a for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -1` does once it has its line: every write now meets a closed pipe
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and "internal error" not in err, err
    assert code == 141  # 128 + SIGPIPE, as a shell reports any tool cut off by `head`
