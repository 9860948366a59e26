"""Who acts on the command line is proven: a change needs the person's password, failures are audited and slowed,
the first admin's password is shown by whichever command creates it, people are disabled and never deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.acceptance.test_cli import _one_line_error, ws
from workstation.config import load_settings
from workstation.services.desk import open_desk
from workstation.store.models import AuditEvent, Dossier, Finding


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "desk"
    assert ws(d, "user", "add", "clerk1", "--role", "clerk").returncode == 0
    return d


NEW = ("dossier", "new", "--business", "MORT_CANCEL", "--applicant-kind", "enterprise", "--json")


def _events(data: Path, action: str) -> list[AuditEvent]:
    desk = open_desk(load_settings(data_dir=data))
    try:
        with desk.db.read() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())
    finally:
        desk.close()


def test_a_change_without_the_persons_password_is_refused_in_one_line_and_nothing_changes(data: Path) -> None:
    line = _one_line_error(ws(data, "--as", "clerk1", *NEW, extra_env={"WS_PASSWORD": ""}), 2)
    assert "WS_PASSWORD" in line and "clerk1" in line
    line = _one_line_error(ws(data, "--as", "clerk1", *NEW, extra_env={"WS_PASSWORD": "not-it-at-all"}), 2)
    assert "wrong user name or password" in line
    assert json.loads(ws(data, "dossier", "list", "--json").stdout) == []  # reading needs no password
    [failed] = _events(data, "user.login_failed")
    assert failed.entity_id == "clerk1"
    made = ws(data, "--as", "clerk1", *NEW)
    assert made.returncode == 0, made.stderr
    assert [e.entity_id for e in _events(data, "user.login")] == ["admin", "clerk1"]  # the fixture's add, this one
    assert ws(data, "audit", "verify").returncode == 0


def test_nobody_makes_themselves_admin_without_the_admins_password(data: Path) -> None:
    line = _one_line_error(ws(data, "user", "add", "evil", "--role", "admin", extra_env={"WS_PASSWORD": "guess-1"}), 2)
    assert "wrong user name or password" in line
    line = _one_line_error(ws(data, "--as", "clerk1", "user", "add", "evil", "--role", "admin"), 2)
    assert "may not user_manage" in line
    names = [u["username"] for u in json.loads(ws(data, "user", "list", "--json").stdout)]
    assert "evil" not in names


def test_the_first_admins_password_is_shown_by_whichever_command_creates_it(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    first = ws(fresh, "dossier", "list", extra_env={"WS_ADMIN_PASSWORD": ""})
    assert first.returncode == 0, first.stderr
    assert "created user 'admin' with password " in first.stderr
    secret = first.stderr.split("with password ", 1)[1].split()[0]
    again = ws(fresh, "dossier", "list", extra_env={"WS_ADMIN_PASSWORD": ""})
    assert "password" not in again.stderr
    add = ws(fresh, "user", "add", "clerk2", "--role", "clerk", extra_env={"WS_PASSWORD": secret})
    assert add.returncode == 0, add.stderr


def test_guessing_a_password_slows_down_and_leaves_a_trace(data: Path) -> None:
    lines = [
        _one_line_error(ws(data, "--as", "clerk1", *NEW, extra_env={"WS_PASSWORD": f"guess-{i}"}), 2) for i in range(3)
    ]
    assert all("wrong user name or password" in line for line in lines)
    desk = open_desk(load_settings(data_dir=data))
    try:  # six more failures recorded at once, as six quick guesses are: nine in all wait 32 s before the next try
        for _ in range(6):
            desk.users._record_login("clerk1", ok=False, reason="wrong user name or password")
    finally:
        desk.close()
    line = _one_line_error(ws(data, "--as", "clerk1", *NEW), 2)  # even the right password is not checked now
    assert "too many failed logins for 'clerk1': try again in" in line
    assert len(_events(data, "user.login_failed")) == 9
    assert ws(data, "audit", "verify").returncode == 0


def test_an_os_account_mapped_in_the_config_acts_as_its_desk_user_without_a_password(data: Path) -> None:
    from workstation.cli_auth import os_user

    (data / "config.toml").write_text(f'[operators]\n"{os_user()}" = "clerk1"\n', encoding="utf-8")
    made = ws(data, *NEW, extra_env={"WS_PASSWORD": ""})  # no --as: the mapping names the person
    assert made.returncode == 0, made.stderr
    logins = _events(data, "user.login")
    assert json.loads(logins[-1].payload)["method"] == "os_user" and logins[-1].actor == "clerk1"
    line = _one_line_error(ws(data, "--as", "admin", *NEW, extra_env={"WS_PASSWORD": ""}), 2)
    assert "WS_PASSWORD" in line  # another person than the mapped one still proves who they are


def test_an_admin_disables_and_enables_a_person_nobody_is_deleted(data: Path) -> None:
    off = ws(data, "user", "disable", "clerk1")
    assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
    assert "disabled" in _one_line_error(ws(data, "--as", "clerk1", *NEW), 2)
    listed = {u["username"]: u["active"] for u in json.loads(ws(data, "user", "list", "--json").stdout)}
    assert listed["clerk1"] is False
    assert ws(data, "user", "enable", "clerk1").returncode == 0
    assert ws(data, "--as", "clerk1", *NEW).returncode == 0
    assert [e.action for e in _events(data, "user.disable")] == ["user.disable"]


def test_submit_past_an_open_error_wants_override_outside_a_terminal(data: Path) -> None:
    number = json.loads(ws(data, "--as", "clerk1", *NEW).stdout)["number"]
    desk = open_desk(load_settings(data_dir=data))
    try:
        with desk.db.transaction() as s:
            dossier_id = s.execute(select(Dossier.id).where(Dossier.number == number)).scalar_one()
            s.add(
                Finding(dossier_id=dossier_id, rule="name_matches", severity="error", message="名称不一致", page_ids=[])
            )
    finally:
        desk.close()
    line = _one_line_error(ws(data, "--as", "clerk1", "dossier", "submit", number), 2)
    assert "name_matches: 名称不一致" in line and "--override" in line
    # Past the question, the submission meets the service's own checks (here: the materials still missing).
    line = _one_line_error(ws(data, "--as", "clerk1", "dossier", "submit", number, "--override"), 2)
    assert "M09" in line


def test_the_audit_names_the_person_the_os_user_and_the_interface(data: Path) -> None:
    from workstation.cli_auth import os_user

    number = json.loads(ws(data, "--as", "clerk1", *NEW).stdout)["number"]
    [created] = [e for e in _events(data, "dossier.create") if number in e.payload or e.entity == "dossier"]
    assert (created.actor, created.os_user, created.interface) == ("clerk1", os_user(), "cli")
