"""QC (R3–R4) lives at the registry: inspectors record results and registrars resolve corrections from any desk.

A real registry on loopback (SQLite, and PostgreSQL where configured) opens a check at 登簿 of a fully-inspected
business; desks reach it over HTTP with their station's token and the person's. Hostile requests are refused with a
4xx and a code, never a 500; a check is recorded once, a replay gets the first answer, a different one a 409.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import select
from textual.pilot import Pilot

from sync.client import SyncAgent
from sync.people import RegistryPeople
from sync.protocol import PERSON_HEADER, ErrorCode
from sync.qc import DeskLogins, RegistryQc
from sync.server.app import create_app
from sync.server.registry import Registry
from tests.acceptance.test_cli import _one_line_error, ws
from tests.review_helpers import submitted
from tests.sync_helpers import (
    PERSON_PASSWORD,
    Station,
    agent_for,
    desk_with_registry,
    log_in,
    make_desk,
    provision,
    running_registry,
    station,
)
from tests.tui.test_tui_qc import registered
from tests.tui_helpers import LARGE, run_app, table_rows, text_of, wait_for_workers, wait_until
from tests.tui_helpers import log_in as log_in_on_screen
from workstation.config import load_settings
from workstation.domain.errors import PermissionDenied
from workstation.domain.permissions import Actor
from workstation.errors import AuthError, NotFound, Offline, UsageError
from workstation.services import audit
from workstation.services.desk import Desk, open_desk
from workstation.services.qc_desk import check_id_of, correction_id_of
from workstation.store.models import AuditEvent, Correction, PersonSession, QcCheck, User
from workstation.tui.screens.qc import QcScreen
from workstation.tui.screens.qc_result import QcResultScreen

DEFECT = "抵押权人名称与抵押合同不一致"
CODES = {code.value for code in ErrorCode}


class _Errors(logging.Handler):
    """What the registry's server logs at ERROR: a 500 would land here."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class City:
    registry: Registry
    url: str
    root: Path
    number: str  # a MORT_CIP dossier, registered (登簿) by reg1 at the registry: QC is certain (qc_full)
    _desks: list[Desk] = field(default_factory=list, init=False)
    _stations: list[Station] = field(default_factory=list, init=False)

    def desk(self, station_id: str, username: str) -> tuple[Desk, Actor]:
        """A desk connected to the registry with `username` (a registry person) logged in there."""
        token = self.registry.add_station(station_id, station_id)
        desk = desk_with_registry(self.root / station_id, station_id, self.url, token)
        self._desks.append(desk)
        return desk, log_in(desk, username)

    def station(self, station_id: str) -> Station:
        """A station speaking raw HTTP with a token of its own."""
        raw = station(self.registry, self.url, station_id)
        self._stations.append(raw)
        return raw

    def close(self) -> None:
        for raw in self._stations:
            raw.close()
        for desk in self._desks:
            desk.close()


def registered_mort_cip(registry: Registry, url: str, root: Path) -> str:
    """Window 受理 at JN-01 → rev1 approves at JN-REV → reg1 registers (登簿) there; both desks sync."""
    window = make_desk(root / "window", "JN-01")
    review = desk_with_registry(root / "review", "JN-REV", url, registry.add_station("JN-REV", "审核"))
    try:
        window_agent = agent_for(window, registry, url)
        number = submitted(window, window.users.actor("clerk1"), business="MORT_CIP", kind="enterprise").number
        window_agent.sync_once()
        window_agent.stop()
        rev1 = log_in(review, "rev1")
        lease = review.review.claim_next(rev1)
        assert lease is not None and lease.number == number
        review.review.decide(rev1, number, "approve", lease_id=lease.lease_id, fence=lease.fence)
        review.review.register(log_in(review, "reg1"), number)
        token = review.settings.registry_token
        assert token is not None
        review_agent = SyncAgent(review.db, review.blobs, station_id="JN-REV", url=url, token=token.get_secret_value())
        review_agent.sync_once()
        review_agent.stop()
        assert review_agent.status().quarantined == [] and review_agent.status().conflicts == []
    finally:
        review.close()
        window.close()
    return number


@pytest.fixture
def city(tmp_path: Path, db_url: str) -> Iterator[City]:
    with running_registry(tmp_path / "registry", db_url) as (registry, url):
        errors = _Errors()
        logging.getLogger("uvicorn.error").addHandler(errors)
        provision(registry, "rev1")
        provision(registry, "reg1", ("registrar",), online=False, offline=False)
        provision(registry, "qc1", ("qc",), online=False, offline=False)
        provision(registry, "qc2", ("qc",), online=False, offline=False)
        number = registered_mort_cip(registry, url, tmp_path)
        built = City(registry, url, tmp_path, number)
        try:
            yield built
        finally:
            built.close()
            logging.getLogger("uvicorn.error").removeHandler(errors)
        # The registry never answered with a server error, whatever was sent.
        assert [r.getMessage() for r in errors.records] == []


def at_registry(city: City) -> tuple[list[tuple[str, str | None, str | None]], list[tuple[str, str, str]]]:
    """The registry's QC: checks (state, result, inspector) and corrections (state, assignee, resolution)."""
    with city.registry.db.read() as s:
        checks = s.execute(
            select(QcCheck.state, QcCheck.result, User.username).outerjoin(User, User.id == QcCheck.inspector_id)
        ).all()
        cases = s.execute(
            select(Correction.state, User.username, Correction.resolution).join(User, User.id == Correction.assigned_to)
        ).all()
    return [tuple(c) for c in checks], [tuple(c) for c in cases]  # type: ignore[misc]


def qc_audit(city: City) -> list[tuple[str, str, str]]:
    """The registry's audit of QC: (action, station, person), in order."""
    with city.registry.db.read() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.station_id, AuditEvent.actor)
            .where(AuditEvent.action.in_(("qc.open", "qc.record", "correction.open", "correction.resolve")))
            .order_by(AuditEvent.seq)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# -- the flow --------------------------------------------------------------------------------------------------------


def test_an_inspector_records_a_major_error_and_a_registrar_at_another_desk_resolves_the_correction(
    city: City,
) -> None:
    qc_desk, inspector = city.desk("JN-QC", "qc1")
    assert isinstance(qc_desk.qc, RegistryQc)
    # The check the registry opened at 登簿 shows at the QC desk, whose own database has none.
    [check] = qc_desk.qc.pending()
    assert (check.number, check.business, check.basis, check.state, check.registrar) == (
        city.number,
        "MORT_CIP",
        "full",
        "pending",
        "reg1",
    )
    with qc_desk.db.read() as s:
        assert s.execute(select(QcCheck)).first() is None
    assert qc_desk.qc.count() == {"pending": 1, "done": 0}
    assert qc_desk.qc.check(city.number) == check  # a dossier has one check: its 受理号 names it

    recorded = qc_desk.qc.record(inspector, check.id, "major", defects=[DEFECT], notes="登簿信息有误")
    assert (recorded.state, recorded.result, recorded.inspector, recorded.defects) == (
        "done",
        "major",
        "qc1",
        (DEFECT,),
    )
    assert recorded.correction_id is not None

    # The correction reaches the registrar at another desk, who resolves it there.
    reg_desk, registrar = city.desk("JN-REG", "reg1")
    [case] = reg_desk.qc.corrections("open", assigned_to_username="reg1")
    assert (case.id, case.number, case.assigned_to, case.opened_by, case.qc_check_id) == (
        recorded.correction_id,
        city.number,
        "reg1",
        "qc1",
        check.id,
    )
    assert DEFECT in case.description
    done = reg_desk.qc.resolve_correction(registrar, case.id, "已依职权更正登记簿")
    assert (done.state, done.resolved_by, done.resolution) == ("resolved", "reg1", "已依职权更正登记簿")
    assert reg_desk.qc.corrections("open") == []

    # A second QC desk sees the check done and cannot record it again.
    other, qc2 = city.desk("JN-QC2", "qc2")
    assert other.qc.pending() == []
    [seen] = other.qc.checks("done")
    assert (seen.id, seen.result, seen.inspector, seen.correction_id) == (check.id, "major", "qc1", case.id)
    with pytest.raises(UsageError, match="recorded already"):
        other.qc.record(qc2, check.id, "pass")

    # Exactly one check (done) and one correction (resolved), at the registry; audited with station and person.
    assert at_registry(city) == ([("done", "major", "qc1")], [("resolved", "reg1", "已依职权更正登记簿")])
    assert qc_audit(city) == [
        ("qc.open", "JN-REV", "reg1"),
        ("qc.record", "JN-QC", "qc1"),
        ("correction.open", "JN-QC", "qc1"),
        ("correction.resolve", "JN-REG", "reg1"),
    ]
    with city.registry.db.read() as s:
        assert audit.verify(s).ok


def test_refusals_reach_the_desk_as_its_own_errors_and_an_unreachable_registry_is_offline(city: City) -> None:
    rev_desk, reviewer = city.desk("JN-REV2", "rev1")
    check = rev_desk.qc.check(city.number)
    with pytest.raises(PermissionDenied, match="qc_inspect"):
        rev_desk.qc.record(reviewer, check.id, "pass")
    with pytest.raises(NotFound):
        rev_desk.qc.check("JN-01-2099-999999")
    qc_desk, inspector = city.desk("JN-QC", "qc1")
    with pytest.raises(UsageError, match="needs at least one defect"):
        qc_desk.qc.record(inspector, check.id, "minor")
    with pytest.raises(UsageError, match="at most 200"):
        qc_desk.qc.record(inspector, check.id, "minor", defects=["长" * 300])
    assert at_registry(city)[0] == [("pending", None, None)]
    # The inspector's login at that desk ends at the registry: the desk is told to log in again.
    with city.registry.db.transaction() as s:
        for row in s.execute(select(PersonSession).where(PersonSession.station_id == "JN-QC")).scalars():
            row.revoked_at = row.expires_at
    with pytest.raises(AuthError, match="log in again"):
        qc_desk.qc.pending()
    # The registry down: one line, Offline; QC waits for the network.
    assert isinstance(qc_desk.qc, RegistryQc)
    cut = RegistryQc(qc_desk.qc.logins, url="http://127.0.0.1:9", token="wst_x", timeout=2)
    log_in(qc_desk, "qc1")
    with pytest.raises(Offline) as offline:
        cut.pending()
    assert "\n" not in str(offline.value) and "QC waits for the network" in str(offline.value)
    cut.close()
    # Nobody logged in there: a list has no one to go out under. A login while it was unreachable: Offline.
    nowhere = DeskLogins(RegistryPeople(url="http://127.0.0.1:9", token="wst_x", timeout=2))
    alone = RegistryQc(nowhere, url="http://127.0.0.1:9", token="wst_x", timeout=2)
    with pytest.raises(AuthError, match="log in"):
        alone.count()
    with pytest.raises(Offline):
        nowhere.login("qc1", PERSON_PASSWORD)
    with pytest.raises(Offline, match="QC waits for the network"):
        alone.corrections()
    alone.close()
    nowhere.people.close()


# -- hostile requests ------------------------------------------------------------------------------------------------


class Calls:
    """Raw requests whose answers are all checked: a 4xx carries a known code, and nothing is ever a 5xx."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []

    def __call__(self, answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
        self.answers.append(answer)
        assert answer.status_code == status, (answer.status_code, answer.text)
        body = answer.json()
        if status >= 400:
            assert body["code"] in CODES and body["message"], body
            if code is not None:
                assert body["code"] == code, body
        return body

    def never_a_server_error(self) -> None:
        assert self.answers and all(a.status_code < 500 for a in self.answers)


def test_hostile_requests_are_refused_with_a_code_and_a_check_is_recorded_once(city: City) -> None:
    calls = Calls()
    qc = city.station("JN-QCX")
    assert qc.login("qc1").status_code == 200
    check_id = calls(qc.http.get("/v1/qc/checks", headers=qc.as_person()), 200)["checks"][0]["id"]
    result = f"/v1/qc/checks/{check_id}/result"
    major = {"result": "major", "defects": [DEFECT], "notes": ""}

    # Who: no person, no station, a person without the grant, another station's person, a disabled person.
    calls(qc.http.get("/v1/qc/checks"), 401, "person_missing")
    calls(qc.http.post(result, json=major), 401, "person_missing")
    calls(httpx.get(f"{city.url}/v1/qc/checks", headers=qc.as_person()), 401, "auth_missing")
    calls(qc.http.get("/v1/qc/counts", headers={PERSON_HEADER: "x" * 40}), 401, "person_invalid")
    rev = city.station("JN-REVX")
    assert rev.login("rev1").status_code == 200
    calls(rev.http.post(result, json=major, headers=rev.as_person()), 403, "not_allowed")
    reg = city.station("JN-REGX")
    assert reg.login("reg1").status_code == 200  # 登簿人 of the dossier, and no inspector anyway
    calls(reg.http.post(result, json=major, headers=reg.as_person()), 403, "not_allowed")
    calls(rev.http.post(result, json=major, headers=qc.as_person()), 403, "station_mismatch")
    calls(rev.http.get("/v1/qc/checks", headers=qc.as_person()), 403, "station_mismatch")
    qc2 = city.station("JN-QC2X")
    assert qc2.login("qc2").status_code == 200
    city.registry.people.disable("registry-admin", "qc2")
    calls(qc2.http.post(result, json=major, headers=qc2.as_person()), 401, "person_invalid")

    # What: malformed bodies and references.
    as_qc = qc.as_person()
    for body in [
        {"result": {"x": 1}},
        {"result": "major", "defects": {"a": "b"}},
        {"result": "major", "defects": [{"a": "b"}]},
        {"result": "major", "defects": "x" * 10_240},
        {"result": "major", "defects": ["x" * 10_240]},
        {"result": "major", "defects": [DEFECT], "notes": "x" * 10_240},
        {"result": "major", "defects": ["x"] * 51},
        {"result": "catastrophic", "defects": [DEFECT]},
        {"result": "pass", "stage": "ISSUE"},
        {"result": "minor", "notes": "bad\x00byte"},
        {"result": "major", "defects": [DEFECT], "assign_to": "clerk1@JN-01"},
        {},
    ]:
        calls(qc.http.post(result, json=body, headers=as_qc), 422, "invalid")
    calls(qc.http.post(result, content=b"{not json", headers=as_qc), 422, "invalid")
    calls(qc.http.post(result, json={"result": "minor"}, headers=as_qc), 422, "invalid")  # the service's rule
    calls(qc.http.post(result, json={"result": "pass", "defects": [DEFECT]}, headers=as_qc), 422, "invalid")
    calls(qc.http.post(result, json={**major, "assign_to": "nobody"}, headers=as_qc), 404, "not_found")
    calls(qc.http.post("/v1/qc/checks/0190aaaa-0000-7000-8000-000000000000/result", json=major, headers=as_qc), 404)
    calls(qc.http.post("/v1/qc/checks/..%2F..%2Fops/result", json=major, headers=as_qc), 404, "not_found")
    calls(qc.http.get("/v1/qc/checks/" + "a" * 100, headers=as_qc), 422, "invalid")
    calls(qc.http.get("/v1/qc/checks", params={"state": "everything"}, headers=as_qc), 422, "invalid")
    calls(qc.http.get("/v1/qc/checks", params={"limit": 0}, headers=as_qc), 422, "invalid")
    calls(qc.http.get("/v1/qc/checks", params={"offset": -1}, headers=as_qc), 422, "invalid")
    calls(qc.http.get("/v1/qc/corrections", params={"assignee": "nobody"}, headers=as_qc), 404, "not_found")
    calls(qc.http.post(result, content=b"x" * (2 * 1024 * 1024), headers=as_qc), 413, "too_large")
    assert at_registry(city) == ([("pending", None, None)], [])

    # Recorded once: the same request again gets the same answer; anything else is a conflict.
    first = calls(qc.http.post(result, json=major, headers=as_qc), 200)
    assert (first["state"], first["result"], first["inspector"]) == ("done", "major", "qc1")
    assert calls(qc.http.post(result, json=major, headers=as_qc), 200) == first
    by_number = f"/v1/qc/checks/{city.number}/result"
    assert calls(qc.http.post(by_number, json=major, headers=as_qc), 200) == first
    calls(qc.http.post(result, json={**major, "result": "minor"}, headers=as_qc), 409, "already_done")
    calls(qc.http.post(result, json={**major, "defects": ["另一个差错"]}, headers=as_qc), 409, "already_done")
    calls(qc.http.post(result, json={**major, "assign_to": "rev1"}, headers=as_qc), 409, "already_done")
    qc3 = city.station("JN-QC3X")
    provision(city.registry, "qc3", ("qc",), online=False, offline=False)
    assert qc3.login("qc3").status_code == 200
    calls(qc3.http.post(result, json=major, headers=qc3.as_person()), 409, "already_done")
    calls(rev.http.post(result, json=major, headers=rev.as_person()), 403, "not_allowed")  # the grant first

    # The correction: only its assignee or an inspector resolves it, once.
    case_id = first["correction_id"]
    resolution = f"/v1/qc/corrections/{case_id}/resolution"
    fixed = {"resolution": "已依职权更正登记簿"}
    calls(rev.http.post(resolution, json=fixed, headers=rev.as_person()), 403, "not_allowed")
    calls(reg.http.post(resolution, json={"resolution": ""}, headers=reg.as_person()), 422, "invalid")
    calls(reg.http.post(resolution, json={"resolution": "   "}, headers=reg.as_person()), 422, "invalid")
    calls(reg.http.post(resolution, json={"resolution": ["x"]}, headers=reg.as_person()), 422, "invalid")
    calls(reg.http.post(resolution, json={"resolution": "x" * 10_240}, headers=reg.as_person()), 422, "invalid")
    calls(reg.http.post(resolution, json=fixed), 401, "person_missing")
    calls(reg.http.post("/v1/qc/corrections/JN-01-2099-000001/resolution", json=fixed, headers=reg.as_person()), 404)
    resolved = calls(reg.http.post(resolution, json=fixed, headers=reg.as_person()), 200)
    assert (resolved["state"], resolved["resolved_by"]) == ("resolved", "reg1")
    by_number = f"/v1/qc/corrections/{city.number}/resolution"
    assert calls(reg.http.post(by_number, json=fixed, headers=reg.as_person()), 200) == resolved
    calls(reg.http.post(resolution, json={"resolution": "改了别的"}, headers=reg.as_person()), 409, "already_done")
    calls(qc.http.post(resolution, json=fixed, headers=as_qc), 409, "already_done")
    assert calls(qc.http.get(f"/v1/qc/corrections/{city.number}", headers=as_qc), 200) == resolved

    assert at_registry(city) == ([("done", "major", "qc1")], [("resolved", "reg1", "已依职权更正登记簿")])
    assert qc_audit(city) == [
        ("qc.open", "JN-REV", "reg1"),
        ("qc.record", "JN-QCX", "qc1"),
        ("correction.open", "JN-QCX", "qc1"),
        ("correction.resolve", "JN-REGX", "reg1"),
    ]
    calls.never_a_server_error()


# -- the CLI and the TUI against the registry -----------------------------------------------------------------------


@pytest.fixture
def sqlite_city(tmp_path: Path) -> Iterator[City]:
    with running_registry(tmp_path / "registry") as (registry, url):
        provision(registry, "rev1")
        provision(registry, "reg1", ("registrar",), online=False, offline=False)
        provision(registry, "qc1", ("qc",), online=False, offline=False)
        built = City(registry, url, tmp_path, registered_mort_cip(registry, url, tmp_path))
        try:
            yield built
        finally:
            built.close()


def test_qc_commands_work_the_registrys_checks_by_dossier_number(sqlite_city: City) -> None:
    city = sqlite_city
    qc_dir, reg_dir = city.root / "qc-cli", city.root / "reg-cli"
    for data, station_id in ((qc_dir, "JN-QCC"), (reg_dir, "JN-REGC")):
        data.mkdir()
        token = city.registry.add_station(station_id, station_id)
        (data / "config.toml").write_text(
            f'station_id = "{station_id}"\nregistry_url = "{city.url}"\nregistry_token = "{token}"\n',
            encoding="utf-8",
        )
    person = {"WS_PASSWORD": PERSON_PASSWORD}
    assert "WS_PASSWORD" in _one_line_error(
        ws(qc_dir, "qc", "list", extra_env={"WS_PASSWORD": ""}), 2
    )  # the registry serves people only
    listed = ws(qc_dir, "--as", "qc1", "qc", "list", "--json", extra_env=person)
    assert listed.returncode == 0, listed.stderr
    assert [(c["number"], c["state"]) for c in json.loads(listed.stdout)] == [(city.number, "pending")]
    rec = ws(qc_dir, "--as", "qc1", "qc", "record", city.number, "major", "--defect", DEFECT, extra_env=person)
    assert rec.returncode == 0 and "correction case" in rec.stdout, rec.stderr
    again = ws(qc_dir, "--as", "qc1", "qc", "record", city.number, "pass", extra_env=person)
    assert "recorded already" in _one_line_error(again, 2)
    cases = ws(reg_dir, "--as", "reg1", "qc", "corrections", "--json", extra_env=person)
    assert [(c["number"], c["assigned_to"]) for c in json.loads(cases.stdout)] == [(city.number, "reg1")]
    done = ws(reg_dir, "--as", "reg1", "qc", "resolve", city.number, "已更正", extra_env=person)
    assert done.returncode == 0, done.stderr
    assert at_registry(city) == ([("done", "major", "qc1")], [("resolved", "reg1", "已更正")])


def test_the_qc_screen_shows_the_registrys_check_and_records_there(sqlite_city: City) -> None:
    city = sqlite_city
    token = city.registry.add_station("JN-QCT", "质检")
    desk = desk_with_registry(city.root / "qc-tui", "JN-QCT", city.url, token)

    async def script(pilot: Pilot[None]) -> None:
        await log_in_on_screen(pilot, "qc1", PERSON_PASSWORD)  # checked at the registry; QC is qc1's area
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, QcScreen))
        await wait_for_workers(pilot, rounds=3)
        rows = table_rows(pilot, "#qc-checks")
        assert [(r[0], r[2], r[4], r[6]) for r in rows] == [(city.number, "全检 full", "pending", "reg1")]
        assert "待检 1 pending, 已检 0 done" in text_of(pilot, "#qc-header")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, QcResultScreen))
        await pilot.click("#qc-result-major")
        await pilot.click("#qc-result-defects")
        await pilot.press(*DEFECT)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, QcScreen))
        await wait_for_workers(pilot, rounds=4)
        assert "已发起更正 correction opened, assigned to reg1" in text_of(pilot, "#qc-status")
        rows = table_rows(pilot, "#qc-checks")
        assert (rows[0][0], rows[0][4], rows[0][5]) == (city.number, "done", "major → 更正")

    try:
        run_app(desk, script, size=LARGE)
    finally:
        desk.close()
    assert at_registry(city) == ([("done", "major", "qc1")], [("open", "reg1", "")])
    assert qc_audit(city)[1:] == [("qc.record", "JN-QCT", "qc1"), ("correction.open", "JN-QCT", "qc1")]


def test_alone_a_desk_takes_the_dossier_number_for_qc_record_and_resolve(tmp_path: Path) -> None:
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
        number = registered(desk, desk.users.actor("clerk1"), desk.users.actor("rev1"))
    finally:
        desk.close()
    rec = ws(data, "--as", "qc1", "qc", "record", number, "major", "--defect", DEFECT)
    assert rec.returncode == 0 and "correction case" in rec.stdout, rec.stderr
    assert "no QC check" in _one_line_error(ws(data, "--as", "qc1", "qc", "record", "local-2099-000009", "pass"), 2)
    done = ws(data, "--as", "rev1", "qc", "resolve", number, "已更正", "--json")
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["number"], json.loads(done.stdout)["state"]) == (number, "resolved")
    # A number names a case only while its dossier has one: with two, the id is needed.
    desk = open_desk(load_settings(data_dir=data, admin_password="admin-pass-1"))
    try:
        [case] = desk.qc.corrections()
        with desk.db.transaction() as s:
            opener = s.execute(select(User.id).where(User.username == "qc1")).scalar_one()
            s.add(Correction(dossier_id=case.dossier_id, description="另案", assigned_to=opener, opened_by=opener))
        with pytest.raises(UsageError, match="2 correction cases"):
            correction_id_of(desk.db, number)
        assert correction_id_of(desk.db, case.id) == case.id
        assert check_id_of(desk.db, number) == desk.qc.check(case.qc_check_id or "").id
    finally:
        desk.close()


# -- fuzzed over the schema ------------------------------------------------------------------------------------------

QC_API = schemathesis.openapi.from_dict(create_app(cast(Registry, None)).openapi()).include(path_regex="^/v1/qc/")
# As for the whole API (test_sync_registry.py): a schema-valid request may still be refused by the rules (a
# pass with a defect, a person without the grant, a check recorded already), and steer() makes some invalid ones valid.
NOT_CHECKED = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.negative_data_rejection,
    schemathesis.checks.unsupported_method,
    schemathesis.checks.allow_header_conformance,
]


@dataclass
class Fuzzed:
    url: str
    token: str
    inspector: str  # qc1's personal token at the fuzzing station
    number: str
    check_id: str


@pytest.fixture(scope="module")
def fuzzed_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    root = tmp_path_factory.mktemp("qc-fuzz")
    with running_registry(root / "registry") as (registry, url):
        errors = _Errors()
        logging.getLogger("uvicorn.error").addHandler(errors)
        provision(registry, "rev1")
        provision(registry, "reg1", ("registrar",), online=False, offline=False)
        provision(registry, "qc1", ("qc",), online=False, offline=False)
        number = registered_mort_cip(registry, url, root)
        raw = station(registry, url, "JN-FUZZ")
        assert raw.login("qc1").status_code == 200 and raw.person is not None
        with registry.db.read() as s:
            check_id = s.execute(select(QcCheck.id)).scalar_one()
        try:
            yield Fuzzed(url, raw.token, raw.person, number, check_id)
        finally:
            raw.close()
            logging.getLogger("uvicorn.error").removeHandler(errors)
        assert [r.getMessage() for r in errors.records] == []


def steer(case: Any, fuzzed: Fuzzed) -> None:
    """Past the station's auth; mostly as the inspector; and often at the real check, by its id or 受理号."""
    skip = ("authorization", "content-length", PERSON_HEADER.lower())
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in skip}
    headers["Authorization"] = f"Bearer {fuzzed.token}"
    salt = len(str(case.body)) + len(str(case.query))
    if salt % 4:
        headers[PERSON_HEADER] = fuzzed.inspector
    case.headers = headers
    if case.path_parameters and "ref" in case.path_parameters and salt % 3:
        case.path_parameters["ref"] = fuzzed.check_id if salt % 2 else fuzzed.number


@QC_API.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_qc_route_answers_fuzzed_input_without_a_server_error(case: Any, fuzzed_registry: Fuzzed) -> None:
    steer(case, fuzzed_registry)
    response = case.call_and_validate(base_url=fuzzed_registry.url, timeout=20, excluded_checks=NOT_CHECKED)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.json()["code"] in CODES
